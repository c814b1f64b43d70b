#pragma once
// What family detectors look at: the names and shapes under each container a training script
// may have stored the network's state dict in (never tensor data).
#include <cstddef>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "medport/checkpoint/weight_source.hpp"
#include "medport/models/family.hpp"

namespace medport::models {

struct NameView {
  std::string prefix;  // "" or "network_weights", "state_dict", ...
  std::map<std::string, Shape> shapes;  // relative name ("module." dropped) -> shape

  bool has(const std::string& name) const { return shapes.count(name) != 0; }
  std::size_t count_matching(const std::regex& re) const;
  std::set<int> indices(const std::regex& re) const;  // first capture group as int
  std::string shape_text(const std::string& name) const;  // "[2, 3]" or "?"
};

// The non-empty views under the usual containers ("network_weights", "state_dict",
// "model_state_dict", "model_state", "model", "ema_model", "module", "net", root), in that order.
std::vector<NameView> candidate_views(const ckpt::WeightSource& weights);

// The first view `detect_in` accepts, with "network weights under 'X'" prepended to its evidence.
template <class Detector>
std::optional<Detection> detect_in_views(const ckpt::WeightSource& weights, Detector detect_in) {
  for (const auto& view : candidate_views(weights)) {
    if (auto d = detect_in(view)) {
      d->prefix = view.prefix;
      if (!view.prefix.empty()) d->evidence.insert(d->evidence.begin(), "network weights under '" + view.prefix + "'");
      return d;
    }
  }
  return std::nullopt;
}

}  // namespace medport::models
