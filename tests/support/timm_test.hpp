#pragma once
// Shared by the timm classifier tests: convert a checkpoint through the family object, run the
// graph, compare with reference outputs (probs within 1e-5 absolute, logits within 1e-4 relative
// to the largest logit; fp16: same top-1, probs within 5e-3).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "medport/checkpoint/weight_source.hpp"
#include "medport/graph/fp16.hpp"
#include "medport/graph/onnx_writer.hpp"
#include "medport/models/timm/timm_family.hpp"
#include "medport/runtime/session.hpp"
#include "medport/tensor.hpp"

namespace medport::testing::timm {

// convert flags as config.json lists them (["--arch", "efficientnet_b0"]) -> family options.
inline std::map<std::string, std::string> options_from_flags(const std::vector<std::string>& flags) {
  std::map<std::string, std::string> out;
  for (std::size_t i = 0; i < flags.size(); ++i) {
    std::string key = flags[i].substr(2);
    std::replace(key.begin(), key.end(), '-', '_');
    const bool has_value = i + 1 < flags.size() && !flags[i + 1].starts_with("--");
    out[key] = has_value ? flags[++i] : "true";
  }
  return out;
}

inline models::BuiltModel build(const std::filesystem::path& checkpoint, std::map<std::string, std::string> options) {
  const auto weights = ckpt::WeightSource::open(checkpoint);
  const auto& family = models::timm::timm_family();
  const auto detection = family.detect(weights);
  if (!detection) throw std::runtime_error("timm family did not detect " + checkpoint.string());
  models::ConvertContext context;
  context.source = checkpoint;
  context.weights = checkpoint;
  context.options.family_options = std::move(options);
  return family.build(weights, *detection, context);
}

struct Outputs {
  Tensor probs;
  Tensor logits;
};

inline Outputs run(const graph::Graph& g, const Tensor& image, bool fp16 = false) {
  const auto bytes = graph::to_model_bytes(fp16 ? graph::convert_to_fp16(g) : g);
  const runtime::Session session(bytes);
  const auto outs = session.run({{"image", image}});
  Outputs o;
  for (const auto& out : outs) {
    if (out.name == "probs") o.probs = out.tensor;
    if (out.name == "logits") o.logits = out.tensor;
  }
  return o;
}

inline void expect_probs_close(const Tensor& got, const Tensor& want, double tol, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  const auto g = got.to_f32(), w = want.to_f32();
  double worst = 0;
  for (std::size_t i = 0; i < g.size(); ++i) worst = std::max(worst, std::fabs(double(g[i]) - double(w[i])));
  EXPECT_LE(worst, tol) << what << ": max |probs difference|";
}

inline void expect_logits_close(const Tensor& got, const Tensor& want, double rel, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  const auto g = got.to_f32(), w = want.to_f32();
  double worst = 0, scale = 0;
  for (std::size_t i = 0; i < g.size(); ++i) {
    worst = std::max(worst, std::fabs(double(g[i]) - double(w[i])));
    scale = std::max(scale, std::fabs(double(w[i])));
  }
  EXPECT_LE(worst, rel * std::max(scale, 1.0)) << what << ": max |logits difference| (largest |logit| " << scale << ")";
}

inline std::vector<std::int64_t> top1(const Tensor& probs) {
  const auto p = probs.to_f32();
  const std::int64_t k = probs.shape().at(1);
  std::vector<std::int64_t> out;
  for (std::int64_t n = 0; n < probs.shape().at(0); ++n) {
    const auto row = p.begin() + n * k;
    out.push_back(std::max_element(row, row + k) - row);
  }
  return out;
}

// fp32 and fp16 graphs against reference probs (and logits when given).
inline void expect_parity(const graph::Graph& g, const Tensor& image, const Tensor& probs, const Tensor* logits,
                          const std::string& what) {
  const Outputs fp32 = run(g, image);
  expect_probs_close(fp32.probs, probs, 1e-5, what + " probs");
  if (logits) {
    ASSERT_TRUE(fp32.logits.defined()) << what << ": no logits output";
    expect_logits_close(fp32.logits, *logits, 1e-4, what + " logits");
  }
  const Outputs fp16 = run(g, image, true);
  EXPECT_EQ(top1(fp16.probs), top1(probs)) << what << " fp16 top-1";
  expect_probs_close(fp16.probs, probs, 5e-3, what + " fp16 probs");
}

}  // namespace medport::testing::timm
