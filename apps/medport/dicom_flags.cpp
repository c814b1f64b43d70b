#include "dicom_flags.hpp"

#include "medport/error.hpp"

namespace medport::cli {

void add_dicom_flags(CLI::App& cmd, DicomFlags& flags) {
  cmd.add_option("--series", flags.series, "DICOM folders: the SeriesInstanceUID to read");
  cmd.add_option("--series-rule", flags.rules,
                 "DICOM folders: KEYWORD=REGEX on an attribute (case-insensitive search), e.g. Modality=US; repeatable, all must match");
  cmd.add_option("--frame", flags.frame, "DICOM cines: one frame (1-based) as a 2D image")->check(CLI::PositiveNumber);
  cmd.add_option("--frames", flags.frames, "DICOM cines: frames N,M,... (1-based, e.g. the ED and ES frames) or 'all' (default)");
}

dicom::Selection dicom_selection(const DicomFlags& flags) {
  dicom::Selection s;
  if (!flags.series.empty()) s.series_uid = flags.series;
  for (const auto& r : flags.rules) s.rules.push_back(dicom::parse_rule(r));
  if (flags.frame > 0 && !flags.frames.empty()) throw UsageError("give --frame or --frames, not both");
  if (flags.frame > 0) s.frames = {flags.frame};
  if (!flags.frames.empty()) s.frames = dicom::parse_frames(flags.frames);
  return s;
}

}  // namespace medport::cli
