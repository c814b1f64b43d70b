// read_npy over arbitrary bytes (and read_npz when they look like a zip). A successful read
// must survive write_npy -> read_npy unchanged.
#include <memory>
#include <vector>

#include "fuzz_support.hpp"
#include "medport/checkpoint/npy.hpp"
#include "medport/checkpoint/zip_archive.hpp"
#include "medport/error.hpp"

using namespace medport;

namespace {
void check_round_trip(const Tensor& t) {
  if (t.dtype() == DType::BF16) return;  // never produced by read_npy
  const auto bytes = ckpt::write_npy(t);
  const Tensor back = ckpt::read_npy(bytes, "round trip");
  fuzz::require(back.dtype() == t.dtype() && back.shape() == t.shape());
  fuzz::require(back.contiguous_bytes() == t.contiguous_bytes());
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto bytes = fuzz::as_bytes(data, size);
  try {
    const Tensor t = ckpt::read_npy(bytes, "fuzz.npy");
    fuzz::require(t.is_contiguous());
    (void)fuzz::checksum(t);
    check_round_trip(t);
  } catch (const InputError&) {
  }
  if (ckpt::looks_like_zip(bytes)) {
    try {
      auto owned = std::make_shared<const std::vector<std::byte>>(bytes.begin(), bytes.end());
      for (const auto& [name, t] : ckpt::read_npz(owned, "fuzz.npz")) (void)fuzz::checksum(t);
    } catch (const InputError&) {
    }
  }
  return 0;
}
