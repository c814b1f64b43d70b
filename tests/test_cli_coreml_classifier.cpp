// timm classifiers as Core ML (`image` -> `probs`, normalization and softmax inside): every
// classifier fixture converted as an ML Program (fp32, fp16) and a NeuralNetwork model, executed
// through medport's reader, against the PyTorch probabilities; coremltools loads each file.
#include "coreml_parity.hpp"
#include "coreml_test.hpp"
#include <algorithm>

#include "medport/checkpoint/npy.hpp"

using medport::Tensor;
using medport::testing::fixture;
using medport::testing::run_medport;
using medport::testing::TempDir;
namespace ct = medport::testing::coreml;
namespace ckpt = medport::ckpt;

namespace {

std::vector<std::string> convert_flags(const std::filesystem::path& config) {
  std::vector<std::string> flags;
  const auto json = medport::testing::read_json(config);
  for (const auto& f : json["convert_flags"]) flags.push_back(f.get<std::string>());
  return flags;
}

std::int64_t top1(const std::vector<float>& p, std::size_t row, std::size_t classes) {
  std::size_t best = 0;
  for (std::size_t c = 1; c < classes; ++c)
    if (p[row * classes + c] > p[row * classes + best]) best = c;
  return static_cast<std::int64_t>(best);
}

}  // namespace

class CliCoreMLClassifier : public ::testing::TestWithParam<std::string> {};

TEST_P(CliCoreMLClassifier, ProbsMatchPyTorch) {
  const std::string name = GetParam();
  MEDPORT_FIXTURE_OR_SKIP(dir, "classifier/" + name);
  TempDir tmp;
  const auto ref = ckpt::read_npz(dir / "reference.npz");
  Tensor image, probs;
  for (const auto& [n, t] : ref) {
    if (n == "image") image = t;
    if (n == "probs") probs = t;
  }
  struct Case {
    std::string file;
    std::vector<std::string> flags;
    bool fp16;
  };
  for (const Case& c : {Case{"m32.mlpackage", {"--fp32"}, false}, Case{"m16.mlpackage", {}, true},
                        Case{"m.mlmodel", {}, false}}) {
    SCOPED_TRACE(name + " " + c.file);
    std::vector<std::string> args{"convert", (dir / "model.pth").string(), "--format", "coreml", "-o", (tmp / c.file).string(),
                                  "--input-shape", "image=2," + std::to_string(image.shape()[1]) + "," +
                                                       std::to_string(image.shape()[2]) + "," + std::to_string(image.shape()[3])};
    for (const auto& f : convert_flags(dir / "config.json")) args.push_back(f);
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    auto r = run_medport(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    if (ct::coremltools_available()) {
      const auto j = ct::check_with_coremltools(tmp / c.file);
      EXPECT_EQ(j["spec"]["outputs"][0]["name"], "probs");
      EXPECT_EQ(j["spec"]["outputs"][0]["dtype"], "FLOAT32");
    }
    ckpt::write_npz(tmp / "in.npz", {{"image", image}});
    r = run_medport({"run", (tmp / c.file).string(), "--inputs", (tmp / "in.npz").string(), "-o", (tmp / "out.npz").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    Tensor got;
    for (const auto& [n, t] : ckpt::read_npz(tmp / "out.npz"))
      if (n == "probs") got = t;
    ASSERT_TRUE(got.defined());
    const auto d = ct::diff(got, probs);
    const auto g = got.to_f32(), w = probs.to_f32();
    const auto classes = static_cast<std::size_t>(probs.shape()[1]);
    for (std::size_t row = 0; row < 2; ++row) {
      // fp16: the top-1 class must agree where PyTorch's top two are further apart than the fp16
      // probability tolerance; nearer ties are bounded by that tolerance instead.
      std::vector<float> sorted(w.begin() + static_cast<std::ptrdiff_t>(row * classes),
                                w.begin() + static_cast<std::ptrdiff_t>((row + 1) * classes));
      std::sort(sorted.rbegin(), sorted.rend());
      if (!c.fp16 || sorted[0] - sorted[1] > 2e-2) {
        EXPECT_EQ(top1(g, row, classes), top1(w, row, classes)) << "image " << row;
      }
    }
    std::cout << name << " " << c.file << ": max |p - p_torch| " << d.max_abs << "\n";
    EXPECT_LE(d.max_abs, c.fp16 ? 1e-2 : 1e-4 * std::max(1.0, d.max_ref));
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CliCoreMLClassifier,
                         ::testing::Values("mobilenetv3_small_ddp", "resnet10t_train", "convnext_atto_train_ema",
                                           "efficientnet_b0_plain_fp16", "vit_tiny_train"));
