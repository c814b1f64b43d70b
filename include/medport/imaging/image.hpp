#pragma once
// A multi-channel 2D image or 3D volume as float32, with the geometry read from its file so a
// label map can be written back with the same geometry. Layout follows nnU-Net's readers
// (SimpleITK / NaturalImage2DIO): data is (C, Y, X) or (C, Z, Y, X), row-major, X fastest, and
// `spacing` is in the same (array) order, i.e. (sz, sy, sx) - the reverse of SimpleITK's
// GetSpacing(). `origin` and `direction` are in the file's world order (x, y, z), as SimpleITK
// reports them; `direction` is row-major ndim x ndim.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "medport/dicom/volume.hpp"
#include "medport/tensor.hpp"

namespace medport::imaging {

enum class ImageFormat : std::uint8_t {
  Natural,    // PNG / JPEG / BMP / TIFF via OpenCV
  Nifti,      // .nii / .nii.gz
  MetaImage,  // .mhd (+ data file) / .mha
  Npy,        // .npy (spatial array or (C, *spatial))
  Dicom,      // DICOM file, series folder or multi-frame cine (dicom/volume.hpp)
};
std::string format_name(ImageFormat format);

// What a writer needs to give a label map the geometry of the image it was computed from.
struct ImageGeometry {
  ImageFormat format = ImageFormat::Npy;
  std::vector<double> origin;     // world order (x, y, z); empty when the format has none
  std::vector<double> direction;  // world order, row-major; empty when the format has none
  // NIfTI: the source's 348-byte nifti_1_header (affine, units, intent...), reused on write.
  std::vector<std::byte> nifti_header;
  // MetaImage: the header's key/value pairs in file order, reused on write.
  std::vector<std::pair<std::string, std::string>> metaimage_fields;
  // DICOM: the grid, patient-space geometry and source instances, for DICOM SEG output.
  std::optional<dicom::Source> dicom;
};

struct Image {
  Shape shape;                  // (C, *spatial), 2 or 3 spatial axes
  std::vector<float> data;      // shape_numel(shape) values
  std::vector<double> spacing;  // mm per spatial axis, array order
  std::string original_dtype = "float32";  // numpy name of the stored element type ("uint8", "int16", ...)
  ImageGeometry geometry;
  std::string source;           // file name(s) it was read from, for error messages

  std::int64_t channels() const { return shape.empty() ? 0 : shape[0]; }
  Shape spatial_shape() const { return Shape(shape.begin() + (shape.empty() ? 0 : 1), shape.end()); }
  std::size_t spatial_dims() const { return shape.empty() ? 0 : shape.size() - 1; }
  std::int64_t voxels_per_channel() const;
  // Checks shape (C >= 1, 2-3 positive spatial axes), data size and spacing (> 0);
  // throws InputError naming `source`.
  void validate() const;
};

// nnU-Net always preprocesses 3 spatial axes: a 2D image (C, H, W) becomes (C, 1, H, W) with
// out-of-plane spacing 999 * max(in-plane spacing) (SimpleITKIO / NaturalImage2DIO). 3D images
// are returned unchanged.
Image to_nnunet_layout(const Image& image);

}  // namespace medport::imaging
