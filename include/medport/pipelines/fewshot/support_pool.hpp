#pragma once
// Supports chosen from a folder (--support-dir), as the guide's ensemble script does:
//   pairs  every `<name>_mask.<ext>` with its image `<name>_image.<ext>` or `<name>.<ext>`
//          (any image ending; images without a mask are left out, a mask without an image is an
//          InputError naming it);
//   select `num_support` of them:
//     random     a seeded Fisher-Yates shuffle (std::mt19937_64(seed), index = draw % (i + 1)),
//                the first N;
//     quality    the guide's quality score, highest first (ties: name order), computed on the
//                image and mask at the model's volume after preprocessing:
//                  q = 0.5 (1 - 2 |f - 0.5|) + 0.3 mean|grad m| + 0.2 std(image)
//                f: foreground fraction of the mask (any class), grad: numpy.gradient (central
//                differences, one-sided at the edges) of the 0/1 foreground mask;
//     diversity  farthest-point sampling on the supports' task embeddings (each encoded alone,
//                flattened, cosine similarity): first the most typical support (highest mean
//                similarity to the others), then repeatedly the one whose highest similarity to
//                those chosen is lowest (ties: name order);
//   the chosen supports are used in name order. What was chosen and why goes into the report.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "medport/pipelines/fewshot/settings.hpp"
#include "medport/tensor.hpp"

namespace medport::pipelines::fewshot {

struct PoolPair {
  std::string name;
  SupportPair files;
};

// The pairs in `dir`, sorted by name. InputError for a missing folder, an empty pool or a mask
// without its image.
std::vector<PoolPair> find_support_pairs(const std::filesystem::path& dir);

// The indices `select` = random chooses, sorted.
std::vector<std::size_t> select_random(std::size_t candidates, std::size_t count, std::uint64_t seed);

// The guide's quality score of one support at the model's volume (image (D,H,W) preprocessed,
// `foreground` 0/1 of the same size).
double support_quality(std::span<const float> image, std::span<const float> foreground, const Shape& volume_shape);

// Farthest-point choice of `count` among embeddings (one per candidate, cosine of the flattened
// values), sorted.
std::vector<std::size_t> select_diverse(const std::vector<Tensor>& embeddings, std::size_t count);

// The chosen pairs and the report (dir, candidates, num_support, select, seed, chosen names and,
// for quality/diversity, every candidate's score). `load` gives a candidate's preprocessed image
// (1,1,D,H,W) and masks (1,K,D,H,W); `encode` its task embeddings.
struct PoolChoice {
  std::vector<SupportPair> supports;
  nlohmann::json report;
};
PoolChoice choose_supports(const SupportPool& pool, std::size_t count,
                           const std::function<std::pair<Tensor, Tensor>(const SupportPair&)>& load,
                           const std::function<Tensor(const Tensor&, const Tensor&)>& encode, const Shape& volume_shape);

}  // namespace medport::pipelines::fewshot
