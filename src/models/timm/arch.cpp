#include "medport/models/timm/arch.hpp"

#include <algorithm>
#include <iterator>
#include <regex>
#include <string_view>

#include "medport/error.hpp"

namespace medport::models::timm {
namespace {

constexpr DataDefaults kDefaults[] = {
#include "models/timm/timm_defaults_table.inc"
};

struct FamilyPattern {
  ArchFamily family;
  std::regex pattern;
};

const std::vector<FamilyPattern>& patterns() {
  // Members whose layers medport builds; variants with other layers (anti-aliasing, group norm,
  // conditional convs, edge blocks, RMS norms, rotary or pooled-attention ViTs) are not matched.
  static const std::vector<FamilyPattern> p{
      {ArchFamily::ResNet,
       std::regex(R"((resnet\d+[a-z]*|resnext\d+[a-z]*_\d+x\d+d|wide_resnet\d+_\d+|seresnet\d+[a-z]*|seresnext\d+[a-z]*_\d+x\d+d))")},
      {ArchFamily::EfficientNet, std::regex(R"((tf_)?efficientnet_(b\d|lite\d))")},
      {ArchFamily::MobileNetV3, std::regex(R"((tf_)?mobilenetv3_(small|large)(_minimal)?_\d+)")},
      {ArchFamily::ConvNeXt, std::regex(R"(convnext_(atto|femto|pico|nano|tiny|small|base|large|xlarge|xxlarge)(_ols|_hnf)?)")},
      {ArchFamily::ViT,
       std::regex(R"((vit_(tiny|small|medium|base|large|huge)_patch(8|14|16|32)_\d+)|(deit3?_(tiny|small|medium|base|large|huge)_(distilled_)?patch16_\d+))")},
  };
  return p;
}

// Variant suffixes of ResNet names whose extra layers medport does not build.
bool unsupported_resnet_variant(const std::string& name) {
  static const std::regex other(R"((resnetaa|resnetblur|resnetrs|resnetv2|.*_gn$|.*_evos$|.*_iabn$))");
  return std::regex_match(name, other);
}

}  // namespace

std::string_view arch_family_id(ArchFamily family) {
  switch (family) {
    case ArchFamily::ResNet: return "resnet";
    case ArchFamily::EfficientNet: return "efficientnet";
    case ArchFamily::MobileNetV3: return "mobilenetv3";
    case ArchFamily::ConvNeXt: return "convnext";
    case ArchFamily::ViT: return "vit";
  }
  return "?";
}

std::string supported_families_text() {
  return "ResNet (resnet*, resnet*d/t deep stems, resnext*, seresnet*, wide_resnet*), EfficientNet (efficientnet_b0..b8, "
         "efficientnet_lite0..4, tf_efficientnet_b*/lite*), MobileNetV3 (mobilenetv3_small/large_*, "
         "tf_mobilenetv3_*), ConvNeXt (convnext_atto..xxlarge, *_ols, *_hnf), ViT/DeiT (vit_{tiny..huge}_patch16_*, "
         "deit_*, deit3_*)";
}

std::optional<Arch> try_resolve_arch(const std::string& given) {
  Arch arch;
  const auto dot = given.find('.');
  arch.name = given.substr(0, dot);
  if (dot != std::string::npos) arch.tag = given.substr(dot + 1);
  if (arch.name.starts_with("timm/")) arch.name = arch.name.substr(5);  // hub ids: "timm/resnet50.a1_in1k"
  if (unsupported_resnet_variant(arch.name)) return std::nullopt;
  const auto it = std::find_if(patterns().begin(), patterns().end(),
                               [&](const FamilyPattern& p) { return std::regex_match(arch.name, p.pattern); });
  if (it == patterns().end()) return std::nullopt;
  arch.family = it->family;
  arch.tf_port = arch.name.starts_with("tf_");
  const auto row = std::find_if(std::begin(kDefaults), std::end(kDefaults),
                                [&](const DataDefaults& d) { return arch.name == d.name; });
  if (row != std::end(kDefaults)) arch.defaults = &*row;
  return arch;
}

Arch resolve_arch(const std::string& name, const std::string& source) {
  if (auto arch = try_resolve_arch(name)) return *arch;
  throw InputError(source, "timm architecture '" + name + "' is not supported; supported families: " +
                               supported_families_text());
}

}  // namespace medport::models::timm
