// ONNX Runtime links and runs: a session on a one-node model built with the ONNX protos.
#include <string>

#include "medport/error.hpp"
#include "medport/runtime/session.hpp"
#include "test_support.hpp"
#include "tiny_models.hpp"

namespace {

using medport::testing::tiny_add_one_model;

TEST(RuntimeSmoke, CreatesSessionAndRunsTinyModel) {
  const std::string bytes = tiny_add_one_model();
  medport::runtime::Session session(std::as_bytes(std::span(bytes.data(), bytes.size())));
  ASSERT_EQ(session.input_names(), std::vector<std::string>{"x"});
  ASSERT_EQ(session.output_names(), std::vector<std::string>{"y"});
  const std::vector<float> x{1.5f, -2.0f, 0.0f};
  auto out = session.run({{"x", medport::Tensor::from_f32({3}, x)}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].tensor.shape(), (medport::Shape{3}));
  EXPECT_EQ(out[0].tensor.to_f32(), (std::vector<float>{2.5f, -1.0f, 1.0f}));
}

TEST(RuntimeSmoke, UnknownInputNameIsAnInputError) {
  const std::string bytes = tiny_add_one_model();
  medport::runtime::Session session(std::as_bytes(std::span(bytes.data(), bytes.size())));
  const std::vector<float> x{1.0f};
  EXPECT_THROW(session.run({{"nope", medport::Tensor::from_f32({1}, x)}}), medport::InputError);
}

TEST(RuntimeSmoke, CudaProviderSkipsCleanlyWithoutGpu) {
  if (!medport::runtime::cuda_provider_available()) GTEST_SKIP() << "no CUDA execution provider on this machine";
  const std::string bytes = tiny_add_one_model();
  medport::runtime::SessionOptions opts;
  opts.provider = medport::runtime::Provider::Cuda;
  medport::runtime::Session session(std::as_bytes(std::span(bytes.data(), bytes.size())), opts);
  const std::vector<float> x{1.0f};
  EXPECT_EQ(session.run({{"x", medport::Tensor::from_f32({1}, x)}})[0].tensor.to_f32()[0], 2.0f);
}

}  // namespace
