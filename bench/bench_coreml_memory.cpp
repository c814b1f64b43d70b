// Peak memory of the Core ML export step alone: the model is built exactly as `medport convert`
// builds it (checkpoint -> family -> graphs, weights resident), then the kernel's peak-RSS counter
// is reset (/proc/self/clear_refs 5) and the exporter writes the package. Prints resident MiB
// before the export, the peak during it, and the increase relative to the weight bytes.
//
//   bench_coreml_memory CHECKPOINT_OR_MODEL_FOLDER OUT.mlpackage [--fp32] [--image-size N]
#include <cstdio>
#include <fstream>
#include <string>

#include "medport/checkpoint/weight_source.hpp"
#include "medport/export/coreml_exporter.hpp"
#include "medport/models/family.hpp"

namespace {

long status_kb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::stol(line.substr(std::string(key).size()));
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace medport;
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s SOURCE OUT.mlpackage [--fp32] [--image-size N]\n", argv[0]);
    return 2;
  }
  models::ConvertContext context;
  context.source = argv[1];
  bool fp32 = false;
  for (int i = 3; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--fp32") fp32 = true;
    if (a == "--image-size" && i + 1 < argc) context.options.family_options["image_size"] = argv[++i];
  }
  context.weights = context.source;
  for (const auto* f : models::model_families())
    if (auto w = f->locate_weights(context.source, context.options)) context.weights = *w;
  const auto weights = ckpt::WeightSource::open(context.weights);
  const auto detection = models::detect_family(weights);
  if (!detection) return 3;
  models::BuiltModel built = models::find_family(detection->family)->build(weights, *detection, context);
  std::erase_if(built.graphs, [](const auto& g) { return g.onnx_only; });
  double weight_mib = 0;
  for (const auto& g : built.graphs) weight_mib += static_cast<double>(g.graph.initializer_bytes()) / 1048576.0;

  const double before = static_cast<double>(status_kb("VmRSS:")) / 1024.0;
  std::ofstream("/proc/self/clear_refs") << "5";  // peak RSS := current RSS
  exporters::ExportOptions options;
  options.fp16 = !fp32;
  exporters::coreml_exporter().write(built, argv[2], options);
  const double peak = static_cast<double>(status_kb("VmHWM:")) / 1024.0;
  std::printf("weights %.1f MiB, resident before export %.1f MiB, peak during export %.1f MiB, export added %.1f MiB (%.2fx weights)\n",
              weight_mib, before, peak, peak - before, (peak - before) / weight_mib);
  return 0;
}
