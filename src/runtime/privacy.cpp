#include "medport/runtime/privacy.hpp"

#include <cstdlib>
#include <cstring>

namespace medport::runtime {

void disable_runtime_telemetry() {
  // Written only when needed: setenv is not safe against concurrent getenv, and the usual call
  // finds the value already latched at load time.
  const char* value = std::getenv("ORT_DISABLE_TELEMETRY");
  if (value == nullptr || std::strcmp(value, "1") != 0) ::setenv("ORT_DISABLE_TELEMETRY", "1", 1);
}

namespace {
// Latched when the program starts, before any thread or embedding code can create a runtime
// environment; disable_runtime_telemetry() checks it again right before medport creates one.
[[maybe_unused]] const bool latched_at_load = (disable_runtime_telemetry(), true);
}  // namespace

}  // namespace medport::runtime
