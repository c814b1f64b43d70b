#include "fewshot_rows.hpp"
#include "medport/error.hpp"
#include "medport/pipelines/fewshot/fewshot.hpp"

namespace medport::pipelines::fewshot {

MemoryBank::MemoryBank(double momentum) : momentum_(momentum) {
  if (!(momentum >= 0.0 && momentum < 1.0)) throw UsageError("memory bank momentum must lie in [0, 1)");
}

void MemoryBank::update(std::int64_t class_id, const Tensor& embedding) {
  if (embedding.ndim() != 2) throw InputError("memory bank", "an entry must be (m+1, C), got " + shape_string(embedding.shape()));
  if (!entries_.empty() && embedding.shape() != entry_shape_)
    throw InputError("memory bank", "entry shape " + shape_string(embedding.shape()) + " differs from the bank's " +
                                        shape_string(entry_shape_));
  entry_shape_ = embedding.shape();
  auto values = embedding.to_f32();
  const auto it = entries_.find(class_id);
  if (it == entries_.end()) {
    entries_.emplace(class_id, std::move(values));
    return;
  }
  // float32 arithmetic with the scalars torch would use: a and (1 - a) rounded to float.
  const float keep = static_cast<float>(momentum_);
  const float take = static_cast<float>(1.0 - momentum_);
  for (std::size_t i = 0; i < values.size(); ++i) it->second[i] = keep * it->second[i] + take * values[i];
}

void MemoryBank::update_episode(const Tensor& embeddings, const std::vector<std::int64_t>& class_ids) {
  const Shape shape = detail::squeeze_batch(embeddings.shape());
  if (shape.size() != 3 || shape[0] != static_cast<std::int64_t>(class_ids.size()))
    throw InputError("memory bank", "expected (K,m+1,C) or (1,K,m+1,C) embeddings for " +
                                        std::to_string(class_ids.size()) + " class ids, got " +
                                        shape_string(embeddings.shape()));
  const auto values = embeddings.to_f32();
  const std::size_t per = static_cast<std::size_t>(shape[1] * shape[2]);
  for (std::size_t k = 0; k < class_ids.size(); ++k) {
    if (class_ids[k] == 0) continue;  // background is never stored
    update(class_ids[k], Tensor::from_f32({shape[1], shape[2]},
                                          std::span(values.data() + k * per, per)));
  }
}

Tensor MemoryBank::get(std::int64_t class_id) const {
  const auto it = entries_.find(class_id);
  if (it == entries_.end()) throw InputError("memory bank", "class " + std::to_string(class_id) + " is not stored");
  return Tensor::from_f32(entry_shape_, it->second);
}

Tensor MemoryBank::retrieve(const std::vector<std::int64_t>& class_ids) const {
  if (class_ids.empty()) throw InputError("memory bank", "no class ids asked for");
  std::vector<float> all;
  for (auto id : class_ids) {
    const auto t = get(id).to_f32();
    all.insert(all.end(), t.begin(), t.end());
  }
  return Tensor::from_f32({1, static_cast<std::int64_t>(class_ids.size()), entry_shape_[0], entry_shape_[1]}, all);
}

std::vector<std::int64_t> MemoryBank::class_ids() const {
  std::vector<std::int64_t> ids;
  for (const auto& [id, v] : entries_) ids.push_back(id);
  return ids;
}

}  // namespace medport::pipelines::fewshot
