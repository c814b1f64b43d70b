#include "export/coreml/reader.hpp"

#include "medport/error.hpp"
#include "medport/export/coreml.hpp"

namespace medport::coreml {

graph::Graph read_coreml(const std::filesystem::path& path) {
  const SpecFile file = open_spec(path);
  if (file.model.has_mlprogram()) return read_ml_program(file);
  if (file.model.has_neuralnetwork()) return read_neural_network(file);
  throw InputError(file.spec_path.string(), "neither an ML Program nor a NeuralNetwork model");
}

}  // namespace medport::coreml
