// IRIS (Nachiket1234/IRIS IrisModel) as a model family: three graphs (support encoding, forward,
// the tuning step) plus the training memory bank, all in one output folder.
#include "medport/models/iris/family.hpp"

#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/models/iris/iris.hpp"
#include "models/detection.hpp"
#include "models/iris/iris_internal.hpp"

namespace medport::models::iris {

nlohmann::ordered_json sidecar_section(const LoadedIris& iris) {
  const IrisConfig& c = iris.config;
  nlohmann::ordered_json ids = nlohmann::ordered_json::array();
  for (const auto& [id, t] : iris.memory_bank) ids.push_back(id);
  nlohmann::ordered_json memory = {{"class_ids", ids}, {"momentum", c.memory_momentum}, {"background_id", 0}};
  if (!iris.memory_bank.empty()) memory["file"] = "memory_bank.npz";
  return {{"checkpoint_layout", iris.layout},
          {"in_channels", c.in_channels},
          {"base_channels", c.base_channels},
          {"num_query_tokens", c.num_query_tokens},
          {"num_attention_heads", c.num_attention_heads},
          {"effective_attention_heads", c.attention_heads},
          {"embed_dim", c.embed_dim()},
          {"context_channels", c.context_channels},
          {"volume_shape", c.volume_shape},
          {"tune_step_loss", "mean Dice (sigmoid, smooth 1e-6) + mean BCE with logits"},
          {"memory_bank", memory}};
}

namespace {

std::optional<Detection> detect_iris(const NameView& v) {
  static const std::regex mask_decoder(R"(mask_decoder\..*)");
  if (!v.has("task_encoder.query_tokens") || v.count_matching(mask_decoder) == 0) return std::nullopt;
  Detection d;
  d.family = "iris";
  d.variant = "IrisModel";
  d.display_name = "IRIS (few-shot 3D segmenter)";
  d.evidence.push_back("task_encoder.query_tokens " + v.shape_text("task_encoder.query_tokens") + " (m query tokens x C)");
  d.evidence.push_back("encoder.*, task_encoder.*, mask_decoder.* modules");
  return d;
}

TensorSpec spec(const char* name, std::vector<SidecarDim> shape) { return {name, "float32", std::move(shape)}; }

std::vector<GraphSpec> graph_specs(const IrisConfig& c) {
  const SidecarDim D = c.volume_shape[0], H = c.volume_shape[1], W = c.volume_shape[2];
  const SidecarDim B = std::string("B"), K = std::string("K");
  const SidecarDim M = std::int64_t{c.num_query_tokens + 1}, C = c.embed_dim(), Cin = std::int64_t{c.in_channels};
  return {
      {"encode_support", "", {spec(kSupportImage, {B, Cin, D, H, W}), spec(kSupportMasks, {B, K, D, H, W})},
       {spec(kTaskEmbeddings, {B, K, M, C})}, "fp32"},
      {"forward", "", {spec(kQueryImage, {B, Cin, D, H, W}), spec(kTaskEmbeddings, {B, K, M, C})},
       {spec(kLogits, {B, K, D, H, W})}, "fp32"},
      {"tune_step", "",
       {spec(kQueryImage, {B, Cin, D, H, W}), spec(kTaskEmbeddings, {B, K, M, C}), spec(kTargetMasks, {B, K, D, H, W})},
       {spec(kLogits, {B, K, D, H, W}), spec(kLoss, {}), spec(kGradTaskEmbeddings, {B, K, M, C})}, "fp32"},
  };
}

class IrisFamily final : public ModelFamily {
 public:
  std::string_view id() const override { return "iris"; }
  std::string_view display_name() const override { return "IRIS few-shot 3D segmenter"; }
  bool multi_graph() const override { return true; }

  std::optional<Detection> detect(const ckpt::WeightSource& weights) const override {
    return detect_in_views(weights, detect_iris);
  }

  BuiltModel build(const ckpt::WeightSource& weights, const Detection&, const ConvertContext& context) const override {
    if (context.options.opset != 17) throw UsageError("IRIS graphs are written for opset 17");
    const IrisChoices choices =
        context.options.config.empty() ? IrisChoices{} : read_iris_choices(context.options.config);
    const LoadedIris iris = load_iris(weights, choices);
    const IrisConfig& c = iris.config;
    BuiltModel out;
    graph::Graph forward = build_forward_graph(c, iris.state_dict, 17);
    // Gradients of ~1e-5 need float32: the tuning graph ignores --fp16, and has no Core ML form.
    graph::Graph tune_step = build_tune_step_graph(forward, c);
    out.graphs.push_back({"encode_support", build_encode_support_graph(c, iris.state_dict, 17)});
    out.graphs.push_back({"forward", std::move(forward)});
    out.graphs.push_back({"tune_step", std::move(tune_step), false, true});
    const auto names = iris_parameter_names(c);
    for (const auto& name : names) out.parameters += iris.state_dict.at(name).numel();
    out.tensors_total = iris.tensors_total;
    out.tensors_used = names.size() + iris.memory_bank.size();  // the bank goes to memory_bank.npz
    out.sidecar.variant = "IrisModel";
    out.sidecar.graphs = graph_specs(c);
    out.sidecar.family_section = sidecar_section(iris);
    if (!iris.memory_bank.empty()) {
      ckpt::NamedTensors bank;
      for (const auto& [id, t] : iris.memory_bank) bank.push_back({"class_" + std::to_string(id), t.to(DType::F32)});
      out.extra_files.push_back(
          {"memory_bank.npz", [bank](const std::filesystem::path& path) { ckpt::write_npz(path, bank); }});
    }
    out.details.push_back("layout: " + iris.layout);
    out.details.push_back("base channels " + std::to_string(c.base_channels) + ", embedding " +
                          std::to_string(c.embed_dim()) + ", " + std::to_string(c.num_query_tokens) +
                          " query tokens, " + std::to_string(c.attention_heads) + " attention heads");
    out.details.push_back("volume " + shape_string(c.volume_shape) +
                          ", memory bank classes: " + std::to_string(iris.memory_bank.size()));
    return out;
  }
};

}  // namespace

const ModelFamily& family() {
  static const IrisFamily instance;
  return instance;
}

}  // namespace medport::models::iris
