#include "medport/pipelines/fewshot/memory_bank_postgres.hpp"

#include <libpq-fe.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <random>

#include "medport/error.hpp"
#include "medport/util/file_io.hpp"

namespace medport::pipelines::fewshot {
namespace {

namespace fs = std::filesystem;

constexpr const char* kCreateTable =
    "CREATE TABLE IF NOT EXISTS medport_memory_banks ("
    " name text PRIMARY KEY, momentum double precision NOT NULL, contents bytea NOT NULL,"
    " version bigint NOT NULL DEFAULT 1, updated_at timestamptz NOT NULL DEFAULT now())";
constexpr long long kSchemaLockKey = 0x6d656470;  // "medp": serializes concurrent CREATE TABLE

// A private scratch folder for the bank file the file-store code works on.
class Scratch {
 public:
  Scratch() {
    std::random_device rd;
    for (int attempt = 0; attempt < 16; ++attempt) {
      path_ = fs::temp_directory_path() / ("medport-bank-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
      std::error_code ec;
      if (fs::create_directory(path_, ec)) return;
    }
    throw EngineError("filesystem", "", "cannot create a scratch folder under " + fs::temp_directory_path().string());
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  fs::path bank() const { return path_ / "bank.npz"; }

 private:
  fs::path path_;
};

std::vector<std::byte> file_bytes(const fs::path& p) { return read_file(p, std::size_t{4} << 30); }

void put_bytes(const fs::path& p, const std::string& bytes) { write_file_atomic(p, std::string_view(bytes)); }

// URI without the "#name" fragment, and the name.
std::pair<std::string, std::string> split_location(const std::string& url) {
  const auto hash = url.find('#');
  std::string name = hash == std::string::npos ? "default" : url.substr(hash + 1);
  if (name.empty() || name.size() > 200) throw UsageError("memory bank URL '" + url + "': the #NAME must be 1..200 characters");
  return {url.substr(0, hash), name};
}

}  // namespace

// postgresql://user:secret@host/db -> postgresql://user:***@host/db
std::string display_location(const std::string& url) {
  const auto scheme = url.find("://");
  const auto at = url.find('@');
  if (scheme == std::string::npos || at == std::string::npos) return url;
  const auto colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

namespace {

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

}  // namespace

struct PostgresBankStore::Connection {
  PGconn* conn = nullptr;
  std::mutex mutex;  // one statement stream per connection
  std::string shown;

  ~Connection() {
    if (conn) PQfinish(conn);
  }

  [[noreturn]] void fail(const std::string& what) const {
    std::string message = conn ? PQerrorMessage(conn) : "no connection";
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    for (auto& c : message)
      if (c == '\n') c = ' ';
    throw EngineError("postgresql", "", shown + ": " + what + ": " + message);
  }

  void connect(const std::string& conninfo) {
    if (conn && PQstatus(conn) == CONNECTION_OK) return;
    if (conn) PQfinish(conn);
    conn = PQconnectdb(conninfo.c_str());
    if (PQstatus(conn) != CONNECTION_OK) fail("cannot connect");
    PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);  // "already exists, skipping"
  }

  Result exec(const std::string& sql, const std::vector<std::string>& params = {}, const std::vector<int>& binary = {},
              bool binary_result = false, ExecStatusType want = PGRES_COMMAND_OK) {
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    for (std::size_t i = 0; i < params.size(); ++i) {
      values.push_back(params[i].data());
      lengths.push_back(static_cast<int>(params[i].size()));
      formats.push_back(i < binary.size() ? binary[i] : 0);
    }
    Result r(PQexecParams(conn, sql.c_str(), static_cast<int>(params.size()), nullptr, values.data(), lengths.data(),
                          formats.data(), binary_result ? 1 : 0));
    if (!r || PQresultStatus(r.get()) != want) fail(sql.substr(0, sql.find(' ', 12)));
    return r;
  }
  Result query(const std::string& sql, const std::vector<std::string>& params = {}, bool binary_result = true) {
    return exec(sql, params, {}, binary_result, PGRES_TUPLES_OK);
  }

  // Runs `body` inside BEGIN ... COMMIT (ROLLBACK when it throws).
  template <class Body>
  void transaction(Body body) {
    exec("BEGIN");
    try {
      body();
      exec("COMMIT");
    } catch (...) {
      PQclear(PQexec(conn, "ROLLBACK"));
      throw;
    }
  }

  void ensure_table() {
    transaction([&] {
      query("SELECT pg_advisory_xact_lock(" + std::to_string(kSchemaLockKey) + ")", {}, false);
      exec(kCreateTable);
    });
  }
};

namespace {

std::string binary_bytes(const PGresult* r, int row, int col) {
  return std::string(PQgetvalue(r, row, col), static_cast<std::size_t>(PQgetlength(r, row, col)));
}

std::string as_string(const std::vector<std::byte>& bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

}  // namespace

PostgresBankStore::PostgresBankStore(std::string url, std::string name)
    : conninfo_(std::move(url)), name_(std::move(name)), connection_(std::make_unique<Connection>()) {
  shown_ = display_location(conninfo_) + "#" + name_;
  connection_->shown = shown_;
  std::lock_guard lock(connection_->mutex);
  connection_->connect(conninfo_);
  connection_->ensure_table();
}

PostgresBankStore::~PostgresBankStore() = default;

std::string PostgresBankStore::location() const { return shown_; }

std::unique_ptr<PostgresBankStore> PostgresBankStore::open_or_create(const std::string& url, double momentum) {
  const auto [conninfo, name] = split_location(url);
  std::unique_ptr<PostgresBankStore> store(new PostgresBankStore(conninfo, name));
  Scratch scratch;
  MemoryBankStore::open_or_create(scratch.bank(), momentum);  // an empty bank, validated format
  const std::string empty = as_string(file_bytes(scratch.bank()));
  {
    std::lock_guard lock(store->connection_->mutex);
    store->connection_->exec(
        "INSERT INTO medport_memory_banks (name, momentum, contents) VALUES ($1, $2::double precision, $3) "
        "ON CONFLICT (name) DO NOTHING",
        {name, std::to_string(momentum), empty}, {0, 0, 1});
  }
  // `momentum` printed with std::to_string may round; the stored bank file holds the exact value.
  auto opened = open(url);
  if (opened->momentum() != momentum)
    throw InputError(opened->location(), "the bank was created with momentum " + std::to_string(opened->momentum()) +
                                             ", not " + std::to_string(momentum));
  return opened;
}

std::unique_ptr<PostgresBankStore> PostgresBankStore::open(const std::string& url) {
  const auto [conninfo, name] = split_location(url);
  std::unique_ptr<PostgresBankStore> store(new PostgresBankStore(conninfo, name));
  store->momentum_ = store->contents().bank.momentum();
  return store;
}

std::unique_ptr<PostgresBankStore> PostgresBankStore::open_or_seed(const std::string& url, const fs::path& source,
                                                                   std::optional<double> momentum) {
  const auto [conninfo, name] = split_location(url);
  std::unique_ptr<PostgresBankStore> store(new PostgresBankStore(conninfo, name));
  Scratch scratch;
  const auto seeded = MemoryBankStore::from_checkpoint_bank(source, scratch.bank(), momentum);
  const std::string bytes = as_string(file_bytes(scratch.bank()));
  {
    std::lock_guard lock(store->connection_->mutex);
    store->connection_->exec(
        "INSERT INTO medport_memory_banks (name, momentum, contents) VALUES ($1, $2::double precision, $3) "
        "ON CONFLICT (name) DO NOTHING",
        {name, std::to_string(seeded.momentum()), bytes}, {0, 0, 1});
  }
  auto opened = open(url);
  if (momentum && opened->momentum() != *momentum)
    throw InputError(opened->location(), "the bank was created with momentum " + std::to_string(opened->momentum()) +
                                             ", not " + std::to_string(*momentum));
  return opened;
}

BankContents PostgresBankStore::contents() const {
  std::string bytes;
  {
    std::lock_guard lock(connection_->mutex);
    connection_->connect(conninfo_);
    const Result r = connection_->query("SELECT contents FROM medport_memory_banks WHERE name = $1", {name_});
    if (PQntuples(r.get()) != 1) throw InputError(shown_, "no such memory bank (create it with --update-bank first)");
    bytes = binary_bytes(r.get(), 0, 0);
  }
  Scratch scratch;
  put_bytes(scratch.bank(), bytes);
  try {
    return read_bank_file(scratch.bank());
  } catch (const InputError& e) {
    throw InputError(shown_, std::string("stored bank is damaged: ") + e.what());
  }
}

namespace {

// One locked read-modify-write: `apply` changes the bank file the file store works on.
template <class Apply>
void locked_update(PostgresBankStore::Connection& c, const std::string& conninfo, const std::string& name,
                   const std::string& shown, Apply apply) {
  std::lock_guard lock(c.mutex);
  c.connect(conninfo);
  c.transaction([&] {
    const Result r = c.query("SELECT contents FROM medport_memory_banks WHERE name = $1 FOR UPDATE", {name});
    if (PQntuples(r.get()) != 1) throw InputError(shown, "no such memory bank");
    Scratch scratch;
    put_bytes(scratch.bank(), binary_bytes(r.get(), 0, 0));
    MemoryBankStore store = [&] {
      try {
        return MemoryBankStore::open(scratch.bank());
      } catch (const InputError& e) {
        throw InputError(shown, std::string("stored bank is damaged: ") + e.what());
      }
    }();
    try {
      apply(store);
    } catch (const InputError& e) {
      throw InputError(shown, e.what());
    }
    c.exec("UPDATE medport_memory_banks SET contents = $2, version = version + 1, updated_at = now() WHERE name = $1",
           {name, as_string(file_bytes(scratch.bank()))}, {0, 1});
  });
}

}  // namespace

void PostgresBankStore::update(const Tensor& embeddings, const std::vector<std::int64_t>& class_ids,
                               const std::string& source) const {
  locked_update(*connection_, conninfo_, name_, shown_,
                [&](const MemoryBankStore& store) { store.update(embeddings, class_ids, source); });
}

Tensor PostgresBankStore::update_from_supports(const IrisModel& model, const Tensor& images, const Tensor& masks,
                                               const std::vector<std::int64_t>& class_ids, const std::string& source) const {
  // Encoding needs no lock: it runs before the transaction, the stored rows are added in it.
  if (images.ndim() != 5 || masks.ndim() != 5 || images.shape()[0] != masks.shape()[0] || images.shape()[0] < 1 ||
      masks.shape()[1] != static_cast<std::int64_t>(class_ids.size()))
    throw InputError("memory bank supports", "expected N >= 1 images (N,1,D,H,W) and masks (N,K,D,H,W) for " +
                                                 std::to_string(class_ids.size()) + " class ids");
  const std::vector<Tensor> rows = encode_each_support(model, images, masks);
  locked_update(*connection_, conninfo_, name_, shown_, [&](const MemoryBankStore& store) {
    for (std::size_t i = 0; i < rows.size(); ++i)  // as MemoryBankStore::update_from_supports names them
      store.update(rows[i], class_ids, source.empty() || rows.size() == 1 ? source : source + "#" + std::to_string(i));
  });
  return stack_rows(rows);
}

}  // namespace medport::pipelines::fewshot
