// Every *.manifest.json under the fixtures (written by the Python side from the real objects)
// must be reproduced exactly: tensor paths in order, dtypes, shapes, contiguity, counts, totals
// and the Python type names of the top-level entries.
#include <nlohmann/json.hpp>

#include <fstream>

#include "medport/checkpoint/torch_checkpoint.hpp"
#include "test_support.hpp"

using namespace medport;
using namespace medport::ckpt;
namespace fs = std::filesystem;

namespace {

std::vector<fs::path> manifests() {
  std::vector<fs::path> out;
  const auto root = medport::testing::fixtures_dir();
  if (!fs::is_directory(root)) return out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    const auto name = e.path().filename().string();
    if (e.is_regular_file() && name.size() > 14 && name.ends_with(".manifest.json")) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

void check_manifest(const fs::path& manifest_path) {
  SCOPED_TRACE(manifest_path.string());
  std::ifstream in(manifest_path);
  const auto m = nlohmann::ordered_json::parse(in);
  const fs::path file = manifest_path.parent_path() / m.at("file").get<std::string>();
  const auto ckpt = load_torch_checkpoint(file);

  EXPECT_EQ(ckpt.tensors.size(), m.at("tensor_count").get<std::size_t>());
  EXPECT_EQ(ckpt.storage_count, m.at("storage_count").get<std::size_t>());
  std::int64_t total = 0;
  for (const auto& t : ckpt.tensors) total += t.tensor.numel();
  EXPECT_EQ(total, m.at("total_elements_all_tensors").get<std::int64_t>());

  const auto& expected = m.at("tensors");
  ASSERT_EQ(expected.size(), ckpt.tensors.size());
  std::size_t i = 0;
  for (const auto& [path, info] : expected.items()) {
    const auto& got = ckpt.tensors[i++];
    ASSERT_EQ(got.path, path) << "tensor #" << (i - 1) << " is out of order or misnamed";
    EXPECT_EQ(std::string(dtype_name(got.tensor.dtype())), info.at("dtype").get<std::string>()) << path;
    EXPECT_EQ(got.tensor.shape(), info.at("shape").get<Shape>()) << path;
    EXPECT_EQ(got.tensor.is_contiguous(), info.at("contiguous").get<bool>()) << path;
  }

  const auto& top = m.at("top_level");
  if (top.is_object()) {
    ASSERT_TRUE(ckpt.root->is(ValueKind::Dict));
    ASSERT_EQ(ckpt.root->size(), top.size());
    std::size_t k = 0;
    for (const auto& [key, type] : top.items()) {
      const auto& entry = ckpt.root->dict_data().entries[k++];
      EXPECT_EQ(key_to_path_part(*entry.first), key);
      EXPECT_EQ(entry.second->type_name(), type.get<std::string>()) << "top-level key " << key;
    }
  } else {
    EXPECT_EQ(ckpt.root->type_name(), top.get<std::string>());
  }
}

}  // namespace

TEST(TorchManifest, EveryFixtureManifestIsReproducedExactly) {
  const auto all = manifests();
  if (all.empty()) GTEST_SKIP() << "no *.manifest.json under " << medport::testing::fixtures_dir();
  EXPECT_GE(all.size(), 6u);
  for (const auto& m : all) check_manifest(m);
}

TEST(TorchManifest, NnunetCheckpointDetails) {
  MEDPORT_FIXTURE_OR_SKIP(file, "nnunet/camus2d_small/nnUNetTrainer__nnUNetPlans__2d/fold_0/checkpoint_final.pth");
  const auto ckpt = load_torch_checkpoint(file);
  EXPECT_EQ(ckpt.archive_prefix, "checkpoint_final");
  const Value& root = *ckpt.root;
  EXPECT_EQ(root.at("trainer_name").as_str(), "nnUNetTrainer");
  EXPECT_EQ(root.at("init_args").at("configuration").as_str(), "2d");
  EXPECT_EQ(root.at("init_args").at("device").type_name(), "torch.device");
  const auto& axes = root.at("inference_allowed_mirroring_axes").items();
  ASSERT_EQ(axes.size(), 2u);
  EXPECT_EQ(axes[0]->as_int(), 0);
  EXPECT_EQ(axes[1]->as_int(), 1);
  // _best_ema is a numpy float32 scalar decoded from its latin-1 bytes: a finite Dice in [0, 1].
  const double ema = root.at("_best_ema").as_float();
  EXPECT_GE(ema, 0.0);
  EXPECT_LE(ema, 1.0);
  // The aliases .conv.weight / .all_modules.0.weight share one storage.
  const auto* conv = ckpt.find("network_weights.encoder.stages.0.0.convs.0.conv.weight");
  const auto* alias = ckpt.find("network_weights.encoder.stages.0.0.convs.0.all_modules.0.weight");
  ASSERT_TRUE(conv && alias);
  EXPECT_EQ(conv->tensor.storage().get(), alias->tensor.storage().get());
  EXPECT_EQ(conv->storage_key, alias->storage_key);
}
