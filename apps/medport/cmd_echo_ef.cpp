// `medport echo-ef`: LV end-diastolic/end-systolic volumes and ejection fraction from the four
// apical masks of one patient (2CH/4CH x ED/ES) by the official CAMUS biplane method of disks;
// with a single complete view, the single-plane area-length method instead (labelled as such).
// Flags over pipelines::clinical::measure_patient.
#include <cmath>
#include <cstdio>

#include "command.hpp"
#include "echo_ef_exports.hpp"
#include "medport/error.hpp"
#include "medport/imaging/label_io.hpp"
#include "medport/pipelines/clinical/echo_ef_patient.hpp"
#include "medport/util/file_io.hpp"
#include "medport/util/json_text.hpp"
#include "medport/util/output_paths.hpp"
#include "medport/util/printable.hpp"

namespace {

namespace clinical = medport::pipelines::clinical;

struct EchoEfArgs {
  std::vector<std::string> inputs;
  std::string a2c_ed, a2c_es, a4c_ed, a4c_es;
  int label = 1;
  std::string spacing, spacing_a2c, spacing_a4c;
  std::string suffix = "any";
  std::string json_path;
  medport::cli::EchoExports exports;  // --dicom-sr, --dicom-source, --fhir
};

clinical::PatientMasksRequest request_from(const EchoEfArgs& args) {
  if (args.inputs.empty() && args.a2c_ed.empty() && args.a2c_es.empty() && args.a4c_ed.empty() && args.a4c_es.empty())
    throw medport::UsageError("give a patient folder, the mask files, or --a2c-ed/--a2c-es/--a4c-ed/--a4c-es");
  clinical::PatientMasksRequest request;
  request.inputs.assign(args.inputs.begin(), args.inputs.end());
  for (const auto& [file, key] : {std::pair{&args.a2c_ed, "2CH_ED"}, {&args.a2c_es, "2CH_ES"}, {&args.a4c_ed, "4CH_ED"},
                                  {&args.a4c_es, "4CH_ES"}})
    if (!file->empty()) request.files[key] = *file;
  request.label = args.label;
  request.suffix = args.suffix;
  // --spacing-a2c/--spacing-a4c, then --spacing; otherwise spacing.json beside the files or the files' own.
  for (const auto& [view, specific] : {std::pair{"2CH", &args.spacing_a2c}, {"4CH", &args.spacing_a4c}}) {
    const std::string& text = !specific->empty() ? *specific : args.spacing;
    if (!text.empty()) request.spacing[view] = medport::imaging::parse_spacing(text, 2, 2);
  }
  return request;
}

int run(const EchoEfArgs& args) {
  const auto report = clinical::measure_patient(request_from(args));
  const auto& out = report.fields;
  const double edv = out["EDV_mL"].get<double>(), esv = out["ESV_mL"].get<double>(), ef = out["EF_percent"].get<double>();
  std::printf("%s: %s\n", medport::printable(out["patient"].get<std::string>()).c_str(), report.method_line.c_str());
  std::printf("  EDV %6.0f mL\n  ESV %6.0f mL\n  EF  %6.1f %%\n", edv, esv, ef);
  for (const auto& w : out["warnings"])
    if (w == "esv_exceeds_edv")
      std::fprintf(stderr, "warning: ESV is larger than EDV (negative EF): are the ED and ES masks swapped?\n");
  if (!args.json_path.empty()) {
    auto clean = out;
    if (!std::isfinite(ef)) clean["EF_percent"] = nullptr;
    medport::write_file_atomic(args.json_path, medport::json_text(clean) + "\n");
  }
  medport::cli::write_echo_exports(args.exports, {edv, esv, ef, report.method_line});
  return 0;
}

medport::cli::Runner setup(CLI::App& root) {
  auto args = std::make_shared<EchoEfArgs>();
  auto* cmd = root.add_subcommand("echo-ef", "LV volumes and ejection fraction from apical 2CH/4CH ED/ES masks (CAMUS)");
  cmd->add_option("inputs", args->inputs,
                  "a patient folder (files named *_2CH_ED_gt.*, *_4CH_ES_seg.*, ...) or mask files");
  cmd->add_option("--a2c-ed", args->a2c_ed, "2-chamber end-diastole mask");
  cmd->add_option("--a2c-es", args->a2c_es, "2-chamber end-systole mask");
  cmd->add_option("--a4c-ed", args->a4c_ed, "4-chamber end-diastole mask");
  cmd->add_option("--a4c-es", args->a4c_es, "4-chamber end-systole mask");
  cmd->add_option("--label", args->label, "label value of the LV cavity")->check(CLI::Range(1, 255));
  cmd->add_option("--spacing", args->spacing, "pixel spacing ROW,COL in mm for every view (replaces the files')");
  cmd->add_option("--spacing-a2c", args->spacing_a2c, "pixel spacing ROW,COL in mm of the 2CH masks");
  cmd->add_option("--spacing-a4c", args->spacing_a4c, "pixel spacing ROW,COL in mm of the 4CH masks");
  cmd->add_option("--suffix", args->suffix, "in folders, use *_gt files, *_seg files or either")
      ->check(CLI::IsMember({"gt", "seg", "any"}));
  cmd->add_option("--json", args->json_path, "also write the result as JSON");
  medport::cli::add_echo_export_flags(*cmd, args->exports);
  return [args] {
    medport::cli::check_echo_exports(args->exports);
    if (!args->json_path.empty()) medport::check_output_file_writable(args->json_path);
    return run(*args);
  };
}

}  // namespace
MEDPORT_COMMAND(setup);
