#include "export/coreml/reader.hpp"

#include <limits>

#include "medport/error.hpp"
#include "medport/export/coreml.hpp"

namespace medport::coreml {

std::int64_t declared_numel(const std::string& file, const Shape& shape, const std::string& what) {
  std::int64_t n = 1;
  for (const auto d : shape) {
    if (d < 0) throw InputError(file, what + " declares a negative dimension in " + shape_string(shape));
    if (d != 0 && n > std::numeric_limits<std::int64_t>::max() / d)
      throw InputError(file, what + " declares shape " + shape_string(shape) + ": too large");
    n *= d;
  }
  return n;
}

std::string rank_fault(const std::vector<std::int64_t>& shape, std::size_t at_least, const std::string& what) {
  if (shape.size() >= at_least) return {};
  return what + " of rank " + std::to_string(shape.size()) + " (needs rank " + std::to_string(at_least) + " or more)";
}

std::string length_fault(std::size_t got, std::size_t expected, const std::string& what) {
  if (got == expected) return {};
  return what + " has " + std::to_string(got) + " values (expected " + std::to_string(expected) + ")";
}

void require_positive(const std::string& file, const std::vector<std::int64_t>& values, const std::string& what) {
  for (const auto v : values)
    if (v < 1) throw InputError(file, what + " " + std::to_string(v) + " (must be at least 1)");
}

graph::Graph read_coreml(const std::filesystem::path& path) {
  const SpecFile file = open_spec(path);
  if (file.model.has_mlprogram()) return read_ml_program(file);
  if (file.model.has_neuralnetwork()) return read_neural_network(file);
  throw InputError(file.spec_path.string(), "neither an ML Program nor a NeuralNetwork model");
}

}  // namespace medport::coreml
