#pragma once
// The bank file format of memory_bank_store.hpp: validated reading is public (read_bank_file),
// writing stays inside the library so only the locked store writes banks.
#include <filesystem>

#include "medport/pipelines/fewshot/memory_bank_store.hpp"

namespace medport::pipelines::fewshot::detail {

// Atomic (temporary file + rename). Does not lock: callers hold the exclusive lock.
void write_bank_file(const std::filesystem::path& path, const BankContents& contents);

}  // namespace medport::pipelines::fewshot::detail
