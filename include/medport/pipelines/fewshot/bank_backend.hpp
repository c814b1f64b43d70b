#pragma once
// Where a persistent IRIS memory bank lives, behind one interface: a local .npz file
// (MemoryBankStore, memory_bank_store.hpp) or a PostgreSQL table shared between machines
// (memory_bank_postgres.hpp). Both make every update one exclusive read-modify-write applying
// the same EMA (MemoryBankStore's own code), so concurrent writers lose no update and readers
// never see half an update.
//
//   auto bank = fewshot::open_or_create_bank("postgresql://medport@db/clinic#echo", 0.999);
//   bank->update(embeddings, {1, 2}, "case_017");
//   fewshot::MemoryBank prototypes = bank->snapshot();
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "medport/pipelines/fewshot/memory_bank_store.hpp"

namespace medport::pipelines::fewshot {

class MemoryBankBackend {
 public:
  virtual ~MemoryBankBackend() = default;
  // The file path, or the URL without its password.
  virtual std::string location() const = 0;
  virtual double momentum() const = 0;
  // As MemoryBankStore::update / update_from_supports.
  virtual void update(const Tensor& embeddings, const std::vector<std::int64_t>& class_ids,
                      const std::string& source = {}) const = 0;
  virtual Tensor update_from_supports(const IrisModel& model, const Tensor& images, const Tensor& masks,
                                      const std::vector<std::int64_t>& class_ids, const std::string& source = {}) const = 0;
  virtual BankContents contents() const = 0;
  MemoryBank snapshot() const { return contents().bank; }
};

// True for "postgresql://..." and "postgres://..." locations.
bool is_postgres_location(const std::string& location);
// The location as reports and messages show it: a URL's password replaced by "***".
std::string display_location(const std::string& location);

// `location` is a file path or a PostgreSQL URL (memory_bank_postgres.hpp for its form).
std::unique_ptr<MemoryBankBackend> open_or_create_bank(const std::string& location, double momentum = 0.999);
std::unique_ptr<MemoryBankBackend> open_bank(const std::string& location);
std::unique_ptr<MemoryBankBackend> open_or_seed_bank(const std::string& location,
                                                     const std::filesystem::path& checkpoint_source,
                                                     std::optional<double> momentum = std::nullopt);

}  // namespace medport::pipelines::fewshot
