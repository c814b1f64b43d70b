#pragma once
// DICOM test data written by DCMTK inside the tests: CT-like series (shuffled file names,
// oblique orientation, rescale) and ultrasound cines (SequenceOfUltrasoundRegions), in the
// transfer syntaxes the reader must decode.
#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace medport::testing::dicom_data {

enum class Encoding { Explicit, JpegBaseline, JpegLossless, JpegLs, Rle };
std::string encoding_name(Encoding e);

struct SeriesSpec {
  int depth = 6, rows = 20, columns = 24;
  std::array<double, 6> orientation{1, 0, 0, 0, 1, 0};
  std::array<double, 3> origin{-40.0, 25.0, 10.0};
  double row_spacing = 0.7, column_spacing = 0.9, slice_spacing = 2.5;
  double slope = 0.5, intercept = -1024.0;
  int bits_stored = 12;
  bool is_signed = false;
  std::vector<std::int32_t> stored;  // (Z, Y, X) stored values in slice order
  std::string series_uid, study_uid, frame_of_reference_uid;
  std::string modality = "CT";
  std::string photometric = "MONOCHROME2";
};
// A deterministic oblique series with a smooth pattern of stored values (uids generated).
SeriesSpec oblique_ct_spec(int depth = 6, int rows = 20, int columns = 24);
// Slice z is written to folder/<name_of(z)>; names are shuffled so that file order != slice order.
std::vector<std::filesystem::path> write_series(const std::filesystem::path& folder, const SeriesSpec& spec,
                                                Encoding encoding = Encoding::Explicit);
// World position of slice z's first voxel (origin + z * slice_spacing * normal).
std::array<double, 3> slice_position(const SeriesSpec& spec, int z);

struct CineSpec {
  int frames = 5, rows = 32, columns = 40;
  bool rgb = false;
  std::vector<std::uint8_t> pixels;  // (F, Y, X) or, rgb, (F, Y, X, 3)
  double delta_x_cm = 0.03, delta_y_cm = 0.025;  // ultrasound region physical deltas
  bool with_region = true;
  std::string photometric;  // default MONOCHROME2 / RGB; "YBR_FULL" stores converted samples
  std::string series_uid, study_uid;
};
CineSpec echo_cine_spec(int frames = 5, int rows = 32, int columns = 40, bool rgb = false);
void write_cine(const std::filesystem::path& file, const CineSpec& spec, Encoding encoding = Encoding::Explicit);

// Loads `file`, lets `edit` change the dataset (through a callback that receives the DcmDataset
// as void* to keep DCMTK out of the test headers), and saves it back.
void edit_file(const std::filesystem::path& file, const std::function<void(void* dataset)>& edit);
// Convenience edits.
void remove_attribute(const std::filesystem::path& file, std::uint16_t group, std::uint16_t element);
void set_attribute(const std::filesystem::path& file, std::uint16_t group, std::uint16_t element, const std::string& value);
// Appends `extra` bytes (value 1) to an uncompressed 8-bit file's PixelData.
void lengthen_pixel_data(const std::filesystem::path& file, std::size_t extra);
// Rewrites the meta header's TransferSyntaxUID to `uid`, leaving the data set's encoding as it is.
void declare_transfer_syntax(const std::filesystem::path& file, const std::string& uid);

}  // namespace medport::testing::dicom_data
