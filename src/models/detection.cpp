#include "models/detection.hpp"

#include <algorithm>
#include <array>
#include <string_view>

namespace medport::models {

std::size_t NameView::count_matching(const std::regex& re) const {
  return static_cast<std::size_t>(
      std::count_if(shapes.begin(), shapes.end(), [&](const auto& kv) { return std::regex_match(kv.first, re); }));
}

std::set<int> NameView::indices(const std::regex& re) const {
  std::set<int> out;
  std::smatch m;
  for (const auto& [k, _] : shapes)
    if (std::regex_match(k, m, re)) out.insert(std::stoi(m[1].str()));
  return out;
}

std::string NameView::shape_text(const std::string& name) const {
  const auto it = shapes.find(name);
  return it == shapes.end() ? "?" : shape_string(it->second);
}

std::vector<NameView> candidate_views(const ckpt::WeightSource& weights) {
  static constexpr std::array<std::string_view, 9> kContainers{
      "network_weights", "state_dict", "model_state_dict", "model_state", "model", "ema_model", "module", "net", ""};
  std::vector<NameView> out;
  for (auto prefix : kContainers) {
    const ckpt::WeightSource sub = weights.within(prefix);
    if (sub.index().empty()) continue;
    NameView v{std::string(prefix), {}};
    for (const auto& w : sub.index()) v.shapes.emplace(w.name, w.shape);
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace medport::models
