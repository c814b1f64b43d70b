// `medport version`: library and runtime versions, for bug reports.
#include <cstdio>

#include "command.hpp"
#include "medport/runtime/session.hpp"
#include "medport/version.hpp"

namespace {
medport::cli::Runner setup(CLI::App& root) {
  root.add_subcommand("version", "Print medport, ONNX Runtime and provider versions");
  return [] {
    std::printf("medport %s\nonnxruntime %s\ncuda provider: %s\n", std::string(medport::kVersion).c_str(),
                medport::runtime::onnxruntime_version().c_str(),
                medport::runtime::cuda_provider_available() ? "available" : "not available");
    return 0;
  };
}
}  // namespace
MEDPORT_COMMAND(setup);
