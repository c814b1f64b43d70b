#pragma once
// The execution provider of the benchmark programs: MEDPORT_BENCH_PROVIDER=cpu (default) or cuda,
// MEDPORT_BENCH_DEVICE=N (CUDA device), MEDPORT_BENCH_CUDA_GRAPH=1 (CUDA graphs where the
// program binds fixed device buffers). bench/gpu/run_device_checks.sh sets them on the GPU machine.
#include <cstdlib>
#include <string>

#include "medport/runtime/session.hpp"

namespace medport::bench {

inline std::string env_or(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value && *value ? value : fallback;
}

// THREADS intra-op threads on the provider the environment names (UsageError/InputError as the
// CLI's --provider/--device when it cannot run here).
inline runtime::SessionOptions bench_session_options(int threads) {
  runtime::SessionOptions options = runtime::session_options_from_flags(
      threads, env_or("MEDPORT_BENCH_PROVIDER", "cpu"), std::atoi(env_or("MEDPORT_BENCH_DEVICE", "0").c_str()));
  options.cuda.cuda_graph = options.provider == runtime::Provider::Cuda && env_or("MEDPORT_BENCH_CUDA_GRAPH", "0") == "1";
  return options;
}

}  // namespace medport::bench
