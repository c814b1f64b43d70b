#include "medport/imaging/non_finite.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "medport/error.hpp"

namespace medport::imaging {
namespace {

constexpr const char* kSyntax = "expected a number, or KIND=VALUE[,KIND=VALUE...] with KIND nan, posinf, neginf or "
                                "inf and VALUE a number, max or min";

NonFiniteRule parse_rule(const std::string& text, const std::string& spec) {
  if (text == "max") return {NonFiniteRule::Kind::ChannelMax, 0.0F};
  if (text == "min") return {NonFiniteRule::Kind::ChannelMin, 0.0F};
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || !std::isfinite(v) || std::fabs(v) > std::numeric_limits<float>::max())
    throw UsageError("--nan-to-num '" + spec + "': '" + text + "' is not a finite number, max or min (" + kSyntax + ")");
  return {NonFiniteRule::Kind::Value, static_cast<float>(v)};
}

std::string rule_text(const NonFiniteRule& r) {
  switch (r.kind) {
    case NonFiniteRule::Kind::Refuse: return "refuse";
    case NonFiniteRule::Kind::ChannelMax: return "max";
    case NonFiniteRule::Kind::ChannelMin: return "min";
    case NonFiniteRule::Kind::Value: break;
  }
  std::ostringstream s;
  s << r.value;
  return s.str();
}

// "[c, z, y, x]" of a flat index.
std::string position(std::size_t index, const Shape& shape) {
  std::vector<std::int64_t> at(shape.size());
  for (std::size_t a = shape.size(); a-- > 0;) {
    at[a] = static_cast<std::int64_t>(index % static_cast<std::size_t>(shape[a]));
    index /= static_cast<std::size_t>(shape[a]);
  }
  std::string out = "[";
  for (std::size_t a = 0; a < at.size(); ++a) out += (a ? ", " : "") + std::to_string(at[a]);
  return out + "]";
}

const NonFiniteRule& rule_for(float v, const NonFinitePolicy& p) {
  return std::isnan(v) ? p.nan : (v > 0 ? p.posinf : p.neginf);
}

}  // namespace

bool NonFinitePolicy::refuses_all() const {
  return nan.kind == NonFiniteRule::Kind::Refuse && posinf.kind == NonFiniteRule::Kind::Refuse &&
         neginf.kind == NonFiniteRule::Kind::Refuse;
}

NonFinitePolicy parse_nan_to_num(const std::string& spec) {
  NonFinitePolicy policy;
  if (spec.find('=') == std::string::npos) {
    const NonFiniteRule all = parse_rule(spec, spec);
    if (all.kind != NonFiniteRule::Kind::Value)
      throw UsageError("--nan-to-num '" + spec + "': a single value must be a number (" + kSyntax + ")");
    policy.nan = policy.posinf = policy.neginf = all;
    return policy;
  }
  std::stringstream items(spec);
  std::string item;
  while (std::getline(items, item, ',')) {
    const auto eq = item.find('=');
    if (eq == std::string::npos) throw UsageError("--nan-to-num '" + spec + "': '" + item + "' has no '=' (" + kSyntax + ")");
    const std::string key = item.substr(0, eq);
    const NonFiniteRule rule = parse_rule(item.substr(eq + 1), spec);
    if (key == "nan") policy.nan = rule;
    else if (key == "posinf") policy.posinf = rule;
    else if (key == "neginf") policy.neginf = rule;
    else if (key == "inf") policy.posinf = policy.neginf = rule;
    else throw UsageError("--nan-to-num '" + spec + "': unknown kind '" + key + "' (" + kSyntax + ")");
  }
  if (policy.refuses_all()) throw UsageError("--nan-to-num '" + spec + "': nothing to replace (" + kSyntax + ")");
  return policy;
}

std::string describe(const NonFinitePolicy& policy) {
  return "nan=" + rule_text(policy.nan) + ",posinf=" + rule_text(policy.posinf) + ",neginf=" + rule_text(policy.neginf);
}

NonFiniteCounts apply_non_finite_policy(std::vector<float>& values, const Shape& shape, const std::string& source,
                                        const NonFinitePolicy& policy) {
  NonFiniteCounts counts;
  std::size_t first_refused = values.size();
  for (std::size_t i = 0; i < values.size(); ++i) {
    const float v = values[i];
    if (std::isfinite(v)) continue;
    if (std::isnan(v)) ++counts.nan;
    else if (v > 0) ++counts.posinf;
    else ++counts.neginf;
    if (first_refused == values.size() && rule_for(v, policy).kind == NonFiniteRule::Kind::Refuse) first_refused = i;
  }
  if (counts.total() == 0) return counts;
  if (first_refused < values.size()) {
    std::string found;
    auto add = [&](std::size_t n, const char* what) {
      if (n) found += (found.empty() ? "" : ", ") + std::to_string(n) + " " + what;
    };
    add(counts.nan, "NaN");
    add(counts.posinf, "+inf");
    add(counts.neginf, "-inf");
    throw InputError(source, "holds non-finite pixel values (" + found + "; first at " + position(first_refused, shape) +
                                 "); pass --nan-to-num (e.g. --nan-to-num 0) to replace them");
  }
  const auto channels = shape.empty() ? std::size_t{1} : static_cast<std::size_t>(shape[0]);
  const std::size_t plane = values.size() / std::max<std::size_t>(channels, 1);
  for (std::size_t c = 0; c < channels; ++c) {
    const auto begin = values.begin() + static_cast<std::ptrdiff_t>(c * plane);
    const auto end = begin + static_cast<std::ptrdiff_t>(plane);
    float lo = std::numeric_limits<float>::infinity(), hi = -lo;
    for (auto it = begin; it != end; ++it)
      if (std::isfinite(*it)) lo = std::min(lo, *it), hi = std::max(hi, *it);
    for (auto it = begin; it != end; ++it) {
      if (std::isfinite(*it)) continue;
      const NonFiniteRule& rule = rule_for(*it, policy);
      if (rule.kind == NonFiniteRule::Kind::Value) {
        *it = rule.value;
        continue;
      }
      if (lo > hi)
        throw InputError(source, "channel " + std::to_string(c) +
                                     " has no finite value to take --nan-to-num max/min from");
      *it = rule.kind == NonFiniteRule::Kind::ChannelMax ? hi : lo;
    }
  }
  return counts;
}

}  // namespace medport::imaging
