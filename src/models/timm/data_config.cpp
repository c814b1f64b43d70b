#include "models/timm/data_config.hpp"

#include <fmt/format.h>

namespace medport::models::timm {
namespace {

constexpr double kTimmDefaultCropPct = 0.875;  // timm.data.DEFAULT_CROP_PCT

std::string triple_text(const std::array<double, 3>& v) { return fmt::format("({:g}, {:g}, {:g})", v[0], v[1], v[2]); }

struct Pick {
  std::array<double, 3> value;
  std::string source;
  std::string reason;
};

Pick pick_channels(const char* what, const std::optional<std::array<double, 3>>& user,
                   const std::optional<std::array<double, 3>>& args, const Arch& arch,
                   const std::array<double, 3> DataDefaults::*member, const std::array<double, 3>& imagenet) {
  if (user) return {*user, "option", std::string("--") + what + " was given"};
  if (args) return {*args, "training_args", std::string("the training run set args.") + what + " (timm train.py)"};
  if (arch.defaults)
    return {arch.defaults->*member, "timm_default",
            "timm's default for " + arch.name + " (what train.py uses when args." + what + " is unset)"};
  return {imagenet, "imagenet_default", "no training args and no timm default for " + arch.name + ": ImageNet's"};
}

}  // namespace

void resolve_data_config(ClassifierConfig& c, const Arch& arch, const CheckpointFacts& facts, const UserChoices& user,
                         std::optional<std::pair<std::int64_t, std::int64_t>> fixed_size) {
  const TrainingArgs& args = facts.args;
  const DataDefaults* d = arch.defaults;

  if (args.input_size) {
    std::tie(c.height, c.width) = *args.input_size;
    c.input_size_from = {"training_args", "the training run set args.input_size / args.img_size"};
  } else if (d) {
    c.height = d->height;
    c.width = d->width;
    c.input_size_from = {"timm_default", "timm's default input size for " + arch.name};
  } else {
    c.height = c.width = 224;
    c.input_size_from = {"timm_global_default", "timm's global default (224)"};
  }
  if (fixed_size && (c.height != fixed_size->first || c.width != fixed_size->second)) {
    c.input_size_from.reason = fmt::format("the position embeddings fit {}x{} only (instead of {}x{} from {})",
                                           fixed_size->first, fixed_size->second, c.height, c.width,
                                           c.input_size_from.source);
    c.input_size_from.source = "weights";
    std::tie(c.height, c.width) = *fixed_size;
  }

  if (args.interpolation) {
    c.interpolation = *args.interpolation;
    c.interpolation_from = {"training_args", "the training run set args.interpolation"};
  } else {
    c.interpolation = d ? d->interpolation : "bicubic";
    c.interpolation_from = d ? Provenance{"timm_default", "timm's default for " + arch.name}
                             : Provenance{"timm_global_default", "timm's global default"};
  }

  c.crop_pct = args.crop_pct.value_or(d ? d->crop_pct : kTimmDefaultCropPct);
  c.crop_mode = args.crop_mode.value_or(d ? d->crop_mode : "center");
  c.crop_from = args.crop_pct || args.crop_mode ? Provenance{"training_args", "the training run set args.crop_pct/crop_mode"}
                : d ? Provenance{"timm_default", "timm's default for " + arch.name}
                    : Provenance{"timm_global_default", "timm's global default (0.875, center)"};

  const Pick mean = pick_channels("mean", user.mean, args.mean, arch, &DataDefaults::mean, kImagenetMean);
  const Pick std = pick_channels("std", user.std, args.std, arch, &DataDefaults::std, kImagenetStd);
  c.mean = mean.value;
  c.std = std.value;
  if (mean.source == std.source)
    c.normalization_from = {mean.source, "mean " + triple_text(mean.value) + ", std " + triple_text(std.value) + ": " +
                                             mean.reason + (mean.source == "option" ? " (and --std)" : "")};
  else
    c.normalization_from = {mean.source + "+" + std.source,
                            "mean " + triple_text(mean.value) + ": " + mean.reason + "; std " + triple_text(std.value) +
                                ": " + std.reason};
}

}  // namespace medport::models::timm
