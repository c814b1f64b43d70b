// NIfTI-1 (.nii, .nii.gz) through nifticlib. The voxel grid (x fastest) is already the row-major
// (Z, Y, X) array nnU-Net's SimpleITK reader returns; a 4th dimension holds channels. Label maps
// are written with the source's header (affine, units, orientation codes), as uint8.
#include <nifti1_io.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <memory>

#include "image_formats.hpp"
#include "medport/error.hpp"
#include "medport/util/atomic_file.hpp"

namespace medport::imaging::detail {
namespace {

constexpr std::size_t kMaxNiftiBytes = std::size_t{16} << 30;

struct NiftiDeleter {
  void operator()(nifti_image* nim) const { nifti_image_free(nim); }
};
using NiftiPtr = std::unique_ptr<nifti_image, NiftiDeleter>;

template <class T>
void convert(const void* data, std::vector<float>& out, double slope, double inter) {
  const auto* src = static_cast<const T*>(data);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const double v = static_cast<double>(src[i]);
    out[i] = static_cast<float>(slope != 0.0 ? v * slope + inter : v);
  }
}

std::string nifti_dtype_name(int datatype) {
  switch (datatype) {
    case DT_UINT8: return "uint8";
    case DT_INT8: return "int8";
    case DT_INT16: return "int16";
    case DT_UINT16: return "uint16";
    case DT_INT32: return "int32";
    case DT_UINT32: return "uint32";
    case DT_INT64: return "int64";
    case DT_UINT64: return "uint64";
    case DT_FLOAT32: return "float32";
    case DT_FLOAT64: return "float64";
    default: return {};
  }
}

}  // namespace

Image read_nifti(const std::filesystem::path& path) {
  const std::string source = path.string();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw InputError(source, "no such file");
  nifti_set_debug_level(0);
  NiftiPtr nim(nifti_image_read(source.c_str(), 0));
  if (!nim) throw InputError(source, "not a readable NIfTI-1 file (bad header)");
  const std::string dtype = nifti_dtype_name(nim->datatype);
  if (dtype.empty())
    throw InputError(source, std::string("unsupported NIfTI datatype ") + nifti_datatype_to_string(nim->datatype));
  int ndim = nim->ndim;
  while (ndim > 3 && nim->dim[ndim] == 1) --ndim;  // trailing singleton axes beyond z
  if (ndim < 2 || ndim > 4)
    throw InputError(source, "NIfTI images must have 2 to 4 dimensions, found " + std::to_string(nim->ndim));
  for (int d = 1; d <= ndim; ++d)
    if (nim->dim[d] < 1) throw InputError(source, "NIfTI dimension " + std::to_string(d) + " is not positive");
  const double bytes = static_cast<double>(nim->nvox) * nim->nbyper;
  if (bytes > static_cast<double>(kMaxNiftiBytes)) throw InputError(source, "NIfTI image too large");
  const auto file_size = std::filesystem::file_size(path, ec);
  const bool gz = source.size() > 3 && source.substr(source.size() - 3) == ".gz";
  if (!gz && static_cast<double>(file_size) < static_cast<double>(nim->iname_offset) + bytes)
    throw InputError(source, "truncated NIfTI file: " + std::to_string(file_size) + " bytes, header needs " +
                                 std::to_string(static_cast<std::int64_t>(nim->iname_offset + bytes)));
  // deflate cannot expand more than ~1032:1, so a larger claim is a lie (or a bomb).
  if (gz && bytes > static_cast<double>(file_size) * 1100.0 + 4096.0)
    throw InputError(source, "NIfTI header claims more voxel data than the compressed file can hold");
  if (nifti_image_load(nim.get()) != 0 || nim->data == nullptr)
    throw InputError(source, "truncated or unreadable NIfTI voxel data");

  Image image;
  image.original_dtype = dtype;
  const std::int64_t nx = nim->dim[1], ny = nim->dim[2], nz = ndim >= 3 ? nim->dim[3] : 1;
  const std::int64_t nc = ndim == 4 ? nim->dim[4] : 1;
  image.shape = ndim == 2 ? Shape{1, ny, nx} : Shape{nc, nz, ny, nx};
  image.spacing = ndim == 2 ? std::vector<double>{std::fabs(nim->dy), std::fabs(nim->dx)}
                            : std::vector<double>{std::fabs(nim->dz), std::fabs(nim->dy), std::fabs(nim->dx)};
  for (auto& s : image.spacing)
    if (!(s > 0) || !std::isfinite(s)) s = 1.0;
  image.data.resize(static_cast<std::size_t>(shape_numel(image.shape)));
  if (image.data.size() > nim->nvox) throw InputError(source, "NIfTI voxel count does not match its dimensions");
  const double slope = std::isfinite(nim->scl_slope) ? nim->scl_slope : 0.0;
  const double inter = std::isfinite(nim->scl_inter) ? nim->scl_inter : 0.0;
  switch (nim->datatype) {
    case DT_UINT8: convert<std::uint8_t>(nim->data, image.data, slope, inter); break;
    case DT_INT8: convert<std::int8_t>(nim->data, image.data, slope, inter); break;
    case DT_INT16: convert<std::int16_t>(nim->data, image.data, slope, inter); break;
    case DT_UINT16: convert<std::uint16_t>(nim->data, image.data, slope, inter); break;
    case DT_INT32: convert<std::int32_t>(nim->data, image.data, slope, inter); break;
    case DT_UINT32: convert<std::uint32_t>(nim->data, image.data, slope, inter); break;
    case DT_INT64: convert<std::int64_t>(nim->data, image.data, slope, inter); break;
    case DT_UINT64: convert<std::uint64_t>(nim->data, image.data, slope, inter); break;
    case DT_FLOAT32: convert<float>(nim->data, image.data, slope, inter); break;
    case DT_FLOAT64: convert<double>(nim->data, image.data, slope, inter); break;
    default: break;
  }
  // Geometry as SimpleITK reports it: LPS world, from the sform when set, else the qform.
  const mat44& m = nim->sform_code > 0 ? nim->sto_xyz : nim->qto_xyz;
  const int world = ndim == 2 ? 2 : 3;
  image.geometry.format = ImageFormat::Nifti;
  for (int r = 0; r < world; ++r) image.geometry.origin.push_back((r < 2 ? -1.0 : 1.0) * m.m[r][3]);
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
  if (reference.geometry.nifti_header.size() == sizeof header) {
    std::memcpy(&header, reference.geometry.nifti_header.data(), sizeof header);
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
    header.pixdim[a + 1] = static_cast<float>(nd - 1 - a < spacing.size() ? spacing[nd - 1 - a] : 1.0);
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
