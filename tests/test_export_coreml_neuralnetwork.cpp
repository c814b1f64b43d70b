// NeuralNetwork (.mlmodel) exports: coremltools decodes them, medport's reader runs them against
// the PyTorch fixtures, and the reader itself is checked on Apple's own converter output.
#include <fstream>
#include <iterator>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "coreml_model.pb.h"
#include "coreml_parity.hpp"
#include "coreml_test.hpp"
#include "medport/checkpoint/npy.hpp"
#include "medport/checkpoint/torch_checkpoint.hpp"
#include "medport/error.hpp"
#include "medport/export/open_model.hpp"
#include "medport/models/guided_diffusion/unet.hpp"
#include "medport/models/iris/iris.hpp"
#include "medport/models/nnunet/convert.hpp"
#include "medport/models/nnunet/model.hpp"

using namespace medport;
namespace ct = medport::testing::coreml;
using medport::testing::TempDir;
namespace fs = std::filesystem;

namespace {

Tensor member(const ckpt::NamedTensors& npz, const std::string& name) {
  for (const auto& [n, t] : npz)
    if (n == name) return t;
  throw std::runtime_error("no member " + name);
}

graph::Graph nnunet_graph(const std::string& folder) {
  const auto m = models::nnunet::load_model(models::nnunet::locate_source(medport::testing::fixture(folder)));
  return models::nnunet::model_graph(m, false, false, 17);
}

coreml::WriteOptions nn_options(bool fp16, const std::string& input, Shape shape) {
  coreml::WriteOptions o;
  o.backend = coreml::Backend::NeuralNetwork;
  o.target = coreml::default_target(coreml::Backend::NeuralNetwork);
  o.fp16 = fp16;
  o.input_shapes[input].fixed = std::move(shape);
  return o;
}

}  // namespace

TEST(CoreMLNeuralNetworkReader, AppleMobileNetModelsMatchPyTorch) {
  MEDPORT_FIXTURE_OR_SKIP(ref_path, "classifier/mobilenetv3_small_ddp/reference.npz");
  MEDPORT_FIXTURE_OR_SKIP(nn, "coreml/mobilenetv3_small_ddp/neuralnetwork.mlmodel");
  const auto ref = ckpt::read_npz(ref_path);
  for (const auto& file : {std::string("neuralnetwork.mlmodel"), std::string("mlprogram_fp16.mlpackage")}) {
    const auto model = exporters::open_model(medport::testing::fixture("coreml/mobilenetv3_small_ddp/" + file));
    for (std::int64_t i = 0; i < 2; ++i) {
      const Tensor probs = model.run({{"image", ct::batch_item(member(ref, "image"), i)}}).at(0).tensor;
      const auto want = ct::batch_item(member(ref, "probs"), i);
      const auto d = ct::diff(probs.reshaped(want.shape()), want);
      EXPECT_LE(d.max_abs, file.find("fp16") != std::string::npos ? 1e-2 : 1e-4) << file << " image " << i;
      EXPECT_EQ(d.agreement, 1.0) << file << " image " << i;
    }
  }
}

TEST(CoreMLNeuralNetwork, Camus2DMatchesPyTorch) {
  MEDPORT_FIXTURE_OR_SKIP(forward, "nnunet/camus2d_small/forward.npz");
  const auto ref = ckpt::read_npz(forward);
  const graph::Graph g = nnunet_graph("nnunet/camus2d_small/nnUNetTrainer__nnUNetPlans__2d");
  TempDir dir;
  for (const bool fp16 : {false, true}) {
    const auto path = dir / (fp16 ? "camus16.mlmodel" : "camus32.mlmodel");
    const auto report = coreml::write_coreml(g, path, nn_options(fp16, "input", {2, 1, 128, 128}));
    EXPECT_EQ(report.op_counts.at("convolution"), 33u);  // 27 convolutions + 6 deconvolutions
    EXPECT_EQ(report.op_counts.at("batchnorm"), 26u);
    if (ct::coremltools_available()) {
      const auto j = ct::check_with_coremltools(path);
      EXPECT_EQ(j["spec"]["type"], "neuralNetwork");
      EXPECT_EQ(j["spec"]["version"], 5);
      EXPECT_EQ(j["layers"]["convolution"], 33);
      EXPECT_EQ(j["spec"]["inputs"][0]["dtype"], "FLOAT32");
    }
    const Tensor out = exporters::open_model(path).run({{"input", member(ref, "input_0")}}).at(0).tensor;
    const auto d = ct::diff(out, member(ref, "logits_0"));
    std::cout << (fp16 ? "fp16 weights" : "fp32") << ": relative " << d.relative() << ", agreement " << d.agreement << "\n";
    if (fp16) {
      EXPECT_GE(d.agreement, 0.995);
    } else {
      EXPECT_LE(d.relative(), 1e-4);
    }
  }
}

// The writer fills one layer's weights at a time; what it writes must be exactly protobuf's own
// deterministic serialization of the whole model, weights where they belong.
TEST(CoreMLNeuralNetwork, StreamedFileIsProtobufsOwnSerialization) {
  const graph::Graph g = nnunet_graph("nnunet/camus2d_small/nnUNetTrainer__nnUNetPlans__2d");
  TempDir dir;
  for (const bool fp16 : {false, true}) {
    const auto path = dir / (fp16 ? "m16.mlmodel" : "m32.mlmodel");
    const auto report = coreml::write_coreml(g, path, nn_options(fp16, "input", {1, 1, 128, 128}));
    std::ifstream in(path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    coreml::spec::Model model;
    ASSERT_TRUE(model.ParseFromString(bytes));
    std::size_t weight_bytes = 0, filled = 0;
    auto count = [&](const coreml::spec::WeightParams& w) {
      weight_bytes += w.float16value().size() + 4 * static_cast<std::size_t>(w.floatvalue_size());
    };
    for (const auto& layer : model.neuralnetwork().layers()) {
      if (layer.has_convolution()) {
        const auto& c = layer.convolution();
        filled += (fp16 ? !c.weights().float16value().empty() : c.weights().floatvalue_size() > 0) ? 1 : 0;
        count(c.weights());
        count(c.bias());
      }
      if (layer.has_batchnorm())
        for (const auto* w : {&layer.batchnorm().gamma(), &layer.batchnorm().beta(), &layer.batchnorm().mean(),
                              &layer.batchnorm().variance()})
          count(*w);
      if (layer.has_loadconstantnd()) count(layer.loadconstantnd().data());
    }
    EXPECT_EQ(filled, report.op_counts.at("convolution"));
    EXPECT_EQ(weight_bytes, report.weight_bytes);
    std::string canonical;
    {
      google::protobuf::io::StringOutputStream stream(&canonical);
      google::protobuf::io::CodedOutputStream coded(&stream);
      coded.SetSerializationDeterministic(true);
      ASSERT_TRUE(model.SerializeToCodedStream(&coded));
    }
    EXPECT_TRUE(canonical == bytes) << (fp16 ? "fp16" : "fp32") << ": " << canonical.size() << " vs " << bytes.size() << " bytes";
  }
}

TEST(CoreMLNeuralNetwork, ThreeDimensionalNetworksNeedIOS14) {
  MEDPORT_FIXTURE_OR_SKIP(forward, "nnunet/resenc3d_small/forward.npz");
  const auto ref = ckpt::read_npz(forward);
  const graph::Graph g = nnunet_graph("nnunet/resenc3d_small/nnUNetTrainer__nnUNetPlans__3d_fullres");
  const Tensor input = member(ref, "input_0");
  TempDir dir;
  auto o = nn_options(false, "input", input.shape());
  o.target = coreml::parse_target("iOS13");
  try {
    coreml::write_coreml(g, dir / "old.mlmodel", o);
    FAIL() << "3-D convolution accepted for iOS13";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("convolution3d"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("iOS14"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir / "old.mlmodel"));
  o.target = coreml::parse_target("iOS14");
  const auto path = dir / "resenc.mlmodel";
  coreml::write_coreml(g, path, o);
  if (ct::coremltools_available()) ct::check_with_coremltools(path);
  const Tensor out = exporters::open_model(path).run({{"input", input}}).at(0).tensor;
  EXPECT_LE(ct::diff(out, member(ref, "logits_0")).relative(), 1e-4);
}

TEST(CoreMLNeuralNetwork, FlexibleShapesAreRefused) {
  MEDPORT_FIXTURE_OR_SKIP(folder, "nnunet/camus2d_small/nnUNetTrainer__nnUNetPlans__2d");
  TempDir dir;
  auto o = nn_options(false, "input", {1, 1, 128, 128});
  o.input_shapes["input"].ranges = {{1, 1}, {1, 1}, {64, 256}, {64, 256}};
  try {
    coreml::write_coreml(nnunet_graph("nnunet/camus2d_small/nnUNetTrainer__nnUNetPlans__2d"), dir / "f.mlmodel", o);
    FAIL() << "flexible shapes accepted for neuralnetwork";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("fixed shapes"), std::string::npos) << e.what();
  }
}

TEST(CoreMLNeuralNetwork, DiffusionAndIrisGraphs) {
  MEDPORT_FIXTURE_OR_SKIP(gd_dir, "diffusion/gd_echogains_small");
  MEDPORT_FIXTURE_OR_SKIP(iris_dir, "iris/iris_base8");
  TempDir dir;
  {
    const auto ck = ckpt::load_torch_checkpoint(gd_dir / "model.pt");
    models::guided_diffusion::StateDict sd;
    for (const auto& e : ck.tensors) sd.emplace(e.path, e.tensor);
    const auto g = models::guided_diffusion::build_unet_graph(models::guided_diffusion::infer_unet_config(sd, {}, "model.pt"), sd);
    const auto ref = ckpt::read_npz(gd_dir / "forward.npz");
    auto o = nn_options(false, "x", {2, 3, 64, 64});
    o.input_shapes["t"].fixed = {2};
    coreml::write_coreml(g, dir / "gd.mlmodel", o);
    if (ct::coremltools_available()) ct::check_with_coremltools(dir / "gd.mlmodel");
    const Tensor out =
        exporters::open_model(dir / "gd.mlmodel").run({{"x", member(ref, "x")}, {"t", member(ref, "t")}}).at(0).tensor;
    EXPECT_LE(ct::diff(out, member(ref, "out")).relative(), 1e-4);
  }
  {
    namespace iris = models::iris;
    const auto m = iris::load_iris(iris_dir / "final_model.pt", iris::read_iris_choices(iris_dir / "config.json"));
    const auto ref = ckpt::read_npz(iris_dir / "reference.npz");
    auto o = nn_options(false, "query_image", {1, 1, 16, 64, 64});
    o.input_shapes["task_embeddings"].fixed = {1, 2, 9, 128};
    coreml::write_coreml(iris::build_forward_graph(m.config, m.state_dict), dir / "forward.mlmodel", o);
    if (ct::coremltools_available()) ct::check_with_coremltools(dir / "forward.mlmodel");
    const Tensor out = exporters::open_model(dir / "forward.mlmodel")
                           .run({{"query_image", member(ref, "query_image")}, {"task_embeddings", member(ref, "task_embeddings")}})
                           .at(0)
                           .tensor;
    EXPECT_LE(ct::diff(out, member(ref, "logits")).relative(), 1e-4);
  }
}
