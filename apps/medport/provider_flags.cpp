#include "provider_flags.hpp"

namespace medport::cli {

void add_provider_flags(CLI::App& cmd, ProviderFlags& flags) {
  cmd.add_option("--provider", flags.provider, "execution provider: cpu or cuda (the GPU build: ./setup.sh gpu)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  cmd.add_option("--device", flags.device, "CUDA device index for --provider cuda")->check(CLI::Range(0, 1023));
}

runtime::SessionOptions session_options(const ProviderFlags& flags, int threads) {
  return runtime::session_options_from_flags(threads, flags.provider, flags.device);
}

}  // namespace medport::cli
