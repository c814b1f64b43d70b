// NIfTI-1 (.nii, .nii.gz) through nifticlib. The voxel grid (x fastest) is already the row-major
// (Z, Y, X) array nnU-Net's SimpleITK reader returns; a 4th dimension holds channels. Label maps
// are written with the source's header (affine, units, orientation codes), as uint8.
#include <nifti1_io.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <optional>
#include <sstream>

#include "image_formats.hpp"
#include "medport/error.hpp"
#include "medport/util/atomic_file.hpp"
#include "medport/util/file_io.hpp"
#include "zlib_streams.hpp"

namespace medport::imaging::detail {
namespace {

constexpr std::size_t kMaxNiftiBytes = std::size_t{16} << 30;
constexpr std::size_t kHeaderBytes = sizeof(nifti_1_header);  // 348

struct NiftiDeleter {
  void operator()(nifti_image* nim) const { nifti_image_free(nim); }
};
using NiftiPtr = std::unique_ptr<nifti_image, NiftiDeleter>;

template <class T>
void convert(const std::byte* data, std::vector<float>& out, double slope, double inter) {
  for (std::size_t i = 0; i < out.size(); ++i) {
    T raw;
    std::memcpy(&raw, data + i * sizeof(T), sizeof(T));
    const auto v = static_cast<double>(raw);
    out[i] = static_cast<float>(slope != 0.0 ? v * slope + inter : v);
  }
}

struct NiftiType {
  std::string numpy;
  int bytes;
};

std::optional<NiftiType> nifti_type(int datatype) {
  switch (datatype) {
    case DT_UINT8: return NiftiType{"uint8", 1};
    case DT_INT8: return NiftiType{"int8", 1};
    case DT_INT16: return NiftiType{"int16", 2};
    case DT_UINT16: return NiftiType{"uint16", 2};
    case DT_INT32: return NiftiType{"int32", 4};
    case DT_UINT32: return NiftiType{"uint32", 4};
    case DT_INT64: return NiftiType{"int64", 8};
    case DT_UINT64: return NiftiType{"uint64", 8};
    case DT_FLOAT32: return NiftiType{"float32", 4};
    case DT_FLOAT64: return NiftiType{"float64", 8};
    default: return std::nullopt;
  }
}

// Millimetres per unit of the header's spatial unit (xyzt_units & 7), as ITK's NiftiImageIO
// (and so SimpleITK / nnU-Net) scales spacing and origin: metres x1000, microns x0.001; mm and
// "unknown" (0) are taken as mm.
double mm_per_spatial_unit(const nifti_1_header& h) {
  switch (XYZT_TO_SPACE(h.xyzt_units)) {
    case NIFTI_UNITS_METER: return 1e3;
    case NIFTI_UNITS_MICRON: return 1e-3;
    default: return 1.0;
  }
}

std::string number(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

// The checked header fields a reader needs; everything nifticlib would quietly "repair"
// (pixdim 0 -> 1, a missing magic read as ANALYZE) is refused here first.
struct CheckedHeader {
  nifti_1_header header{};  // in this machine's byte order
  bool swapped = false;     // the file's byte order differs
  NiftiType type;
  int ndim = 0;             // 2, 3 or 4 (the 4th axis holds channels)
  std::size_t data_offset = 0;
  std::size_t data_bytes = 0;
};

CheckedHeader check_header(std::span<const std::byte> bytes, const std::string& source) {
  if (bytes.size() < kHeaderBytes)
    throw InputError(source, "not a NIfTI-1 file: " + std::to_string(bytes.size()) + " bytes, the header alone is 348");
  CheckedHeader c;
  std::memcpy(&c.header, bytes.data(), kHeaderBytes);
  nifti_1_header& h = c.header;
  if (h.sizeof_hdr != 348) {
    int swapped_size = h.sizeof_hdr;
    nifti_swap_4bytes(1, &swapped_size);
    if (swapped_size == 348) {
      swap_nifti_header(&h, 1);
      c.swapped = true;
    } else if (h.sizeof_hdr == 540 || swapped_size == 540) {
      throw InputError(source, "NIfTI-2 files are not supported (sizeof_hdr 540); convert to NIfTI-1");
    } else {
      throw InputError(source, "not a NIfTI-1 file: sizeof_hdr is " + std::to_string(h.sizeof_hdr) + ", not 348");
    }
  }
  if (std::memcmp(h.magic, "n+1\0", 4) != 0) {
    if (std::memcmp(h.magic, "ni1\0", 4) == 0)
      throw InputError(source, "NIfTI magic 'ni1' means a separate .hdr/.img pair; a .nii must have magic 'n+1'");
    throw InputError(source, "NIfTI magic is not 'n+1' (an ANALYZE 7.5 file or not NIfTI)");
  }
  const auto type = nifti_type(h.datatype);
  if (!type) throw InputError(source, std::string("unsupported NIfTI datatype ") + nifti_datatype_to_string(h.datatype));
  c.type = *type;
  if (h.bitpix != 8 * type->bytes)
    throw InputError(source, "NIfTI bitpix " + std::to_string(h.bitpix) + " does not match datatype " + type->numpy +
                                 " (" + std::to_string(8 * type->bytes) + " bits)");
  if (h.dim[0] < 1 || h.dim[0] > 7)
    throw InputError(source, "NIfTI dim[0] is " + std::to_string(h.dim[0]) + ", not 1..7");
  for (int d = 1; d <= h.dim[0]; ++d)
    if (h.dim[d] < 1) throw InputError(source, "NIfTI dim[" + std::to_string(d) + "] is " + std::to_string(h.dim[d]) + ", not positive");
  c.ndim = h.dim[0];
  while (c.ndim > 3 && h.dim[c.ndim] == 1) --c.ndim;  // trailing singleton axes beyond z
  if (c.ndim < 2 || c.ndim > 4)
    throw InputError(source, "NIfTI images must have 2 to 4 dimensions, found " + std::to_string(h.dim[0]));
  for (int d = 1; d <= std::min(c.ndim, 3); ++d) {
    const float p = h.pixdim[d];
    if (!std::isfinite(p) || p <= 0.0F)
      throw InputError(source, "NIfTI pixdim[" + std::to_string(d) + "] is " + number(p) +
                                   ": the voxel spacing must be finite and > 0");
  }
  const float offset = h.vox_offset;
  if (!std::isfinite(offset) || offset < 352.0F || offset != std::floor(offset) ||
      static_cast<double>(offset) > static_cast<double>(kMaxNiftiBytes))
    throw InputError(source, "NIfTI vox_offset is " + number(offset) + ": it must be a whole number >= 352 within the file");
  if (h.scl_slope != 0.0F && std::isfinite(h.scl_slope) && !std::isfinite(h.scl_inter))
    throw InputError(source, "NIfTI scl_inter is " + number(h.scl_inter) + " (not finite)");
  if (std::isinf(h.scl_slope)) throw InputError(source, "NIfTI scl_slope is infinite");
  if (h.sform_code > 0)
    for (const float* row : {h.srow_x, h.srow_y, h.srow_z})
      for (int i = 0; i < 4; ++i)
        if (!std::isfinite(row[i])) throw InputError(source, "NIfTI sform (srow_x/y/z) holds a non-finite value");
  if (h.qform_code > 0)
    for (float q : {h.quatern_b, h.quatern_c, h.quatern_d, h.qoffset_x, h.qoffset_y, h.qoffset_z, h.pixdim[0]})
      if (!std::isfinite(q)) throw InputError(source, "NIfTI qform (quatern_*/qoffset_*) holds a non-finite value");
  double voxels = 1;
  for (int d = 1; d <= c.ndim; ++d) voxels *= h.dim[d];
  const double bytes_needed = voxels * type->bytes;
  if (bytes_needed > static_cast<double>(kMaxNiftiBytes))
    throw InputError(source, "NIfTI image too large: " + number(bytes_needed) + " bytes of voxel data (at most 16 GiB)");
  c.data_offset = static_cast<std::size_t>(offset);
  c.data_bytes = static_cast<std::size_t>(bytes_needed);
  return c;
}

bool is_gzip_name(const std::filesystem::path& path) {
  std::string name = path.filename().string();
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return name.ends_with(".gz");
}

// The whole file, decompressed and checked: exactly header + extensions + voxel data.
std::vector<std::byte> read_nifti_bytes(const std::filesystem::path& path, CheckedHeader& header) {
  const std::string source = path.string();
  std::vector<std::byte> file = read_file(path, kMaxNiftiBytes);
  if (!is_gzip_name(path)) {
    header = check_header(file, source);
  } else {
    const auto head = inflate_prefix(file, kHeaderBytes, Wrapper::Gzip, source, "gzip stream");
    header = check_header(head, source);
    const std::size_t total = header.data_offset + header.data_bytes;
    if (exceeds_deflate_ratio(total, file.size()))
      throw InputError(source, "NIfTI header claims " + std::to_string(total) +
                                   " bytes, more than the compressed file can hold (truncated or a decompression bomb)");
    file = inflate_exact(file, total, Wrapper::Gzip, source, "gzip stream");
  }
  const std::size_t total = header.data_offset + header.data_bytes;
  if (file.size() < total)
    throw InputError(source, "truncated NIfTI file: " + std::to_string(file.size()) + " bytes, its header needs " +
                                 std::to_string(total));
  if (file.size() > total)
    throw InputError(source, "NIfTI file holds " + std::to_string(file.size() - total) +
                                 " bytes after the voxel data its header describes (wrong dim or datatype?)");
  return file;
}

}  // namespace

Image read_nifti(const std::filesystem::path& path) {
  const std::string source = path.string();
  CheckedHeader checked;
  std::vector<std::byte> file = read_nifti_bytes(path, checked);
  nifti_set_debug_level(0);
  NiftiPtr nim(nifti_convert_nhdr2nim(checked.header, source.c_str()));
  if (!nim) throw InputError(source, "not a readable NIfTI-1 header");
  std::byte* voxels = file.data() + checked.data_offset;
  if (checked.swapped && checked.type.bytes > 1)
    nifti_swap_Nbytes(checked.data_bytes / static_cast<std::size_t>(checked.type.bytes), checked.type.bytes, voxels);

  const nifti_1_header& h = checked.header;
  const int ndim = checked.ndim;
  Image image;
  image.original_dtype = checked.type.numpy;
  const std::int64_t nx = h.dim[1], ny = h.dim[2], nz = ndim >= 3 ? h.dim[3] : 1;
  const std::int64_t nc = ndim == 4 ? h.dim[4] : 1;
  image.shape = ndim == 2 ? Shape{1, ny, nx} : Shape{nc, nz, ny, nx};
  const double mm = mm_per_spatial_unit(h);
  image.spacing = ndim == 2 ? std::vector<double>{h.pixdim[2] * mm, h.pixdim[1] * mm}
                            : std::vector<double>{h.pixdim[3] * mm, h.pixdim[2] * mm, h.pixdim[1] * mm};
  image.data.resize(static_cast<std::size_t>(shape_numel(image.shape)));
  const double slope = std::isfinite(h.scl_slope) ? h.scl_slope : 0.0;  // NaN: no scaling (NIfTI-1)
  const double inter = slope != 0.0 ? h.scl_inter : 0.0;
  switch (h.datatype) {
    case DT_UINT8: convert<std::uint8_t>(voxels, image.data, slope, inter); break;
    case DT_INT8: convert<std::int8_t>(voxels, image.data, slope, inter); break;
    case DT_INT16: convert<std::int16_t>(voxels, image.data, slope, inter); break;
    case DT_UINT16: convert<std::uint16_t>(voxels, image.data, slope, inter); break;
    case DT_INT32: convert<std::int32_t>(voxels, image.data, slope, inter); break;
    case DT_UINT32: convert<std::uint32_t>(voxels, image.data, slope, inter); break;
    case DT_INT64: convert<std::int64_t>(voxels, image.data, slope, inter); break;
    case DT_UINT64: convert<std::uint64_t>(voxels, image.data, slope, inter); break;
    case DT_FLOAT32: convert<float>(voxels, image.data, slope, inter); break;
    case DT_FLOAT64: convert<double>(voxels, image.data, slope, inter); break;
    default: break;
  }
  file.clear();
  file.shrink_to_fit();
  // Geometry as SimpleITK reports it: LPS world, from the sform when set, else the qform.
  const mat44& m = nim->sform_code > 0 ? nim->sto_xyz : nim->qto_xyz;
  const int world = ndim == 2 ? 2 : 3;
  image.geometry.format = ImageFormat::Nifti;
  for (int r = 0; r < world; ++r) image.geometry.origin.push_back((r < 2 ? -1.0 : 1.0) * m.m[r][3] * mm);
  const double pix[3] = {std::fabs(nim->dx), std::fabs(nim->dy), std::fabs(nim->dz)};
  for (int r = 0; r < world; ++r)
    for (int c = 0; c < world; ++c) {
      const double p = pix[c] > 0 ? pix[c] : 1.0;
      image.geometry.direction.push_back((r < 2 ? -1.0 : 1.0) * m.m[r][c] / p);
    }
  const nifti_1_header header = nifti_convert_nim2nhdr(nim.get());
  image.geometry.nifti_header.resize(sizeof header);
  std::memcpy(image.geometry.nifti_header.data(), &header, sizeof header);
  return image;
}

namespace {

// Writes `data` - `channels` maps over `spatial` (array order), x fastest - with the reference's
// header (or an identity header with `spacing`), as `datatype`.
void write_nifti_data(const std::filesystem::path& path, const std::vector<std::int64_t>& spatial,
                      const std::vector<double>& spacing, std::int64_t channels, short datatype, short bitpix,
                      const void* data, const Image& reference) {
  nifti_1_header header{};
  double mm = 1.0;  // the header's spatial unit in mm: `spacing` (mm) is written in that unit
  if (reference.geometry.nifti_header.size() == sizeof header) {
    std::memcpy(&header, reference.geometry.nifti_header.data(), sizeof header);
    mm = mm_per_spatial_unit(header);
  } else {  // no NIfTI source: identity-oriented header with the spacing
    header.sizeof_hdr = sizeof header;
    std::memcpy(header.magic, "n+1", 4);
    header.pixdim[0] = 1.0F;
    header.qform_code = 0;
    header.sform_code = 0;
    header.xyzt_units = NIFTI_UNITS_MM;
    header.vox_offset = 352.0F;
  }
  const auto nd = spatial.size();
  header.dim[0] = static_cast<short>(channels > 1 ? 4 : nd);
  for (int d = 1; d < 8; ++d) header.dim[d] = 1;
  for (std::size_t a = 0; a < nd; ++a) {
    if (spatial[nd - 1 - a] > 32767) throw UsageError(path.string() + ": image too large for NIfTI-1");
    header.dim[a + 1] = static_cast<short>(spatial[nd - 1 - a]);
    header.pixdim[a + 1] = static_cast<float>(nd - 1 - a < spacing.size() ? spacing[nd - 1 - a] / mm : 1.0);
  }
  if (channels > 1) {
    if (channels > 32767) throw UsageError(path.string() + ": too many channels for NIfTI-1");
    header.dim[4] = static_cast<short>(channels);
    header.pixdim[4] = 1.0F;
  }
  header.datatype = datatype;
  header.bitpix = bitpix;
  header.scl_slope = 0.0F;
  header.scl_inter = 0.0F;
  header.cal_min = 0.0F;
  header.cal_max = 0.0F;
  if (std::strcmp(header.magic, "n+1") != 0) std::memcpy(header.magic, "n+1", 4);
  if (header.vox_offset < 352.0F) header.vox_offset = 352.0F;

  // nifticlib decides compression by the file name: the temporary keeps the ending.
  const std::string name = path.filename().string();
  const std::string ending = name.ends_with(".nii.gz") ? ".nii.gz" : ".nii";
  AtomicFile file(path, ending);
  file.release_handle();
  const std::string tmp = file.temp_path().string();
  nifti_set_debug_level(0);
  NiftiPtr nim(nifti_convert_nhdr2nim(header, tmp.c_str()));
  if (!nim) throw InputError(path.string(), "cannot build a NIfTI header");
  nim->nifti_type = NIFTI_FTYPE_NIFTI1_1;
  nim->num_ext = 0;
  nim->ext_list = nullptr;
  if (nifti_set_filenames(nim.get(), tmp.c_str(), 0, 1) != 0)
    throw InputError(path.string(), "cannot set the NIfTI output name");
  nim->data = const_cast<void*>(data);
  nifti_image_write(nim.get());
  nim->data = nullptr;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(tmp, ec) || std::filesystem::file_size(tmp, ec) == 0)
    throw InputError(path.string(), "nifticlib could not write the file");
  file.commit();
}

}  // namespace

void write_nifti_labels(const std::filesystem::path& path, const LabelImage& labels, const Image& reference) {
  std::vector<double> spacing;
  for (std::size_t a = 0; a < labels.shape.size(); ++a) spacing.push_back(labels.spacing_at(a));
  write_nifti_data(path, labels.shape, spacing, 1, DT_UINT8, 8, labels.labels.data(), reference);
}

void write_nifti_floats(const std::filesystem::path& path, const std::vector<std::int64_t>& spatial,
                        const std::vector<double>& spacing, std::int64_t channels, const float* data,
                        const Image& reference) {
  write_nifti_data(path, spatial, spacing, channels, DT_FLOAT32, 32, data, reference);
}

}  // namespace medport::imaging::detail
