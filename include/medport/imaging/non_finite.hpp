#pragma once
// NaN and infinite pixel values. A network fed NaN returns garbage that looks like a result (an
// all-background map), so every image read for inference is checked: non-finite values are
// refused (InputError naming the file, the count and the first position) unless the user said
// how to replace them with `--nan-to-num SPEC`:
//   --nan-to-num 0                              NaN, +inf and -inf all become 0
//   --nan-to-num nan=0,posinf=max,neginf=min    each kind on its own; a kind not named stays refused
// Values: a finite number, `max` or `min` (the largest / smallest finite value of the same
// channel of the same image). `inf=V` sets both infinities.
#include <cstddef>
#include <string>
#include <vector>

#include "medport/tensor.hpp"

namespace medport::imaging {

struct NonFiniteRule {
  enum class Kind { Refuse, Value, ChannelMax, ChannelMin };
  Kind kind = Kind::Refuse;
  float value = 0.0F;
};

struct NonFinitePolicy {
  NonFiniteRule nan, posinf, neginf;  // default: refuse all three
  bool refuses_all() const;
};

// Parses the --nan-to-num SPEC above; throws UsageError.
NonFinitePolicy parse_nan_to_num(const std::string& spec);
// The spec back in canonical form ("nan=0,posinf=max,neginf=refuse"), for summaries.
std::string describe(const NonFinitePolicy& policy);

struct NonFiniteCounts {
  std::size_t nan = 0, posinf = 0, neginf = 0;
  std::size_t total() const { return nan + posinf + neginf; }
};

// `values` is (C, *spatial) = `shape`, row-major. Replaces what the policy allows; throws
// InputError naming `source` when a value the policy refuses is present (or a channel has no
// finite value to take max/min from). Returns what was replaced.
NonFiniteCounts apply_non_finite_policy(std::vector<float>& values, const Shape& shape, const std::string& source,
                                        const NonFinitePolicy& policy);

}  // namespace medport::imaging
