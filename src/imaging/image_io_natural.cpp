// PNG / JPEG / BMP / TIFF through OpenCV, laid out as nnU-Net's NaturalImage2DIO does: gray as
// one channel, colour as R, G, B (, A) channels; multi-page TIFFs as a (1, Z, Y, X) volume.
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "image_formats.hpp"
#include "medport/error.hpp"
#include "medport/imaging/encoded_image_check.hpp"
#include "medport/util/file_io.hpp"

namespace medport::imaging::detail {
namespace {

std::string depth_name(int depth) {
  switch (depth) {
    case CV_8U: return "uint8";
    case CV_8S: return "int8";
    case CV_16U: return "uint16";
    case CV_16S: return "int16";
    case CV_32S: return "int32";
    case CV_32F: return "float32";
    case CV_64F: return "float64";
    default: return "float16";
  }
}

// Channels of one page as float planes, colour reordered from OpenCV's BGR(A) to RGB(A).
std::vector<cv::Mat> float_planes(const cv::Mat& page, bool to_gray, const std::string& source) {
  cv::Mat img = page;
  const int channels = img.channels();
  if (channels != 1 && channels != 3 && channels != 4)
    throw InputError(source, "images with " + std::to_string(channels) + " channels are not supported");
  if (to_gray && channels > 1) {
    cv::Mat gray;
    cv::cvtColor(img, gray, channels == 3 ? cv::COLOR_BGR2GRAY : cv::COLOR_BGRA2GRAY);
    img = gray;
  } else if (channels == 3) {
    cv::Mat rgb;
    cv::cvtColor(img, rgb, cv::COLOR_BGR2RGB);
    img = rgb;
  } else if (channels == 4) {
    cv::Mat rgba;
    cv::cvtColor(img, rgba, cv::COLOR_BGRA2RGBA);
    img = rgba;
  }
  cv::Mat as_float;
  img.convertTo(as_float, CV_32F);
  std::vector<cv::Mat> planes;
  cv::split(as_float, planes);
  return planes;
}

// nnU-Net's Tiff3DIO keeps the spacing of CASE.tif in CASE.json: {"spacing": [sz, sy, sx]}.
void apply_tiff_sidecar_spacing(const std::filesystem::path& path, Image& image) {
  std::filesystem::path aux = path;
  aux.replace_extension(".json");
  std::error_code ec;
  if (!std::filesystem::is_regular_file(aux, ec)) return;
  const auto bytes = read_file(aux, std::size_t{1} << 20);
  const auto json = nlohmann::json::parse(reinterpret_cast<const char*>(bytes.data()),
                                          reinterpret_cast<const char*>(bytes.data()) + bytes.size(), nullptr, false);
  if (json.is_discarded() || !json.is_object() || !json.contains("spacing") || !json["spacing"].is_array())
    throw InputError(aux.string(), "expected a JSON object with a \"spacing\" list");
  std::vector<double> spacing;
  for (const auto& v : json["spacing"]) {
    if (!v.is_number() || !(v.get<double>() > 0)) throw InputError(aux.string(), "spacing values must be numbers > 0");
    spacing.push_back(v.get<double>());
  }
  if (spacing.size() != image.spatial_dims())
    throw InputError(aux.string(), "has " + std::to_string(spacing.size()) + " spacing values for " +
                                       std::to_string(image.spatial_dims()) + " spatial axes");
  image.spacing = spacing;
}

Image decode_natural(const std::filesystem::path& path, const ReadOptions& options) {
  const std::string source = path.string();
  const auto bytes = read_file(path, std::size_t{4} << 30);
  std::vector<cv::Mat> pages;
  const std::string ext = path.extension().string();
  const bool tiff = ext == ".tif" || ext == ".tiff" || ext == ".TIF" || ext == ".TIFF";
  check_encoded_image(bytes, source);
  if (tiff) {
    cv::imreadmulti(source, pages, cv::IMREAD_UNCHANGED);
  } else {
    const cv::Mat encoded(1, static_cast<int>(bytes.size()), CV_8U, const_cast<std::byte*>(bytes.data()));
    cv::Mat decoded = cv::imdecode(encoded, cv::IMREAD_UNCHANGED);
    if (!decoded.empty()) pages.push_back(decoded);
  }
  if (pages.empty() || pages[0].empty()) throw InputError(source, "cannot decode the image (corrupt or unsupported)");
  for (const auto& p : pages)
    if (p.dims != 2 || p.size() != pages[0].size() || p.type() != pages[0].type())
      throw InputError(source, "TIFF pages differ in size or type");
  if (pages.size() > 1 && pages[0].channels() != 1 && !options.to_gray)
    throw InputError(source, "multi-page colour TIFFs are not supported");

  Image image;
  image.geometry.format = ImageFormat::Natural;
  image.original_dtype = depth_name(pages[0].depth());
  const std::int64_t rows = pages[0].rows, cols = pages[0].cols;
  const auto plane_size = static_cast<std::size_t>(rows * cols);
  std::vector<std::vector<cv::Mat>> planes;
  for (const auto& p : pages) planes.push_back(float_planes(p, options.to_gray, source));
  const auto channels = static_cast<std::int64_t>(planes[0].size());
  const auto depth = static_cast<std::int64_t>(pages.size());
  image.shape = depth > 1 ? Shape{channels, depth, rows, cols} : Shape{channels, rows, cols};
  image.spacing = depth > 1 ? std::vector<double>{1.0, 1.0, 1.0} : std::vector<double>{1.0, 1.0};
  image.data.resize(static_cast<std::size_t>(channels * depth) * plane_size);
  for (std::int64_t c = 0; c < channels; ++c)
    for (std::int64_t z = 0; z < depth; ++z) {
      cv::Mat plane = planes[static_cast<std::size_t>(z)][static_cast<std::size_t>(c)];
      if (!plane.isContinuous()) plane = plane.clone();
      const auto* src = plane.ptr<float>();
      std::copy(src, src + plane_size, image.data.begin() + static_cast<std::ptrdiff_t>((c * depth + z) * rows * cols));
    }
  if (tiff) apply_tiff_sidecar_spacing(path, image);
  return image;
}

}  // namespace

Image read_natural(const std::filesystem::path& path, const ReadOptions& options) {
  // OpenCV throws cv::Exception for what it cannot decode, convert or allocate: always the
  // file's fault here (its size is checked first), never an internal error.
  try {
    return decode_natural(path, options);
  } catch (const cv::Exception& e) {
    throw InputError(path.string(), std::string("cannot decode the image: ") + e.what());
  }
}

void write_natural_labels(const std::filesystem::path& path, const LabelImage& labels) {
  if (labels.shape.size() != 2)
    throw UsageError(path.string() + ": a " + std::to_string(labels.shape.size()) +
                     "D label map cannot be written as a 2D image (use .nii.gz, .mha or .npy)");
  std::string ext = path.extension().string();
  for (auto& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (ext == ".jpg" || ext == ".jpeg")
    throw UsageError(path.string() + ": JPEG is lossy and would corrupt a label map; write .png instead");
  const cv::Mat mat(static_cast<int>(labels.shape[0]), static_cast<int>(labels.shape[1]), CV_8U,
                    const_cast<std::uint8_t*>(labels.labels.data()));
  std::vector<std::uint8_t> encoded;
  if (!cv::imencode(ext, mat, encoded)) throw InputError(path.string(), "OpenCV could not encode the label map");
  write_file_atomic(path, std::as_bytes(std::span<const std::uint8_t>(encoded)));
}

}  // namespace medport::imaging::detail
