#include "medport/pipelines/fewshot/memory_bank_store.hpp"

#include <algorithm>
#include <fstream>

#include <nlohmann/json.hpp>

#include "bank_file_lock.hpp"
#include "fewshot_rows.hpp"
#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/models/sidecar.hpp"
#include "memory_bank_file.hpp"

namespace medport::pipelines::fewshot {
namespace {

using detail::BankFileLock;
namespace fs = std::filesystem;

void check_momentum(double momentum) {
  if (!(momentum >= 0.0 && momentum < 1.0)) throw UsageError("memory bank momentum must lie in [0, 1)");
}

// Adds one episode to `contents`: the EMA through MemoryBank, counts, examples.
void add_episode(BankContents& contents, const Tensor& embeddings, const std::vector<std::int64_t>& class_ids,
                 const std::string& source) {
  contents.bank.update_episode(embeddings, class_ids);
  const Shape shape = detail::squeeze_batch(embeddings.shape());
  const auto values = embeddings.to_f32();
  const std::size_t per = static_cast<std::size_t>(shape[1] * shape[2]);
  for (std::size_t k = 0; k < class_ids.size(); ++k) {
    const std::int64_t id = class_ids[k];
    if (id == 0) continue;
    ++contents.counts[id];
    if (source.empty()) continue;
    Tensor embedding = Tensor::from_f32({shape[1], shape[2]}, std::span(values.data() + k * per, per));
    auto same = std::find_if(contents.examples.begin(), contents.examples.end(),
                             [&](const BankExample& e) { return e.class_id == id && e.source == source; });
    if (same != contents.examples.end())
      same->embedding = std::move(embedding);
    else
      contents.examples.push_back({id, source, std::move(embedding)});
  }
}

struct SidecarBank {
  fs::path npz;
  std::optional<double> momentum;
};

SidecarBank locate_checkpoint_bank(const fs::path& source) {
  if (!fs::is_directory(source)) return {source, std::nullopt};
  const fs::path sidecar = models::sidecar_path_for(source);
  if (!fs::exists(sidecar)) throw InputError(source.string(), "not a converted IRIS folder (no medport.json)");
  const auto bank = models::read_sidecar(source, "iris").family_section.value("memory_bank", nlohmann::ordered_json::object());
  if (!bank.is_object() || !bank.contains("file") || !bank["file"].is_string())
    throw InputError(sidecar.string(), "the converted checkpoint has no memory bank");
  SidecarBank out{source / bank["file"].get<std::string>(), std::nullopt};
  if (bank.contains("momentum") && bank["momentum"].is_number()) out.momentum = bank["momentum"].get<double>();
  return out;
}

}  // namespace

MemoryBankStore MemoryBankStore::open_or_create(const fs::path& path, double momentum) {
  check_momentum(momentum);
  {
    BankFileLock lock(path, BankFileLock::Mode::Exclusive);
    if (!fs::exists(path)) {
      detail::write_bank_file(path, BankContents{MemoryBank(momentum), {}, {}});
      return MemoryBankStore(path, momentum);
    }
  }
  MemoryBankStore store = open(path);
  if (store.momentum() != momentum)
    throw InputError(path.string(), "the bank was created with momentum " + std::to_string(store.momentum()) +
                                        ", not " + std::to_string(momentum));
  return store;
}

MemoryBankStore MemoryBankStore::open(const fs::path& path) {
  BankFileLock lock(path, BankFileLock::Mode::Shared);
  return MemoryBankStore(path, read_bank_file(path).bank.momentum());
}

namespace {

// The bank a converted checkpoint carries, in memory: one update per prototype.
BankContents checkpoint_bank_contents(const fs::path& source, std::optional<double> momentum) {
  const SidecarBank located = locate_checkpoint_bank(source);
  const double a = momentum.value_or(located.momentum.value_or(0.999));
  BankContents contents{MemoryBank(a), {}, {}};
  const ckpt::NpzFile npz = ckpt::NpzFile::open(located.npz);
  for (const auto& name : npz.names()) {
    const auto id = detail::id_after(name, "class_");
    if (!id) throw InputError(located.npz.string(), "unexpected member '" + name + "' (expected class_<id>)");
    if (*id == 0) continue;  // background is never stored
    const Tensor t = npz.read(name).to(DType::F32);
    if (t.ndim() != 2)
      throw InputError(located.npz.string(), name + " must be (m+1,C), got " + shape_string(t.shape()));
    try {
      add_episode(contents, t.reshaped(Shape{1, t.shape()[0], t.shape()[1]}), {*id}, {});
    } catch (const InputError& e) {
      throw InputError(located.npz.string(), e.what());
    }
  }
  if (contents.counts.empty()) throw InputError(located.npz.string(), "holds no class prototypes");
  return contents;
}

}  // namespace

MemoryBankStore MemoryBankStore::from_checkpoint_bank(const fs::path& source, const fs::path& dest,
                                                      std::optional<double> momentum) {
  const BankContents contents = checkpoint_bank_contents(source, momentum);
  BankFileLock lock(dest, BankFileLock::Mode::Exclusive);
  if (fs::exists(dest)) throw UsageError(dest.string() + " already exists; refusing to overwrite a memory bank");
  detail::write_bank_file(dest, contents);
  return MemoryBankStore(dest, contents.bank.momentum());
}

MemoryBankStore MemoryBankStore::open_or_seed(const fs::path& path, const fs::path& checkpoint_source,
                                              std::optional<double> momentum) {
  {
    BankFileLock lock(path, BankFileLock::Mode::Exclusive);
    if (!fs::exists(path)) {
      const BankContents contents = checkpoint_bank_contents(checkpoint_source, momentum);
      detail::write_bank_file(path, contents);
      return MemoryBankStore(path, contents.bank.momentum());
    }
  }
  MemoryBankStore store = open(path);
  if (momentum && store.momentum() != *momentum)
    throw InputError(path.string(), "the bank was created with momentum " + std::to_string(store.momentum()) +
                                        ", not " + std::to_string(*momentum));
  return store;
}

void MemoryBankStore::update(const Tensor& embeddings, const std::vector<std::int64_t>& class_ids,
                             const std::string& source) const {
  BankFileLock lock(path_, BankFileLock::Mode::Exclusive);
  BankContents contents = read_bank_file(path_);
  try {
    add_episode(contents, embeddings, class_ids, source);
  } catch (const InputError& e) {
    throw InputError(path_.string(), e.what());
  }
  detail::write_bank_file(path_, contents);
}

Tensor MemoryBankStore::update_from_supports(const IrisModel& model, const Tensor& images, const Tensor& masks,
                                             const std::vector<std::int64_t>& class_ids,
                                             const std::string& source) const {
  if (images.ndim() != 5 || masks.ndim() != 5 || images.shape()[0] != masks.shape()[0] || images.shape()[0] < 1 ||
      masks.shape()[1] != static_cast<std::int64_t>(class_ids.size()))
    throw InputError("memory bank supports", "expected N >= 1 images (N,1,D,H,W) and masks (N,K,D,H,W) for " +
                                                 std::to_string(class_ids.size()) + " class ids, got " +
                                                 shape_string(images.shape()) + " and " + shape_string(masks.shape()));
  const std::vector<Tensor> rows = encode_each_support(model, images, masks);
  BankFileLock lock(path_, BankFileLock::Mode::Exclusive);
  BankContents contents = read_bank_file(path_);
  try {
    for (std::size_t i = 0; i < rows.size(); ++i)
      add_episode(contents, rows[i], class_ids,
                  source.empty() || rows.size() == 1 ? source : source + "#" + std::to_string(i));
  } catch (const InputError& e) {
    throw InputError(path_.string(), e.what());
  }
  detail::write_bank_file(path_, contents);
  return stack_rows(rows);
}

MemoryBank MemoryBankStore::snapshot() const { return contents().bank; }

BankContents MemoryBankStore::contents() const {
  BankFileLock lock(path_, BankFileLock::Mode::Shared);
  return read_bank_file(path_);
}

}  // namespace medport::pipelines::fewshot
