// `medport verify`: exported models against reference arrays (the fixtures' own PyTorch outputs),
// a perturbed model failing with exit 4, and bad references failing with exit 3.
#include <gtest/gtest.h>

#include <cmath>
#include <onnx/onnx_pb.h>

#include <fstream>

#include "medport/checkpoint/npy.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using medport::testing::run_medport;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

fs::path convert_fixture(const fs::path& source, const fs::path& out) {
  const auto r = run_medport({"convert", source.string(), "-o", out.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return out;
}

// Adds `delta` to the first element of the first float initializer with raw data.
void perturb_first_weight(const fs::path& model, float delta) {
  onnx::ModelProto proto;
  {
    std::ifstream in(model, std::ios::binary);
    ASSERT_TRUE(proto.ParseFromIstream(&in));
  }
  for (auto& init : *proto.mutable_graph()->mutable_initializer()) {
    if (init.data_type() != onnx::TensorProto::FLOAT || init.raw_data().size() < 4) continue;
    std::string raw = init.raw_data();
    float v = 0;
    std::memcpy(&v, raw.data(), 4);
    v += delta;
    std::memcpy(raw.data(), &v, 4);
    init.set_raw_data(raw);
    break;
  }
  std::ofstream out(model, std::ios::binary | std::ios::trunc);
  ASSERT_TRUE(proto.SerializeToOstream(&out));
}

TEST(CliVerify, DiffusionUNetMatchesItsPyTorchOutputsAndAPerturbedOneDoesNot) {
  MEDPORT_FIXTURE_OR_SKIP(ckpt, "diffusion/gd_echogains_small/model.pt");
  medport::testing::TempDir tmp;
  const auto model = convert_fixture(ckpt, tmp / "unet.onnx");
  const auto reference = ckpt.parent_path() / "forward.npz";  // x, t -> out
  auto r = run_medport({"verify", model.string(), "--reference", reference.string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "PASS")) << r.out;
  EXPECT_TRUE(contains(r.out, "out ")) << r.out;

  perturb_first_weight(model, 0.5f);
  r = run_medport({"verify", model.string(), "--reference", reference.string()});
  EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "FAIL")) << r.out;
  EXPECT_TRUE(contains(r.out, "outside tolerance")) << r.out;
}

TEST(CliVerify, NnunetWithRenamedArraysAndArgmaxAgreement) {
  MEDPORT_FIXTURE_OR_SKIP(dir, "nnunet/camus2d_small/nnUNetTrainer__nnUNetPlans__2d");
  medport::testing::TempDir tmp;
  const auto model = convert_fixture(dir, tmp / "camus.onnx");
  const auto reference = dir.parent_path() / "forward.npz";  // input_i -> logits_i
  const auto r = run_medport({"verify", model.string(), "--reference", reference.string(), "--map", "input_0=input",
                              "--map", "logits_0=logits"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "100.0000%")) << r.out;  // argmax over the classes agrees everywhere
}

TEST(CliVerify, ReferencesThatCannotBeCheckedAreInvalidInput) {
  MEDPORT_FIXTURE_OR_SKIP(ckpt, "diffusion/gd_echogains_small/model.pt");
  medport::testing::TempDir tmp;
  const auto model = convert_fixture(ckpt, tmp / "unet.onnx");
  const auto forward = medport::ckpt::read_npz(ckpt.parent_path() / "forward.npz");
  auto get = [&](const std::string& name) {
    for (const auto& [n, t] : forward)
      if (n == name) return t;
    return medport::Tensor();
  };
  medport::ckpt::write_npz(tmp / "no_t.npz", {{"x", get("x")}, {"out", get("out")}});
  auto r = run_medport({"verify", model.string(), "--reference", (tmp / "no_t.npz").string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_TRUE(contains(r.err, "no_t.npz") && contains(r.err, "t")) << r.err;

  medport::ckpt::write_npz(tmp / "no_out.npz", {{"x", get("x")}, {"t", get("t")}});
  r = run_medport({"verify", model.string(), "--reference", (tmp / "no_out.npz").string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_TRUE(contains(r.err, "none of the model's outputs")) << r.err;

  r = run_medport({"verify", model.string(), "--reference", (tmp / "no_out.npz").string(), "--map", "x"});
  EXPECT_EQ(r.exit_code, 2) << r.err;

  // An infinite reference would pass every comparison (|x - inf| <= inf): refused, as is an
  // infinite tolerance.
  const auto out = get("out");
  const std::vector<float> inf(static_cast<std::size_t>(out.numel()), INFINITY);
  medport::ckpt::write_npz(tmp / "inf.npz", {{"x", get("x")}, {"t", get("t")}, {"out", medport::Tensor::from_f32(out.shape(), inf)}});
  r = run_medport({"verify", model.string(), "--reference", (tmp / "inf.npz").string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_TRUE(contains(r.err, "NaN or infinite")) << r.err;
  r = run_medport({"verify", model.string(), "--reference", (ckpt.parent_path() / "forward.npz").string(), "--atol", "inf"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

}  // namespace

namespace {

TEST(CliVerify, CoreMLPackagesAreVerifiedAndReplacedLikeFiles) {
  MEDPORT_FIXTURE_OR_SKIP(dir, "classifier/mobilenetv3_small_ddp");
  medport::testing::TempDir tmp;
  const auto package = tmp / "m.mlpackage";
  for (int round = 0; round < 2; ++round) {  // the second conversion replaces the package
    const auto r = run_medport({"convert", (dir / "model.pth").string(), "--format", "coreml", "--fp32", "-o",
                                package.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  const auto r = run_medport({"verify", package.string(), "--reference", (dir / "reference.npz").string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "probs")) << r.out;
}

}  // namespace
