#pragma once
// What `medport inspect` reports about a file, as JSON (schema "medport.inspect/1",
// documented in docs/INSPECT.md). The human-readable output is rendered from this.
#include <filesystem>

#include <nlohmann/json.hpp>

namespace medport::models {

// Reads FILE (torch zip / legacy / pickle, safetensors, npz, npy - detected from the content)
// without executing anything. Throws InputError naming the file for anything invalid or hostile.
nlohmann::ordered_json build_checkpoint_report(const std::filesystem::path& path);

}  // namespace medport::models
