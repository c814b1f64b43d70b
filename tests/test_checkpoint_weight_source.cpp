// WeightSource: a lazy index over the memory-mapped file, tensors that are the file's own bytes,
// conversions only where needed, the leftover check, damage found up front or on use.
#include "medport/checkpoint/weight_source.hpp"

#include <sys/resource.h>
#include <sys/stat.h>

#include <cstring>
#include <fstream>

#include "medport/checkpoint/safetensors.hpp"
#include "medport/error.hpp"
#include "medport/util/file_io.hpp"
#include "test_support.hpp"
#include "torch_zip_builder.hpp"

namespace {

using namespace medport;
using medport::testing::TempDir;
using medport::testing::TorchZipBuilder;
namespace fs = std::filesystem;

std::string f32_bytes(std::vector<float> v) { return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4); }

long minor_faults() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  return r.ru_minflt;
}

// [begin, end) of the mapping of `path` in this process (from /proc/self/maps); {0, 0} if none.
std::pair<std::uintptr_t, std::uintptr_t> mapping_of(const fs::path& path) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  const std::string target = fs::canonical(path).string();
  std::pair<std::uintptr_t, std::uintptr_t> range{0, 0};
  while (std::getline(maps, line)) {
    if (line.size() < target.size() || line.compare(line.size() - target.size(), target.size(), target) != 0) continue;
    const auto dash = line.find('-'), space = line.find(' ');
    const auto begin = std::stoull(line.substr(0, dash), nullptr, 16), end = std::stoull(line.substr(dash + 1, space - dash - 1), nullptr, 16);
    if (range.first == 0 || begin < range.first) range.first = begin;
    range.second = std::max<std::uintptr_t>(range.second, end);
  }
  return range;
}

// encoder.w [2, 3] f32, encoder.b [3] f16 (values 0.5, -1, 2), decoder.w [3, 2] f32 transposed
// view of encoder.w's storage, step int64 scalar, all under "network_weights" with a DDP prefix.
fs::path small_checkpoint(const TempDir& dir, const std::string& name = "small.pt") {
  TorchZipBuilder t;
  t.storage("0", "FloatStorage", 6, f32_bytes({1, 2, 3, 4, 5, 6}));
  const std::uint16_t half[3] = {0x3800, 0xbc00, 0x4000};
  t.storage("1", "HalfStorage", 3, std::string(reinterpret_cast<const char*>(half), 6));
  const std::int64_t step = 7;
  t.storage("2", "LongStorage", 1, std::string(reinterpret_cast<const char*>(&step), 8));
  t.tensor({"network_weights.module.encoder.w", "0", {2, 3}, {}, 0});
  t.tensor({"network_weights.module.encoder.b", "1", {3}, {}, 0});
  t.tensor({"network_weights.module.decoder.w", "0", {3, 2}, {1, 3}, 0});
  t.tensor({"step", "2", {}, {}, 0});
  const fs::path path = dir / name;
  t.zip().write(path);
  return path;
}

TEST(WeightSource, IndexComesFromThePickleAlone) {
  TempDir dir;
  const auto source = ckpt::WeightSource::open(small_checkpoint(dir));
  EXPECT_EQ(source.format(), "torch-zip");
  ASSERT_EQ(source.index().size(), 4u);
  EXPECT_EQ(source.index()[0].name, "network_weights.module.encoder.w");
  const auto net = source.within("network_weights");
  ASSERT_EQ(net.index().size(), 3u);
  EXPECT_EQ(net.index()[0].name, "encoder.w");  // DDP prefix dropped
  EXPECT_EQ(net.info("encoder.b")->dtype, DType::F16);
  EXPECT_EQ(net.info("decoder.w")->shape, (Shape{3, 2}));
  EXPECT_TRUE(net.same_data("encoder.w", "encoder.w"));
  EXPECT_FALSE(net.same_data("encoder.w", "decoder.w"));  // same storage, another view
  EXPECT_EQ(net.parameter_count(), 6 + 3 + 6);
}

TEST(WeightSource, Float32WeightsAreTheFileBytesThemselves) {
  TempDir dir;
  const fs::path path = small_checkpoint(dir);
  const auto net = ckpt::WeightSource::open(path).within("network_weights");
  const Tensor a = net.require("encoder.w", {2, 3});
  const Tensor b = net.require("encoder.w");
  EXPECT_EQ(a.raw_data(), b.raw_data());  // not copied per call
  EXPECT_EQ(a.to_f32(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  const auto [begin, end] = mapping_of(path);
  ASSERT_NE(begin, 0u) << "the checkpoint is not memory-mapped";
  const auto p = reinterpret_cast<std::uintptr_t>(a.raw_data());
  EXPECT_TRUE(p >= begin && p + a.nbytes() <= end) << "float32 weights were copied out of the mapping";
  EXPECT_TRUE(a.storage()->file_backed());
}

TEST(WeightSource, ConvertsOnlyWhatIsNotFloat32) {
  TempDir dir;
  const auto net = ckpt::WeightSource::open(small_checkpoint(dir)).within("network_weights");
  const Tensor bias = net.require("encoder.b", {3});
  EXPECT_EQ(bias.dtype(), DType::F32);
  EXPECT_EQ(bias.to_f32(), (std::vector<float>{0.5f, -1.0f, 2.0f}));
  EXPECT_EQ(net.raw("encoder.b").dtype(), DType::F16);
  const Tensor transposed = net.require("decoder.w", {3, 2});  // a strided view: gathered once
  EXPECT_TRUE(transposed.is_contiguous());
  EXPECT_EQ(transposed.to_f32(), (std::vector<float>{1, 4, 2, 5, 3, 6}));
}

TEST(WeightSource, RequireChecksShapeAndType) {
  TempDir dir;
  const auto source = ckpt::WeightSource::open(small_checkpoint(dir));
  const auto net = source.within("network_weights");
  EXPECT_THROW((void)net.require("encoder.w", {3, 2}), InputError);
  EXPECT_THROW((void)net.require("missing"), InputError);
  EXPECT_FALSE(net.optional("missing").has_value());
  EXPECT_THROW((void)net.optional("encoder.w", {6}), InputError);
  EXPECT_THROW((void)source.require("step"), InputError);  // int64, not weights
  EXPECT_EQ(source.raw("step").dtype(), DType::I64);
}

TEST(WeightSource, LeftoverCheckNamesUnusedTensors) {
  TempDir dir;
  const auto source = ckpt::WeightSource::open(small_checkpoint(dir));
  const auto net = source.within("network_weights");
  (void)net.require("encoder.w");
  net.mark_used("decoder.w");
  EXPECT_EQ(net.unused(), (std::vector<std::string>{"encoder.b"}));
  EXPECT_EQ(net.used_count(), 2u);
  try {
    net.check_all_used("test-family");
    FAIL() << "unused tensors were not reported";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("encoder.b"), std::string::npos) << what;
    EXPECT_NE(what.find("test-family"), std::string::npos) << what;
  }
  (void)net.optional("encoder.b");
  EXPECT_NO_THROW(net.check_all_used("test-family"));
  // The root view still misses "step"; the used-set is shared with the narrowed view.
  EXPECT_EQ(source.unused(), (std::vector<std::string>{"step"}));
}

TEST(WeightSource, OpeningALargeCheckpointReadsOnlyItsStructure) {
  // 64 storages of 16 MiB (1 GiB, written as sparse holes): opening and indexing must not touch
  // the data; reading it all would fault in at least 16384 page groups.
  TempDir dir;
  TorchZipBuilder t;
  for (int i = 0; i < 64; ++i) {
    t.storage(std::to_string(i), "FloatStorage", std::int64_t{4} << 20, {}, true);
    t.tensor({"layer" + std::to_string(i) + ".weight", std::to_string(i), {1024, 4096}, {}, 0});
  }
  const fs::path path = dir / "large.pt";
  t.zip().write(path);
  const long before = minor_faults();
  const auto source = ckpt::WeightSource::open(path);
  EXPECT_EQ(source.index().size(), 64u);
  EXPECT_EQ(source.index()[63].shape, (Shape{1024, 4096}));
  const long opened = minor_faults() - before;
  EXPECT_LT(opened, 400) << "opening read the tensor data";
  const Tensor one = source.require("layer5.weight");
  EXPECT_EQ(one.numel(), std::int64_t{4} << 20);
  EXPECT_EQ(one.to_f32()[12345], 0.0f);
}

TEST(WeightSource, DamagedRecordIsAnInputErrorWhenUsed) {
  TempDir dir;
  const fs::path path = small_checkpoint(dir);
  auto bytes = read_file(path);
  const std::string pattern = f32_bytes({1, 2, 3, 4, 5, 6});
  const auto* needle = reinterpret_cast<const std::byte*>(pattern.data());
  auto it = std::search(bytes.begin(), bytes.end(), needle, needle + 24);
  ASSERT_NE(it, bytes.end());
  it[1] = std::byte{0x55};  // inside encoder.w's storage
  write_file_atomic(path, bytes);
  const auto net = ckpt::WeightSource::open(path).within("network_weights");  // the structure is intact
  EXPECT_NO_THROW((void)net.require("encoder.b"));
  try {
    (void)net.require("encoder.w");
    FAIL() << "a corrupt storage was handed out";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(path.string()), std::string::npos) << what;
    EXPECT_NE(what.find("archive/data/0"), std::string::npos) << what;
    EXPECT_NE(what.find("CRC"), std::string::npos) << what;
  }
}

TEST(WeightSource, TruncatedFilesAreRefusedWhenOpened) {
  TempDir dir;
  const fs::path torch = small_checkpoint(dir);
  const auto whole = read_file(torch);
  for (const std::size_t keep : {whole.size() - 1, whole.size() / 2, std::size_t{100}}) {
    write_file_atomic(dir / "cut.pt", std::span(whole.data(), keep));
    EXPECT_THROW((void)ckpt::WeightSource::open(dir / "cut.pt"), InputError) << keep;
  }
  ckpt::NamedTensors tensors{{"w", Tensor::from_f32({4}, std::vector<float>{1, 2, 3, 4})}};
  ckpt::write_safetensors_file(dir / "w.safetensors", tensors);
  const auto st = read_file(dir / "w.safetensors");
  write_file_atomic(dir / "cut.safetensors", std::span(st.data(), st.size() - 4));
  EXPECT_THROW((void)ckpt::WeightSource::open(dir / "cut.safetensors"), InputError);
}

TEST(WeightSource, SafetensorsGiveTheSameWeightsAsTheTorchFile) {
  TempDir dir;
  const auto torch = ckpt::WeightSource::open(small_checkpoint(dir));
  ckpt::NamedTensors tensors;
  for (const auto& w : torch.index()) tensors.emplace_back(w.name, torch.raw(w.name).contiguous());
  ckpt::write_safetensors_file(dir / "same.safetensors", tensors, {{"format", "pt"}});
  const auto st = ckpt::WeightSource::open(dir / "same.safetensors");
  EXPECT_EQ(st.format(), "safetensors");
  EXPECT_EQ(st.metadata()->get("format")->as_str(), "pt");
  ASSERT_EQ(st.index().size(), torch.index().size());
  for (const auto& w : torch.index()) {
    const auto* other = st.info(w.name);
    ASSERT_NE(other, nullptr) << w.name;
    EXPECT_EQ(other->dtype, w.dtype) << w.name;
    EXPECT_EQ(other->shape, w.shape) << w.name;
    EXPECT_EQ(st.raw(w.name).contiguous_bytes(), torch.raw(w.name).contiguous_bytes()) << w.name;
  }
  const auto net_t = torch.within("network_weights"), net_s = st.within("network_weights");
  EXPECT_EQ(net_s.require("encoder.b").to_f32(), net_t.require("encoder.b").to_f32());
  const auto [begin, end] = mapping_of(dir / "same.safetensors");
  const auto p = reinterpret_cast<std::uintptr_t>(net_s.require("encoder.w").raw_data());
  EXPECT_TRUE(begin != 0 && p >= begin && p < end) << "safetensors weights were copied";
}

TEST(WeightSource, Sha256IsTheFileHashInEitherMode) {
  TempDir dir;
  const fs::path path = small_checkpoint(dir);
  const std::string expected = sha256_hex(read_file(path));
  EXPECT_EQ(ckpt::WeightSource::open(path).sha256(), expected);
  ckpt::OpenOptions background;
  background.hash_in_background = true;
  EXPECT_EQ(ckpt::WeightSource::open(path, background).sha256(), expected);
  // Destroyed before the hash is asked for: the background thread stops and is joined.
  { const auto unused = ckpt::WeightSource::open(path, background); }
}

TEST(WeightSource, BigEndianStoragesAreSwappedIntoTheirOwnMemory) {
  TempDir dir;
  TorchZipBuilder t;
  const float values[2] = {1.5f, -2.0f};
  std::string big;
  for (float v : values) {
    std::string le(reinterpret_cast<const char*>(&v), 4);
    big += std::string(le.rbegin(), le.rend());
  }
  t.storage("0", "FloatStorage", 2, big);
  t.tensor({"w", "0", {2}, {}, 0});
  t.byteorder("big");
  t.zip().write(dir / "big.pt");
  const auto source = ckpt::WeightSource::open(dir / "big.pt");
  const Tensor w = source.require("w");
  EXPECT_EQ(w.to_f32(), (std::vector<float>{1.5f, -2.0f}));
  EXPECT_FALSE(w.storage()->file_backed());  // swapped into a buffer of its own
}

TEST(WeightSource, Zip64CheckpointOver4GiBReadsCorrectly) {
  // A 4.5 GiB uint8 storage written as a hole, then a small float storage whose record starts
  // past 4 GiB: the directory needs ZIP64 sizes and offsets. Costs a few kilobytes of disk.
  TempDir dir;
  const std::int64_t huge = (std::int64_t{9} << 29);  // 4.5 GiB
  TorchZipBuilder t;
  t.storage("0", "ByteStorage", huge, {}, true);
  t.storage("1", "FloatStorage", 4, f32_bytes({1, 2, 3, 4}));
  t.tensor({"big", "0", {huge}, {}, 0});
  t.tensor({"small", "1", {2, 2}, {}, 0});
  const fs::path path = dir / "zip64.pt";
  t.zip().write(path);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  if (static_cast<std::uint64_t>(st.st_blocks) * 512 > (std::uint64_t{1} << 30))
    GTEST_SKIP() << "the file system does not keep sparse files sparse";
  ASSERT_GT(static_cast<std::uint64_t>(st.st_size), std::uint64_t{1} << 32);
  const auto source = ckpt::WeightSource::open(path);
  ASSERT_EQ(source.index().size(), 2u);
  EXPECT_EQ(source.info("big")->shape, (Shape{huge}));
  EXPECT_EQ(source.info("big")->dtype, DType::U8);
  EXPECT_EQ(source.require("small", {2, 2}).to_f32(), (std::vector<float>{1, 2, 3, 4}));
}

}  // namespace
