// Files and folders to one volume: scanning, series selection, slice ordering, frame selection.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>

#include "dcmtk_support.hpp"
#include "geometry.hpp"
#include "medport/dicom/volume.hpp"
#include "medport/error.hpp"
#include "pixels.hpp"

namespace medport::dicom {
namespace {

namespace fs = std::filesystem;
using namespace detail;

// What the header of one instance says (read without its pixel data).
struct Header {
  std::string file;
  std::string sop_class_uid, sop_instance_uid, series_uid, study_uid, frame_of_reference_uid, modality, description;
  PixelFormat pixels;
  InstanceGeometry geometry;
  bool lossy = false;
  bool enhanced_volume = false;  // per-frame PlanePositionSequence: an enhanced multi-frame volume
};

Header read_header(DcmFileFormat& format, const std::string& file) {
  DcmDataset& ds = *format.getDataset();
  Header h;
  h.file = file;
  h.sop_class_uid = require_string(ds, DCM_SOPClassUID, file);
  h.sop_instance_uid = require_string(ds, DCM_SOPInstanceUID, file);
  h.series_uid = require_string(ds, DCM_SeriesInstanceUID, file);
  h.study_uid = require_string(ds, DCM_StudyInstanceUID, file);
  h.frame_of_reference_uid = find_string(ds, DCM_FrameOfReferenceUID).value_or("");
  h.modality = find_string(ds, DCM_Modality).value_or("");
  h.description = find_string(ds, DCM_SeriesDescription).value_or("");
  h.pixels = read_pixel_format(ds, file);
  h.geometry = read_instance_geometry(ds, file);
  h.lossy = find_string(ds, DCM_LossyImageCompression).value_or("") == "01" ||
            DcmXfer(ds.getOriginalXfer()).isLossy();
  DcmSequenceOfItems* per_frame = nullptr;
  if (ds.findAndGetSequence(DCM_PerFrameFunctionalGroupsSequence, per_frame).good() && per_frame != nullptr &&
      per_frame->card() > 0) {
    DcmSequenceOfItems* plane = nullptr;
    DcmItem* first = per_frame->getItem(0);
    h.enhanced_volume = first != nullptr && first->findAndGetSequence(DCM_PlanePositionSequence, plane).good();
  }
  return h;
}

bool rules_match(DcmItem& ds, const Selection& selection) {
  for (const auto& [keyword, pattern] : selection.rules) {
    DcmTag tag;
    DcmTag::findTagFromName(keyword.c_str(), tag);
    const std::string value = find_string(ds, tag).value_or("");
    if (!std::regex_search(value, std::regex(pattern, std::regex::ECMAScript | std::regex::icase))) return false;
  }
  return true;
}

std::vector<fs::path> dicom_files_below(const fs::path& folder) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(folder, fs::directory_options::skip_permission_denied, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) throw InputError(folder.string(), "cannot list: " + ec.message());
    if (it->is_regular_file(ec) && is_dicom_file(it->path())) files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string describe_selection(const Selection& s) {
  std::string out;
  if (s.series_uid) out += "SeriesInstanceUID=" + *s.series_uid;
  for (const auto& [k, v] : s.rules) out += (out.empty() ? "" : ", ") + k + "~/" + v + "/";
  return out.empty() ? "none" : out;
}

struct Pixels {
  std::unique_ptr<DcmFileFormat> format;
  PixelFormat layout;
  std::span<const std::uint8_t> bytes;
};

Pixels load_pixels(const Header& h) {
  Pixels p;
  p.format = std::make_unique<DcmFileFormat>();
  load_file(*p.format, h.file, false);
  p.layout = read_pixel_format(*p.format->getDataset(), h.file);
  p.bytes = native_pixels(*p.format, p.layout, h.file);
  return p;
}

void fill_common(Source& s, const Header& h) {
  s.rows = h.pixels.rows;
  s.columns = h.pixels.columns;
  s.modality = h.modality;
  s.study_uid = h.study_uid;
  s.series_uid = h.series_uid;
  s.frame_of_reference_uid = h.frame_of_reference_uid;
  if (h.geometry.spacing) {
    s.has_spacing = true;
    s.spacing = {1.0, (*h.geometry.spacing)[0], (*h.geometry.spacing)[1]};
  }
}

void set_plane(Source& s, const std::array<double, 6>& o, const std::array<double, 3>& origin) {
  const auto n = slice_normal(o);
  s.has_geometry = true;
  s.origin = origin;
  s.direction = {o[0], o[3], n[0], o[1], o[4], n[1], o[2], o[5], n[2]};
}

// One file: a single image or the selected frames of a multi-frame instance.
Volume read_frames(const Header& h, const Selection& selection) {
  if (h.enhanced_volume)
    throw InputError(h.file, "PerFrameFunctionalGroupsSequence: enhanced multi-frame volumes (per-frame "
                             "PlanePositionSequence) are not supported; use single-frame slices or a cine");
  std::vector<int> frames = selection.frames;
  if (frames.empty())
    for (long f = 1; f <= h.pixels.frames; ++f) frames.push_back(static_cast<int>(f));
  for (int f : frames)
    if (f < 1 || f > h.pixels.frames)
      fail(h.file, DCM_NumberOfFrames,
           "the file has " + std::to_string(h.pixels.frames) + " frame(s); frame " + std::to_string(f) + " was asked for");
  Volume v;
  Source& s = v.source;
  fill_common(s, h);
  s.depth = static_cast<std::int64_t>(frames.size());
  s.is_2d = frames.size() == 1;
  s.is_cine = h.pixels.frames > 1;
  s.lossy = h.lossy;
  if (s.is_2d && h.geometry.position && h.geometry.orientation) {
    set_plane(s, *h.geometry.orientation, *h.geometry.position);
    s.positions.push_back(*h.geometry.position);
  }
  for (int f : frames) s.slices.push_back({h.file, h.sop_class_uid, h.sop_instance_uid, h.pixels.frames > 1 ? f : 0});

  Pixels p = load_pixels(h);
  v.channels = p.layout.channels();
  v.original_dtype = p.layout.dtype();
  const std::size_t plane = static_cast<std::size_t>(s.rows * s.columns);
  const std::size_t depth = frames.size();
  v.data.resize(static_cast<std::size_t>(v.channels) * depth * plane);
  std::vector<float> frame(static_cast<std::size_t>(v.channels) * plane);
  for (std::size_t z = 0; z < depth; ++z) {
    decode_frame(p.bytes, p.layout, frames[z] - 1, frame.data(), h.file);
    for (std::int64_t c = 0; c < v.channels; ++c)
      std::copy_n(frame.data() + static_cast<std::size_t>(c) * plane, plane,
                  v.data.data() + (static_cast<std::size_t>(c) * depth + z) * plane);
  }
  return v;
}

bool close(double a, double b, double tolerance) { return std::fabs(a - b) <= tolerance; }

// Single-frame instances of one series: slices ordered by their position along the normal.
Volume read_slices(std::vector<Header> headers) {
  const Header& first = headers.front();
  for (const auto& h : headers) {
    if (!h.geometry.position) fail(h.file, DCM_ImagePositionPatient, "missing: the slices of a series cannot be ordered");
    if (!h.geometry.orientation) fail(h.file, DCM_ImageOrientationPatient, "missing: the slices of a series cannot be ordered");
    if (h.pixels.rows != first.pixels.rows) fail(h.file, DCM_Rows, "differs from " + first.file);
    if (h.pixels.columns != first.pixels.columns) fail(h.file, DCM_Columns, "differs from " + first.file);
    if (h.pixels.channels() != first.pixels.channels()) fail(h.file, DCM_SamplesPerPixel, "differs from " + first.file);
    for (int i = 0; i < 6; ++i)
      if (!close((*h.geometry.orientation)[i], (*first.geometry.orientation)[i], 1e-4))
        fail(h.file, DCM_ImageOrientationPatient, "differs from " + first.file);
    if (h.geometry.spacing.has_value() != first.geometry.spacing.has_value() ||
        (h.geometry.spacing && (!close((*h.geometry.spacing)[0], (*first.geometry.spacing)[0], 1e-4) ||
                                !close((*h.geometry.spacing)[1], (*first.geometry.spacing)[1], 1e-4))))
      fail(h.file, DCM_PixelSpacing, "differs from " + first.file);
  }
  const auto normal = slice_normal(*first.geometry.orientation);
  auto along = [&](const Header& h) { return dot(normal, *h.geometry.position); };
  std::stable_sort(headers.begin(), headers.end(), [&](const Header& a, const Header& b) { return along(a) < along(b); });
  const std::size_t n = headers.size();
  std::vector<double> gaps;
  for (std::size_t i = 1; i < n; ++i) {
    const double gap = along(headers[i]) - along(headers[i - 1]);
    if (gap < 1e-4)
      fail(headers[i].file, DCM_ImagePositionPatient, "same slice position as " + headers[i - 1].file);
    gaps.push_back(gap);
  }
  const double step = (along(headers.back()) - along(headers.front())) / static_cast<double>(n - 1);
  const double tolerance = std::max(0.01, 0.01 * step);
  for (std::size_t i = 1; i < n; ++i) {
    if (!close(gaps[i - 1], step, tolerance))
      fail(headers[i].file, DCM_ImagePositionPatient,
           "uneven slice spacing (" + std::to_string(gaps[i - 1]) + " mm here, " + std::to_string(step) + " mm on average)");
    // Each position must lie on the line through the first along the normal (no shear, no tilt).
    const auto& p0 = *headers.front().geometry.position;
    const auto& p = *headers[i].geometry.position;
    const double t = along(headers[i]) - along(headers.front());
    double drift = 0;
    for (int k = 0; k < 3; ++k) drift += std::pow(p[k] - p0[k] - t * normal[k], 2);
    if (std::sqrt(drift) > tolerance)
      fail(headers[i].file, DCM_ImagePositionPatient,
           "slices are not stacked along the slice normal (sheared or gantry-tilted series are not supported)");
  }

  Volume v;
  Source& s = v.source;
  fill_common(s, first);
  s.depth = static_cast<std::int64_t>(n);
  s.is_2d = false;
  s.spacing[0] = step;
  set_plane(s, *first.geometry.orientation, *headers.front().geometry.position);
  for (const auto& h : headers) {
    s.slices.push_back({h.file, h.sop_class_uid, h.sop_instance_uid, 0});
    s.positions.push_back(*h.geometry.position);
    s.lossy = s.lossy || h.lossy;
  }
  const std::size_t plane = static_cast<std::size_t>(s.rows * s.columns);
  v.channels = first.pixels.channels();
  v.data.resize(static_cast<std::size_t>(v.channels) * n * plane);
  std::vector<float> frame(static_cast<std::size_t>(v.channels) * plane);
  for (std::size_t z = 0; z < n; ++z) {
    Pixels p = load_pixels(headers[z]);
    if (z == 0) v.original_dtype = p.layout.dtype();
    decode_frame(p.bytes, p.layout, 0, frame.data(), headers[z].file);
    for (std::int64_t c = 0; c < v.channels; ++c)
      std::copy_n(frame.data() + static_cast<std::size_t>(c) * plane, plane,
                  v.data.data() + (static_cast<std::size_t>(c) * n + z) * plane);
  }
  return v;
}

struct Scan {
  std::vector<Header> kept;
  std::map<std::string, SeriesInfo> all_series;
};

Scan scan_folder(const fs::path& folder, const Selection& selection) {
  Scan scan;
  for (const auto& path : dicom_files_below(folder)) {
    DcmFileFormat format;
    load_file(format, path.string(), true);
    DcmDataset& ds = *format.getDataset();
    const std::string series = require_string(ds, DCM_SeriesInstanceUID, path.string());
    auto& info = scan.all_series[series];
    info.series_uid = series;
    info.modality = find_string(ds, DCM_Modality).value_or("");
    info.description = find_string(ds, DCM_SeriesDescription).value_or("");
    ++info.files;
    if (selection.series_uid && *selection.series_uid != series) continue;
    if (!rules_match(ds, selection)) continue;
    scan.kept.push_back(read_header(format, path.string()));
  }
  return scan;
}

std::string series_list(const std::map<std::string, SeriesInfo>& series) {
  std::string out;
  for (const auto& [uid, info] : series)
    out += (out.empty() ? "" : "; ") + uid + " (" + (info.modality.empty() ? "?" : info.modality) +
           (info.description.empty() ? "" : ", '" + info.description + "'") + ", " + std::to_string(info.files) + " file(s))";
  return out;
}

Volume read_folder(const fs::path& folder, const Selection& selection) {
  Scan scan = scan_folder(folder, selection);
  if (scan.all_series.empty()) throw InputError(folder.string(), "no DICOM files (DICM at offset 128) in this folder");
  std::map<std::string, std::vector<Header>> by_series;
  for (auto& h : scan.kept) by_series[h.series_uid].push_back(std::move(h));
  if (by_series.empty())
    throw InputError(folder.string(), "no series matches the selection (" + describe_selection(selection) +
                                          "); found: " + series_list(scan.all_series));
  if (by_series.size() > 1)
    throw InputError(folder.string(), std::to_string(by_series.size()) +
                                          " series match; pick one with --series UID or --series-rule KEYWORD=REGEX: " +
                                          series_list(scan.all_series));
  std::vector<Header> headers = std::move(by_series.begin()->second);
  const bool multi = std::any_of(headers.begin(), headers.end(), [](const Header& h) { return h.pixels.frames > 1; });
  if (multi) {
    if (headers.size() > 1)
      throw InputError(folder.string(), "series " + headers.front().series_uid + " holds " + std::to_string(headers.size()) +
                                            " instances including multi-frame ones; give the multi-frame file itself");
    return read_frames(headers.front(), selection);
  }
  if (!selection.frames.empty() && !(selection.frames.size() == 1 && selection.frames[0] == 1) && headers.size() > 1)
    throw UsageError("--frame/--frames select frames of a multi-frame file; " + folder.string() + " is a series of slices");
  if (headers.size() == 1) return read_frames(headers.front(), selection);
  return read_slices(std::move(headers));
}

Volume read_file(const fs::path& path, const Selection& selection) {
  const std::string file = path.string();
  if (!is_dicom_file(path)) throw InputError(file, "not a DICOM file (no DICM magic at offset 128)");
  DcmFileFormat format;
  load_file(format, file, true);
  DcmDataset& ds = *format.getDataset();
  Header h = read_header(format, file);
  if (selection.series_uid && *selection.series_uid != h.series_uid)
    fail(file, DCM_SeriesInstanceUID, "'" + h.series_uid + "' is not the selected series " + *selection.series_uid);
  if (!rules_match(ds, selection)) throw InputError(file, "does not match the series rules (" + describe_selection(selection) + ")");
  return read_frames(h, selection);
}

}  // namespace

bool is_dicom_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  char magic[132];
  if (!in.read(magic, sizeof magic)) return false;
  return std::string(magic + 128, 4) == "DICM";
}

bool is_dicom_folder(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return false;
  for (auto it = fs::recursive_directory_iterator(path, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
    if (it->is_regular_file(ec) && is_dicom_file(it->path())) return true;
  return false;
}

Volume read_volume(const fs::path& file_or_folder, const Selection& selection) {
  register_codecs();
  std::error_code ec;
  Volume v = fs::is_directory(file_or_folder, ec) ? read_folder(file_or_folder, selection)
             : fs::exists(file_or_folder, ec)     ? read_file(file_or_folder, selection)
                                                  : throw InputError(file_or_folder.string(), "no such file or folder");
  return v;
}

StudyInfo study_info(const fs::path& file) {
  if (!is_dicom_file(file)) throw InputError(file.string(), "not a DICOM file (no DICM magic at offset 128)");
  DcmFileFormat format;
  load_file(format, file.string(), true);
  DcmDataset& ds = *format.getDataset();
  return {find_string(ds, DCM_PatientID).value_or(""), require_string(ds, DCM_StudyInstanceUID, file.string())};
}

std::vector<SeriesInfo> list_series(const fs::path& folder) {
  register_codecs();
  std::vector<SeriesInfo> out;
  for (auto& [uid, info] : scan_folder(folder, {}).all_series) out.push_back(info);
  return out;
}

std::pair<std::string, std::string> parse_rule(const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) throw UsageError("series rule '" + text + "': expected KEYWORD=REGEX, e.g. Modality=US");
  std::string keyword = text.substr(0, eq), pattern = text.substr(eq + 1);
  DcmTag tag;
  if (DcmTag::findTagFromName(keyword.c_str(), tag).bad())
    throw UsageError("series rule '" + text + "': '" + keyword + "' is not a DICOM attribute keyword");
  try {
    std::regex check(pattern, std::regex::ECMAScript | std::regex::icase);
  } catch (const std::regex_error& e) {
    throw UsageError("series rule '" + text + "': invalid regular expression (" + e.what() + ")");
  }
  return {keyword, pattern};
}

std::vector<int> parse_frames(const std::string& text) {
  if (text == "all") return {};
  std::vector<int> frames;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    std::size_t used = 0;
    long v = 0;
    try {
      v = std::stol(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size() || v < 1 || v > 1000000)
      throw UsageError("frames '" + text + "': expected 1-based frame numbers separated by commas, or 'all'");
    frames.push_back(static_cast<int>(v));
  }
  if (frames.empty()) throw UsageError("frames '" + text + "': no frame given");
  return frames;
}

}  // namespace medport::dicom
