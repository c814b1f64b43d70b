#pragma once
// The bank file format of memory_bank_store.hpp: validated reading is public (read_bank_file),
// writing stays inside the library so only the locked store writes banks.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "medport/pipelines/fewshot/memory_bank_store.hpp"

namespace medport::pipelines::fewshot::detail {

// "class_12" with prefix "class_" -> 12; nullopt when the rest is not a plain integer.
std::optional<std::int64_t> id_after(const std::string& name, const std::string& prefix);

// Atomic (temporary file + rename). Does not lock: callers hold the exclusive lock.
void write_bank_file(const std::filesystem::path& path, const BankContents& contents);

}  // namespace medport::pipelines::fewshot::detail
