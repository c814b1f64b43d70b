// nnU-Net v2 as a model family: model/fold folders or trainer checkpoints -> the network graph
// and the "nnunet" sidecar section the segmentation pipeline reads.
#include "medport/models/nnunet/family.hpp"

#include <regex>

#include "medport/error.hpp"
#include "medport/graph/fp16.hpp"
#include "medport/models/nnunet/convert.hpp"
#include "medport/models/nnunet/graph.hpp"
#include "medport/models/nnunet/sidecar.hpp"
#include "medport/models/nnunet/weights.hpp"
#include "models/detection.hpp"

namespace medport::models::nnunet {
namespace {

std::string joined(const std::vector<std::int64_t>& v, const char* sep) {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + std::to_string(v[i]);
  return s;
}

std::optional<Detection> detect_v2(const NameView& v) {
  static const std::regex plain_stage(R"(encoder\.stages\.(\d+)\.0\.convs\.\d+\.conv\.weight)");
  static const std::regex resenc_stage(R"(encoder\.stages\.(\d+)\.blocks\.\d+\.conv1\.conv\.weight)");
  static const std::regex seg_layer(R"(decoder\.seg_layers\.(\d+)\.weight)");
  static const std::regex transpconv(R"(decoder\.transpconvs\.\d+\.weight)");
  static const std::regex decoder_alias(R"(decoder\.encoder\..*)");
  const auto seg = v.indices(seg_layer);
  if (seg.empty() || v.count_matching(transpconv) == 0) return std::nullopt;
  Detection d;
  d.family = "nnunet";
  const auto plain = v.indices(plain_stage);
  const auto resenc = v.indices(resenc_stage);
  const std::string last_seg = "decoder.seg_layers." + std::to_string(*seg.rbegin()) + ".weight";
  if (v.has("encoder.stem.convs.0.conv.weight") && !resenc.empty()) {
    d.variant = "ResidualEncoderUNet";
    d.evidence.push_back("encoder.stem.convs.0.conv.weight and encoder.stages.*.blocks.*.conv1 (residual encoder)");
    d.evidence.push_back(std::to_string(resenc.size()) + " encoder stages");
  } else if (!plain.empty()) {
    d.variant = "PlainConvUNet";
    d.evidence.push_back("encoder.stages.*.0.convs.*.conv.weight (plain conv encoder)");
    d.evidence.push_back(std::to_string(plain.size()) + " encoder stages");
  } else {
    return std::nullopt;
  }
  d.display_name = "nnU-Net v2 " + d.variant;
  d.evidence.push_back("decoder.transpconvs.* and " + std::to_string(seg.size()) + " decoder.seg_layers.*");
  const Shape& seg_shape = v.shapes.at(last_seg);
  d.evidence.push_back(last_seg + " " + shape_string(seg_shape) + " -> " +
                       std::to_string(seg_shape.empty() ? 0 : seg_shape[0]) + " output channels");
  if (v.count_matching(decoder_alias) > 0)
    d.evidence.push_back("decoder.encoder.* aliases (dynamic_network_architectures UNetDecoder)");
  return d;
}

std::optional<Detection> detect_v1(const NameView& v) {
  static const std::regex context(R"(conv_blocks_context\.(\d+)\..*)");
  static const std::regex seg_outputs(R"(seg_outputs\.\d+\.weight)");
  const auto stages = v.indices(context);
  if (stages.empty() || v.count_matching(seg_outputs) == 0) return std::nullopt;
  Detection d;
  d.family = "nnunet";
  d.variant = "Generic_UNet";
  d.display_name = "nnU-Net v1 Generic_UNet";
  d.evidence.push_back("conv_blocks_context.* (" + std::to_string(stages.size()) + " encoder stages)");
  d.evidence.push_back("conv_blocks_localization.*, tu.*, seg_outputs.* (Generic_UNet layout)");
  d.unsupported_reason =
      "nnU-Net v1 Generic_UNet checkpoints are not supported yet (see docs/NNUNET.md); retrain or port the model to "
      "nnU-Net v2";
  return d;
}

std::vector<TensorSpec> io_specs(const Architecture& a, const std::vector<std::string>& names, std::int64_t channels) {
  std::vector<TensorSpec> out;
  for (std::size_t j = 0; j < names.size(); ++j) {
    TensorSpec s{names[j], "float32", {std::string("batch"), channels}};
    const std::string tag = j == 0 ? "" : "ds" + std::to_string(j) + "_";
    for (int d = 0; d < a.dim; ++d) s.shape.emplace_back(tag + "spatial" + std::to_string(d));
    out.push_back(std::move(s));
  }
  return out;
}

class NnunetFamily final : public ModelFamily {
 public:
  std::string_view id() const override { return "nnunet"; }
  std::string_view display_name() const override { return "nnU-Net v2 (PlainConvUNet, ResidualEncoderUNet)"; }

  std::optional<std::filesystem::path> locate_weights(const std::filesystem::path& source,
                                                      const ConvertOptions& options) const override {
    std::error_code ec;
    if (!std::filesystem::is_directory(source, ec) || !looks_like_nnunet_source(source)) return std::nullopt;
    return locate_source(SourceRequest{source, options.fold, options.checkpoint}).checkpoint;
  }

  std::optional<Detection> detect(const ckpt::WeightSource& weights) const override {
    if (auto d = detect_in_views(weights, detect_v2)) return d;
    return detect_in_views(weights, detect_v1);
  }

  BuiltModel build(const ckpt::WeightSource& weights, const Detection&, const ConvertContext& context) const override {
    const ConvertOptions& o = context.options;
    const LocatedSource location = locate_source(SourceRequest{context.source, o.fold, o.checkpoint});
    const Model model = load_model(location, weights);
    const Architecture& a = model.architecture;

    GraphOptions graph_options;
    graph_options.deep_supervision = o.deep_supervision;
    graph_options.opset = o.opset;
    BuiltModel out;
    const WeightCheck check = check_weights(a, model.network, location.checkpoint.string());
    out.graphs.push_back({"model", build_graph(a, check.weights, graph_options)});
    out.parameters = check.parameters;
    out.tensors_used = check.used_tensors;
    out.tensors_total = model.network.index().size();

    SidecarOptions sidecar_options;
    sidecar_options.output_names = output_names(a, graph_options);
    sidecar_options.fp16 = o.fp16;
    sidecar_options.deep_supervision = o.deep_supervision;
    sidecar_options.opset = o.opset;
    Sidecar& s = out.sidecar;
    s.variant = a.class_short_name();
    s.graphs.push_back({"model", "", io_specs(a, {kInputName}, a.input_channels),
                        io_specs(a, sidecar_options.output_names, a.num_classes), "fp32"});
    s.family_section = make_sidecar(model, sidecar_options);

    out.details.push_back("configuration: " + model.configuration + " (plans from " + model.plans_origin + ")");
    out.details.push_back("trainer: " + (model.trainer_name.empty() ? std::string("?") : model.trainer_name) +
                          ", fold: " + (model.fold ? std::to_string(*model.fold) : std::string("?")));
    out.details.push_back("stages: " + std::to_string(a.n_stages) + ", features " + joined(a.features_per_stage, "/") +
                          ", " + std::to_string(a.dim) + "D");
    out.details.push_back("input channels: " + std::to_string(a.input_channels) + ", outputs: " +
                          std::to_string(a.num_classes) + ", spatial multiple of " + joined(a.stride_product(), "x"));
    out.details.push_back(std::string("precision: ") + (o.fp16 ? "fp16 (norms fp32, fp32 I/O)" : "fp32") +
                          (o.deep_supervision ? ", deep supervision outputs" : ""));
    return out;
  }
};

}  // namespace

graph::Graph model_graph(const Model& model, bool deep_supervision, bool fp16, int opset, std::size_t* tensors_used,
                         std::int64_t* parameters) {
  const WeightCheck check = check_weights(model.architecture, model.network, model.location.checkpoint.string());
  if (tensors_used) *tensors_used = check.used_tensors;
  if (parameters) *parameters = check.parameters;
  GraphOptions options;
  options.deep_supervision = deep_supervision;
  options.opset = opset;
  graph::Graph g = build_graph(model.architecture, check.weights, options);
  if (fp16) g = graph::convert_to_fp16(g);
  return g;
}

const ModelFamily& family() {
  static const NnunetFamily instance;
  return instance;
}

}  // namespace medport::models::nnunet
