#pragma once
// Small ONNX models built with the ONNX protos, for tests that need a session but no network.
#include <filesystem>
#include <string>

namespace medport::testing {

// y = x + 1 over a float vector of dynamic length "n" (input "x", output "y"), serialized.
std::string tiny_add_one_model();
void write_tiny_add_one_model(const std::filesystem::path& path);

}  // namespace medport::testing
