// `medport run MODEL --inputs IN.npz -o OUT.npz`: run an exported model (ONNX, or Core ML read back
// into medport's graph and executed with ONNX Runtime) on npz arrays.
#include <chrono>
#include <cstdio>

#include "command.hpp"
#include "provider_flags.hpp"
#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/export/open_model.hpp"
#include "medport/pipelines/run.hpp"
#include "medport/runtime/session.hpp"
#include "medport/util/output_paths.hpp"

namespace {

struct RunArgs {
  std::string model;
  std::string inputs;
  std::string output;
  int threads = 0;
  medport::cli::ProviderFlags device;
};

int run(const RunArgs& args) {
  using namespace medport;
  const runtime::SessionOptions options = cli::session_options(args.device, args.threads);

  check_output_file_writable(args.output);
  const auto arrays = ckpt::read_npz(args.inputs);
  pipelines::check_arrays_against_sidecar(args.model, arrays, args.inputs);
  const exporters::OpenedModel model = exporters::open_model(args.model, options);
  const auto start = std::chrono::steady_clock::now();
  const auto outputs = pipelines::run_on_arrays(model.session(), model.adapt_inputs(arrays), args.inputs);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  ckpt::NamedTensors named;
  for (const auto& out : outputs) {
    std::fprintf(stderr, "  %s %s %s\n", out.name.c_str(), std::string(dtype_name(out.tensor.dtype())).c_str(),
                 shape_string(out.tensor.shape()).c_str());
    named.emplace_back(out.name, out.tensor);
  }
  ckpt::write_npz(args.output, named);
  std::fprintf(stderr, "ran %s (%s) on %s (%s, %.1f ms) -> %s\n", args.model.c_str(), model.format().c_str(),
               args.inputs.c_str(), args.device.provider.c_str(), ms, args.output.c_str());
  return 0;
}

medport::cli::Runner setup(CLI::App& root) {
  auto args = std::make_shared<RunArgs>();
  auto* cmd = root.add_subcommand("run", "Run an exported model (.onnx, .mlpackage, .mlmodel) on the arrays of an npz file; write every output to an npz");
  cmd->add_option("model", args->model, "ONNX model, Core ML package (.mlpackage) or model (.mlmodel)")->required();
  cmd->add_option("--inputs", args->inputs, "npz with one array per model input, named like the inputs")->required();
  cmd->add_option("-o,--output", args->output, "npz receiving every model output")->required();
  cmd->add_option("--threads", args->threads, "intra-op threads (0: ONNX Runtime default)")->check(CLI::NonNegativeNumber);
  medport::cli::add_provider_flags(*cmd, args->device);
  return [args] { return run(*args); };
}

}  // namespace
MEDPORT_COMMAND(setup);
