// `medport run`: feeds npz arrays by input name and writes every output.
#include <onnx/onnx_pb.h>

#include <fstream>

#include "medport/checkpoint/npy.hpp"
#include "robustness_checks.hpp"
#include "test_support.hpp"

using medport::Tensor;
using medport::testing::run_medport;
using medport::testing::TempDir;

namespace {

// y = a * b + 1 and z = a (two outputs), dynamic length "n".
void write_tiny_model(const std::filesystem::path& path) {
  onnx::ModelProto model;
  model.set_ir_version(8);
  model.add_opset_import()->set_version(17);
  auto* g = model.mutable_graph();
  g->set_name("tiny");
  auto* mul = g->add_node();
  mul->set_op_type("Mul");
  mul->add_input("a");
  mul->add_input("b");
  mul->add_output("ab");
  auto* add = g->add_node();
  add->set_op_type("Add");
  add->add_input("ab");
  add->add_input("one");
  add->add_output("y");
  auto* id = g->add_node();
  id->set_op_type("Identity");
  id->add_input("a");
  id->add_output("z");
  auto* one = g->add_initializer();
  one->set_name("one");
  one->set_data_type(onnx::TensorProto::FLOAT);
  one->add_float_data(1.0f);
  auto add_value = [](google::protobuf::RepeatedPtrField<onnx::ValueInfoProto>* list, const char* name) {
    auto* vi = list->Add();
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    tt->mutable_shape()->add_dim()->set_dim_param("n");
  };
  add_value(g->mutable_input(), "a");
  add_value(g->mutable_input(), "b");
  add_value(g->mutable_output(), "y");
  add_value(g->mutable_output(), "z");
  std::ofstream(path, std::ios::binary) << model.SerializeAsString();
}

TEST(CliRun, FeedsByNameAndWritesEveryOutput) {
  TempDir tmp;
  write_tiny_model(tmp / "m.onnx");
  const std::vector<float> a{1, 2, 3}, b{4, 5, 6};
  // Arrays deliberately stored in the opposite order of the model's inputs.
  medport::ckpt::write_npz(tmp / "in.npz", {{"b", Tensor::from_f32({3}, b)}, {"a", Tensor::from_f32({3}, a)}});
  const auto r = run_medport({"run", (tmp / "m.onnx").string(), "--inputs", (tmp / "in.npz").string(), "-o",
                              (tmp / "out.npz").string(), "--threads", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto out = medport::ckpt::read_npz(tmp / "out.npz");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].first, "y");
  EXPECT_EQ(out[0].second.to_f32(), (std::vector<float>{5, 11, 19}));
  EXPECT_EQ(out[1].first, "z");
  EXPECT_EQ(out[1].second.to_f32(), a);
}

TEST(CliRun, MissingOrUnknownInputsAreInvalidInput) {
  TempDir tmp;
  write_tiny_model(tmp / "m.onnx");
  const std::vector<float> a{1};
  medport::ckpt::write_npz(tmp / "only_a.npz", {{"a", Tensor::from_f32({1}, a)}});
  auto r = run_medport({"run", (tmp / "m.onnx").string(), "--inputs", (tmp / "only_a.npz").string(), "-o",
                        (tmp / "out.npz").string()});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("no array for the model input(s): b"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(tmp / "out.npz"));

  medport::ckpt::write_npz(tmp / "extra.npz", {{"a", Tensor::from_f32({1}, a)}, {"b", Tensor::from_f32({1}, a)},
                                               {"c", Tensor::from_f32({1}, a)}});
  r = run_medport({"run", (tmp / "m.onnx").string(), "--inputs", (tmp / "extra.npz").string(), "-o",
                   (tmp / "out.npz").string()});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("c"), std::string::npos) << r.err;
}

// The sidecar of an nnU-Net says what the graph cannot: spatial axes are multiples of its stride
// product. An odd size is the array file's fault (exit 3 naming it), not an engine failure.
TEST(CliRun, SpatialSizesAnNnunetCannotTakeAreInvalidInput) {
  TempDir tmp;
  const auto model = medport::testing::phantom_model_onnx();
  medport::ckpt::write_npz(tmp / "odd.npz", {{"input", Tensor::zeros(medport::DType::F32, {1, 1, 63, 65})}});
  auto r = run_medport({"run", model.string(), "--inputs", (tmp / "odd.npz").string(), "-o", (tmp / "o.npz").string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("odd.npz"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("needs multiples of"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(tmp / "o.npz"));
  medport::ckpt::write_npz(tmp / "fine.npz", {{"input", Tensor::zeros(medport::DType::F32, {1, 1, 256, 256})}});
  r = run_medport({"run", model.string(), "--inputs", (tmp / "fine.npz").string(), "-o", (tmp / "o.npz").string(), "--threads", "1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // A sidecar section the check cannot read means no check, never an internal error.
  std::filesystem::copy_file(model, tmp / "m.onnx");
  auto sidecar = medport::testing::read_json(model.parent_path() / (model.stem().string() + ".medport.json"));
  sidecar["nnunet"]["model"]["stride_product"] = "sixty-four";
  std::ofstream(tmp / "m.medport.json") << sidecar.dump();
  r = run_medport({"run", (tmp / "m.onnx").string(), "--inputs", (tmp / "fine.npz").string(), "-o", (tmp / "o2.npz").string(),
                   "--threads", "1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(CliRun, BadFilesAndUsage) {
  TempDir tmp;
  auto r = run_medport({"run", (tmp / "missing.onnx").string(), "--inputs", (tmp / "x.npz").string(), "-o",
                        (tmp / "o.npz").string()});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("x.npz"), std::string::npos) << r.err;
  r = run_medport({"run", "m.onnx"});
  EXPECT_EQ(r.exit_code, 2);
  std::ofstream(tmp / "garbage.onnx") << "not a model";
  const std::vector<float> a{1};
  medport::ckpt::write_npz(tmp / "in.npz", {{"a", Tensor::from_f32({1}, a)}, {"b", Tensor::from_f32({1}, a)}});
  r = run_medport({"run", (tmp / "garbage.onnx").string(), "--inputs", (tmp / "in.npz").string(), "-o",
                   (tmp / "o.npz").string()});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("garbage.onnx"), std::string::npos) << r.err;
}

}  // namespace
