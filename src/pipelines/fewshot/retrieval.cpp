#include "medport/pipelines/fewshot/retrieval.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "fewshot_rows.hpp"
#include "medport/error.hpp"

namespace medport::pipelines::fewshot {

std::vector<RetrievalCandidate> retrieval_candidates(const BankContents& bank, CandidateSet which) {
  std::vector<RetrievalCandidate> out;
  if (which != CandidateSet::Examples)
    for (const auto id : bank.bank.class_ids()) out.push_back({id, "prototype", true, bank.bank.get(id)});
  if (which != CandidateSet::Prototypes)
    for (const auto& e : bank.examples) out.push_back({e.class_id, e.source, false, e.embedding});
  return out;
}

double cosine_similarity(const Tensor& a, const Tensor& b) {
  if (a.numel() != b.numel())
    throw InputError("retrieval", "cannot compare embeddings of shapes " + shape_string(a.shape()) + " and " +
                                      shape_string(b.shape()));
  const auto x = a.to_f32(), y = b.to_f32();
  double dot = 0, xx = 0, yy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    dot += double(x[i]) * double(y[i]);
    xx += double(x[i]) * double(x[i]);
    yy += double(y[i]) * double(y[i]);
  }
  if (xx == 0 || yy == 0) return 0.0;
  return dot / (std::sqrt(xx) * std::sqrt(yy));
}

std::vector<RetrievalHit> top_k(const Tensor& probe, const std::vector<RetrievalCandidate>& candidates, std::size_t k,
                                std::optional<std::int64_t> class_id) {
  std::vector<RetrievalHit> hits;
  for (const auto& c : candidates) {
    if (class_id && c.class_id != *class_id) continue;
    hits.push_back({c, cosine_similarity(probe, c.embedding)});
  }
  std::stable_sort(hits.begin(), hits.end(),
                   [](const RetrievalHit& x, const RetrievalHit& y) { return x.similarity > y.similarity; });
  if (hits.size() > k) hits.resize(k);
  return hits;
}

std::vector<double> fusion_weights(const std::vector<RetrievalHit>& hits, double temperature) {
  if (!(temperature > 0)) throw UsageError("fusion temperature must be > 0");
  if (hits.empty()) return {};
  double best = hits[0].similarity;
  for (const auto& h : hits) best = std::max(best, h.similarity);
  std::vector<double> w;
  for (const auto& h : hits) w.push_back(std::exp((h.similarity - best) / temperature));  // shifted: no overflow
  const double sum = std::accumulate(w.begin(), w.end(), 0.0);
  for (auto& v : w) v /= sum;
  return w;
}

Tensor fuse(const std::vector<RetrievalHit>& hits, double temperature) {
  if (hits.empty()) throw InputError("retrieval", "nothing retrieved to fuse");
  const auto w = fusion_weights(hits, temperature);
  const Shape shape = hits[0].candidate.embedding.shape();
  std::vector<double> sum(static_cast<std::size_t>(shape_numel(shape)), 0.0);
  for (std::size_t i = 0; i < hits.size(); ++i) {
    const auto v = hits[i].candidate.embedding.to_f32();
    if (v.size() != sum.size() || hits[i].candidate.embedding.shape() != shape)
      throw InputError("retrieval", "retrieved embeddings differ in shape");
    for (std::size_t j = 0; j < v.size(); ++j) sum[j] += w[i] * double(v[j]);
  }
  return Tensor::from_f32(shape, std::vector<float>(sum.begin(), sum.end()));
}

Tensor class_slice(const Tensor& embeddings, std::int64_t k) {
  const Shape s = detail::squeeze_batch(embeddings.shape());
  if (s.size() != 3 || k < 0 || k >= s[0])
    throw InputError("retrieval", "class " + std::to_string(k) + " of embeddings " + shape_string(embeddings.shape()));
  const Tensor row = row_of(embeddings.contiguous().reshaped(s), k);
  return row.reshaped({s[1], s[2]});
}

Tensor retrieve_fused(const Tensor& probes, const std::vector<std::int64_t>& class_ids,
                      const std::vector<RetrievalCandidate>& candidates, std::size_t k, double temperature) {
  const Shape s = detail::squeeze_batch(probes.shape());
  if (s.size() != 3 || s[0] != static_cast<std::int64_t>(class_ids.size()))
    throw InputError("retrieval", "expected (1,K,M,C) probes for " + std::to_string(class_ids.size()) +
                                      " class ids, got " + shape_string(probes.shape()));
  const Tensor contiguous = probes.contiguous();
  std::vector<Tensor> rows;
  for (std::size_t c = 0; c < class_ids.size(); ++c) {
    const auto only = class_ids[c] < 0 ? std::nullopt : std::optional<std::int64_t>(class_ids[c]);
    const auto hits = top_k(class_slice(contiguous, static_cast<std::int64_t>(c)), candidates, k, only);
    if (hits.empty())
      throw InputError("retrieval", "nothing stored to retrieve for class " + std::to_string(class_ids[c]));
    const Tensor fused = fuse(hits, temperature);
    if (fused.shape() != Shape{s[1], s[2]})
      throw InputError("retrieval", "stored embeddings " + shape_string(fused.shape()) + " do not match the probes' " +
                                        shape_string({s[1], s[2]}));
    rows.push_back(fused.reshaped({1, 1, s[1], s[2]}));
  }
  Tensor stacked = stack_rows(rows);  // (K,1,M,C)
  return stacked.reshaped({1, s[0], s[1], s[2]});
}

Tensor probe_from_prediction(const IrisModel& model, const Tensor& query, const Tensor& logits) {
  if (query.ndim() != 5 || logits.ndim() != 5 || query.shape()[0] != 1 || logits.shape()[0] != 1)
    throw InputError("retrieval", "expected a query (1,1,D,H,W) and its logits (1,K,D,H,W), got " +
                                      shape_string(query.shape()) + " and " + shape_string(logits.shape()));
  auto mask = logits.to_f32();
  for (auto& v : mask) v = v > 0.0f ? 1.0f : 0.0f;  // sigmoid(x) > 0.5
  return model.encode_support(query, Tensor::from_f32(logits.shape(), mask));
}

}  // namespace medport::pipelines::fewshot
