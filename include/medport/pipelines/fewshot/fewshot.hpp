#pragma once
// Few-shot segmentation strategies over the two IRIS graphs written by `medport convert`
// (OUTDIR/encode_support.onnx, OUTDIR/forward.onnx, OUTDIR/medport.json):
//   one-shot:         logits = forward(query, encode(support, masks))
//   context ensemble: logits = forward(query, mean over supports of encode(support_i, masks_i))
//   memory bank:      per-class EMA of task embeddings, T_k <- a T_k + (1 - a) T_new (a = 0.999),
//                     background (class 0) never stored; retrieved embeddings replace a support.
// Tensors are float32: images (N,1,D,H,W), masks (N,K,D,H,W), embeddings (N,K,m+1,C).
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "medport/runtime/session.hpp"
#include "medport/tensor.hpp"

namespace medport::pipelines::fewshot {

class IrisModel {
 public:
  explicit IrisModel(const std::filesystem::path& folder, const runtime::SessionOptions& options = {});
  ~IrisModel();
  IrisModel(IrisModel&&) noexcept;
  IrisModel& operator=(IrisModel&&) noexcept;

  Tensor encode_support(const Tensor& images, const Tensor& masks) const;   // -> (N,K,m+1,C)
  Tensor segment(const Tensor& query, const Tensor& embeddings) const;      // -> (N,K,D,H,W) logits
  double memory_momentum() const;
  // In-context tuning through OUTDIR/tune_step.onnx (see tuning.hpp), loaded on first use.
  bool can_tune() const;
  // Upstream tuning loss (Dice + BCE) of segment(query, embeddings) against target_masks
  // (N,K,D,H,W, 0/1) and its gradient with respect to the embeddings. Throws InputError when
  // the folder has no tune_step.onnx (converted before it existed: re-run convert).
  std::pair<double, Tensor> loss_and_gradient(const Tensor& query, const Tensor& embeddings,
                                              const Tensor& target_masks) const;
  struct TuneStep {
    double loss = 0;
    Tensor gradient;  // d loss / d embeddings, the embeddings' shape
    Tensor logits;    // segment(query, embeddings)
  };
  TuneStep tune_step(const Tensor& query, const Tensor& embeddings, const Tensor& target_masks) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Mean over axis 0 of (N,K,M,C) embeddings -> (1,K,M,C). Throws InputError for N == 0 or a
// tensor of another rank.
Tensor mean_embeddings(const Tensor& embeddings);

// Row i of axis 0 as a contiguous tensor with the leading 1 kept: (1, ...).
Tensor row_of(const Tensor& t, std::int64_t i);
// Tensors of equal shape (1, ...) stacked into (N, ...), as float32.
Tensor stack_rows(const std::vector<Tensor>& rows);
// Every support (row of images (N,1,D,H,W) and masks (N,K,D,H,W)) encoded on its own: N tensors
// (1,K,m+1,C). Callers check the shapes (their messages name what the supports are for).
std::vector<Tensor> encode_each_support(const IrisModel& model, const Tensor& images, const Tensor& masks);

Tensor one_shot(const IrisModel& model, const Tensor& support_image, const Tensor& support_masks, const Tensor& query);
// Every support is encoded on its own (N rows of images/masks), then averaged.
Tensor context_ensemble(const IrisModel& model, const Tensor& support_images, const Tensor& support_masks,
                        const Tensor& query);

class MemoryBank {
 public:
  explicit MemoryBank(double momentum = 0.999);
  // One class: stores `embedding` (M,C) the first time, then the EMA.
  void update(std::int64_t class_id, const Tensor& embedding);
  // (K,M,C) or (1,K,M,C) embeddings with one class id per K; class 0 is skipped.
  void update_episode(const Tensor& embeddings, const std::vector<std::int64_t>& class_ids);
  bool contains(std::int64_t class_id) const { return entries_.count(class_id) != 0; }
  Tensor get(std::int64_t class_id) const;  // (M,C); throws InputError when absent
  // (1,K,M,C) in the order asked; throws InputError naming a missing class.
  Tensor retrieve(const std::vector<std::int64_t>& class_ids) const;
  std::vector<std::int64_t> class_ids() const;
  double momentum() const { return momentum_; }

 private:
  double momentum_;
  Shape entry_shape_;
  std::map<std::int64_t, std::vector<float>> entries_;
};

}  // namespace medport::pipelines::fewshot
