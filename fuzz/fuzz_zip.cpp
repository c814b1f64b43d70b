// ZipArchive over arbitrary bytes, reading every entry (bounded to 64 MiB each).
#include <memory>
#include <vector>

#include "fuzz_support.hpp"
#include "medport/checkpoint/zip_archive.hpp"
#include "medport/error.hpp"

using namespace medport;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto bytes = fuzz::as_bytes(data, size);
  try {
    auto owned = std::make_shared<const std::vector<std::byte>>(bytes.begin(), bytes.end());
    const ckpt::ZipArchive zip(owned, "fuzz.zip");
    for (const auto& name : zip.entry_names()) {
      try {
        fuzz::require(zip.contains(name));
        const auto size_claimed = zip.entry_size(name);
        const auto content = zip.read(name, std::uint64_t{64} << 20);
        fuzz::require(content.size() == size_claimed);
      } catch (const InputError&) {
      }
    }
  } catch (const InputError&) {
  }
  return 0;
}
