// DICOM through medport_dicom: the volume becomes an Image in nnU-Net's array order, with the
// series' LPS geometry and a NIfTI header carrying the same affine (RAS), so that label maps
// written as NIfTI line up with the DICOM in any viewer.
#include <nifti1_io.h>

#include <cstring>

#include "image_formats.hpp"
#include "medport/dicom/volume.hpp"
#include "medport/error.hpp"

namespace medport::imaging::detail {
namespace {

// nifti_1_header with the volume's voxel-to-RAS affine (sform and qform, scanner coordinates).
std::vector<std::byte> nifti_header_for(const dicom::Source& s) {
  nifti_1_header header{};
  header.sizeof_hdr = sizeof header;
  std::memcpy(header.magic, "n+1", 4);
  header.vox_offset = 352.0F;
  header.xyzt_units = NIFTI_UNITS_MM;
  header.pixdim[0] = 1.0F;
  const double steps[3] = {s.spacing[2], s.spacing[1], s.spacing[0]};  // i (column), j (row), k (slice)
  mat44 m{};
  for (int r = 0; r < 3; ++r) {
    const double flip = r < 2 ? -1.0 : 1.0;  // LPS -> RAS
    for (int c = 0; c < 3; ++c) m.m[r][c] = static_cast<float>(flip * s.direction[r * 3 + c] * steps[c]);
    m.m[r][3] = static_cast<float>(flip * s.origin[r]);
  }
  m.m[3][3] = 1.0F;
  header.sform_code = NIFTI_XFORM_SCANNER_ANAT;
  header.qform_code = NIFTI_XFORM_SCANNER_ANAT;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c) (r == 0 ? header.srow_x : r == 1 ? header.srow_y : header.srow_z)[c] = m.m[r][c];
  float qb, qc, qd, qx, qy, qz, dx, dy, dz, qfac;
  nifti_mat44_to_quatern(m, &qb, &qc, &qd, &qx, &qy, &qz, &dx, &dy, &dz, &qfac);
  header.quatern_b = qb;
  header.quatern_c = qc;
  header.quatern_d = qd;
  header.qoffset_x = qx;
  header.qoffset_y = qy;
  header.qoffset_z = qz;
  header.pixdim[0] = qfac;
  std::vector<std::byte> bytes(sizeof header);
  std::memcpy(bytes.data(), &header, sizeof header);
  return bytes;
}

}  // namespace

Image read_dicom(const std::filesystem::path& path, const ReadOptions& options) {
  dicom::Volume volume = dicom::read_volume(path, options.dicom);
  const dicom::Source& s = volume.source;
  if (!s.has_spacing && !options.spacing)
    throw InputError(path.string(), "PixelSpacing (0028,0030): missing, and no 2D ultrasound region with physical "
                                    "deltas in SequenceOfUltrasoundRegions; give the spacing (--spacing)");
  Image image;
  image.original_dtype = volume.original_dtype;
  std::int64_t channels = volume.channels;
  const std::size_t voxels = static_cast<std::size_t>(s.depth * s.rows * s.columns);
  if (options.to_gray && channels == 3) {  // OpenCV's RGB2GRAY weights, as the natural-image reader
    std::vector<float> gray(voxels);
    for (std::size_t i = 0; i < voxels; ++i)
      gray[i] = 0.299F * volume.data[i] + 0.587F * volume.data[voxels + i] + 0.114F * volume.data[2 * voxels + i];
    volume.data = std::move(gray);
    channels = 1;
  }
  image.data = std::move(volume.data);
  if (s.is_2d) {
    image.shape = {channels, s.rows, s.columns};
    image.spacing = {s.spacing[1], s.spacing[2]};
  } else {
    image.shape = {channels, s.depth, s.rows, s.columns};
    image.spacing = {s.spacing[0], s.spacing[1], s.spacing[2]};
  }
  image.geometry.format = ImageFormat::Dicom;
  if (s.has_geometry && !s.is_2d) {
    image.geometry.origin.assign(s.origin.begin(), s.origin.end());
    image.geometry.direction.assign(s.direction.begin(), s.direction.end());
  }
  if (s.has_geometry) image.geometry.nifti_header = nifti_header_for(s);
  image.geometry.dicom = s;
  return image;
}

}  // namespace medport::imaging::detail
