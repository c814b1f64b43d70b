#include "medport/pipelines/fewshot/ensemble.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "fewshot_rows.hpp"
#include "medport/error.hpp"

namespace medport::pipelines::fewshot {
namespace {

void check_supports(const Tensor& images, const Tensor& masks) {
  if (images.ndim() != 5 || masks.ndim() != 5 || images.shape()[0] != masks.shape()[0] || images.shape()[0] < 1)
    throw InputError("context ensemble", "expected N >= 1 support images (N,1,D,H,W) and masks (N,K,D,H,W), got " +
                                             shape_string(images.shape()) + " and " + shape_string(masks.shape()));
}

SupportByClass uniform(std::int64_t n, std::int64_t k) {
  return SupportByClass(static_cast<std::size_t>(n), std::vector<double>(static_cast<std::size_t>(k), 1.0 / double(n)));
}

}  // namespace

Tensor weighted_embeddings(const Tensor& embeddings, const SupportByClass& weights) {
  const Shape& s = embeddings.shape();
  if (s.size() != 4 || s[0] < 1 || weights.size() != static_cast<std::size_t>(s[0]))
    throw InputError("context ensemble", "expected (N,K,M,C) embeddings with one weight row per support, got " +
                                             shape_string(s) + " and " + std::to_string(weights.size()) + " rows");
  const auto values = embeddings.to_f32();
  const std::size_t k_count = static_cast<std::size_t>(s[1]), per = static_cast<std::size_t>(s[2] * s[3]);
  std::vector<double> sum(k_count * per, 0.0);
  for (std::size_t i = 0; i < weights.size(); ++i) {
    if (weights[i].size() != k_count) throw InputError("context ensemble", "a weight row needs one weight per class");
    for (std::size_t k = 0; k < k_count; ++k)
      for (std::size_t j = 0; j < per; ++j)
        sum[k * per + j] += weights[i][k] * double(values[(i * k_count + k) * per + j]);
  }
  return Tensor::from_f32({1, s[1], s[2], s[3]}, std::vector<float>(sum.begin(), sum.end()));
}

SupportByClass mask_size_weights(const Tensor& masks) {
  if (masks.ndim() < 2 || masks.shape()[0] < 1)
    throw InputError("context ensemble", "expected masks (N,K,...), got " + shape_string(masks.shape()));
  const std::int64_t n = masks.shape()[0], k = masks.shape()[1];
  const auto values = masks.to_f32();
  const std::size_t per = n * k == 0 ? 0 : values.size() / static_cast<std::size_t>(n * k);
  SupportByClass w(static_cast<std::size_t>(n), std::vector<double>(static_cast<std::size_t>(k), 0.0));
  for (std::int64_t c = 0; c < k; ++c) {
    double total = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      const float* m = values.data() + static_cast<std::size_t>(i * k + c) * per;
      double size = 0;
      for (std::size_t j = 0; j < per; ++j) size += m[j] > 0.0f ? double(m[j]) : 0.0;
      w[i][c] = size;
      total += size;
    }
    for (std::int64_t i = 0; i < n; ++i) w[i][c] = total > 0 ? w[i][c] / total : 1.0 / double(n);
  }
  return w;
}

SupportByClass normalized_support_weights(const std::vector<double>& weights, std::int64_t classes) {
  double total = 0;
  for (double v : weights) {
    if (!std::isfinite(v) || v < 0) throw UsageError("support weights must be finite and >= 0");
    total += v;
  }
  if (weights.empty() || !(total > 0)) throw UsageError("support weights must not all be 0");
  SupportByClass w;
  for (double v : weights) w.push_back(std::vector<double>(static_cast<std::size_t>(classes), v / total));
  return w;
}

std::vector<double> confidence_scores(const Tensor& logits) {
  const Shape s = logits.shape();
  if (s.size() < 2 || s[0] != 1 || s[1] < 1 || logits.numel() == 0)
    throw InputError("context ensemble", "expected logits (1,K,...), got " + shape_string(s));
  const auto x = logits.to_f32();
  const std::size_t per = x.size() / static_cast<std::size_t>(s[1]);
  std::vector<double> scores;
  for (std::int64_t k = 0; k < s[1]; ++k) {
    double sum = 0;
    for (std::size_t j = 0; j < per; ++j) sum += 1.0 / (1.0 + std::exp(-std::abs(double(x[k * per + j]))));
    scores.push_back(sum / double(per));
  }
  return scores;
}

SupportByClass keep_best(const SupportByClass& scores, std::int64_t keep) {
  if (keep < 1) throw UsageError("confidence ensemble: keep must be >= 1");
  const std::size_t n = scores.size();
  if (n == 0) return {};
  const std::size_t k_count = scores[0].size();
  const std::size_t kept = std::min<std::size_t>(static_cast<std::size_t>(keep), n);
  SupportByClass w(n, std::vector<double>(k_count, 0.0));
  for (std::size_t c = 0; c < k_count; ++c) {
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return scores[a][c] > scores[b][c]; });
    for (std::size_t r = 0; r < kept; ++r) w[order[r]][c] = 1.0 / double(kept);
  }
  return w;
}

EnsembleResult run_ensemble(const IrisModel& model, const Tensor& support_images, const Tensor& support_masks,
                            const Tensor& query, const EnsembleOptions& options) {
  check_supports(support_images, support_masks);
  const std::int64_t n = support_images.shape()[0], k = support_masks.shape()[1];
  const std::vector<Tensor> rows = encode_each_support(model, support_images, support_masks);
  EnsembleResult r;
  r.support_embeddings = stack_rows(rows);
  switch (options.mode) {
    case EnsembleMode::Mean:
      r.weights = uniform(n, k);
      r.embeddings = mean_embeddings(r.support_embeddings);
      break;
    case EnsembleMode::Weighted:
      if (!options.support_weights.empty() && options.support_weights.size() != static_cast<std::size_t>(n))
        throw UsageError("weighted ensemble: " + std::to_string(options.support_weights.size()) + " weights for " +
                         std::to_string(n) + " supports");
      r.weights = options.support_weights.empty() ? mask_size_weights(support_masks)
                                                  : normalized_support_weights(options.support_weights, k);
      r.embeddings = weighted_embeddings(r.support_embeddings, r.weights);
      break;
    case EnsembleMode::Confidence:
      if (options.keep < 1) throw UsageError("confidence ensemble: keep must be >= 1");
      for (const auto& e : rows) r.scores.push_back(confidence_scores(model.segment(query, e)));
      r.weights = keep_best(r.scores, options.keep);
      r.embeddings = weighted_embeddings(r.support_embeddings, r.weights);
      break;
  }
  r.logits = model.segment(query, r.embeddings);
  return r;
}

SoftEnsembleResult fuse_soft(const std::vector<Tensor>& logits) {
  if (logits.empty()) throw UsageError("soft ensemble: no support predictions");
  const Shape s = logits.front().shape();
  if (s.size() < 2 || s[0] != 1 || s[1] < 1) throw InputError("soft ensemble", "expected logits (1,K,...), got " + shape_string(s));
  const auto k_count = static_cast<std::size_t>(s[1]);
  const auto total = static_cast<std::size_t>(shape_numel(s));
  const std::size_t per = total / k_count;
  std::vector<std::vector<double>> p;  // [support][element]
  SoftEnsembleResult r;
  for (const auto& t : logits) {
    if (t.shape() != s) throw InputError("soft ensemble", "support predictions differ in shape");
    const auto x = t.to_f32();
    std::vector<double> pi(total);
    std::vector<double> c(k_count, 0.0);
    for (std::size_t e = 0; e < total; ++e) {
      pi[e] = 1.0 / (1.0 + std::exp(-static_cast<double>(x[e])));
      c[e / per] += std::abs(pi[e] - 0.5);
    }
    for (auto& v : c) v /= static_cast<double>(per);
    r.confidences.push_back(c);
    p.push_back(std::move(pi));
  }
  const std::size_t n = logits.size();
  r.weights.assign(n, std::vector<double>(k_count, 0.0));
  for (std::size_t k = 0; k < k_count; ++k) {
    double sum = 0.0;
    for (std::size_t i = 0; i < n; ++i) sum += r.confidences[i][k];
    for (std::size_t i = 0; i < n; ++i) r.weights[i][k] = sum > 0.0 ? r.confidences[i][k] / sum : 1.0 / double(n);
  }
  r.probabilities.resize(total);
  for (std::size_t e = 0; e < total; ++e) {
    double v = 0.0;
    for (std::size_t i = 0; i < n; ++i) v += r.weights[i][e / per] * p[i][e];
    r.probabilities[e] = static_cast<float>(v);
  }
  return r;
}

SoftEnsembleResult soft_ensemble(const IrisModel& model, const Tensor& support_embeddings, const Tensor& query) {
  std::vector<Tensor> logits;
  for (std::int64_t i = 0; i < support_embeddings.shape().at(0); ++i)
    logits.push_back(model.segment(query, row_of(support_embeddings, i)));
  return fuse_soft(logits);
}

const char* ensemble_mode_name(EnsembleMode mode) {
  switch (mode) {
    case EnsembleMode::Mean:
      return "mean";
    case EnsembleMode::Weighted:
      return "weighted";
    case EnsembleMode::Confidence:
      return "confidence";
  }
  return "mean";
}

EnsembleMode parse_ensemble_mode(const std::string& name) {
  for (auto m : {EnsembleMode::Mean, EnsembleMode::Weighted, EnsembleMode::Confidence})
    if (name == ensemble_mode_name(m)) return m;
  throw UsageError("unknown ensemble mode '" + name + "' (expected mean, weighted or confidence)");
}

}  // namespace medport::pipelines::fewshot
