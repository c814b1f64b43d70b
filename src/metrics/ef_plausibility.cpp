#include "medport/metrics/ef_plausibility.hpp"

#include <sstream>

#include "medport/error.hpp"
#include "medport/imaging/connected_components.hpp"

namespace medport::metrics {
namespace {

std::string mm(double v) {
  std::ostringstream s;
  s << v << " mm";
  return s.str();
}

}  // namespace

void check_lv_mask(const imaging::LabelImage& mask, const std::string& source) {
  if (mask.shape.size() != 2) throw InputError(source, "the LV mask must be 2D");
  for (std::size_t a = 0; a < 2; ++a) {
    const double s = mask.spacing_at(a);
    if (!(s >= kMinSpacingMm && s <= kMaxSpacingMm))
      throw InputError(source, std::string(a == 0 ? "row" : "column") + " spacing " + mm(s) +
                                   " is not a plausible echo pixel spacing (" + mm(kMinSpacingMm) + " to " +
                                   mm(kMaxSpacingMm) + ")");
    const double fov = s * static_cast<double>(mask.shape[a]);
    if (fov > kMaxFieldOfViewMm)
      throw InputError(source, "the image would be " + mm(fov) + " " + (a == 0 ? "tall" : "wide") +
                                   " at this spacing (more than " + mm(kMaxFieldOfViewMm) + "): check the spacing");
  }
  std::int64_t pixels = 0;
  for (auto v : mask.labels) pixels += v != 0;
  if (static_cast<double>(pixels) > kMaxLvImageFraction * static_cast<double>(mask.numel())) {
    std::ostringstream s;
    s << "the LV label covers " << 100.0 * static_cast<double>(pixels) / static_cast<double>(mask.numel())
      << "% of the image: not a cavity (wrong --label, or an inverted mask?)";
    throw InputError(source, s.str());
  }
  const double area = static_cast<double>(pixels) * mask.spacing_at(0) * mask.spacing_at(1);
  if (pixels < kMinLvPixels || area < kMinLvAreaMm2) {
    std::ostringstream s;
    s << "the LV cavity is " << pixels << " pixels (" << area << " mm^2): too small to measure (at least "
      << kMinLvPixels << " pixels and " << kMinLvAreaMm2 << " mm^2)";
    throw InputError(source, s.str());
  }
}

std::int64_t keep_largest_lv_region(imaging::LabelImage& mask, const std::string& source) {
  const auto regions = imaging::label_components(mask.labels, mask.shape, 8);
  if (regions.sizes.size() <= 1) return 0;
  const std::int32_t largest = regions.largest();
  const std::int64_t kept = regions.sizes[static_cast<std::size_t>(largest)];
  std::int64_t removed = 0;
  for (const auto size : regions.sizes) removed += size;
  removed -= kept;
  if (static_cast<double>(removed) > kMaxLvFragmentFraction * static_cast<double>(kept)) {
    std::ostringstream s;
    s << "the LV label forms " << regions.sizes.size() << " separate regions (the largest " << kept << " pixels, the others "
      << removed << "): not one cavity";
    throw InputError(source, s.str());
  }
  for (std::size_t i = 0; i < regions.label.size(); ++i)
    if (regions.label[i] != largest) mask.labels[i] = 0;
  return removed;
}

void check_same_acquisition(const imaging::LabelImage& ed, const std::string& ed_source,
                            const imaging::LabelImage& es, const std::string& es_source) {
  if (ed.shape != es.shape)
    throw InputError(es_source, "ES mask is " + shape_string(es.shape) + " but the ED mask " + ed_source + " is " +
                                    shape_string(ed.shape) + ": ED and ES must come from the same acquisition");
  for (std::size_t a = 0; a < ed.shape.size(); ++a)
    if (ed.spacing_at(a) != es.spacing_at(a))
      throw InputError(es_source, "ES spacing " + mm(es.spacing_at(a)) + " differs from " + mm(ed.spacing_at(a)) +
                                      " of the ED mask " + ed_source + ": ED and ES must come from the same acquisition");
}

std::vector<std::string> check_volumes(double edv_ml, double esv_ml, const std::string& source) {
  for (double v : {edv_ml, esv_ml})
    if (!(v <= kMaxVolumeMl)) {
      std::ostringstream s;
      s << "measured LV volume " << v << " mL is more than " << kMaxVolumeMl << " mL: check the spacing and the masks";
      throw InputError(source, s.str());
    }
  std::vector<std::string> warnings;
  if (esv_ml > edv_ml) warnings.emplace_back("esv_exceeds_edv");
  return warnings;
}

}  // namespace medport::metrics
