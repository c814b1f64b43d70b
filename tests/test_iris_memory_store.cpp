// The persistent IRIS memory bank: EMA against the fixture, concurrent writers (processes and
// threads) losing no update, readers never seeing a torn file, and damaged files refused.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <fstream>
#include <thread>

#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/pipelines/convert.hpp"
#include "medport/pipelines/fewshot/memory_bank_store.hpp"
#include "medport/util/file_io.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
namespace fewshot = medport::pipelines::fewshot;
using medport::Tensor;

Tensor filled(medport::Shape shape, float value) {
  return Tensor::from_f32(shape, std::vector<float>(static_cast<std::size_t>(medport::shape_numel(shape)), value));
}

Tensor slice0(const Tensor& t, std::int64_t i) {
  const auto v = t.to_f32();
  medport::Shape s = t.shape();
  const std::size_t per = v.size() / static_cast<std::size_t>(s[0]);
  s[0] = 1;
  return Tensor::from_f32(s, std::span(v.data() + static_cast<std::size_t>(i) * per, per));
}

double max_abs_diff(const Tensor& got, const Tensor& want) {
  EXPECT_EQ(got.shape(), want.shape());
  const auto g = got.to_f32(), w = want.to_f32();
  if (g.size() != w.size()) return 1e30;
  double d = 0;
  for (std::size_t i = 0; i < g.size(); ++i) d = std::max(d, std::abs(double(g[i]) - double(w[i])));
  return d;
}

// T_n for T_0 = 0 and a constant new value 1, in the float32 arithmetic of MemoryBank:
// T <- float(a) T + float(1 - a). Depends only on n, so one lost update shows.
std::vector<float> ema_table(double a, int n) {
  std::vector<float> t{0.0f};
  const float keep = static_cast<float>(a), take = static_cast<float>(1.0 - a);
  for (int i = 0; i < n; ++i) t.push_back(keep * t.back() + take * 1.0f);
  return t;
}

constexpr double kMomentum = 0.99;
constexpr int kWriters = 4;
constexpr int kUpdatesEach = 25;
const medport::Shape kEntry{2, 3};

// A consistent read: every value equals T_(count-1) and the count never goes down.
void expect_consistent(const fewshot::BankContents& c, const std::vector<float>& table, std::int64_t& last_count) {
  const std::int64_t count = c.counts.at(1);
  ASSERT_GE(count, last_count);
  ASSERT_LE(count, static_cast<std::int64_t>(table.size()));
  last_count = count;
  for (float v : c.bank.get(1).to_f32()) ASSERT_EQ(v, table[static_cast<std::size_t>(count - 1)]) << "count " << count;
}

fs::path seeded_bank(const medport::testing::TempDir& dir) {
  const fs::path path = dir / "bank.npz";
  const auto store = fewshot::MemoryBankStore::open_or_create(path, kMomentum);
  store.update(filled({1, 2, 3}, 0.0f).reshaped({1, 2, 3}), {1});  // T_0 = 0, count 1
  return path;
}

void expect_final_state(const fs::path& path) {
  const auto table = ema_table(kMomentum, kWriters * kUpdatesEach);
  const auto c = fewshot::MemoryBankStore::open(path).contents();
  EXPECT_EQ(c.counts.at(1), 1 + kWriters * kUpdatesEach);
  for (float v : c.bank.get(1).to_f32()) EXPECT_EQ(v, table.back());
  // Closed form a^n T_0 + (1 - a^n) E with T_0 = 0, E = 1, as a sanity check of the table.
  EXPECT_NEAR(table.back(), 1.0 - std::pow(kMomentum, kWriters * kUpdatesEach), 1e-5);
  EXPECT_NE(table[table.size() - 2], table.back());                  // a lost update would be visible
  ASSERT_EQ(c.examples.size(), static_cast<std::size_t>(kWriters));  // one per source, replaced
  for (const auto& e : c.examples) EXPECT_EQ(e.embedding.to_f32(), std::vector<float>(6, 1.0f));
}

TEST(IrisMemoryStore, ConcurrentProcessesLoseNoUpdate) {
  medport::testing::TempDir dir;
  const fs::path path = seeded_bank(dir);
  std::vector<pid_t> children;
  for (int w = 0; w < kWriters; ++w) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int rc = 0;
      try {
        const auto store = fewshot::MemoryBankStore::open(path);
        for (int i = 0; i < kUpdatesEach; ++i)
          store.update(filled({1, 1, 2, 3}, 1.0f), {1}, "process" + std::to_string(w));
      } catch (...) {
        rc = 1;
      }
      ::_exit(rc);
    }
    children.push_back(pid);
  }
  // Read while they write: every snapshot must be one of the consistent states.
  const auto table = ema_table(kMomentum, kWriters * kUpdatesEach);
  std::int64_t last = 1;
  const auto store = fewshot::MemoryBankStore::open(path);
  for (int i = 0; i < 200 && last < 1 + kWriters * kUpdatesEach; ++i) expect_consistent(store.contents(), table, last);
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  expect_final_state(path);
}

TEST(IrisMemoryStore, ConcurrentThreadsLoseNoUpdate) {
  medport::testing::TempDir dir;
  const fs::path path = seeded_bank(dir);
  std::atomic<int> failures{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w)
    writers.emplace_back([&, w] {
      try {
        const auto store = fewshot::MemoryBankStore::open_or_create(path, kMomentum);
        for (int i = 0; i < kUpdatesEach; ++i)
          store.update(filled({2, 3}, 1.0f).reshaped({1, 2, 3}), {1}, "thread" + std::to_string(w));
      } catch (...) {
        ++failures;
      }
    });
  const auto table = ema_table(kMomentum, kWriters * kUpdatesEach);
  std::int64_t last = 1;
  const auto store = fewshot::MemoryBankStore::open(path);
  for (int i = 0; i < 200 && last < 1 + kWriters * kUpdatesEach; ++i) expect_consistent(store.contents(), table, last);
  for (auto& t : writers) t.join();
  EXPECT_EQ(failures.load(), 0);
  expect_final_state(path);
}

TEST(IrisMemoryStore, FixtureEpisodesMatchTheReferenceEma) {
  MEDPORT_FIXTURE_OR_SKIP(reference, "iris/iris_base8/reference.npz");
  const auto ref = medport::ckpt::NpzFile::open(reference);
  medport::testing::TempDir dir;
  const auto store = fewshot::MemoryBankStore::open_or_create(dir / "bank.npz", 0.999);
  store.update(ref.read("task_embeddings"), {1, 2}, "support");
  store.update(slice0(ref.read("ensemble_embeddings"), 0), {1}, "ensemble0");
  store.update(slice0(ref.read("ensemble_embeddings"), 1), {0}, "ensemble1");  // background only: no change
  const auto c = fewshot::MemoryBankStore::open(dir / "bank.npz").contents();
  EXPECT_DOUBLE_EQ(c.bank.momentum(), 0.999);
  EXPECT_EQ(c.bank.class_ids(), (std::vector<std::int64_t>{1, 2}));
  EXPECT_LT(max_abs_diff(c.bank.get(1), ref.read("memory_class1")), 1e-6);
  EXPECT_LT(max_abs_diff(c.bank.get(2), ref.read("memory_class2")), 1e-6);
  EXPECT_EQ(c.counts, (std::map<std::int64_t, std::int64_t>{{1, 2}, {2, 1}}));
  ASSERT_EQ(c.examples.size(), 3u);  // support/1, support/2, ensemble0/1
  EXPECT_EQ(c.examples[2].source, "ensemble0");
  EXPECT_EQ(c.examples[2].class_id, 1);
  EXPECT_EQ(max_abs_diff(c.examples[2].embedding, slice0(ref.read("ensemble_embeddings"), 0).reshaped({9, 128})), 0.0);
  // snapshot() is the same bank.
  EXPECT_EQ(store.snapshot().get(1).to_f32(), c.bank.get(1).to_f32());
}

TEST(IrisMemoryStore, ShapeMismatchNamesTheFile) {
  medport::testing::TempDir dir;
  const fs::path path = dir / "bank.npz";
  const auto store = fewshot::MemoryBankStore::open_or_create(path);
  store.update(filled({1, 1, 9, 16}, 0.5f), {3});
  try {
    store.update(filled({1, 1, 8, 16}, 0.5f), {3});
    FAIL() << "a (8,16) entry was accepted into a (9,16) bank";
  } catch (const medport::InputError& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
  }
  EXPECT_THROW(store.update(filled({1, 2, 9, 16}, 0.5f), {3}), medport::InputError);  // 2 classes, 1 id
  EXPECT_EQ(store.contents().counts.at(3), 1);                                        // failed updates changed nothing
}

TEST(IrisMemoryStore, MomentumIsPersistedAndChecked) {
  medport::testing::TempDir dir;
  const fs::path path = dir / "bank.npz";
  fewshot::MemoryBankStore::open_or_create(path, 0.5).update(filled({1, 1, 1, 2}, 2.0f), {4});
  const auto store = fewshot::MemoryBankStore::open(path);
  EXPECT_DOUBLE_EQ(store.momentum(), 0.5);
  store.update(Tensor::from_f32({1, 1, 1, 2}, std::vector<float>{0.f, 8.f}), {4});
  EXPECT_EQ(store.snapshot().get(4).to_f32(), (std::vector<float>{1.f, 5.f}));  // 0.5*2+0.5*0, 0.5*2+0.5*8
  EXPECT_THROW(fewshot::MemoryBankStore::open_or_create(path, 0.9), medport::InputError);
  EXPECT_THROW(fewshot::MemoryBankStore::open_or_create(dir / "other.npz", 1.0), medport::UsageError);
  EXPECT_THROW(fewshot::MemoryBankStore::open(dir / "missing.npz"), medport::InputError);
}

void expect_refused(const fs::path& path, const std::string& why) {
  SCOPED_TRACE(why);
  try {
    fewshot::MemoryBankStore::open(path);
    ADD_FAILURE() << "accepted";
  } catch (const medport::InputError& e) {
    EXPECT_NE(std::string(e.what()).find(path.filename().string()), std::string::npos) << e.what();
  }
  EXPECT_THROW(fewshot::read_bank_file(path), medport::InputError);
}

TEST(IrisMemoryStore, DamagedFilesAreInputErrors) {
  medport::testing::TempDir dir;
  const fs::path good = dir / "good.npz";
  const auto store = fewshot::MemoryBankStore::open_or_create(good);
  store.update(filled({1, 2, 3, 4}, 0.25f), {1, 2}, "case");
  const auto bytes = medport::read_file(good);

  const fs::path truncated = dir / "truncated.npz";
  medport::write_file_atomic(truncated, std::span(bytes.data(), bytes.size() / 2));
  expect_refused(truncated, "truncated");
  const fs::path garbage = dir / "garbage.npz";
  medport::write_file_atomic(garbage, std::string(bytes.size(), 'x'));
  expect_refused(garbage, "garbage");
  auto flipped = bytes;
  for (std::size_t i = bytes.size() / 3; i < bytes.size() / 3 + 64; ++i) flipped[i] = std::byte{0xff};
  const fs::path corrupt = dir / "corrupt.npz";
  medport::write_file_atomic(corrupt, flipped);
  expect_refused(corrupt, "overwritten bytes");
  // A truncated bank also stops updates rather than being silently replaced.
  const auto damaged = fewshot::MemoryBankStore::open_or_create(dir / "later.npz");
  medport::write_file_atomic(dir / "later.npz", std::span(bytes.data(), bytes.size() / 2));
  EXPECT_THROW(damaged.update(filled({1, 2, 3, 4}, 0.25f), {1, 2}), medport::InputError);
  EXPECT_THROW(damaged.snapshot(), medport::InputError);

  auto write = [&](const std::string& name, const medport::ckpt::NamedTensors& members) {
    medport::ckpt::write_npz(dir / name, members);
    return dir / name;
  };
  const double a = 0.999;
  const Tensor momentum = Tensor::from_bytes(medport::DType::F64, {1}, std::as_bytes(std::span(&a, 1)));
  const std::int64_t one = 1;
  const Tensor count = Tensor::from_bytes(medport::DType::I64, {1}, std::as_bytes(std::span(&one, 1)));
  expect_refused(write("no_momentum.npz", {{"class_1", filled({3, 4}, 1.f)}, {"count_1", count}}), "no momentum");
  expect_refused(write("no_count.npz", {{"momentum", momentum}, {"class_1", filled({3, 4}, 1.f)}}), "no count");
  expect_refused(
      write("background.npz", {{"momentum", momentum}, {"class_0", filled({3, 4}, 1.f)}, {"count_0", count}}),
      "class 0");
  expect_refused(write("ragged.npz", {{"momentum", momentum},
                                      {"class_1", filled({3, 4}, 1.f)},
                                      {"count_1", count},
                                      {"class_2", filled({3, 5}, 1.f)},
                                      {"count_2", count}}),
                 "two entry shapes");
  expect_refused(write("extra.npz", {{"momentum", momentum}, {"weights", filled({3}, 1.f)}}), "unknown member");
  expect_refused(write("nan.npz", {{"momentum", momentum}, {"class_1", filled({3, 4}, NAN)}, {"count_1", count}}),
                 "NaN");
  expect_refused(write("bad_momentum.npz", {{"momentum", filled({1}, 0.5f)}}), "float32 momentum");
}

TEST(IrisMemoryStore, SeededFromAConvertedTrainingCheckpoint) {
  MEDPORT_FIXTURE_OR_SKIP(dir, "iris/iris_base8");
  medport::testing::TempDir tmp;
  medport::pipelines::ConvertRequest request;
  request.source = dir / "iris_iter_000100.pt";
  request.output = tmp / "model";
  medport::pipelines::convert(request);
  const auto written = medport::ckpt::read_npz(tmp / "model" / "memory_bank.npz");
  ASSERT_FALSE(written.empty());

  const auto store = fewshot::MemoryBankStore::from_checkpoint_bank(tmp / "model", tmp / "bank.npz");
  EXPECT_DOUBLE_EQ(
      store.momentum(),
      medport::testing::read_json(tmp / "model" / "medport.json")["iris"]["memory_bank"]["momentum"].get<double>());
  const auto c = store.contents();
  EXPECT_EQ(c.bank.class_ids().size(), written.size());
  for (const auto& [name, tensor] : written) {
    const std::int64_t id = std::stoll(name.substr(6));
    EXPECT_EQ(c.bank.get(id).to_f32(), tensor.to_f32()) << name;
    EXPECT_EQ(c.counts.at(id), 1);
  }
  EXPECT_THROW(fewshot::MemoryBankStore::from_checkpoint_bank(tmp / "model", tmp / "bank.npz"), medport::UsageError);
  // Straight from the npz, with another momentum; then it keeps learning.
  const auto direct =
      fewshot::MemoryBankStore::from_checkpoint_bank(tmp / "model" / "memory_bank.npz", tmp / "b2.npz", 0.5);
  EXPECT_DOUBLE_EQ(fewshot::MemoryBankStore::open(tmp / "b2.npz").momentum(), 0.5);
  const std::int64_t first = std::stoll(written[0].first.substr(6));
  const Tensor zeros = filled(written[0].second.shape(), 0.0f);
  direct.update(zeros.reshaped({1, zeros.shape()[0], zeros.shape()[1]}), {first});
  const auto halved = direct.snapshot().get(first).to_f32();
  const auto original = written[0].second.to_f32();
  for (std::size_t i = 0; i < original.size(); ++i) EXPECT_EQ(halved[i], 0.5f * original[i]);

  // open_or_seed: several threads race to seed one bank and each add an update; it is seeded once.
  std::vector<std::thread> racers;
  std::atomic<int> failures{0};
  const Tensor episode = zeros.reshaped({1, zeros.shape()[0], zeros.shape()[1]});
  for (int i = 0; i < 3; ++i)
    racers.emplace_back([&] {
      try {
        fewshot::MemoryBankStore::open_or_seed(tmp / "raced.npz", tmp / "model").update(episode, {first});
      } catch (...) {
        ++failures;
      }
    });
  for (auto& t : racers) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(fewshot::MemoryBankStore::open(tmp / "raced.npz").contents().counts.at(first), 1 + 3);
  EXPECT_THROW(fewshot::MemoryBankStore::open_or_seed(tmp / "raced.npz", tmp / "model", 0.5), medport::InputError);

  // A converted plain state dict has no bank.
  request.source = dir / "final_model.pt";
  request.options.config = dir / "config.json";
  request.output = tmp / "plain";
  medport::pipelines::convert(request);
  EXPECT_THROW(fewshot::MemoryBankStore::from_checkpoint_bank(tmp / "plain", tmp / "b3.npz"), medport::InputError);
  EXPECT_FALSE(fs::exists(tmp / "b3.npz"));
  EXPECT_THROW(fewshot::MemoryBankStore::open_or_seed(tmp / "b3.npz", tmp / "plain"), medport::InputError);
  EXPECT_FALSE(fs::exists(tmp / "b3.npz"));
}

}  // namespace
