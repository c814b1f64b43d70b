// `medport convert --app` (nnU-Net): raw pixels in, normalization inside, probabilities and labels
// out, for --format onnx and --format coreml. The reference is medport's own nnU-Net
// preprocessing (imaging::nnunet, proven against nnunetv2 elsewhere) + the network graph.
#include <cmath>

#include "coreml_parity.hpp"
#include "medport/checkpoint/npy.hpp"
#include "medport/export/open_model.hpp"
#include "medport/graph/onnx_writer.hpp"
#include "medport/imaging/nnunet_preprocessing.hpp"
#include "medport/models/nnunet/convert.hpp"
#include "medport/models/nnunet/model.hpp"
#include "medport/runtime/session.hpp"

using namespace medport;
using medport::testing::run_medport;
using medport::testing::TempDir;
namespace fs = std::filesystem;
namespace ct = medport::testing::coreml;

namespace {

const char* kCamus = "nnunet/camus2d_small/nnUNetTrainer__nnUNetPlans__2d";

// An echo-like raw frame in [0, 255] (not normalized).
Tensor raw_frame() {
  std::vector<float> v(128 * 128);
  for (int y = 0; y < 128; ++y)
    for (int x = 0; x < 128; ++x) {
      const double r = std::hypot(x - 64.0, y - 70.0);
      v[static_cast<std::size_t>(y * 128 + x)] =
          static_cast<float>(std::clamp(180.0 * std::exp(-std::pow((r - 35) / 8, 2)) + 20 + 15 * std::sin(x * 0.3 + y * 0.17), 0.0, 255.0));
    }
  return Tensor::from_f32({1, 1, 128, 128}, v);
}

struct Reference {
  Tensor probabilities;
  std::vector<std::int64_t> labels;
};

Reference reference(const fs::path& folder, const Tensor& raw) {
  std::vector<float> x = raw.to_f32();
  imaging::nnunet::ChannelNormalization zscore;  // camus2d_small: ZScoreNormalization, no mask
  imaging::nnunet::normalize_channel(x, {}, zscore);
  const auto m = models::nnunet::load_model(models::nnunet::locate_source(folder));
  runtime::Session net(graph::to_model_bytes(models::nnunet::model_graph(m, false, false, 17)));
  const auto logits = net.run({{"input", Tensor::from_f32(raw.shape(), x)}}).at(0).tensor.to_f32();
  const std::size_t k = 4, n = 128 * 128;
  std::vector<float> p(logits.size());
  std::vector<std::int64_t> labels(n);
  for (std::size_t i = 0; i < n; ++i) {
    float top = logits[i];
    std::size_t arg = 0;
    for (std::size_t c = 1; c < k; ++c)
      if (logits[c * n + i] > top) top = logits[c * n + i], arg = c;
    double sum = 0;
    for (std::size_t c = 0; c < k; ++c) sum += std::exp(static_cast<double>(logits[c * n + i] - top));
    for (std::size_t c = 0; c < k; ++c) p[c * n + i] = static_cast<float>(std::exp(static_cast<double>(logits[c * n + i] - top)) / sum);
    labels[i] = static_cast<std::int64_t>(arg);
  }
  return {Tensor::from_f32({1, 4, 128, 128}, p), labels};
}

double label_agreement(const Tensor& got, const std::vector<std::int64_t>& want) {
  const Tensor l = got.to(DType::I64);
  std::size_t same = 0;
  for (std::size_t i = 0; i < want.size(); ++i) same += l.data<std::int64_t>()[i] == want[i];
  return static_cast<double>(same) / static_cast<double>(want.size());
}

}  // namespace

TEST(CliNnunetApp, RawPixelsInProbabilitiesAndLabelsOut) {
  MEDPORT_FIXTURE_OR_SKIP(folder, kCamus);
  TempDir tmp;
  const Tensor raw = raw_frame();
  const Reference want = reference(folder, raw);
  struct Case {
    std::vector<std::string> flags;
    std::string out;
    double tolerance;  // probabilities, absolute
  };
  for (const Case& c : {Case{{}, "app.onnx", 1e-5}, Case{{"--fp16"}, "app16.onnx", 1e-2},
                        Case{{"--format", "coreml", "--fp32"}, "app.mlpackage", 1e-5},
                        // float16 storage after every op (instance norm and softmax included, as
                        // Apple's converter makes them): pixels at class boundaries move most.
                        Case{{"--format", "coreml"}, "app16.mlpackage", 5e-2}, Case{{"--format", "coreml"}, "app.mlmodel", 1e-5}}) {
    std::vector<std::string> args{"convert", folder.string(), "--app", "-o", (tmp / c.out).string()};
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    const auto r = run_medport(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto sidecar = medport::testing::read_json(tmp / (fs::path(c.out).stem().string() + ".medport.json"));
    EXPECT_EQ(sidecar["graphs"][0]["inputs"][0]["name"], "image");
    EXPECT_EQ(sidecar["graphs"][0]["inputs"][0]["shape"], nlohmann::json({1, 1, 128, 128}));
    EXPECT_EQ(sidecar["nnunet"]["app"]["outputs"], nlohmann::json({"probabilities", "labels"}));
    const auto model = exporters::open_model(tmp / c.out);
    ASSERT_EQ(model.output_names(), (std::vector<std::string>{"probabilities", "labels"}));
    const auto outs = model.run({{"image", raw}});
    const auto d = ct::diff(outs[0].tensor, want.probabilities);
    std::cout << c.out << ": max |p - p_ref| " << d.max_abs << ", label agreement " << label_agreement(outs[1].tensor, want.labels) << "\n";
    EXPECT_LE(d.max_abs, c.tolerance) << c.out;
    EXPECT_GE(label_agreement(outs[1].tensor, want.labels), c.tolerance > 1e-3 ? 0.995 : 0.9999) << c.out;
    EXPECT_EQ(outs[1].tensor.shape(), (Shape{1, 128, 128}));
  }
  // Deep supervision has no app form.
  EXPECT_EQ(run_medport({"convert", folder.string(), "--app", "--deep-supervision", "-o", (tmp / "x.onnx").string()}).exit_code, 2);
}
