// read_image on arbitrary bytes as a NIfTI-1 file: once as .nii and once as .nii.gz (so gzip
// streams are decoded by medport's own inflater and plain bytes are refused there).
#include "fuzz_image_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  medport::fuzz::read_as(data, size, "input.nii");
  medport::fuzz::read_as(data, size, "input.nii.gz");
  return 0;
}
