#include "medport/pipelines/fewshot/bank_backend.hpp"

#include "medport/pipelines/fewshot/memory_bank_postgres.hpp"

namespace medport::pipelines::fewshot {
namespace {

// The .npz file store behind the backend interface.
class FileBank final : public MemoryBankBackend {
 public:
  explicit FileBank(MemoryBankStore store) : store_(std::move(store)) {}
  std::string location() const override { return store_.path().string(); }
  double momentum() const override { return store_.momentum(); }
  void update(const Tensor& embeddings, const std::vector<std::int64_t>& class_ids,
              const std::string& source) const override {
    store_.update(embeddings, class_ids, source);
  }
  Tensor update_from_supports(const IrisModel& model, const Tensor& images, const Tensor& masks,
                              const std::vector<std::int64_t>& class_ids, const std::string& source) const override {
    return store_.update_from_supports(model, images, masks, class_ids, source);
  }
  BankContents contents() const override { return store_.contents(); }

 private:
  MemoryBankStore store_;
};

}  // namespace

bool is_postgres_location(const std::string& location) {
  return location.rfind("postgresql://", 0) == 0 || location.rfind("postgres://", 0) == 0;
}

std::unique_ptr<MemoryBankBackend> open_or_create_bank(const std::string& location, double momentum) {
  if (is_postgres_location(location)) return PostgresBankStore::open_or_create(location, momentum);
  return std::make_unique<FileBank>(MemoryBankStore::open_or_create(location, momentum));
}

std::unique_ptr<MemoryBankBackend> open_bank(const std::string& location) {
  if (is_postgres_location(location)) return PostgresBankStore::open(location);
  return std::make_unique<FileBank>(MemoryBankStore::open(location));
}

std::unique_ptr<MemoryBankBackend> open_or_seed_bank(const std::string& location,
                                                     const std::filesystem::path& checkpoint_source,
                                                     std::optional<double> momentum) {
  if (is_postgres_location(location)) return PostgresBankStore::open_or_seed(location, checkpoint_source, momentum);
  return std::make_unique<FileBank>(MemoryBankStore::open_or_seed(location, checkpoint_source, momentum));
}

}  // namespace medport::pipelines::fewshot
