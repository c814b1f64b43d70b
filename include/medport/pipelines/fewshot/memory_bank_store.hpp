#pragma once
// A persistent IRIS memory bank: one .npz file that several threads or processes may update.
//
//   using namespace medport::pipelines::fewshot;
//   auto store = MemoryBankStore::open_or_create("bank.npz", model.memory_momentum());
//   store.update(model.encode_support(image, masks), {0, 1, 2}, "case_017");  // class 0 skipped
//   MemoryBank bank = store.snapshot();
//   Tensor logits = model.segment(query, bank.retrieve({1, 2}));
//   // seeded from a converted training checkpoint (OUTDIR/memory_bank.npz or OUTDIR itself):
//   auto seeded = MemoryBankStore::from_checkpoint_bank("OUTDIR", "bank.npz");
//   auto either = MemoryBankStore::open_or_seed("bank.npz", "OUTDIR");  // seeds only when absent
//
// File members (all written by medport, all checked on reading):
//   momentum            float64 (1,)    EMA momentum a of T_k <- a T_k + (1 - a) T_new
//   class_<id>          float32 (M,C)   prototype of class id (never 0: background is not stored)
//   count_<id>          int64   (1,)    how many embeddings went into class_<id>
//   example_embeddings  float32 (E,M,C) individual embeddings kept for retrieval (optional)
//   example_class_ids   int64   (E,)
//   example_sources     uint8           UTF-8 JSON array of E source names
// Every change is a read-modify-write under an exclusive flock on "<path>.lock", written to a
// temporary file and renamed into place; reads take a shared lock. No update is lost and no
// reader ever sees a half-written file.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "medport/pipelines/fewshot/fewshot.hpp"
#include "medport/tensor.hpp"

namespace medport::pipelines::fewshot {

// One embedding kept as it was encoded (not averaged), with where it came from.
struct BankExample {
  std::int64_t class_id = 0;
  std::string source;
  Tensor embedding;  // (M,C) float32
};

// Everything one read of the file gives.
struct BankContents {
  MemoryBank bank;                              // prototypes, with the file's momentum
  std::map<std::int64_t, std::int64_t> counts;  // class id -> number of updates
  std::vector<BankExample> examples;            // in insertion order
};

class MemoryBankStore {
 public:
  // Opens `path`, creating an empty bank with `momentum` when absent. An existing bank made
  // with another momentum is refused (InputError naming the file).
  static MemoryBankStore open_or_create(const std::filesystem::path& path, double momentum = 0.999);
  // Opens an existing bank; its momentum is the stored one.
  static MemoryBankStore open(const std::filesystem::path& path);
  // A new bank at `dest` holding the prototypes of a converted training checkpoint: `source` is
  // OUTDIR/memory_bank.npz (`class_<id>` members) or the converted folder OUTDIR (momentum then
  // read from medport.json unless given). Each prototype counts as one update. `dest` must
  // not exist yet (UsageError).
  static MemoryBankStore from_checkpoint_bank(const std::filesystem::path& source, const std::filesystem::path& dest,
                                              std::optional<double> momentum = std::nullopt);
  // `path` when it exists (its momentum must equal `momentum` when given); otherwise a new bank
  // seeded as from_checkpoint_bank does. Decided under the lock: concurrent callers seed once.
  static MemoryBankStore open_or_seed(const std::filesystem::path& path, const std::filesystem::path& checkpoint_source,
                                      std::optional<double> momentum = std::nullopt);

  const std::filesystem::path& path() const { return path_; }
  double momentum() const { return momentum_; }

  // (K,M,C) or (1,K,M,C) embeddings, one class id per K; background (0) is skipped. A non-empty
  // `source` also keeps each class's embedding as an example (replacing an earlier example of
  // the same class and source). Shape mismatches are InputErrors naming the file.
  void update(const Tensor& embeddings, const std::vector<std::int64_t>& class_ids,
              const std::string& source = {}) const;
  // Encodes supports (N,1,D,H,W) with masks (N,K,D,H,W) one at a time and adds each; returns
  // the (N,K,M,C) embeddings. All N updates land in one locked write.
  Tensor update_from_supports(const IrisModel& model, const Tensor& images, const Tensor& masks,
                              const std::vector<std::int64_t>& class_ids, const std::string& source = {}) const;

  MemoryBank snapshot() const;
  BankContents contents() const;

 private:
  MemoryBankStore(std::filesystem::path path, double momentum) : path_(std::move(path)), momentum_(momentum) {}
  std::filesystem::path path_;
  double momentum_;
};

// Reads and validates a bank file without locking (tests, inspection). InputError on any defect.
BankContents read_bank_file(const std::filesystem::path& path);

}  // namespace medport::pipelines::fewshot
