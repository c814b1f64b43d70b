#include "medport/models/nnunet/convert.hpp"

#include "medport/error.hpp"
#include "medport/graph/fp16.hpp"
#include "medport/graph/onnx_writer.hpp"
#include "medport/models/nnunet/graph.hpp"
#include "medport/models/nnunet/sidecar.hpp"
#include "medport/models/nnunet/weights.hpp"
#include "medport/util/file_io.hpp"

namespace medport::models::nnunet {
namespace {

std::string joined(const std::vector<std::int64_t>& v, const char* sep) {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + std::to_string(v[i]);
  return s;
}

}  // namespace

graph::Graph model_graph(const Model& model, bool deep_supervision, bool fp16, int opset, std::size_t* tensors_used,
                         std::int64_t* parameters) {
  const WeightCheck check = check_weights(model.architecture, model.state_dict, model.location.checkpoint.string());
  if (tensors_used) *tensors_used = check.used_tensors;
  if (parameters) *parameters = check.parameters;
  GraphOptions options;
  options.deep_supervision = deep_supervision;
  options.opset = opset;
  graph::Graph g = build_graph(model.architecture, check.weights, options);
  if (fp16) g = graph::convert_to_fp16(g);
  return g;
}

ConvertReport convert_nnunet(const ConvertRequest& request) {
  if (request.output.empty()) throw UsageError("an output path is required (-o OUT.onnx)");
  if (request.opset < 17) throw UsageError("--opset must be at least 17 (InstanceNormalization and friends as written)");
  SourceRequest source;
  source.source = request.source;
  source.fold = request.fold;
  source.checkpoint = request.checkpoint;
  const LocatedSource location = locate_source(source);
  const Model model = load_model(location);

  ConvertReport report;
  report.family = "nnunet-v2";
  report.network_class = model.architecture.class_short_name();
  report.checkpoint = location.checkpoint;
  report.tensors_total = model.state_dict.size();
  const graph::Graph g = model_graph(model, request.deep_supervision, request.fp16, request.opset,
                                     &report.tensors_used, &report.parameters);

  const auto written = graph::write_onnx(g, request.output);
  report.files.push_back(written.model_path);
  if (!written.data_path.empty()) report.files.push_back(written.data_path);

  SidecarOptions sidecar;
  sidecar.onnx_path = request.output;
  GraphOptions graph_options;
  graph_options.deep_supervision = request.deep_supervision;
  sidecar.output_names = output_names(model.architecture, graph_options);
  sidecar.fp16 = request.fp16;
  sidecar.deep_supervision = request.deep_supervision;
  sidecar.opset = request.opset;
  const auto sidecar_path = sidecar_path_for(request.output);
  write_file_atomic(sidecar_path, make_sidecar(model, sidecar).dump(2) + "\n");
  report.files.push_back(sidecar_path);

  const Architecture& a = model.architecture;
  report.details.push_back("configuration: " + model.configuration + " (plans from " + model.plans_origin + ")");
  report.details.push_back("trainer: " + (model.trainer_name.empty() ? std::string("?") : model.trainer_name) +
                           ", fold: " + (model.fold ? std::to_string(*model.fold) : std::string("?")));
  report.details.push_back("stages: " + std::to_string(a.n_stages) + ", features " + joined(a.features_per_stage, "/") +
                           ", " + std::to_string(a.dim) + "D");
  report.details.push_back("input channels: " + std::to_string(a.input_channels) +
                           ", outputs: " + std::to_string(a.num_classes) +
                           ", spatial multiple of " + joined(a.stride_product(), "x"));
  report.details.push_back(std::string("precision: ") + (request.fp16 ? "fp16 (norms fp32, fp32 I/O)" : "fp32") +
                           (request.deep_supervision ? ", deep supervision outputs" : ""));
  return report;
}

FamilyConverter nnunet_family_converter() {
  FamilyConverter c;
  c.name = "nnunet-v2";
  c.families = {"nnunet_v2_plain", "nnunet_v2_resenc"};
  c.claims = [](const std::filesystem::path& source) {
    std::error_code ec;
    if (std::filesystem::is_directory(source, ec)) return looks_like_nnunet_source(source);
    const std::string name = source.filename().string();
    return name.rfind("checkpoint_", 0) == 0 && source.extension() == ".pth";
  };
  c.convert = convert_nnunet;
  return c;
}

}  // namespace medport::models::nnunet
