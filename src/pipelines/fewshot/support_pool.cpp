#include "medport/pipelines/fewshot/support_pool.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>

#include "medport/error.hpp"
#include "medport/pipelines/batch/cases.hpp"
#include "medport/pipelines/fewshot/retrieval.hpp"

namespace medport::pipelines::fewshot {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

bool strip_suffix(std::string& name, const std::string& suffix) {
  if (name.size() <= suffix.size() || !name.ends_with(suffix)) return false;
  name.resize(name.size() - suffix.size());
  return true;
}

// numpy.gradient along one axis of a (D,H,W) array: central differences inside, one-sided at
// the edges, 0 along an axis of length 1.
double gradient_at(std::span<const float> v, const Shape& s, std::size_t axis, std::int64_t z, std::int64_t y, std::int64_t x) {
  const std::int64_t idx[3] = {z, y, x};
  const std::int64_t len = s[axis];
  if (len < 2) return 0.0;
  auto at = [&](std::int64_t i) {
    std::int64_t p[3] = {idx[0], idx[1], idx[2]};
    p[axis] = i;
    return static_cast<double>(v[static_cast<std::size_t>((p[0] * s[1] + p[1]) * s[2] + p[2])]);
  };
  const std::int64_t i = idx[axis];
  if (i == 0) return at(1) - at(0);
  if (i == len - 1) return at(len - 1) - at(len - 2);
  return (at(i + 1) - at(i - 1)) / 2.0;
}

// The top `count` indices by score (highest first, ties: lower index), sorted.
std::vector<std::size_t> best_by_score(const std::vector<double>& scores, std::size_t count) {
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
  order.resize(count);
  std::sort(order.begin(), order.end());
  return order;
}

}  // namespace

std::vector<PoolPair> find_support_pairs(const fs::path& dir) {
  std::map<std::string, fs::path> images, masks;
  for (const auto& f : batch::image_files_in(dir)) {
    std::string name = batch::case_name_for(f);
    auto& into = strip_suffix(name, "_mask") ? masks : images;
    if (&into == &images) strip_suffix(name, "_image");
    const auto [it, inserted] = into.emplace(name, f);
    if (!inserted) throw InputError(f.string(), "the support pool has two files for '" + name + "' (" + it->second.string() + ")");
  }
  std::vector<PoolPair> pairs;
  for (const auto& [name, mask] : masks) {
    const auto it = images.find(name);
    if (it == images.end()) throw InputError(mask.string(), "a mask in the support pool without its image " + name + "_image.* or " + name + ".*");
    pairs.push_back({name, {it->second, mask}});
  }
  if (pairs.empty()) throw InputError(dir.string(), "holds no support pair (<name>_image.* or <name>.* with <name>_mask.*)");
  return pairs;
}

std::vector<std::size_t> select_random(std::size_t candidates, std::size_t count, std::uint64_t seed) {
  std::vector<std::size_t> order(candidates);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed);
  for (std::size_t i = candidates; i > 1; --i) std::swap(order[i - 1], order[static_cast<std::size_t>(rng() % i)]);
  order.resize(std::min(count, candidates));
  std::sort(order.begin(), order.end());
  return order;
}

double support_quality(std::span<const float> image, std::span<const float> foreground, const Shape& s) {
  const auto n = static_cast<std::size_t>(shape_numel(s));
  if (image.size() != n || foreground.size() != n || n == 0) throw UsageError("support quality: sizes differ");
  double fraction = 0.0, gradient = 0.0, mean = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    fraction += foreground[i];
    mean += image[i];
  }
  fraction /= static_cast<double>(n);
  mean /= static_cast<double>(n);
  double var = 0.0;
  for (std::size_t i = 0; i < n; ++i) var += (image[i] - mean) * (image[i] - mean);
  for (std::int64_t z = 0; z < s[0]; ++z)
    for (std::int64_t y = 0; y < s[1]; ++y)
      for (std::int64_t x = 0; x < s[2]; ++x) {
        double sq = 0.0;
        for (std::size_t a = 0; a < 3; ++a) sq += std::pow(gradient_at(foreground, s, a, z, y, x), 2);
        gradient += std::sqrt(sq);
      }
  const double coverage_score = 1.0 - std::abs(fraction - 0.5) * 2.0;
  return 0.5 * coverage_score + 0.3 * gradient / static_cast<double>(n) + 0.2 * std::sqrt(var / static_cast<double>(n));
}

std::vector<std::size_t> select_diverse(const std::vector<Tensor>& e, std::size_t count) {
  const std::size_t n = e.size();
  std::vector<std::vector<double>> sim(n, std::vector<double>(n, 1.0));
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = i + 1; j < n; ++j) sim[i][j] = sim[j][i] = cosine_similarity(e[i], e[j]);
  std::vector<std::size_t> chosen;
  if (n == 0 || count == 0) return chosen;
  std::size_t first = 0;
  double best = -2.0;
  for (std::size_t i = 0; i < n; ++i) {
    double mean = 0.0;
    for (std::size_t j = 0; j < n; ++j) mean += j == i ? 0.0 : sim[i][j];
    if (n > 1) mean /= static_cast<double>(n - 1);
    if (mean > best) best = mean, first = i;
  }
  chosen.push_back(first);
  std::vector<double> nearest(n);  // highest similarity to any chosen one
  for (std::size_t i = 0; i < n; ++i) nearest[i] = sim[i][first];
  while (chosen.size() < std::min(count, n)) {
    std::size_t next = n;
    for (std::size_t i = 0; i < n; ++i)
      if (std::find(chosen.begin(), chosen.end(), i) == chosen.end() && (next == n || nearest[i] < nearest[next])) next = i;
    chosen.push_back(next);
    for (std::size_t i = 0; i < n; ++i) nearest[i] = std::max(nearest[i], sim[i][next]);
  }
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

PoolChoice choose_supports(const SupportPool& pool, std::size_t count,
                           const std::function<std::pair<Tensor, Tensor>(const SupportPair&)>& load,
                           const std::function<Tensor(const Tensor&, const Tensor&)>& encode, const Shape& volume_shape) {
  const auto pairs = find_support_pairs(pool.dir);
  if (count > pairs.size())
    throw InputError(pool.dir.string(), "holds " + std::to_string(pairs.size()) + " support pair(s), " + std::to_string(count) +
                                            " asked for (--num-support)");
  PoolChoice choice;
  std::vector<std::size_t> chosen;
  json scores = json::object();
  if (pool.select == "random") {
    chosen = select_random(pairs.size(), count, pool.seed);
  } else if (pool.select == "quality") {
    std::vector<double> q;
    for (const auto& p : pairs) {
      const auto [image, masks] = load(p.files);
      const auto m = masks.to_f32();
      const std::size_t per = static_cast<std::size_t>(shape_numel(volume_shape));
      std::vector<float> foreground(per, 0.0F);
      for (std::size_t i = 0; i < m.size(); ++i)
        if (m[i] > 0.5F) foreground[i % per] = 1.0F;
      q.push_back(support_quality(image.to_f32(), foreground, volume_shape));
      scores[p.name] = q.back();
    }
    chosen = best_by_score(q, count);
  } else {
    std::vector<Tensor> embeddings;
    for (const auto& p : pairs) {
      const auto [image, masks] = load(p.files);
      embeddings.push_back(encode(image, masks));
    }
    chosen = select_diverse(embeddings, count);
    for (std::size_t i = 0; i < pairs.size(); ++i) {
      double nearest = -1.0;
      for (std::size_t c : chosen)
        if (c != i) nearest = std::max(nearest, cosine_similarity(embeddings[i], embeddings[c]));
      scores[pairs[i].name] = nearest;  // highest similarity to a chosen other support
    }
  }
  json names = json::array();
  for (std::size_t i : chosen) {
    choice.supports.push_back(pairs[i].files);
    names.push_back(pairs[i].name);
  }
  choice.report = {{"dir", pool.dir.string()},
                   {"candidates", pairs.size()},
                   {"num_support", count},
                   {"select", pool.select},
                   {"seed", pool.seed},
                   {"chosen", names}};
  if (pool.select == "quality") choice.report["quality"] = scores;
  if (pool.select == "diversity") choice.report["similarity_to_chosen"] = scores;
  return choice;
}

}  // namespace medport::pipelines::fewshot
