#pragma once
// Image files built byte by byte at test time, valid or damaged in one named way, for the reader
// tests and the robustness suite (tests/robustness/). No Python: every field is set here.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace medport::testing {

void write_bytes(const std::filesystem::path& path, const std::string& bytes);
std::string read_bytes(const std::filesystem::path& path);
// A gzip stream (one member) / zlib stream of `bytes`.
std::string gzip(const std::string& bytes);
std::string zlib_compress(const std::string& bytes);

// A NIfTI-1 single file (.nii). Values are stored as `datatype`; bitpix follows it unless set.
struct NiftiSpec {
  std::vector<int> dims{4, 3};             // x, y [, z [, channels]]
  int datatype = 16;                       // DT_FLOAT32
  int bitpix = 0;                          // 0: the datatype's
  std::vector<float> pixdim{0.5F, 0.25F, 2.0F};
  float vox_offset = 352.0F;
  int sizeof_hdr = 348;
  std::string magic{"n+1\0", 4};
  float scl_slope = 0.0F, scl_inter = 0.0F;
  std::vector<double> values;              // empty: 0, 1, 2, ...
  bool big_endian = false;
  int sform_code = 1;
  bool header_only = false;                // stop after the 352 bytes of header + extension flag
};
std::string nifti_bytes(const NiftiSpec& spec);

// MetaImage header text (key = value lines, ElementDataFile last).
std::string metaimage_header(const std::vector<std::pair<std::string, std::string>>& fields);

// Natural images through OpenCV's encoders: 8-bit or 16-bit gray ramps.
std::string png_bytes(int rows, int cols, int depth_bits = 8);
std::string jpeg_bytes(int rows, int cols);
std::string tiff_bytes(int rows, int cols, int depth_bits = 8);
// A PNG whose IHDR declares width x height but holds almost no pixel data.
std::string png_declaring(std::uint32_t width, std::uint32_t height);
// A valid, all-black 8-bit gray PNG of width x height (small: the rows deflate ~1000:1).
std::string png_black(std::uint32_t width, std::uint32_t height);
// A little-endian 8-bit gray TIFF whose one directory declares width x height and `compression`
// (1 none, 5 LZW, 0 invalid...) over a single strip of 64 bytes.
std::string tiff_declaring(std::uint32_t width, std::uint32_t height, std::uint16_t compression);
// A zip archive of stored (or, with `deflate`, deflated) entries, written field by field.
struct ZipEntry {
  std::string name;
  std::string data;
  bool deflate = false;
  // Instead of `data`: `data` followed by this many zero bytes, deflated in chunks (a bomb).
  std::uint64_t zeros_after = 0;
};
std::string zip_archive(const std::vector<ZipEntry>& entries);
// An .npy file with this header dict text (padded as NumPy does) followed by `data`.
std::string npy_raw(const std::string& dict, const std::string& data);

// A torch zip checkpoint (archive/data.pkl + archive/data/0 + archive/version) whose pickle is
// `pickle` and whose one storage "0" holds `storage`.
std::string torch_zip_checkpoint(const std::string& pickle, const std::string& storage);
// A protocol-2 pickle of a dict mapping "t0".."t<n-1>" to one float32 tensor of `elements`
// elements on storage "0" (built once, then referenced n times through the memo).
std::string pickle_one_tensor_referenced(std::size_t n, std::size_t elements);

// One byte changed at `fraction` of the length (XOR 0x5A), or the bytes cut to `fraction`.
std::string flip_byte(std::string bytes, double fraction);
std::string truncate_to(std::string bytes, double fraction);

}  // namespace medport::testing
