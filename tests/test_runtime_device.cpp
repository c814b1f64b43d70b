// Device tensors and IO binding: values uploaded in place, bound across runs, downloaded; the same
// code on the CPU provider (always) and on CUDA (when a device is present; skipped otherwise).
#include <numeric>

#include "medport/error.hpp"
#include "medport/graph/builder.hpp"
#include "medport/graph/onnx_writer.hpp"
#include "medport/runtime/device.hpp"
#include "medport/runtime/fixed_batch.hpp"
#include "test_support.hpp"

namespace rt = medport::runtime;
using medport::DType;
using medport::Shape;
using medport::Tensor;

namespace {

// y = x * scale + 1 (x [n] float, scale [1] float).
std::vector<std::byte> scale_add_model() {
  medport::graph::Builder b("scale_add");
  const auto x = b.input("x", DType::F32, {"n"});
  const auto scale = b.input("scale", DType::F32, {1});
  b.output(b.add(b.mul(x, scale), 1.0), "y");
  return medport::graph::to_model_bytes(std::move(b).finish());
}

std::vector<float> iota(std::size_t n, float start) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}

class DeviceTest : public ::testing::TestWithParam<rt::Provider> {
 protected:
  void SetUp() override {
    if (GetParam() == rt::Provider::Cuda && !rt::cuda_provider_available())
      GTEST_SKIP() << "no CUDA device: " << rt::cuda_unavailable_reason();
    options_.provider = GetParam();
    options_.intra_op_threads = 1;
    const auto bytes = scale_add_model();
    session_ = std::make_unique<rt::Session>(bytes, options_);
  }
  rt::SessionOptions options_;
  std::unique_ptr<rt::Session> session_;
};

TEST_P(DeviceTest, UploadsAndDownloadsEveryDtypeItCopies) {
  const auto values = iota(37, -3.5f);
  const auto x = rt::DeviceTensor::from_host(*session_, Tensor::from_f32({37}, values));
  EXPECT_EQ(x.on_cuda(), GetParam() == rt::Provider::Cuda);
  EXPECT_EQ(x.download().to_f32(), values);

  const std::vector<std::int64_t> steps{3999, -1, 0, 1ll << 40};
  const Tensor host_t = Tensor::from_bytes(DType::I64, {4}, std::as_bytes(std::span(steps)));
  const auto t = rt::DeviceTensor::from_host(*session_, host_t);
  const Tensor back = t.download();
  ASSERT_EQ(back.dtype(), DType::I64);
  EXPECT_TRUE(std::equal(steps.begin(), steps.end(), back.data<std::int64_t>()));
}

TEST_P(DeviceTest, UploadAtWritesOneSliceInPlace) {
  const auto block = rt::DeviceTensor::allocate(*session_, DType::F32, {3, 2, 2});
  for (int k = 0; k < 3; ++k) block.upload_at(4 * k, Tensor::from_f32({1, 2, 2}, iota(4, 10.0f * static_cast<float>(k))));
  EXPECT_EQ(block.download().to_f32(), (std::vector<float>{0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23}));
  block.upload_at(6, Tensor::from_f32({2}, std::vector<float>{-1, -2}));
  EXPECT_EQ(block.download().to_f32(), (std::vector<float>{0, 1, 2, 3, 10, 11, -1, -2, 20, 21, 22, 23}));

  const auto copy = rt::DeviceTensor::allocate(*session_, DType::F32, {12});
  copy.copy_from(block);
  EXPECT_EQ(copy.download().to_f32(), block.download().to_f32());
}

TEST_P(DeviceTest, BoundTensorsAreReadAndWrittenInPlaceAcrossRuns) {
  const auto x = rt::DeviceTensor::from_host(*session_, Tensor::from_f32({5}, iota(5, 0.0f)));
  const auto y = rt::DeviceTensor::allocate(*session_, DType::F32, {5});
  rt::Binding call(*session_);
  call.input("x", x);
  call.input("scale", Tensor::from_f32({1}, std::vector<float>{2.0f}));
  call.output("y", y);
  call.run();
  EXPECT_EQ(y.download().to_f32(), (std::vector<float>{1, 3, 5, 7, 9}));
  // New values in the same memory: the binding sees them without rebinding.
  x.upload(Tensor::from_f32({5}, std::vector<float>{10, 20, 30, 40, 50}));
  call.run();
  EXPECT_EQ(y.download().to_f32(), (std::vector<float>{21, 41, 61, 81, 101}));
  // A rebound host parameter replaces the old one.
  call.input("scale", Tensor::from_f32({1}, std::vector<float>{-1.0f}));
  call.run();
  EXPECT_EQ(y.download().to_f32(), (std::vector<float>{-9, -19, -29, -39, -49}));
  const auto outputs = call.outputs();
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].download().to_f32(), y.download().to_f32());
}

TEST_P(DeviceTest, OutputsAllocatedByTheRunStayOnTheDeviceAndOutliveTheSession) {
  rt::DeviceTensor kept;
  {
    rt::Binding call(*session_);
    call.input("x", rt::DeviceTensor::from_host(*session_, Tensor::from_f32({3}, iota(3, 1.0f))));
    call.input("scale", rt::DeviceTensor::from_host(*session_, Tensor::from_f32({1}, std::vector<float>{3.0f})));
    call.output_on_device("y");
    call.run();
    kept = call.outputs().at(0);
  }
  session_.reset();
  EXPECT_EQ(kept.on_cuda(), GetParam() == rt::Provider::Cuda);
  EXPECT_EQ(kept.shape(), (Shape{3}));
  EXPECT_EQ(kept.download().to_f32(), (std::vector<float>{4, 7, 10}));
}

TEST_P(DeviceTest, RefusesMismatchedCopiesAndUnknownNames) {
  const auto x = rt::DeviceTensor::allocate(*session_, DType::F32, {4});
  EXPECT_THROW(x.upload(Tensor::from_f32({5}, iota(5, 0.0f))), medport::InputError);
  EXPECT_THROW(x.upload_at(2, Tensor::from_f32({3}, iota(3, 0.0f))), medport::InputError);
  EXPECT_THROW(x.upload(Tensor::zeros(DType::I64, {4})), medport::InputError);
  EXPECT_THROW(x.copy_from(rt::DeviceTensor::allocate(*session_, DType::F32, {3})), medport::InputError);
  EXPECT_THROW(rt::DeviceTensor::allocate(*session_, DType::F32, {0}), medport::UsageError);
  rt::Binding call(*session_);
  EXPECT_THROW(call.input("no_such_input", x), medport::InputError);
}

// Calls with fewer rows than the fixed batch, then full ones, then fewer again: every call gives
// what a plain run gives for its rows (stale rows in the buffer do not leak into results).
TEST_P(DeviceTest, FixedBatchRunnerMatchesPlainRunsForEveryRowCount) {
  medport::graph::Builder b("rows");
  const auto x = b.input("x", DType::F32, {"N", 3});
  b.output(b.mul(b.tanh(x), 2.0), "y");
  const rt::Session rows(medport::graph::to_model_bytes(std::move(b).finish()), options_);
  rt::FixedBatchRunner runner(rows, "x", "y", {4, 3});
  EXPECT_EQ(runner.batch(), 4);
  float start = -2.0f;
  for (const std::int64_t n : {2, 4, 1, 4, 3}) {
    const Tensor input = Tensor::from_f32({n, 3}, iota(static_cast<std::size_t>(3 * n), start));
    start += 1.25f;
    const Tensor got = runner.run(input);
    const Tensor want = rows.run({{"x", input}}).front().tensor;
    EXPECT_EQ(got.shape(), (Shape{n, 3}));
    EXPECT_EQ(got.to_f32(), want.to_f32()) << n << " rows";
  }
  EXPECT_THROW(runner.run(Tensor::from_f32({5, 3}, iota(15, 0.0f))), medport::InputError);
  EXPECT_THROW(runner.run(Tensor::from_f32({2, 2}, iota(4, 0.0f))), medport::InputError);
}

INSTANTIATE_TEST_SUITE_P(Providers, DeviceTest, ::testing::Values(rt::Provider::Cpu, rt::Provider::Cuda),
                         [](const auto& info) { return rt::provider_name(info.param); });

TEST(CudaFlags, UnusableCudaIsOneClearInputErrorNamingTheFlag) {
  EXPECT_THROW(rt::session_options_from_flags(0, "tpu"), medport::UsageError);
  EXPECT_THROW(rt::session_options_from_flags(0, "cpu", -1), medport::UsageError);
  EXPECT_EQ(rt::session_options_from_flags(2, "cpu", 0).intra_op_threads, 2);
  if (rt::cuda_provider_available()) {
    const auto options = rt::session_options_from_flags(0, "cuda", 0);
    EXPECT_EQ(options.provider, rt::Provider::Cuda);
    try {
      rt::session_options_from_flags(0, "cuda", 4096);
      ADD_FAILURE() << "device 4096 was accepted";
    } catch (const medport::InputError& e) {
      EXPECT_NE(std::string(e.what()).find("--device 4096"), std::string::npos) << e.what();
    }
    return;
  }
  try {
    rt::session_options_from_flags(0, "cuda", 0);
    ADD_FAILURE() << "--provider cuda was accepted without a usable CUDA device";
  } catch (const medport::InputError& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("--provider cuda: ", 0), 0u) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    EXPECT_EQ(what, "--provider cuda: CUDA is not usable on this machine: " + rt::cuda_unavailable_reason());
  }
}

}  // namespace
