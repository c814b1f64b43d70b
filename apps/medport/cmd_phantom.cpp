// `medport phantom -o DIR [--patients N] [--seed S] [--size ROWSxCOLS]`: synthetic CAMUS-like
// apical 2CH/4CH echo images at ED and ES with label maps and analytically known LV volumes; the
// CAMUS biplane method is run on the masks and reported next to the truth.
#include <cmath>
#include <cstdio>

#include "command.hpp"
#include "medport/error.hpp"
#include "medport/metrics/camus_ef.hpp"
#include "medport/pipelines/phantom/phantom.hpp"
#include "medport/util/output_paths.hpp"

namespace {

namespace phantom = medport::pipelines::phantom;

struct PhantomArgs {
  std::string output_dir;
  int patients = 1;
  std::uint64_t seed = 0;
  std::string size = "256x256";
};

std::pair<std::int64_t, std::int64_t> parse_size(const std::string& text) {
  std::int64_t rows = 0, cols = 0;
  char x = 0, extra = 0;
  if (std::sscanf(text.c_str(), "%ld%c%ld%c", &rows, &x, &cols, &extra) != 3 || (x != 'x' && x != 'X'))
    throw medport::UsageError("--size '" + text + "': expected ROWSxCOLS, e.g. 256x256");
  if (rows < 96 || cols < 96 || rows > 2048 || cols > 2048)
    throw medport::UsageError("--size '" + text + "': rows and columns must be within 96..2048");
  return {rows, cols};
}

const medport::imaging::LabelImage& view_labels(const phantom::PhantomPatient& p, const std::string& view,
                                                const std::string& phase) {
  for (const auto& v : p.views)
    if (v.view == view && v.phase == phase) return v.labels;
  throw std::logic_error("phantom view missing");
}

nlohmann::ordered_json measure(const phantom::PhantomPatient& p) {
  using medport::imaging::binary_mask;
  const auto volumes = medport::metrics::biplane_simpson(
      binary_mask(view_labels(p, "2CH", "ED"), 1), binary_mask(view_labels(p, "2CH", "ES"), 1),
      binary_mask(view_labels(p, "4CH", "ED"), 1), binary_mask(view_labels(p, "4CH", "ES"), 1));
  return {{"method", "CAMUS biplane method of disks on the label-1 masks"},
          {"EDV_mL", volumes.edv_ml},
          {"ESV_mL", volumes.esv_ml},
          {"EF_percent", volumes.ef_percent},
          {"EDV_mL_unrounded", volumes.edv_ml_unrounded},
          {"ESV_mL_unrounded", volumes.esv_ml_unrounded},
          {"disk_height_mm", volumes.disk_height_mm}};
}

int run(const PhantomArgs& args) {
  const auto [rows, cols] = parse_size(args.size);
  medport::check_output_folder_writable(args.output_dir);
  medport::remove_stale_temporaries(args.output_dir);
  std::printf("%-12s %9s %9s %7s | %9s %9s %7s\n", "patient", "EDV true", "ESV true", "EF true", "EDV camus",
              "ESV camus", "EF camus");
  for (int i = 1; i <= args.patients; ++i) {
    const auto patient = phantom::generate_phantom_patient({rows, cols, args.seed}, i);
    const auto measured = measure(patient);
    phantom::write_phantom_patient(args.output_dir, patient, measured);
    const auto& t = patient.truth;
    std::printf("%-12s %9.1f %9.1f %7.1f | %9.0f %9.0f %7.1f\n", patient.id.c_str(), t.edv_ml, t.esv_ml, t.ef_percent,
                measured["EDV_mL"].get<double>(), measured["ESV_mL"].get<double>(),
                measured["EF_percent"].get<double>());
  }
  std::printf("wrote %d patient folder(s) to %s (volumes in mL, EF in %%)\n", args.patients, args.output_dir.c_str());
  return 0;
}

medport::cli::Runner setup(CLI::App& root) {
  auto args = std::make_shared<PhantomArgs>();
  auto* cmd = root.add_subcommand("phantom", "Write synthetic CAMUS-like echo images, labels and known LV volumes");
  cmd->add_option("-o,--output", args->output_dir, "output folder (one sub-folder per patient)")->required();
  cmd->add_option("--patients", args->patients, "number of patients")->check(CLI::Range(1, 10000));
  cmd->add_option("--seed", args->seed, "random seed (same seed, same phantoms)");
  cmd->add_option("--size", args->size, "image size ROWSxCOLS");
  return [args] { return run(*args); };
}

}  // namespace
MEDPORT_COMMAND(setup);
