#include <set>

#include <nlohmann/json.hpp>

#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/graph/fp16.hpp"
#include "medport/graph/onnx_writer.hpp"
#include "medport/models/iris/iris.hpp"
#include "medport/util/file_io.hpp"
#include "models/iris/iris_internal.hpp"

namespace medport::models::iris {
namespace {

nlohmann::json sidecar_json(const LoadedIris& iris, const ConvertRequest& request) {
  const IrisConfig& c = iris.config;
  const std::int64_t D = c.volume_shape[0], H = c.volume_shape[1], W = c.volume_shape[2];
  const std::int64_t M = c.num_query_tokens + 1, C = c.embed_dim();
  auto io = [](const char* name, nlohmann::json shape) {
    return nlohmann::json{{"name", name}, {"dtype", "float32"}, {"shape", std::move(shape)}};
  };
  nlohmann::json ids = nlohmann::json::array();
  for (const auto& [id, t] : iris.memory_bank) ids.push_back(id);
  nlohmann::json memory = {{"class_ids", ids}, {"momentum", c.memory_momentum}, {"background_id", 0}};
  if (!iris.memory_bank.empty()) memory["file"] = "memory_bank.npz";
  return {
      {"family", "iris"},
      {"checkpoint", iris.checkpoint.string()},
      {"checkpoint_layout", iris.layout},
      {"graphs",
       {{"encode_support",
         {{"onnx", "encode_support.onnx"},
          {"inputs", {io(kSupportImage, {"B", c.in_channels, D, H, W}), io(kSupportMasks, {"B", "K", D, H, W})}},
          {"outputs", {io(kTaskEmbeddings, {"B", "K", M, C})}}}},
        {"forward",
         {{"onnx", "forward.onnx"},
          {"inputs", {io(kQueryImage, {"B", c.in_channels, D, H, W}), io(kTaskEmbeddings, {"B", "K", M, C})}},
          {"outputs", {io(kLogits, {"B", "K", D, H, W})}}}},
        {"tune_step",
         {{"onnx", "tune_step.onnx"},
          {"precision", "float32"},
          {"loss", "mean Dice (sigmoid, smooth 1e-6) + mean BCE with logits"},
          {"inputs",
           {io(kQueryImage, {"B", c.in_channels, D, H, W}), io(kTaskEmbeddings, {"B", "K", M, C}),
            io(kTargetMasks, {"B", "K", D, H, W})}},
          {"outputs",
           {io(kLogits, {"B", "K", D, H, W}), io(kLoss, nlohmann::json::array()),
            io(kGradTaskEmbeddings, {"B", "K", M, C})}}}}}},
      {"iris",
       {{"in_channels", c.in_channels},
        {"base_channels", c.base_channels},
        {"num_query_tokens", c.num_query_tokens},
        {"num_attention_heads", c.num_attention_heads},
        {"effective_attention_heads", c.attention_heads},
        {"embed_dim", C},
        {"context_channels", c.context_channels},
        {"volume_shape", c.volume_shape}}},
      {"memory_bank", memory},
      {"fp16", request.fp16},
      {"opset", request.opset},
  };
}

}  // namespace

ConvertReport convert_iris(const ConvertRequest& request) {
  if (request.output.empty()) throw UsageError("an output folder is required (-o OUTDIR)");
  if (request.opset != 17) throw UsageError("IRIS graphs are written for opset 17");
  std::error_code ec;
  if (request.output.extension() == ".onnx" ||
      (std::filesystem::exists(request.output, ec) && !std::filesystem::is_directory(request.output, ec)))
    throw UsageError("IRIS writes several graphs: -o must name a folder, not the file " + request.output.string());
  const IrisChoices choices = request.config.empty() ? IrisChoices{} : read_iris_choices(request.config);
  const LoadedIris iris = load_iris(request.source, choices);

  graph::Graph support = build_encode_support_graph(iris.config, iris.state_dict, request.opset);
  graph::Graph forward = build_forward_graph(iris.config, iris.state_dict, request.opset);
  // Gradients of ~1e-5 need float32: the tuning graph ignores --fp16.
  graph::Graph tune_step = build_tune_step_graph(forward, iris.config);
  if (request.fp16) {
    support = graph::convert_to_fp16(support);
    forward = graph::convert_to_fp16(forward);
  }
  std::filesystem::create_directories(request.output, ec);
  if (ec) throw InputError(request.output.string(), "cannot create the output folder: " + ec.message());

  ConvertReport report;
  report.family = "iris";
  report.network_class = "IrisModel";
  report.checkpoint = request.source;
  report.tensors_total = iris.tensors_total;
  const auto parameter_names = iris_parameter_names(iris.config);
  std::int64_t parameters = 0;
  for (const auto& name : parameter_names) parameters += iris.state_dict.at(name).numel();
  report.parameters = parameters;
  report.tensors_used = parameter_names.size() + iris.memory_bank.size();  // bank -> npz
  const IrisConfig& c = iris.config;
  report.details.push_back("layout: " + iris.layout);
  report.details.push_back("base channels " + std::to_string(c.base_channels) + ", embedding " +
                           std::to_string(c.embed_dim()) + ", " + std::to_string(c.num_query_tokens) +
                           " query tokens, " + std::to_string(c.attention_heads) + " attention heads");
  report.details.push_back("volume " + shape_string(c.volume_shape) + ", memory bank classes: " +
                           std::to_string(iris.memory_bank.size()));
  for (const auto& [graph, name] : {std::pair{&support, "encode_support.onnx"}, std::pair{&forward, "forward.onnx"},
                                    std::pair{&tune_step, "tune_step.onnx"}}) {
    const auto written = graph::write_onnx(*graph, request.output / name);
    report.files.push_back(written.model_path);
    if (!written.data_path.empty()) report.files.push_back(written.data_path);
  }
  if (!iris.memory_bank.empty()) {
    ckpt::NamedTensors bank;
    for (const auto& [id, t] : iris.memory_bank) bank.push_back({"class_" + std::to_string(id), t.to(DType::F32)});
    ckpt::write_npz(request.output / "memory_bank.npz", bank);
    report.files.push_back(request.output / "memory_bank.npz");
  }
  const auto sidecar = request.output / "iris.medport.json";
  write_file_atomic(sidecar, sidecar_json(iris, request).dump(2) + "\n");
  report.files.push_back(sidecar);
  return report;
}

FamilyConverter iris_family_converter() {
  FamilyConverter c;
  c.name = "iris";
  c.families = {"iris"};
  c.convert = [](const ConvertRequest& request) { return convert_iris(request); };
  return c;
}

}  // namespace medport::models::iris
