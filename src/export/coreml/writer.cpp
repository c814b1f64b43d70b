// write_coreml: options checked, graph prepared, the chosen backend run, files written.
#include <algorithm>

#include "export/coreml/ml_program.hpp"
#include "export/coreml/model_spec.hpp"
#include "export/coreml/neural_network.hpp"
#include "export/coreml/package.hpp"
#include "medport/error.hpp"

namespace medport::coreml {

namespace fs = std::filesystem;

namespace {

std::string lower_extension(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

}  // namespace

WriteReport write_coreml(const graph::Graph& graph, const fs::path& path, const WriteOptions& options) {
  const std::string source = graph_label(graph);
  const bool program = options.backend == Backend::MLProgram;
  const std::string ext = lower_extension(path);
  if (program && ext != ".mlpackage")
    throw UsageError(path.string() + ": an ML Program is written as a .mlpackage folder (or use --backend neuralnetwork)");
  if (!program && ext != ".mlmodel")
    throw UsageError(path.string() + ": a NeuralNetwork model is written as a .mlmodel file");
  if (program && options.target.ios < 15)
    throw UsageError("ML Programs need iOS15 / macOS12 or later (target " + options.target.name +
                     "); use --backend neuralnetwork for older targets");
  if (options.fp16_io && !program) throw UsageError("--fp16-io applies to ML Programs (--backend mlprogram)");
  if (options.fp16_io && options.target.ios < 16)
    throw InputError(source, "float16 model inputs/outputs (--fp16-io) need iOS16 / macOS13 or later (target " +
                                 options.target.name + ")");

  const PreparedGraph prepared = prepare_graph(graph, options.input_shapes, program, source);
  WriteReport report;
  report.path = path;
  spec::Model model;
  if (program) {
    BlobPlan blobs;
    report.op_counts = build_ml_program(prepared, options, source, &model, &blobs);
    report.files = write_mlpackage(path, serialize_model(model), blobs);
    report.weight_bytes = blobs.data_bytes();
    report.blobs = blobs.entries().size();
  } else {
    const auto built = build_neural_network(prepared, options, source, &model);
    report.op_counts = built.layer_counts;
    report.weight_bytes = built.weight_bytes;
    write_neural_network_file(model, built.weights, path);
    report.files = {path};
  }
  return report;
}

}  // namespace medport::coreml
