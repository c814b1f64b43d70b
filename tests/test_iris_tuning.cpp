// IRIS in-context tuning (tune_step.onnx + Adam) against the fixture's reference values, made by
// the upstream tuner, and against torch.autograd / torch.optim.Adam on an unseen configuration
// (tools/iris_reference.py make + tune). Errors are max |got - want| / max |want| (max norm).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/pipelines/convert.hpp"
#include "medport/pipelines/fewshot/fewshot.hpp"
#include "medport/pipelines/fewshot/tuning.hpp"
#include "iris_model_test.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
namespace fewshot = medport::pipelines::fewshot;
using medport::Tensor;

double relative_error(const Tensor& got, const Tensor& want) {
  EXPECT_EQ(got.shape(), want.shape());
  if (got.shape() != want.shape()) return 1e30;
  const auto g = got.to_f32(), w = want.to_f32();
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < g.size(); ++i) {
    diff = std::max(diff, std::abs(double(g[i]) - double(w[i])));
    scale = std::max(scale, std::abs(double(w[i])));
  }
  return diff / scale;
}

double scalar(const Tensor& t) { return double(t.to_f32().at(0)); }

void convert(const fs::path& checkpoint, const fs::path& out, const fs::path& config) {
  medport::pipelines::ConvertRequest request;
  request.source = checkpoint;
  request.output = out;
  request.options.config = config;
  medport::pipelines::convert(request);
}

medport::runtime::SessionOptions two_threads() {
  medport::runtime::SessionOptions options;
  options.intra_op_threads = 2;
  return options;
}

using IrisTuning = medport::testing::IrisModelTest;

TEST_F(IrisTuning, SidecarRecordsTheTuneStepGraph) {
  const auto sidecar = medport::testing::read_json(tmp_->path() / "model" / "medport.json");
  ASSERT_EQ(sidecar["graphs"].size(), 3u);
  const auto& tune = sidecar["graphs"][2];
  EXPECT_EQ(tune["name"], "tune_step");
  EXPECT_EQ(tune["file"], "tune_step.onnx");
  EXPECT_EQ(tune["precision"], "fp32");
  EXPECT_TRUE(fs::exists(tmp_->path() / "model" / "tune_step.onnx"));
  ASSERT_EQ(tune["inputs"].size(), 3u);
  EXPECT_EQ(tune["inputs"][2]["name"], "target_masks");
  EXPECT_EQ(tune["inputs"][2]["shape"], nlohmann::json({"B", "K", 16, 64, 64}));
  ASSERT_EQ(tune["outputs"].size(), 3u);
  EXPECT_EQ(tune["outputs"][1]["name"], "loss");
  EXPECT_EQ(tune["outputs"][1]["shape"], nlohmann::json::array());
  EXPECT_EQ(tune["outputs"][2]["name"], "grad_task_embeddings");
  EXPECT_EQ(tune["outputs"][2]["shape"], nlohmann::json({"B", "K", 9, 128}));
  EXPECT_TRUE(model_->can_tune());
}

TEST_F(IrisTuning, LossAndGradientMatchTheUpstreamTuner) {
  const auto [loss, grad] = model_->loss_and_gradient(ref("query_image"), ref("task_embeddings"), ref("query_masks"));
  EXPECT_NEAR(loss, scalar(ref("tuning_loss_before")), 1e-5 * scalar(ref("tuning_loss_before")));
  EXPECT_LT(relative_error(grad, ref("grad_loss_wrt_embeddings")), 1e-3);
  // The logits of a tune step are the forward graph's.
  const auto step = model_->tune_step(ref("query_image"), ref("task_embeddings"), ref("query_masks"));
  EXPECT_LT(relative_error(step.logits, ref("logits")), 1e-4);
}

TEST_F(IrisTuning, FiveAdamStepsMatchTheUpstreamTuner) {
  fewshot::TuningOptions options;
  options.steps = 5;
  const auto r =
      fewshot::tune_embeddings(*model_, ref("query_image"), ref("task_embeddings"), ref("query_masks"), options);
  EXPECT_LT(relative_error(r.embeddings, ref("tuned_embeddings_5_steps")), 1e-4);
  EXPECT_LT(relative_error(r.logits, ref("tuned_logits")), 1e-4);
  ASSERT_EQ(r.losses.size(), 6u);
  EXPECT_NEAR(r.losses.front(), scalar(ref("tuning_loss_before")), 1e-5 * scalar(ref("tuning_loss_before")));
  EXPECT_NEAR(r.losses.back(), scalar(ref("tuning_loss_after")), 1e-5 * scalar(ref("tuning_loss_after")));
  // The reference's loss falls by ~4e-5 over 5 steps; ours must fall by about as much.
  const double want_drop = scalar(ref("tuning_loss_before")) - scalar(ref("tuning_loss_after"));
  EXPECT_NEAR(r.losses.front() - r.losses.back(), want_drop, 0.05 * want_drop);
}

TEST_F(IrisTuning, ZeroStepsOnlyEvaluates) {
  fewshot::TuningOptions options;
  options.steps = 0;
  const auto r =
      fewshot::tune_embeddings(*model_, ref("query_image"), ref("task_embeddings"), ref("query_masks"), options);
  EXPECT_EQ(relative_error(r.embeddings, ref("task_embeddings")), 0.0);
  ASSERT_EQ(r.losses.size(), 1u);
  EXPECT_NEAR(r.losses[0], scalar(ref("tuning_loss_before")), 1e-5 * scalar(ref("tuning_loss_before")));
  // uint8 masks are taken as 0/1 floats.
  const auto u8 = fewshot::tune_embeddings(*model_, ref("query_image"), ref("task_embeddings"),
                                           ref("query_masks").to(medport::DType::U8), options);
  EXPECT_NEAR(u8.losses[0], scalar(ref("tuning_loss_before")), 1e-5 * scalar(ref("tuning_loss_before")));
}

TEST_F(IrisTuning, RejectsBadOptionsAndShapes) {
  const Tensor q = ref("query_image"), e = ref("task_embeddings"), t = ref("query_masks");
  fewshot::TuningOptions bad;
  bad.steps = -1;
  EXPECT_THROW(fewshot::tune_embeddings(*model_, q, e, t, bad), medport::UsageError);
  bad = {};
  bad.threshold = 1.0;
  EXPECT_THROW(fewshot::tune_embeddings(*model_, q, e, std::nullopt, bad), medport::UsageError);
  bad = {};
  bad.learning_rate = 0;
  EXPECT_THROW(fewshot::tune_embeddings(*model_, q, e, t, bad), medport::UsageError);
  const Tensor one_class = Tensor::zeros(medport::DType::F32, {1, 1, 16, 64, 64});
  EXPECT_THROW(fewshot::tune_embeddings(*model_, q, e, one_class), medport::InputError);
  EXPECT_THROW(fewshot::tune_embeddings(*model_, q, Tensor::zeros(medport::DType::F32, {2, 9, 128}), t),
               medport::InputError);
}

TEST_F(IrisTuning, FolderWithoutTuneStepAsksForReconversion) {
  medport::testing::TempDir old;
  for (const auto& entry : fs::directory_iterator(tmp_->path() / "model"))
    if (entry.path().filename().string().rfind("tune_step", 0) != 0)
      fs::copy_file(entry.path(), old / entry.path().filename().string());
  const fewshot::IrisModel model(old.path(), two_threads());
  EXPECT_FALSE(model.can_tune());
  try {
    fewshot::tune_embeddings(model, ref("query_image"), ref("task_embeddings"), ref("query_masks"));
    ADD_FAILURE() << "expected InputError";
  } catch (const medport::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("re-run"), std::string::npos) << e.what();
  }
  // Segmentation still works there.
  EXPECT_LT(relative_error(model.segment(ref("query_image"), ref("task_embeddings")), ref("logits")), 1e-4);
}

TEST(IrisPseudoLabels, ThresholdOnTheSigmoid) {
  const Tensor logits = Tensor::from_f32({1, 1, 1, 1, 4}, std::vector<float>{-1.f, 0.f, 0.5f, 2.f});
  // sigmoid: 0.269, 0.5, 0.622, 0.881
  EXPECT_EQ(fewshot::pseudo_labels(logits, 0.5).to_f32(), (std::vector<float>{0.f, 0.f, 1.f, 1.f}));
  EXPECT_EQ(fewshot::pseudo_labels(logits, 0.7).to_f32(), (std::vector<float>{0.f, 0.f, 0.f, 1.f}));
  EXPECT_EQ(fewshot::pseudo_labels(logits, 0.2).to_f32(), (std::vector<float>{1.f, 1.f, 1.f, 1.f}));
}

// Base 4 (C = 64), 5 tokens, 6 heads (gcd fallback to 2), a non-cubic volume, B = 2, K = 3:
// gradient and Adam steps against torch.autograd and torch.optim.Adam, with given masks and with
// pseudo-labels.
TEST(IrisTuningUnseen, MatchesTorchAutogradAndAdam) {
  medport::testing::TempDir tmp;
  const std::string tool = (medport::testing::source_dir() / "tools" / "iris_reference.py").string();
  const auto made = medport::testing::run_program({MEDPORT_PYTHON, tool, "make", (tmp / "ref").string(), "--base", "4",
                                                   "--tokens", "5", "--heads", "6", "--volume", "32", "16", "48",
                                                   "--batch", "2", "--classes", "3", "--seed", "7"});
  if (made.exit_code != 0) GTEST_SKIP() << "reference tool unavailable: " << made.err;
  const auto tuned =
      medport::testing::run_program({MEDPORT_PYTHON, tool, "tune", (tmp / "ref").string(), "--steps", "5"});
  ASSERT_EQ(tuned.exit_code, 0) << tuned.err;
  convert(tmp / "ref" / "model.pt", tmp / "out", tmp / "ref" / "config.json");
  const fewshot::IrisModel model(tmp / "out", two_threads());
  const auto ref = medport::ckpt::NpzFile::open(tmp / "ref" / "reference.npz");
  const auto tuning = medport::ckpt::NpzFile::open(tmp / "ref" / "tuning.npz");
  const Tensor query = ref.read("query_image"), initial = ref.read("task_embeddings");
  const Tensor masks = tuning.read("query_masks");

  const auto [loss, grad] = model.loss_and_gradient(query, initial, masks);
  EXPECT_NEAR(loss, scalar(tuning.read("loss_before")), 1e-5 * scalar(tuning.read("loss_before")));
  EXPECT_LT(relative_error(grad, tuning.read("grad")), 1e-3);

  fewshot::TuningOptions options;
  options.steps = 5;
  const auto r = fewshot::tune_embeddings(model, query, initial, masks, options);
  EXPECT_LT(relative_error(r.embeddings, tuning.read("tuned_embeddings")), 1e-4);
  EXPECT_LT(relative_error(r.logits, tuning.read("tuned_logits")), 1e-4);
  EXPECT_NEAR(r.losses.back(), scalar(tuning.read("loss_after")), 1e-5 * scalar(tuning.read("loss_after")));

  const auto p = fewshot::tune_embeddings(model, query, initial, std::nullopt, options);
  EXPECT_LT(relative_error(p.embeddings, tuning.read("pseudo_tuned_embeddings")), 1e-4);
  const auto want_losses = tuning.read("pseudo_losses").to_f32();
  ASSERT_EQ(p.losses.size(), want_losses.size() + 1);
  for (std::size_t i = 0; i < want_losses.size(); ++i)
    EXPECT_NEAR(p.losses[i], want_losses[i], 1e-5 * want_losses[i]) << "step " << i;
}

}  // namespace
