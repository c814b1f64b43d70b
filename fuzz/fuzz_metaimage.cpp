// read_image on arbitrary bytes as a MetaImage: as .mha (data after the header) and as .mhd next
// to a small data file (so ElementDataFile names, including '..', absolute paths and links, are
// all tried against the confinement rules).
#include "fuzz_image_file.hpp"

namespace {
const bool data_file_ready = [] {
  std::ofstream(medport::fuzz::scratch_folder() / "input.raw", std::ios::binary) << std::string(64, '\x07');
  return true;
}();
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)data_file_ready;
  medport::fuzz::read_as(data, size, "input.mha");
  medport::fuzz::read_as(data, size, "input.mhd");
  return 0;
}
