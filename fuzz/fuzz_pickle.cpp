// The pickle machine and the torch checkpoint loader over arbitrary bytes (a raw pickle, a
// legacy torch file or a torch zip). Both must only ever fail with InputError, within their
// limits, without recursion on input depth.
#include <memory>
#include <vector>

#include "fuzz_support.hpp"
#include "medport/checkpoint/pickle.hpp"
#include "medport/checkpoint/torch_checkpoint.hpp"
#include "medport/error.hpp"

using namespace medport;

namespace {
// Tighter than the defaults so one input cannot legitimately use gigabytes.
ckpt::PickleLimits fuzz_limits() {
  ckpt::PickleLimits limits;
  limits.max_stack = 100'000;
  limits.max_memo = 100'000;
  limits.max_elements = 1'000'000;
  limits.max_string_bytes = std::size_t{64} << 20;
  return limits;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto bytes = fuzz::as_bytes(data, size);
  ckpt::UnpickleOptions options;
  options.source = "fuzz.pkl";
  options.limits = fuzz_limits();
  try {
    const auto result = ckpt::unpickle(bytes, options);
    fuzz::require(result.consumed <= size);
  } catch (const InputError&) {
  }

  ckpt::TorchLoadOptions load;
  load.limits = fuzz_limits();
  load.max_values_visited = 1'000'000;
  try {
    auto owned = std::make_shared<const std::vector<std::byte>>(bytes.begin(), bytes.end());
    const auto checkpoint = ckpt::load_torch_checkpoint_bytes(owned, "fuzz.pt", load);
    for (const auto& entry : checkpoint.tensors) (void)fuzz::checksum(entry.tensor);
  } catch (const InputError&) {
  }
  return 0;
}
