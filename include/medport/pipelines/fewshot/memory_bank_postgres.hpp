#pragma once
// A memory bank in PostgreSQL, shared by every machine that reaches the database.
//
// Location: a libpq connection URI plus an optional "#NAME" fragment naming the bank (default
// "default"), e.g. postgresql://medport@db.example/clinic#echo or, on a unix socket,
// postgresql:///postgres?host=/run/postgresql#echo. Credentials follow libpq (password in the
// URI, PGPASSWORD, ~/.pgpass).
//
// Table (created when missing, under an advisory lock):
//   medport_memory_banks(name text primary key, momentum double precision, contents bytea,
//                        version bigint, updated_at timestamptz)
// `contents` holds exactly the bytes of the .npz bank file (memory_bank_store.hpp), so a bank
// can be exported to a file and back. An update runs in one transaction: SELECT ... FOR UPDATE
// (the row lock is the exclusive lock), the same EMA as the file store, UPDATE, COMMIT. Readers
// see the last committed version. A database that cannot be reached is an EngineError; a
// malformed URL a UsageError; a stored bank that fails validation an InputError naming it.
#include <memory>
#include <string>

#include "medport/pipelines/fewshot/bank_backend.hpp"

namespace medport::pipelines::fewshot {

class PostgresBankStore final : public MemoryBankBackend {
 public:
  static std::unique_ptr<PostgresBankStore> open_or_create(const std::string& url, double momentum);
  static std::unique_ptr<PostgresBankStore> open(const std::string& url);
  // Seeds from a converted checkpoint (as MemoryBankStore::from_checkpoint_bank) when the bank
  // does not exist yet; concurrent callers seed once.
  static std::unique_ptr<PostgresBankStore> open_or_seed(const std::string& url, const std::filesystem::path& source,
                                                         std::optional<double> momentum);
  ~PostgresBankStore() override;

  std::string location() const override;
  double momentum() const override { return momentum_; }
  void update(const Tensor& embeddings, const std::vector<std::int64_t>& class_ids,
              const std::string& source = {}) const override;
  Tensor update_from_supports(const IrisModel& model, const Tensor& images, const Tensor& masks,
                              const std::vector<std::int64_t>& class_ids, const std::string& source = {}) const override;
  BankContents contents() const override;

  struct Connection;  // memory_bank_postgres.cpp

 private:
  PostgresBankStore(std::string url, std::string name);
  std::string conninfo_, name_, shown_;
  double momentum_ = 0.999;
  std::unique_ptr<Connection> connection_;
};

}  // namespace medport::pipelines::fewshot
