// torch.manual_seed(S); torch.randn(shape) on CPU, reproduced bit for bit.
#include <cstring>
#include <sstream>

#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/pipelines/diffusion/noise_source.hpp"
#include "medport/pipelines/diffusion/torch_generator.hpp"
#include "test_support.hpp"

using medport::diffusion::RecordedNoise;
using medport::diffusion::TorchCpuGenerator;

namespace {

std::size_t count_bit_mismatches(const std::vector<float>& got, const std::vector<float>& want) {
  if (got.size() != want.size()) return std::max(got.size(), want.size());
  std::size_t bad = 0;
  for (std::size_t i = 0; i < got.size(); ++i) bad += std::memcmp(&got[i], &want[i], sizeof(float)) != 0;
  return bad;
}

// "seed42_3x64x64" -> seed 42, numel 12288.
void parse_key(const std::string& key, std::uint64_t& seed, std::int64_t& numel) {
  const auto underscore = key.find('_');
  seed = std::stoull(key.substr(4, underscore - 4));
  numel = 1;
  std::stringstream dims(key.substr(underscore + 1));
  std::string dim;
  while (std::getline(dims, dim, 'x')) numel *= std::stoll(dim);
}

TEST(TorchGenerator, MatchesMt19937ReferenceOutput) {
  // std::mt19937's 10000th output for the default seed 5489 is 4123659995 (C++ standard).
  TorchCpuGenerator gen(5489);
  std::uint32_t value = 0;
  for (int i = 0; i < 10000; ++i) value = gen.random();
  EXPECT_EQ(value, 4123659995u);
}

TEST(TorchGenerator, UniformFloatUsesLow24Bits) {
  TorchCpuGenerator a(3), b(3);
  for (int i = 0; i < 100; ++i) {
    const std::uint32_t bits = a.random() & 0xFFFFFFu;
    EXPECT_EQ(b.uniform_float(), static_cast<float>(bits) / 16777216.0f);
  }
}

TEST(TorchGenerator, ReproducesFixtureBitwise) {
  MEDPORT_FIXTURE_OR_SKIP(path, "diffusion/torch_randn.npz");
  const auto arrays = medport::ckpt::read_npz(path);
  int checked = 0;
  for (const auto& [key, tensor] : arrays) {
    if (key.find("sequence") != std::string::npos) continue;
    std::uint64_t seed = 0;
    std::int64_t numel = 0;
    parse_key(key, seed, numel);
    ASSERT_EQ(numel, tensor.numel()) << key;
    TorchCpuGenerator gen(seed);
    EXPECT_EQ(count_bit_mismatches(gen.randn(numel), tensor.to_f32()), 0u) << key;
    ++checked;
  }
  EXPECT_GE(checked, 12);
}

TEST(TorchGenerator, SuccessiveDrawsShareTheGeneratorState) {
  MEDPORT_FIXTURE_OR_SKIP(path, "diffusion/torch_randn.npz");
  const auto want = medport::ckpt::read_npz_member(path, "seed7_sequence_16_then_3x5").to_f32();
  TorchCpuGenerator gen(7);
  std::vector<float> got = gen.randn(16);
  const std::vector<float> second = gen.randn(15);
  got.insert(got.end(), second.begin(), second.end());
  EXPECT_EQ(count_bit_mismatches(got, want), 0u);
}

TEST(TorchGenerator, ManualSeedForgetsTheCachedNormal) {
  TorchCpuGenerator gen(11);
  const std::vector<float> first = gen.randn(3);  // odd count leaves a cached sample
  gen.manual_seed(11);
  EXPECT_EQ(count_bit_mismatches(gen.randn(3), first), 0u);
}

// More shapes and seeds against the installed PyTorch, when it is there.
TEST(TorchGenerator, MatchesLivePyTorch) {
  medport::testing::TempDir dir;
  const auto out = dir / "draws.npz";
  const std::string script =
      "import sys, numpy as np, torch\n"
      "d = {}\n"
      "for s, shape in [(0, (1, 3, 32, 32)), (123, (2, 3, 17, 5)), (2**33 + 9, (15,)), (99, (31,)), (5, (1,))]:\n"
      "    torch.manual_seed(s); d['s%d' % len(d)] = torch.randn(shape).numpy()\n"
      "torch.manual_seed(77)\n"
      "d['seq'] = np.concatenate([torch.randn(n).numpy() for n in (7, 33, 1, 16, 4, 100)])\n"
      "np.savez(sys.argv[1], **d)\n";
  const auto result = medport::testing::run_program({MEDPORT_PYTHON, "-c", script, out.string()});
  if (result.exit_code != 0) GTEST_SKIP() << "PyTorch not usable: " << result.err;
  const std::vector<std::pair<std::uint64_t, std::int64_t>> cases = {
      {0, 3072}, {123, 510}, {(std::uint64_t{1} << 33) + 9, 15}, {99, 31}, {5, 1}};
  for (std::size_t i = 0; i < cases.size(); ++i) {
    TorchCpuGenerator gen(cases[i].first);
    const auto want = medport::ckpt::read_npz_member(out, "s" + std::to_string(i)).to_f32();
    EXPECT_EQ(count_bit_mismatches(gen.randn(cases[i].second), want), 0u) << "case " << i;
  }
  TorchCpuGenerator gen(77);
  std::vector<float> got;
  for (const int n : {7, 33, 1, 16, 4, 100}) {
    const auto part = gen.randn(n);
    got.insert(got.end(), part.begin(), part.end());
  }
  EXPECT_EQ(count_bit_mismatches(got, medport::ckpt::read_npz_member(out, "seq").to_f32()), 0u);
}

TEST(PrefetchingTorchNoise, SameSequenceAsTheGeneratorForAnySizes) {
  medport::diffusion::PrefetchingTorchNoise prefetching(21);
  TorchCpuGenerator plain(21);
  for (const int n : {3072, 3072, 3072, 15, 15, 40, 3072, 1, 1}) {
    std::vector<float> got(static_cast<std::size_t>(n));
    prefetching.fill(got);
    EXPECT_EQ(count_bit_mismatches(got, plain.randn(n)), 0u) << n;
  }
}

TEST(RecordedNoise, ReplaysInOrderAndChecksDrawSizes) {
  RecordedNoise noise({1, 2, 3, 4, 5}, {2, 3}, "test");
  std::vector<float> a(2), b(3), c(1);
  noise.fill(a);
  noise.fill(b);
  EXPECT_EQ(a, (std::vector<float>{1, 2}));
  EXPECT_EQ(b, (std::vector<float>{3, 4, 5}));
  EXPECT_THROW(noise.fill(c), medport::InputError);

  RecordedNoise sized({1, 2, 3}, {1, 2}, "test");
  std::vector<float> wrong(2);
  EXPECT_THROW(sized.fill(wrong), medport::InputError);
  EXPECT_THROW(RecordedNoise({1, 2}, {3}, "test"), medport::InputError);
}

}  // namespace
