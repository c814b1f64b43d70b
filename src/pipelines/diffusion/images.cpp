#include "medport/pipelines/diffusion/images.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <cmath>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>

#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/imaging/encoded_image_check.hpp"
#include "medport/util/file_io.hpp"

namespace medport::diffusion {
namespace {

constexpr std::int64_t kMaxSide = 16384;

struct Netpbm {
  std::int64_t width = 0, height = 0, channels = 0;
  std::vector<std::uint8_t> pixels;  // HWC
};

Netpbm read_netpbm(const std::filesystem::path& path) {
  const std::vector<std::byte> bytes = read_file(path, std::size_t{1} << 30);
  const std::string source = path.string();
  std::size_t pos = 0;
  const auto next_token = [&]() {
    while (pos < bytes.size()) {
      const char c = static_cast<char>(bytes[pos]);
      if (c == '#') {
        while (pos < bytes.size() && static_cast<char>(bytes[pos]) != '\n') ++pos;
      } else if (std::isspace(static_cast<unsigned char>(c))) {
        ++pos;
      } else {
        break;
      }
    }
    std::string token;
    while (pos < bytes.size() && !std::isspace(static_cast<unsigned char>(static_cast<char>(bytes[pos]))) &&
           token.size() < 12) {
      token += static_cast<char>(bytes[pos++]);
    }
    return token;
  };
  const auto number = [&](const char* what) {
    const std::string token = next_token();
    if (token.empty() || token.size() > 9 || !std::all_of(token.begin(), token.end(), ::isdigit)) {
      throw InputError(source, std::string("bad ") + what + " in the PGM/PPM header");
    }
    return std::stoll(token);
  };
  const std::string magic = next_token();
  if (magic != "P5" && magic != "P6") throw InputError(source, "not a binary PGM/PPM image (P5/P6)");
  Netpbm image;
  image.channels = magic == "P5" ? 1 : 3;
  image.width = number("width");
  image.height = number("height");
  const std::int64_t maxval = number("maxval");
  if (image.width < 1 || image.height < 1 || image.width > kMaxSide || image.height > kMaxSide) {
    throw InputError(source, "image size " + std::to_string(image.width) + "x" + std::to_string(image.height) +
                                 " is out of range");
  }
  if (maxval != 255) throw InputError(source, "only 8-bit images (maxval 255) are supported");
  ++pos;  // the single whitespace after maxval
  const auto needed = static_cast<std::size_t>(image.width * image.height * image.channels);
  if (pos > bytes.size() || bytes.size() - pos < needed) throw InputError(source, "truncated pixel data");
  image.pixels.resize(needed);
  std::memcpy(image.pixels.data(), bytes.data() + pos, needed);
  return image;
}

std::string lower_extension(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

bool is_codec_image(const std::filesystem::path& path) {
  const std::string ext = lower_extension(path);
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp" || ext == ".tif" || ext == ".tiff";
}

// PNG/JPEG/BMP/TIFF through OpenCV: 8-bit gray, RGB or RGBA (alpha dropped, like PIL convert("RGB")).
Netpbm read_codec_image(const std::filesystem::path& path) {
  const std::vector<std::byte> bytes = read_file(path, std::size_t{1} << 30);
  imaging::check_encoded_image(bytes, path.string());
  const cv::Mat encoded(1, static_cast<int>(bytes.size()), CV_8U, const_cast<std::byte*>(bytes.data()));
  cv::Mat decoded;
  try {
    decoded = cv::imdecode(encoded, cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    throw InputError(path.string(), std::string("cannot decode the image: ") + e.what());
  }
  if (decoded.empty()) throw InputError(path.string(), "cannot decode the image");
  if (decoded.depth() != CV_8U) throw InputError(path.string(), "only 8-bit images are supported");
  if (decoded.dims != 2 || decoded.rows > kMaxSide || decoded.cols > kMaxSide) {
    throw InputError(path.string(), "image size is out of range");
  }
  const int channels = decoded.channels();
  if (channels != 1 && channels != 3 && channels != 4) {
    throw InputError(path.string(), std::to_string(channels) + "-channel images are not supported");
  }
  Netpbm image;
  image.width = decoded.cols;
  image.height = decoded.rows;
  image.channels = channels == 1 ? 1 : 3;
  image.pixels.resize(static_cast<std::size_t>(image.width * image.height * image.channels));
  for (int y = 0; y < decoded.rows; ++y) {
    const std::uint8_t* row = decoded.ptr<std::uint8_t>(y);
    for (int x = 0; x < decoded.cols; ++x) {
      std::uint8_t* dst = image.pixels.data() + (static_cast<std::size_t>(y) * decoded.cols + x) * image.channels;
      if (channels == 1) {
        dst[0] = row[x];
      } else {  // OpenCV stores BGR(A)
        const std::uint8_t* src = row + static_cast<std::size_t>(x) * channels;
        dst[0] = src[2];
        dst[1] = src[1];
        dst[2] = src[0];
      }
    }
  }
  return image;
}

bool is_netpbm(const std::filesystem::path& path) {
  const std::string ext = lower_extension(path);
  return ext == ".pgm" || ext == ".ppm" || ext == ".pnm";
}

// [1, channels, H, W] from an image's channels: 1 -> replicated, 3 -> as is (channels 3), 3 -> 1 refused.
Tensor from_pixels(const Netpbm& image, std::int64_t channels, float scale, float offset, const std::string& source) {
  if (image.channels != channels && image.channels != 1) {
    throw InputError(source, "image has " + std::to_string(image.channels) + " channels, the model " +
                                 std::to_string(channels));
  }
  const auto plane = static_cast<std::size_t>(image.width * image.height);
  std::vector<float> values(plane * static_cast<std::size_t>(channels));
  for (std::int64_t c = 0; c < channels; ++c) {
    const std::int64_t src_c = image.channels == 1 ? 0 : c;
    for (std::size_t i = 0; i < plane; ++i) {
      const std::uint8_t p = image.pixels[i * static_cast<std::size_t>(image.channels) + static_cast<std::size_t>(src_c)];
      values[static_cast<std::size_t>(c) * plane + i] = static_cast<float>(p) * scale + offset;
    }
  }
  return Tensor::from_f32({1, channels, image.height, image.width}, values);
}

Tensor from_npz(const std::filesystem::path& path, const std::string& preferred, std::int64_t channels, float lo,
                float hi) {
  const ckpt::NpzFile npz = ckpt::NpzFile::open(path);
  if (npz.names().empty()) throw InputError(path.string(), "empty npz");
  const std::string name = npz.contains(preferred) ? preferred : npz.names().front();
  const std::string source = path.string() + ":" + name;
  const Tensor t = npz.read(name);
  Shape shape = t.shape();
  if (shape.size() == 2) shape.insert(shape.begin(), 1);
  if (shape.size() == 3) shape.insert(shape.begin(), 1);
  if (shape.size() != 4 || shape[0] != 1) throw InputError(source, "expected [H,W], [C,H,W] or [1,C,H,W], got " + shape_string(t.shape()));
  if (shape[1] != channels && shape[1] != 1) {
    throw InputError(source, std::to_string(shape[1]) + " channels, the model has " + std::to_string(channels));
  }
  if (shape[2] < 1 || shape[3] < 1 || shape[2] > kMaxSide || shape[3] > kMaxSide) throw InputError(source, "bad image size");
  std::vector<float> values = t.to_f32();
  for (const float v : values) {
    if (!(v >= lo && v <= hi)) {
      throw InputError(source, "values must lie in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    }
  }
  if (shape[1] == 1 && channels != 1) {
    std::vector<float> replicated;
    for (std::int64_t c = 0; c < channels; ++c) replicated.insert(replicated.end(), values.begin(), values.end());
    values = std::move(replicated);
  }
  return Tensor::from_f32({1, channels, shape[2], shape[3]}, values);
}

Netpbm cropped(Netpbm image, std::int64_t size) {
  if (size <= 0 || (image.width == size && image.height == size)) return image;
  image.pixels = center_crop_pixels(image.pixels, image.height, image.width, image.channels, size);
  image.width = image.height = size;
  return image;
}

}  // namespace

std::vector<std::uint8_t> center_crop_pixels(const std::vector<std::uint8_t>& hwc, std::int64_t height,
                                             std::int64_t width, std::int64_t channels, std::int64_t size) {
  if (size < 1 || size > kMaxSide || height < 1 || width < 1 || height > kMaxSide || width > kMaxSide ||
      (channels != 1 && channels != 3) || hwc.size() != static_cast<std::size_t>(height * width * channels)) {
    throw InputError("center_crop", "bad image or crop size");
  }
  const int type = channels == 1 ? CV_8UC1 : CV_8UC3;
  cv::Mat image = cv::Mat(static_cast<int>(height), static_cast<int>(width), type,
                          const_cast<std::uint8_t*>(hwc.data()))
                      .clone();
  while (std::min(image.rows, image.cols) >= 2 * size) {
    cv::Mat half;
    cv::resize(image, half, cv::Size(image.cols / 2, image.rows / 2), 0, 0, cv::INTER_AREA);
    image = half;
  }
  const double scale = static_cast<double>(size) / std::min(image.rows, image.cols);
  const auto rounded = [scale](int side) { return static_cast<int>(std::nearbyint(side * scale)); };  // half to even
  const cv::Size target(rounded(image.cols), rounded(image.rows));
  if (target != image.size()) {
    cv::Mat resized;
    cv::resize(image, resized, target, 0, 0, cv::INTER_CUBIC);
    image = resized;
  }
  const int y0 = (image.rows - static_cast<int>(size)) / 2, x0 = (image.cols - static_cast<int>(size)) / 2;
  const cv::Mat crop = image(cv::Rect(x0, y0, static_cast<int>(size), static_cast<int>(size))).clone();
  return std::vector<std::uint8_t>(crop.data, crop.data + crop.total() * crop.elemSize());
}

Tensor sector_keep_mask(const Tensor& image, int border) {
  const Shape& s = image.shape();
  if (s.size() != 4 || s[0] != 1) throw InputError("sector mask", "expected a [1, C, H, W] image");
  if (border < 1 || border > 1024) throw UsageError("the sector border must be in [1, 1024]");
  const std::int64_t c = s[1], h = s[2], w = s[3];
  const std::vector<float> x = image.to_f32();
  std::vector<std::uint8_t> inside(static_cast<std::size_t>(h * w), 0);
  for (std::int64_t ch = 0; ch < c; ++ch) {
    for (std::int64_t i = 0; i < h * w; ++i) {
      if (x[static_cast<std::size_t>(ch * h * w + i)] > -1.0f) inside[static_cast<std::size_t>(i)] = 1;
    }
  }
  // dilate(background) with a border x border box whose anchor is border / 2: pixel (y, x) turns
  // background when any (y - dy, x - dx), dy, dx in [-(border - 1 - border / 2), border / 2], does.
  const std::int64_t hi = border / 2, lo = -(border - 1 - hi);
  std::vector<float> keep(static_cast<std::size_t>(h * w), 0.0f);
  for (std::int64_t y = 0; y < h; ++y) {
    for (std::int64_t xx = 0; xx < w; ++xx) {
      bool all_inside = true;
      for (std::int64_t dy = lo; dy <= hi && all_inside; ++dy) {
        for (std::int64_t dx = lo; dx <= hi; ++dx) {
          const std::int64_t sy = y - dy, sx = xx - dx;
          if (sy < 0 || sy >= h || sx < 0 || sx >= w) continue;  // outside the image: no background
          if (!inside[static_cast<std::size_t>(sy * w + sx)]) {
            all_inside = false;
            break;
          }
        }
      }
      keep[static_cast<std::size_t>(y * w + xx)] = all_inside ? 1.0f : 0.0f;
    }
  }
  std::vector<float> out;
  out.reserve(keep.size() * static_cast<std::size_t>(c));
  for (std::int64_t ch = 0; ch < c; ++ch) out.insert(out.end(), keep.begin(), keep.end());
  return Tensor::from_f32({1, c, h, w}, out);
}

Tensor load_diffusion_image(const std::filesystem::path& path, std::int64_t channels, std::int64_t crop_size) {
  if (is_netpbm(path)) {
    return from_pixels(cropped(read_netpbm(path), crop_size), channels, 1.0f / 127.5f, -1.0f, path.string());
  }
  if (is_codec_image(path)) {
    return from_pixels(cropped(read_codec_image(path), crop_size), channels, 1.0f / 127.5f, -1.0f, path.string());
  }
  if (path.extension() == ".npz") return from_npz(path, "image", channels, -1.0f, 1.0f);
  throw InputError(path.string(), "unsupported image format (use .png/.jpg/.bmp/.tif, .pgm/.ppm or .npz)");
}

Tensor load_keep_mask(const std::filesystem::path& path, std::int64_t channels) {
  if (is_netpbm(path) || is_codec_image(path)) {
    Netpbm image = is_netpbm(path) ? read_netpbm(path) : read_codec_image(path);
    if (image.channels == 3) {  // a colour mask: keep where the first channel is set
      std::vector<std::uint8_t> first(static_cast<std::size_t>(image.width * image.height));
      for (std::size_t i = 0; i < first.size(); ++i) first[i] = image.pixels[i * 3];
      image.pixels = std::move(first);
      image.channels = 1;
    }
    return from_pixels(image, channels, 1.0f / 255.0f, 0.0f, path.string());
  }
  if (path.extension() == ".npz") return from_npz(path, "mask", channels, 0.0f, 1.0f);
  throw InputError(path.string(), "unsupported mask format (use .png/.bmp/.tif, .pgm/.ppm or .npz)");
}

std::vector<std::uint8_t> to_uint8_pixels(const Tensor& samples, std::int64_t index) {
  const Shape& s = samples.shape();
  if (s.size() != 4 || index < 0 || index >= s[0]) throw UsageError("no image " + std::to_string(index) + " in the batch");
  const std::vector<float> values = samples.to_f32();
  const auto channels = static_cast<std::size_t>(s[1]);
  const auto plane = static_cast<std::size_t>(s[2] * s[3]);
  const std::size_t base = static_cast<std::size_t>(index) * channels * plane;
  std::vector<std::uint8_t> pixels(channels * plane);
  for (std::size_t c = 0; c < channels; ++c) {
    for (std::size_t i = 0; i < plane; ++i) {
      const float v = std::clamp((values[base + c * plane + i] + 1.0f) * 127.5f, 0.0f, 255.0f);
      pixels[i * channels + c] = static_cast<std::uint8_t>(v);  // truncation, like torch's .to(uint8)
    }
  }
  return pixels;
}

void write_png(const std::filesystem::path& path, const Tensor& samples, std::int64_t index) {
  const Shape& s = samples.shape();
  if (s.size() != 4 || (s[1] != 1 && s[1] != 3)) {
    throw UsageError("only 1- or 3-channel samples can be written as PNG, got " + shape_string(s));
  }
  std::vector<std::uint8_t> pixels = to_uint8_pixels(samples, index);
  if (s[1] == 3) {
    for (std::size_t i = 0; i < pixels.size(); i += 3) std::swap(pixels[i], pixels[i + 2]);  // RGB -> BGR
  }
  const cv::Mat image(static_cast<int>(s[2]), static_cast<int>(s[3]), s[1] == 3 ? CV_8UC3 : CV_8UC1, pixels.data());
  std::vector<std::uint8_t> encoded;
  if (!cv::imencode(".png", image, encoded)) throw std::runtime_error("PNG encoding failed for " + path.string());
  write_file_atomic(path, std::as_bytes(std::span<const std::uint8_t>(encoded)));
}

void write_netpbm(const std::filesystem::path& path, const Tensor& samples, std::int64_t index) {
  const Shape& s = samples.shape();
  if (s.size() != 4 || (s[1] != 1 && s[1] != 3)) {
    throw UsageError("only 1- or 3-channel samples can be written as PGM/PPM, got " + shape_string(s));
  }
  const std::vector<std::uint8_t> pixels = to_uint8_pixels(samples, index);
  const std::string header = std::string(s[1] == 1 ? "P5" : "P6") + "\n" + std::to_string(s[3]) + " " +
                             std::to_string(s[2]) + "\n255\n";
  std::vector<std::byte> bytes(header.size() + pixels.size());
  std::memcpy(bytes.data(), header.data(), header.size());
  std::memcpy(bytes.data() + header.size(), pixels.data(), pixels.size());
  write_file_atomic(path, bytes);
}

}  // namespace medport::diffusion
