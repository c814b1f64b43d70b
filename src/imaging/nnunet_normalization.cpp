// The default normalization schemes (nnunetv2/preprocessing/normalization/
// default_normalization_schemes.py). Statistics are computed in float64 and the arithmetic on
// the image is float32, as numpy does it for a float32 array and Python/numpy scalars.
#include <algorithm>
#include <cmath>

#include "medport/error.hpp"
#include "medport/imaging/nnunet_preprocessing.hpp"

namespace medport::imaging::nnunet {
namespace {

struct MeanStd {
  double mean = 0, std = 0;
  std::size_t count = 0;
};

template <class Include>
MeanStd mean_std(std::span<const float> values, Include include) {
  MeanStd r;
  double sum = 0;
  for (std::size_t i = 0; i < values.size(); ++i)
    if (include(i)) {
      sum += values[i];
      ++r.count;
    }
  if (r.count == 0) return r;
  r.mean = sum / static_cast<double>(r.count);
  double sq = 0;
  for (std::size_t i = 0; i < values.size(); ++i)
    if (include(i)) sq += (values[i] - r.mean) * (values[i] - r.mean);
  r.std = std::sqrt(sq / static_cast<double>(r.count));
  return r;
}

float safe_divisor(double std) { return static_cast<float>(std::max(std, 1e-8)); }

}  // namespace

NormalizationScheme normalization_scheme_from_name(std::string_view name) {
  if (name == "ZScoreNormalization") return NormalizationScheme::ZScore;
  if (name == "CTNormalization") return NormalizationScheme::CT;
  if (name == "NoNormalization") return NormalizationScheme::NoNorm;
  if (name == "RescaleTo01Normalization") return NormalizationScheme::RescaleTo01;
  if (name == "RGBTo0_1Normalization") return NormalizationScheme::RGBTo01;
  throw InputError("normalization", "unknown normalization scheme '" + std::string(name) + "'");
}

void normalize_channel(std::span<float> channel, std::span<const float> seg, const ChannelNormalization& norm) {
  switch (norm.scheme) {
    case NormalizationScheme::NoNorm:
      return;
    case NormalizationScheme::ZScore: {
      if (norm.use_mask_for_norm) {
        if (seg.size() != channel.size()) throw UsageError("ZScoreNormalization: the mask does not match the image");
        const auto stats = mean_std(channel, [&](std::size_t i) { return seg[i] >= 0.0F; });
        if (stats.count == 0) return;  // numpy: empty selection, nothing assigned
        const auto mean = static_cast<float>(stats.mean);
        const float div = std::max(static_cast<float>(stats.std), 1e-8F);
        for (std::size_t i = 0; i < channel.size(); ++i)
          if (seg[i] >= 0.0F) channel[i] = (channel[i] - mean) / div;
        return;
      }
      const auto stats = mean_std(channel, [](std::size_t) { return true; });
      const auto mean = static_cast<float>(stats.mean);
      const float div = std::max(static_cast<float>(stats.std), 1e-8F);
      for (auto& v : channel) v = (v - mean) / div;
      return;
    }
    case NormalizationScheme::CT: {
      if (!norm.intensity)
        throw InputError("CTNormalization", "needs foreground intensity properties (mean, std, percentiles)");
      const auto& p = *norm.intensity;
      const auto lo = static_cast<float>(p.percentile_00_5);
      const auto hi = static_cast<float>(p.percentile_99_5);
      const auto mean = static_cast<float>(p.mean);
      const float div = safe_divisor(p.std);
      for (auto& v : channel) v = (std::clamp(v, lo, hi) - mean) / div;
      return;
    }
    case NormalizationScheme::RescaleTo01: {
      if (channel.empty()) return;
      const float lo = *std::min_element(channel.begin(), channel.end());
      for (auto& v : channel) v -= lo;
      const float hi = std::max(*std::max_element(channel.begin(), channel.end()), 1e-8F);
      for (auto& v : channel) v /= hi;
      return;
    }
    case NormalizationScheme::RGBTo01: {
      if (channel.empty()) return;
      const auto [lo, hi] = std::minmax_element(channel.begin(), channel.end());
      if (*lo < 0.0F || *hi > 255.0F)
        throw InputError("RGBTo0_1Normalization", "values must lie in [0, 255] (an RGB image), found " +
                                                      std::to_string(*lo) + " .. " + std::to_string(*hi));
      for (auto& v : channel) v /= 255.0F;
      return;
    }
  }
}

}  // namespace medport::imaging::nnunet
