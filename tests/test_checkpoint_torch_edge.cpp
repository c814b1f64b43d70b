// Every array of edge_expected.npz (written by PyTorch itself) reproduced bit-exactly from the
// zip, legacy and stream-saved checkpoints, plus the metadata those files carry.
#include <cstring>

#include "medport/checkpoint/npy.hpp"
#include "medport/checkpoint/torch_checkpoint.hpp"
#include "test_support.hpp"

using namespace medport;
using namespace medport::ckpt;
namespace fs = std::filesystem;

namespace {

void expect_matches_expected(const TorchCheckpoint& ckpt, const std::string& path_prefix, const fs::path& expected_npz) {
  const auto expected = read_npz(expected_npz);
  ASSERT_EQ(expected.size(), 14u);
  for (const auto& [name, want] : expected) {
    SCOPED_TRACE(ckpt.source + " : " + name);
    const auto* got = ckpt.find(path_prefix + name);
    ASSERT_NE(got, nullptr) << "tensor missing";
    ASSERT_EQ(got->tensor.shape(), want.shape());
    if (got->tensor.dtype() == DType::BF16) {
      // The expected file holds bfloat16 values widened to float32 (exact).
      ASSERT_EQ(want.dtype(), DType::F32);
      const auto widened = got->tensor.to_f32();
      const auto want_bytes = want.contiguous_bytes();
      ASSERT_EQ(widened.size() * 4, want_bytes.size());
      EXPECT_EQ(std::memcmp(widened.data(), want_bytes.data(), want_bytes.size()), 0);
      continue;
    }
    ASSERT_EQ(got->tensor.dtype(), want.dtype());
    EXPECT_EQ(got->tensor.contiguous_bytes(), want.contiguous_bytes());
  }
}

}  // namespace

TEST(TorchEdge, ZipMatchesPyTorchBitExactly) {
  MEDPORT_FIXTURE_OR_SKIP(file, "checkpoints/edge/edge_zip.pt");
  MEDPORT_FIXTURE_OR_SKIP(expected, "checkpoints/edge/edge_expected.npz");
  const auto ckpt = load_torch_checkpoint(file);
  EXPECT_EQ(ckpt.format, "torch-zip");
  EXPECT_EQ(ckpt.format_version, "3");
  EXPECT_EQ(ckpt.archive_prefix, "edge_zip");
  EXPECT_EQ(ckpt.byteorder, "little");
  EXPECT_EQ(ckpt.pickle_protocol, 2);
  expect_matches_expected(ckpt, "state_dict.", expected);
  EXPECT_EQ(ckpt.tensors.size(), 14u);
  EXPECT_EQ(ckpt.storage_count, 11u);  // view_rows, view_T, view_strided and base share one storage
}

TEST(TorchEdge, LegacyMatchesPyTorchBitExactly) {
  MEDPORT_FIXTURE_OR_SKIP(file, "checkpoints/edge/edge_legacy.pt");
  MEDPORT_FIXTURE_OR_SKIP(expected, "checkpoints/edge/edge_expected.npz");
  const auto ckpt = load_torch_checkpoint(file);
  EXPECT_EQ(ckpt.format, "torch-legacy");
  EXPECT_EQ(ckpt.format_version, "1001");
  EXPECT_EQ(ckpt.archive_prefix, "");
  expect_matches_expected(ckpt, "state_dict.", expected);
  EXPECT_EQ(ckpt.storage_count, 11u);
}

TEST(TorchEdge, StreamSavedUsesArchivePrefix) {
  MEDPORT_FIXTURE_OR_SKIP(file, "checkpoints/edge/stream_saved.pt");
  MEDPORT_FIXTURE_OR_SKIP(expected, "checkpoints/edge/edge_expected.npz");
  const auto ckpt = load_torch_checkpoint(file);
  EXPECT_EQ(ckpt.format, "torch-zip");
  EXPECT_EQ(ckpt.archive_prefix, "archive");
  EXPECT_EQ(ckpt.root->type_name(), "OrderedDict");
  expect_matches_expected(ckpt, "", expected);
}

TEST(TorchEdge, ViewsShareOneStorageAndKeepTheirLayout) {
  MEDPORT_FIXTURE_OR_SKIP(file, "checkpoints/edge/edge_zip.pt");
  const auto ckpt = load_torch_checkpoint(file);
  const auto* base = ckpt.find("state_dict.base");
  const auto* rows = ckpt.find("state_dict.view_rows");
  const auto* transposed = ckpt.find("state_dict.view_T");
  const auto* strided = ckpt.find("state_dict.view_strided");
  ASSERT_TRUE(base && rows && transposed && strided);
  EXPECT_EQ(base->tensor.storage().get(), rows->tensor.storage().get());
  EXPECT_EQ(base->tensor.storage().get(), transposed->tensor.storage().get());
  EXPECT_EQ(base->tensor.storage().get(), strided->tensor.storage().get());
  EXPECT_EQ(base->storage_key, "9");
  EXPECT_EQ(rows->tensor.offset(), 16);
  EXPECT_EQ(transposed->tensor.strides(), (Shape{1, 8}));
  EXPECT_FALSE(transposed->tensor.is_contiguous());
  EXPECT_FALSE(strided->tensor.is_contiguous());
  EXPECT_TRUE(rows->tensor.is_contiguous());
  const auto* scalar = ckpt.find("state_dict.scalar0d");
  ASSERT_NE(scalar, nullptr);
  EXPECT_EQ(scalar->tensor.ndim(), 0u);
  EXPECT_EQ(scalar->tensor.numel(), 1);
  const auto* empty = ckpt.find("state_dict.empty");
  ASSERT_NE(empty, nullptr);
  EXPECT_EQ(empty->tensor.numel(), 0);
}

TEST(TorchEdge, MetadataValues) {
  for (const char* name : {"checkpoints/edge/edge_zip.pt", "checkpoints/edge/edge_legacy.pt"}) {
    MEDPORT_FIXTURE_OR_SKIP(file, name);
    SCOPED_TRACE(name);
    const auto ckpt = load_torch_checkpoint(file);
    ASSERT_EQ(ckpt.root->type_name(), "dict");
    const Value& meta = ckpt.root->at("meta");
    EXPECT_EQ(meta.at("epoch").as_int(), 7);
    EXPECT_EQ(meta.at("name").as_str(), "edge");
    EXPECT_EQ(meta.at("lr").as_float(), 0.001);
    const Value& flags = meta.at("flags");
    ASSERT_EQ(flags.type_name(), "tuple");
    ASSERT_EQ(flags.items().size(), 2u);
    EXPECT_TRUE(flags.items()[0]->as_bool());
    EXPECT_TRUE(flags.items()[1]->is_none());
    const Value& a = meta.at("nested").at("a");
    ASSERT_EQ(a.items().size(), 3u);
    EXPECT_EQ(a.items()[0]->as_int(), 1);
    EXPECT_EQ(a.items()[1]->as_float(), 2.5);
    EXPECT_EQ(a.items()[2]->as_str(), "x");
    EXPECT_EQ(meta.at("np_f64").type_name(), "float64");
    EXPECT_EQ(meta.at("np_f64").as_float(), 0.25);
    EXPECT_EQ(meta.at("np_i64").type_name(), "int64");
    EXPECT_EQ(meta.at("np_i64").as_int(), -3);
    EXPECT_EQ(meta.at("bytes").as_bytes(), std::string("\x00\x01\xff", 3));
    const Value& set = meta.at("set");
    ASSERT_EQ(set.type_name(), "set");
    ASSERT_EQ(set.items().size(), 2u);
    EXPECT_EQ(set.items()[0]->as_int() + set.items()[1]->as_int(), 3);
    EXPECT_EQ(ckpt.root->at("state_dict").type_name(), "OrderedDict");
  }
}
