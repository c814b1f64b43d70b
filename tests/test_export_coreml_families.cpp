// Core ML exports of the guided-diffusion UNet and the IRIS inference graphs, executed through
// medport's reader, against the PyTorch fixtures; coremltools loads every file.
#include "coreml_parity.hpp"
#include "coreml_test.hpp"
#include "medport/checkpoint/npy.hpp"
#include "medport/checkpoint/torch_checkpoint.hpp"
#include "medport/export/open_model.hpp"
#include "medport/models/guided_diffusion/unet.hpp"
#include "medport/models/iris/iris.hpp"

using namespace medport;
namespace ct = medport::testing::coreml;
namespace gd = medport::models::guided_diffusion;
namespace iris = medport::models::iris;
using medport::testing::TempDir;

namespace {

Tensor npz_member(const ckpt::NamedTensors& npz, const std::string& name) {
  for (const auto& [n, t] : npz)
    if (n == name) return t;
  throw std::runtime_error("no member " + name);
}

graph::Graph diffusion_graph(const std::filesystem::path& model_pt) {
  const auto ckpt = ckpt::load_torch_checkpoint(model_pt);
  gd::StateDict sd;
  for (const auto& entry : ckpt.tensors) sd.emplace(entry.path, entry.tensor);
  return gd::build_unet_graph(gd::infer_unet_config(sd, {}, "model.pt"), sd);
}

}  // namespace

TEST(CoreMLFamilies, DiffusionUNetMatchesPyTorch) {
  MEDPORT_FIXTURE_OR_SKIP(dir, "diffusion/gd_echogains_small");
  const auto ref = ckpt::read_npz(dir / "forward.npz");
  const graph::Graph g = diffusion_graph(dir / "model.pt");
  TempDir tmp;
  for (const bool fp16 : {false, true}) {
    coreml::WriteOptions o;
    o.fp16 = fp16;
    o.input_shapes["x"].fixed = {2, 3, 64, 64};
    o.input_shapes["t"].fixed = {2};
    const auto path = tmp / (fp16 ? "gd16.mlpackage" : "gd32.mlpackage");
    coreml::write_coreml(g, path, o);
    if (ct::coremltools_available()) ct::check_with_coremltools(path);
    const auto model = exporters::open_model(path);
    const Tensor out = model.run({{"x", npz_member(ref, "x")}, {"t", npz_member(ref, "t")}}).at(0).tensor;
    const auto d = ct::diff(out, npz_member(ref, "out"));
    std::cout << (fp16 ? "fp16" : "fp32") << " relative " << d.relative() << "\n";
    EXPECT_LE(d.relative(), fp16 ? 2e-2 : 1e-4);
  }
}

TEST(CoreMLFamilies, IrisInferenceGraphsMatchPyTorch) {
  MEDPORT_FIXTURE_OR_SKIP(dir, "iris/iris_base8");
  const auto m = iris::load_iris(dir / "final_model.pt", iris::read_iris_choices(dir / "config.json"));
  const auto ref = ckpt::read_npz(dir / "reference.npz");
  TempDir tmp;
  for (const bool fp16 : {false, true}) {
    coreml::WriteOptions o;
    o.fp16 = fp16;
    o.input_shapes["support_image"].fixed = {1, 1, 16, 64, 64};
    o.input_shapes["support_masks"].fixed = {1, 2, 16, 64, 64};
    const auto enc = tmp / "encode_support.mlpackage";
    coreml::write_coreml(iris::build_encode_support_graph(m.config, m.state_dict), enc, o);
    coreml::WriteOptions f = o;
    f.input_shapes.clear();
    f.input_shapes["query_image"].fixed = {1, 1, 16, 64, 64};
    f.input_shapes["task_embeddings"].fixed = {1, 2, 9, 128};
    const auto fwd = tmp / "forward.mlpackage";
    coreml::write_coreml(iris::build_forward_graph(m.config, m.state_dict), fwd, f);
    if (ct::coremltools_available()) {
      ct::check_with_coremltools(enc);
      ct::check_with_coremltools(fwd);
    }
    const Tensor emb = exporters::open_model(enc)
                           .run({{"support_image", npz_member(ref, "support_image")},
                                 {"support_masks", npz_member(ref, "support_masks")}})
                           .at(0)
                           .tensor;
    const Tensor logits = exporters::open_model(fwd)
                              .run({{"query_image", npz_member(ref, "query_image")},
                                    {"task_embeddings", npz_member(ref, "task_embeddings")}})
                              .at(0)
                              .tensor;
    const auto de = ct::diff(emb, npz_member(ref, "task_embeddings"));
    const auto dl = ct::diff(logits, npz_member(ref, "logits"));
    std::cout << (fp16 ? "fp16" : "fp32") << " embeddings relative " << de.relative() << ", logits relative "
              << dl.relative() << "\n";
    EXPECT_LE(de.relative(), fp16 ? 2e-2 : 1e-4);
    EXPECT_LE(dl.relative(), fp16 ? 2e-2 : 1e-4);
  }
}

TEST(CoreMLFamilies, DiffusionUNetWithFlexibleSize) {
  MEDPORT_FIXTURE_OR_SKIP(dir, "diffusion/gd_echogains_small");
  const auto ref = ckpt::read_npz(dir / "forward.npz");
  TempDir tmp;
  coreml::WriteOptions o;
  o.fp16 = false;
  o.input_shapes["x"].fixed = {2, 3, 32, 32};
  o.input_shapes["x"].ranges = {{2, 2}, {3, 3}, {32, 256}, {32, 256}};
  o.input_shapes["t"].fixed = {2};
  const auto path = tmp / "gd_flexible.mlpackage";
  coreml::write_coreml(diffusion_graph(dir / "model.pt"), path, o);
  if (ct::coremltools_available()) ct::check_with_coremltools(path);
  const Tensor out =
      exporters::open_model(path).run({{"x", npz_member(ref, "x")}, {"t", npz_member(ref, "t")}}).at(0).tensor;
  EXPECT_LE(ct::diff(out, npz_member(ref, "out")).relative(), 1e-4);
}
