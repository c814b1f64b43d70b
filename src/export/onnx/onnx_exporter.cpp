#include "medport/export/onnx_exporter.hpp"

#include "medport/error.hpp"
#include "medport/graph/onnx_writer.hpp"

namespace medport::exporters {
namespace {

class OnnxExporter final : public Exporter {
 public:
  std::string_view id() const override { return "onnx"; }
  std::string_view description() const override { return "ONNX opset 17 for ONNX Runtime (desktop, server, mobile)"; }
  std::string_view extension() const override { return ".onnx"; }

  ExportResult write(const models::BuiltModel& model, const std::filesystem::path& output,
                     const ExportOptions& options) const override {
    if (!options.options.empty())
      throw UsageError("--format onnx takes no option '" + options.options.begin()->first + "'");
    ExportResult result;
    const bool folder = model.graphs.size() > 1;
    for (const auto& g : model.graphs) {
      const std::filesystem::path path = folder ? output / (g.name + ".onnx") : output;
      const auto written = graph::write_onnx(g.graph, path);
      result.graph_files.push_back(written.model_path.filename().string());
      result.files.push_back(written.model_path);
      if (!written.data_path.empty()) result.files.push_back(written.data_path);
    }
    return result;
  }
};

}  // namespace

const Exporter& onnx_exporter() {
  static const OnnxExporter instance;
  return instance;
}

}  // namespace medport::exporters
