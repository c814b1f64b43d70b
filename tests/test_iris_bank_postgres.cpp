// The few-shot memory bank in PostgreSQL: a server of its own (initdb + pg_ctl on a unix socket
// in a temp folder; the tests skip when PostgreSQL is not installed), the file store's EMA, and
// two or more processes updating one bank at once losing no update.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>

#include "medport/error.hpp"
#include "medport/pipelines/fewshot/bank_backend.hpp"
#include "postgres_server.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
namespace fewshot = medport::pipelines::fewshot;
using medport::Tensor;
using medport::testing::run_program;

Tensor filled(medport::Shape shape, float value) {
  return Tensor::from_f32(shape, std::vector<float>(static_cast<std::size_t>(medport::shape_numel(shape)), value));
}

std::vector<float> ema_table(double a, int n) {  // as the file store's test: T_0 = 0, new value 1
  std::vector<float> t{0.0f};
  const float keep = static_cast<float>(a), take = static_cast<float>(1.0 - a);
  for (int i = 0; i < n; ++i) t.push_back(keep * t.back() + take * 1.0f);
  return t;
}

constexpr double kMomentum = 0.99;

TEST(IrisBankPostgres, CreateUpdateAndReadBack) {
  POSTGRES_OR_SKIP();
  const auto url = medport::testing::postgres_server().url("basic");
  EXPECT_TRUE(fewshot::is_postgres_location(url));
  const auto bank = fewshot::open_or_create_bank(url, kMomentum);
  EXPECT_EQ(bank->momentum(), kMomentum);
  bank->update(filled({1, 2, 2, 3}, 0.5f), {1, 2}, "case1");
  bank->update(filled({1, 2, 2, 3}, 1.0f), {1, 2}, "case2");
  const auto c = fewshot::open_bank(url)->contents();
  EXPECT_EQ(c.counts.at(1), 2);
  EXPECT_EQ(c.counts.at(2), 2);
  EXPECT_EQ(c.examples.size(), 4u);
  const float t1 = 0.5f, t2 = static_cast<float>(kMomentum) * t1 + static_cast<float>(1.0 - kMomentum) * 1.0f;
  for (float v : c.bank.get(1).to_f32()) EXPECT_EQ(v, t2);
  EXPECT_THROW(fewshot::open_or_create_bank(url, 0.5), medport::InputError);  // other momentum
  EXPECT_THROW(fewshot::open_bank(medport::testing::postgres_server().url("missing")), medport::InputError);
  EXPECT_THROW(bank->update(filled({1, 1, 5, 5}, 1.0f), {1}), medport::InputError);  // shape mismatch
}

TEST(IrisBankPostgres, ConcurrentProcessesLoseNoUpdate) {
  POSTGRES_OR_SKIP();
  constexpr int kWriters = 4, kUpdatesEach = 25;
  const auto url = medport::testing::postgres_server().url("shared");
  fewshot::open_or_create_bank(url, kMomentum)->update(filled({1, 2, 3}, 0.0f), {1});  // T_0 = 0, count 1
  std::vector<pid_t> children;
  for (int w = 0; w < kWriters; ++w) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {  // each process has its own connection
      int rc = 0;
      try {
        const auto bank = fewshot::open_bank(url);
        for (int i = 0; i < kUpdatesEach; ++i) bank->update(filled({1, 1, 2, 3}, 1.0f), {1}, "process" + std::to_string(w));
      } catch (const std::exception& e) {
        std::fprintf(stderr, "writer %d: %s\n", w, e.what());
        rc = 1;
      }
      ::_exit(rc);
    }
    children.push_back(pid);
  }
  const auto table = ema_table(kMomentum, kWriters * kUpdatesEach);
  const auto reader = fewshot::open_bank(url);
  std::int64_t last = 1;
  for (int i = 0; i < 100 && last < 1 + kWriters * kUpdatesEach; ++i) {  // every read is a committed state
    const auto c = reader->contents();
    const std::int64_t count = c.counts.at(1);
    ASSERT_GE(count, last);
    last = count;
    for (float v : c.bank.get(1).to_f32()) ASSERT_EQ(v, table[static_cast<std::size_t>(count - 1)]);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  const auto c = reader->contents();
  EXPECT_EQ(c.counts.at(1), 1 + kWriters * kUpdatesEach);
  for (float v : c.bank.get(1).to_f32()) EXPECT_EQ(v, table.back());
  EXPECT_NE(table[table.size() - 2], table.back());
  EXPECT_EQ(c.examples.size(), static_cast<std::size_t>(kWriters));
}

TEST(IrisBankPostgres, UnreachableServerIsAnEngineError) {
  POSTGRES_OR_SKIP();
  EXPECT_THROW(fewshot::open_bank("postgresql:///postgres?host=/nonexistent&port=1&user=medport&connect_timeout=2#x"),
               medport::EngineError);
  EXPECT_THROW(fewshot::open_bank(medport::testing::postgres_server().url("")), medport::UsageError);
}

}  // namespace
