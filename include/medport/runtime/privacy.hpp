#pragma once
// ONNX Runtime's own telemetry, switched off for every medport front end (CLI, library, server).
// The official 1.29 Linux binaries carry Microsoft's 1DS telemetry: without this, creating the
// runtime's environment writes /tmp/mat-debug-<pid>.log, /tmp/.ses and an event cache under
// ~/.cache/Microsoft, and may upload usage events (docs/PRIVACY.md).
namespace medport::runtime {

// Sets ORT_DISABLE_TELEMETRY=1 in this process, overriding any other value. It runs when a
// program linking medport's runtime starts and again right before medport creates its ONNX
// Runtime environment (which also gets the API's DisableTelemetryEvents). A program that makes
// its own Ort::Env must call it before that.
void disable_runtime_telemetry();

}  // namespace medport::runtime
