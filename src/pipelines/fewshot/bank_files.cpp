#include "medport/pipelines/fewshot/bank_files.hpp"

#include <algorithm>
#include <cmath>
#include <optional>

#include <fmt/format.h>

#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/pipelines/fewshot/bank_backend.hpp"
#include "medport/pipelines/fewshot/prototype_plot.hpp"

namespace medport::pipelines::fewshot {
namespace {

namespace fs = std::filesystem;

std::optional<std::int64_t> class_id_of_member(const std::string& name) {
  if (name.rfind("class_", 0) != 0 || name.size() == 6) return std::nullopt;
  std::int64_t id = 0;
  for (char c : name.substr(6)) {
    if (c < '0' || c > '9' || id > 1000000) return std::nullopt;
    id = id * 10 + (c - '0');
  }
  return id;
}

}  // namespace

MemoryBank load_bank(const fs::path& file, double momentum) {
  if (is_postgres_location(file.string())) {  // a shared bank: its own momentum
    MemoryBank bank = open_bank(file.string())->snapshot();
    if (bank.class_ids().empty()) throw InputError(display_location(file.string()), "holds no class prototypes");
    return bank;
  }
  if (!fs::exists(file))
    throw InputError(file.string(), "no memory bank here (convert a training checkpoint with a memory_bank, or pass --bank)");
  const auto npz = ckpt::NpzFile::open(file);
  MemoryBank bank(momentum);
  for (const auto& name : npz.names()) {
    const auto id = class_id_of_member(name);
    if (!id || *id == 0) continue;
    // Checked from the header before anything is inflated: a prototype is a small (M, C) array.
    const auto info = npz.info(name);
    if (info.shape.size() != 2 || shape_numel(info.shape) > (std::int64_t{1} << 22))
      throw InputError(file.string(), name + " must be an (M, C) prototype array of at most 2^22 values, not " +
                                          shape_string(info.shape));
    const Tensor prototypes = npz.read(name).to(DType::F32);
    const auto values = prototypes.to_f32();
    if (std::any_of(values.begin(), values.end(), [](float v) { return !std::isfinite(v); }))
      throw InputError(file.string(), name + " holds NaN or infinite values");
    bank.update(*id, prototypes);
  }
  if (bank.class_ids().empty()) throw InputError(file.string(), "holds no class_<id> prototypes");
  return bank;
}

fs::path bank_file_for(const FewshotSettings& settings, const fs::path& model_dir) {
  return settings.bank.empty() ? model_dir / "memory_bank.npz" : fs::path(settings.bank);
}

BankContents read_bank_contents(const fs::path& bank_file, double momentum) {
  if (is_postgres_location(bank_file.string())) return open_bank(bank_file.string())->contents();
  if (fs::exists(bank_file) && ckpt::NpzFile::open(bank_file).contains("momentum")) return read_bank_file(bank_file);
  BankContents contents;
  contents.bank = load_bank(bank_file, momentum);
  for (auto id : contents.bank.class_ids()) contents.counts[id] = 1;
  return contents;
}

std::vector<std::int64_t> bank_class_ids(const fs::path& bank_file) {
  if (is_postgres_location(bank_file.string())) return open_bank(bank_file.string())->snapshot().class_ids();
  if (!fs::exists(bank_file))
    throw InputError(bank_file.string(), "no memory bank here (convert a training checkpoint with a memory_bank, or pass --bank)");
  const auto npz = ckpt::NpzFile::open(bank_file);
  std::vector<std::int64_t> ids;
  for (const auto& name : npz.names())
    if (const auto id = class_id_of_member(name); id && *id != 0) ids.push_back(*id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

nlohmann::json draw_bank_plot(const FewshotSettings& settings, const fs::path& model_dir) {
  const fs::path bank = bank_file_for(settings, model_dir);
  const auto plot = write_prototype_plot(settings.bank_plot, read_bank_contents(bank, 0.999));
  std::size_t examples = 0;
  for (const auto& p : plot.points) examples += p.is_prototype ? 0 : 1;
  return {{"file", settings.bank_plot},
          {"bank", display_location(bank.string())},
          {"prototypes", plot.points.size() - examples},
          {"examples", examples},
          {"explained_variance", plot.projection.explained_variance}};
}

std::string bank_plot_line(const nlohmann::json& plot) {
  return fmt::format("fewshot: PCA plot of {} ({} prototypes, {} examples) -> {}\n", plot.at("bank").get<std::string>(),
                     plot.at("prototypes").get<int>(), plot.at("examples").get<int>(), plot.at("file").get<std::string>());
}

}  // namespace medport::pipelines::fewshot
