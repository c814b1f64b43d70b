#pragma once
// timm architecture names: which of the supported families a name belongs to, and timm's default
// data configuration for it (what the weights cannot tell: input size, interpolation, crop, mean/std).
#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace medport::models::timm {

enum class ArchFamily { ResNet, EfficientNet, MobileNetV3, ConvNeXt, ViT };
std::string_view arch_family_id(ArchFamily family);  // "resnet", "efficientnet", "mobilenetv3", "convnext", "vit"

// One row of timm's registry defaults (tools/timm_defaults.py generates the table).
struct DataDefaults {
  const char* name;
  int height;
  int width;
  const char* interpolation;  // "bicubic" | "bilinear" | ...
  double crop_pct;
  const char* crop_mode;      // "center" | "squash" | "border"
  std::array<double, 3> mean;
  std::array<double, 3> std;
  int test_size;              // 0 when timm names no separate test size
  double test_crop_pct;       // 0 when none
};

struct Arch {
  std::string name;  // as given, without a pretrained tag ("resnet50.a1_in1k" -> "resnet50")
  std::string tag;   // "a1_in1k" or empty
  ArchFamily family = ArchFamily::ResNet;
  const DataDefaults* defaults = nullptr;  // nullptr: a supported family member timm has no defaults for
  bool tf_port = false;                    // tf_* names: TensorFlow "same" padding and BatchNorm eps 1e-3
};

// The family of `name`; InputError naming `source` and listing the supported families otherwise.
Arch resolve_arch(const std::string& name, const std::string& source);
// nullopt when the name is not supported.
std::optional<Arch> try_resolve_arch(const std::string& name);
// "ResNet (resnet*, resnext*, ...), EfficientNet (...), ..." for messages and docs.
std::string supported_families_text();

inline constexpr std::array<double, 3> kImagenetMean{0.485, 0.456, 0.406};
inline constexpr std::array<double, 3> kImagenetStd{0.229, 0.224, 0.225};

}  // namespace medport::models::timm
