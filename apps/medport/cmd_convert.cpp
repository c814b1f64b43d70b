// `medport convert SOURCE -o OUT`: a trained checkpoint -> exported model + sidecar.
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "command.hpp"
#include "medport/export/exporter.hpp"
#include "medport/models/family.hpp"
#include "medport/pipelines/convert.hpp"

namespace {

struct ConvertArgs {
  medport::pipelines::ConvertRequest request;
  std::string source, output;
  int fold = -1;
};

std::string with_thousands(std::int64_t v) {
  std::string digits = std::to_string(v), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

int run(ConvertArgs& args) {
  using namespace medport;
  const auto start = std::chrono::steady_clock::now();
  auto& request = args.request;
  request.source = args.source;
  request.output = args.output;
  if (args.fold >= 0) request.options.fold = args.fold;
  const pipelines::ConvertReport r = pipelines::convert(request);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::printf("family:        %s\n", r.family.c_str());
  std::printf("network:       %s\n", r.network_class.c_str());
  std::printf("checkpoint:    %s\n", r.checkpoint.string().c_str());
  for (const auto& line : r.details) std::printf("  %s\n", line.c_str());
  std::printf("parameters:    %s\n", with_thousands(r.parameters).c_str());
  const double pct = r.tensors_total ? 100.0 * static_cast<double>(r.tensors_used) / static_cast<double>(r.tensors_total)
                                     : 100.0;
  std::printf("weights used:  %zu/%zu tensors (%.1f%%)\n", r.tensors_used, r.tensors_total, pct);
  std::printf("format:        %s\n", r.format.c_str());
  for (const auto& f : r.files) std::printf("wrote:         %s\n", f.string().c_str());
  std::printf("time:          %.2f s\n", seconds);
  return 0;
}

medport::cli::Runner setup(CLI::App& root) {
  using namespace medport;
  auto args = std::make_shared<ConvertArgs>();
  auto& o = args->request.options;
  auto* cmd = root.add_subcommand("convert", "Convert a trained checkpoint to ONNX or another format (+ OUT.medport.json sidecar)");
  cmd->add_option("source", args->source,
                  "Checkpoint (.pth/.pt/.safetensors), nnU-Net fold folder (fold_0/) or model folder (Trainer__Plans__config/)")
      ->required();
  cmd->add_option("-o,--output", args->output,
                  "Output model file (the sidecar goes to OUT.medport.json); a folder for families with several graphs (IRIS)")
      ->required();
  std::vector<std::string> formats;
  for (const auto* e : exporters::exporters()) formats.emplace_back(e->id());
  cmd->add_option("--format", args->request.format, "Output format (onnx)")->check(CLI::IsMember(formats));
  cmd->add_option("--fold", args->fold, "Fold to convert when a model folder has several")->check(CLI::Range(0, 9999));
  cmd->add_option("--checkpoint", o.checkpoint, "Which nnU-Net checkpoint of the fold: final or best")
      ->check(CLI::IsMember({"final", "best"}));
  cmd->add_flag("--fp16", o.fp16, "Half-precision weights and compute (norms stay fp32, fp32 inputs/outputs)");
  cmd->add_option("--opset", o.opset, "ONNX opset (17)")->check(CLI::Range(17, 17));
  cmd->add_flag("--deep-supervision", o.deep_supervision,
                "Also output the lower-resolution segmentation heads (highest resolution first)");
  cmd->add_option("--config", o.config,
                  "Model configuration (.json/.yaml) for what the weights cannot tell (IRIS: volume_shape, heads)")
      ->check(CLI::ExistingFile);
  // Choices the weights cannot tell, by family (models::ModelFamily::options()); a family refuses
  // the ones it does not take.
  auto family_option = [cmd, args](const std::string& flag, const std::string& key, const std::string& help) {
    return cmd->add_option_function<std::string>(
        flag, [args, key](const std::string& v) { args->request.options.family_options[key] = v; }, help);
  };
  family_option("--num-head-channels", "num_head_channels",
                "guided-diffusion: channels per attention head (default 1; -1: use --num-heads)");
  family_option("--num-heads", "num_heads", "guided-diffusion: attention heads (alone: heads by count)");
  family_option("--attention-order", "attention_order", "guided-diffusion: legacy (default) or new")
      ->check(CLI::IsMember({"legacy", "new"}));
  family_option("--image-size", "image_size", "guided-diffusion: training image size (recorded in the sidecar)");
  auto family_flag = [cmd, args](const std::string& flag, const std::string& key, const std::string& help) {
    return cmd->add_flag_callback(flag, [args, key] { args->request.options.family_options[key] = "true"; }, help);
  };
  family_option("--arch", "arch", "timm: model name (required for a plain state dict; overrides the checkpoint's)");
  family_flag("--ema", "ema", "timm: convert the EMA weights (state_dict_ema) of a train.py checkpoint");
  family_option("--classes", "classes", "timm: class names, one per line (recorded in the sidecar)");
  family_option("--mean", "mean", "timm: normalization mean R,G,B in 0..1 (default: the training run's, timm's)");
  family_option("--std", "std", "timm: normalization std R,G,B in 0..1");
  family_flag("--logits", "logits", "timm: also output the logits (beside the softmax 'probs')");
  return [args] { return run(*args); };
}

}  // namespace

MEDPORT_COMMAND(setup);
