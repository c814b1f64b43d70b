#pragma once
// --provider and --device, the same for every command that runs a model (segment, fewshot,
// sample, inpaint, classify, run, verify): one call adds both.
#include <CLI/CLI.hpp>
#include <string>

#include "medport/runtime/session.hpp"

namespace medport::cli {

struct ProviderFlags {
  std::string provider = "cpu";  // cpu | cuda
  int device = 0;                // CUDA device index
};

void add_provider_flags(CLI::App& cmd, ProviderFlags& flags);

// Session options for the flags and `threads` intra-op threads. --provider cuda where CUDA cannot
// run (no GPU build of ONNX Runtime, no driver or libraries, no such device) is an InputError
// naming the flag (exit 3).
runtime::SessionOptions session_options(const ProviderFlags& flags, int threads);

}  // namespace medport::cli
