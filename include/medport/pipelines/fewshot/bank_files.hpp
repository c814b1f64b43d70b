#pragma once
// The memory-bank files the few-shot pipeline reads and draws: medport convert's
// MODEL_DIR/memory_bank.npz (prototypes `class_<id>` only) or a MemoryBankStore file.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "medport/pipelines/fewshot/memory_bank_store.hpp"
#include "medport/pipelines/fewshot/settings.hpp"

namespace medport::pipelines::fewshot {

// Class ids stored in a bank file (`class_<id>` members), ascending.
std::vector<std::int64_t> bank_class_ids(const std::filesystem::path& bank_file);
// The bank file a run reads: --bank, else MODEL_DIR/memory_bank.npz.
std::filesystem::path bank_file_for(const FewshotSettings& settings, const std::filesystem::path& model_dir);
// Everything in a bank file: a MemoryBankStore file (it has `momentum`) in full, or medport
// convert's memory_bank.npz as prototypes only (one update each, `momentum` for the MemoryBank).
BankContents read_bank_contents(const std::filesystem::path& bank_file, double momentum);

// The prototypes of a bank file (either kind) with `momentum`. InputError naming the file when it
// is missing or holds no prototypes.
MemoryBank load_bank(const std::filesystem::path& file, double momentum);

// Draws settings.bank_plot, the PCA scatter of the bank (bank_file_for); returns the facts a batch
// summary reports: file, bank, prototypes, examples, explained_variance.
nlohmann::json draw_bank_plot(const FewshotSettings& settings, const std::filesystem::path& model_dir);
// What `medport fewshot` says when it only draws the plot, from draw_bank_plot's facts:
// "fewshot: PCA plot of BANK (P prototypes, E examples) -> FILE".
std::string bank_plot_line(const nlohmann::json& plot);

}  // namespace medport::pipelines::fewshot
