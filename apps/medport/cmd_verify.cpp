// `medport verify MODEL --reference REF.npz`: proves an exported model reproduces arrays saved
// from the user's own PyTorch code. Exit 0 within tolerance, 4 when any output is not.
#include <cstdio>
#include <memory>

#include "command.hpp"
#include "medport/error.hpp"
#include "medport/pipelines/run.hpp"

namespace {

struct VerifyArgs {
  std::string model, reference, provider = "cpu";
  std::vector<std::string> maps;
  int threads = 0;
  medport::pipelines::VerifyOptions options;
};

constexpr int kExitOutsideTolerance = 4;

int run(VerifyArgs& args) {
  using namespace medport;
  for (const auto& m : args.maps) {
    const auto eq = m.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == m.size())
      throw UsageError("--map takes REFERENCE_NAME=MODEL_NAME, got '" + m + "'");
    args.options.rename[m.substr(0, eq)] = m.substr(eq + 1);
  }
  args.options.session = runtime::session_options_from_flags(args.threads, args.provider);
  const auto report = pipelines::verify_model(args.model, args.reference, args.options);
  std::printf("%-24s %-18s %12s %12s %9s  %s\n", "output", "shape", "max abs err", "max rel err", "argmax", "result");
  for (const auto& c : report.outputs) {
    char argmax[16] = "-";
    if (c.argmax_agreement) std::snprintf(argmax, sizeof argmax, "%.4f%%", 100.0 * *c.argmax_agreement);
    std::printf("%-24s %-18s %12.3g %12.3g %9s  %s\n", c.name.c_str(), shape_string(c.shape).c_str(), c.max_abs_error,
                c.max_rel_error, argmax,
                c.passed() ? "ok" : (std::to_string(c.outside_tolerance) + " of " + std::to_string(c.elements) +
                                     " elements outside tolerance").c_str());
  }
  for (const auto& n : report.not_compared) std::printf("%-24s (not in the reference, not compared)\n", n.c_str());
  std::printf("%s: rtol %g, atol %g\n", report.passed() ? "PASS" : "FAIL", args.options.rtol, args.options.atol);
  return report.passed() ? 0 : kExitOutsideTolerance;
}

medport::cli::Runner setup(CLI::App& root) {
  auto args = std::make_shared<VerifyArgs>();
  auto* cmd = root.add_subcommand(
      "verify", "Check an exported model against arrays saved from PyTorch (exit 0 within tolerance, 4 outside)");
  cmd->add_option("model", args->model, "exported model (.onnx)")->required();
  cmd->add_option("--reference", args->reference,
                  "npz with the model's inputs and the expected outputs, named like the model's inputs/outputs")
      ->required();
  cmd->add_option("--rtol", args->options.rtol, "relative tolerance (default 1e-4)");
  cmd->add_option("--atol", args->options.atol, "absolute tolerance (default 1e-4)");
  cmd->add_option("--map", args->maps, "REFERENCE_NAME=MODEL_NAME for arrays named otherwise (repeatable)");
  cmd->add_option("--threads", args->threads, "intra-op threads (0: ONNX Runtime default)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--provider", args->provider, "execution provider")->check(CLI::IsMember({"cpu", "cuda"}));
  return [args] { return run(*args); };
}

}  // namespace
MEDPORT_COMMAND(setup);
