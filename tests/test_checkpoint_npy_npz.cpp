// .npz writing (stored and deflated, atomic) and archive-level errors, cross-checked with numpy.
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "test_support.hpp"

using medport::DType;
using medport::InputError;
using medport::Shape;
using medport::Tensor;
namespace ckpt = medport::ckpt;
namespace mt = medport::testing;
namespace fs = std::filesystem;

namespace {

std::string hex(const std::vector<std::byte>& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (const auto b : bytes) {
    s += digits[static_cast<unsigned>(b) >> 4];
    s += digits[static_cast<unsigned>(b) & 15];
  }
  return s;
}

// Tensors of every dtype numpy knows, plus a scalar, an empty array and a transposed view.
ckpt::NamedTensors every_kind() {
  // In range for every dtype (converting out-of-range floats to integers is undefined).
  const std::vector<float> v{0.5f, 4.0f, 2.0f, 3.0f, 0.0f, 1.0f};
  ckpt::NamedTensors t;
  for (const DType d : {DType::F32, DType::F64, DType::F16, DType::I64, DType::I32, DType::I16, DType::I8,
                        DType::U8, DType::Bool})
    t.emplace_back(std::string(medport::dtype_name(d)), Tensor::from_f32({2, 3}, v).to(d));
  t.emplace_back("scalar", Tensor::from_f32({}, std::vector<float>{7.0f}));
  t.emplace_back("empty", Tensor::zeros(DType::I32, {0, 5}));
  const Tensor base = Tensor::from_f32({2, 3}, std::vector<float>{0, 1, 2, 3, 4, 5});
  t.emplace_back("transposed", Tensor(base.storage(), 0, {3, 2}, {1, 3}));
  t.emplace_back("nested/name with spaces", Tensor::from_f32({1}, std::vector<float>{9.0f}));
  return t;
}

// What numpy and zipfile see: names, dtypes, shapes, bytes and each member's compression.
constexpr const char* kInspectScript = R"PY(
import sys, json, zipfile, numpy as np
path = sys.argv[1]
methods = {i.filename: i.compress_type for i in zipfile.ZipFile(path).infolist()}
z = np.load(path, allow_pickle=False)
out = []
for k in z.files:
    a = z[k]
    le = np.ascontiguousarray(a).astype(a.dtype.newbyteorder('<'))
    out.append({"name": k, "dtype": a.dtype.name, "shape": list(a.shape), "hex": le.tobytes().hex(),
                "method": methods[k + ".npy"]})
print(json.dumps(out))
)PY";

void expect_numpy_sees(const fs::path& path, const ckpt::NamedTensors& written, int method) {
  MEDPORT_RUN_PYTHON_OR_SKIP(numpy, kInspectScript, path.string());
  const auto seen = nlohmann::json::parse(numpy.out);
  ASSERT_EQ(seen.size(), written.size());
  for (std::size_t i = 0; i < written.size(); ++i) {
    SCOPED_TRACE(written[i].first);
    EXPECT_EQ(seen[i]["name"].get<std::string>(), written[i].first);
    EXPECT_EQ(seen[i]["dtype"].get<std::string>(), std::string(medport::dtype_name(written[i].second.dtype())));
    EXPECT_EQ(seen[i]["shape"].get<Shape>(), written[i].second.shape());
    EXPECT_EQ(seen[i]["hex"].get<std::string>(), hex(written[i].second.contiguous_bytes()));
    EXPECT_EQ(seen[i]["method"].get<int>(), method);  // 0 stored, 8 deflated
  }
}

void expect_round_trip(const fs::path& path, const ckpt::NamedTensors& written) {
  const auto back = ckpt::read_npz(path);
  ASSERT_EQ(back.size(), written.size());
  for (std::size_t i = 0; i < written.size(); ++i) {
    SCOPED_TRACE(written[i].first);
    EXPECT_EQ(back[i].first, written[i].first);
    EXPECT_EQ(back[i].second.dtype(), written[i].second.dtype());
    EXPECT_EQ(back[i].second.shape(), written[i].second.shape());
    EXPECT_EQ(back[i].second.contiguous_bytes(), written[i].second.contiguous_bytes());
  }
}

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename());
  return out;
}

void expect_input_error(const std::function<void()>& action, const std::string& part1, const std::string& part2) {
  try {
    action();
    ADD_FAILURE() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(part1), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(part2), std::string::npos) << e.what();
  }
}

}  // namespace

TEST(NpzWrite, StoredRoundTripAndNumpyReadsIt) {
  mt::TempDir dir;
  const auto tensors = every_kind();
  ckpt::write_npz(dir / "out.npz", tensors);
  expect_round_trip(dir / "out.npz", tensors);
  expect_numpy_sees(dir / "out.npz", tensors, 0);
}

TEST(NpzWrite, CompressedRoundTripAndNumpyReadsIt) {
  mt::TempDir dir;
  const auto tensors = every_kind();
  ckpt::write_npz(dir / "out.npz", tensors, /*compress=*/true);
  expect_round_trip(dir / "out.npz", tensors);
  expect_numpy_sees(dir / "out.npz", tensors, 8);
}

TEST(NpzWrite, CompressesRepetitiveData) {
  mt::TempDir dir;
  const ckpt::NamedTensors big{{"zeros", Tensor::zeros(DType::F32, {256, 256})}};
  ckpt::write_npz(dir / "stored.npz", big);
  ckpt::write_npz(dir / "deflated.npz", big, true);
  EXPECT_GT(fs::file_size(dir / "stored.npz"), 256u * 256u * 4u);
  EXPECT_LT(fs::file_size(dir / "deflated.npz"), 4096u);
  expect_round_trip(dir / "deflated.npz", big);
}

TEST(NpzWrite, SameTensorsGiveSameBytes) {
  mt::TempDir dir;
  const auto tensors = every_kind();
  ckpt::write_npz(dir / "a.npz", tensors);
  ckpt::write_npz(dir / "b.npz", tensors);
  EXPECT_EQ(medport::testing::read_text(dir / "a.npz"), medport::testing::read_text(dir / "b.npz"));
}

TEST(NpzWrite, LeavesNoTemporaryFilesAndOverwrites) {
  mt::TempDir dir;
  ckpt::write_npz(dir / "out.npz", {{"a", Tensor::zeros(DType::F32, {3})}});
  ckpt::write_npz(dir / "out.npz", {{"b", Tensor::zeros(DType::I8, {2})}});
  EXPECT_EQ(files_in(dir.path()), std::vector<fs::path>{"out.npz"});
  EXPECT_EQ(ckpt::NpzFile::open(dir / "out.npz").names(), std::vector<std::string>{"b"});
  EXPECT_EQ(fs::status(dir / "out.npz").permissions() & fs::perms::others_read, fs::perms::others_read);
}

TEST(NpzWrite, FailureLeavesTheOldFileAlone) {
  mt::TempDir dir;
  ckpt::write_npz(dir / "out.npz", {{"a", Tensor::zeros(DType::F32, {3})}});
  const std::string before = medport::testing::read_text(dir / "out.npz");
  expect_input_error([&] { ckpt::write_npz(dir / "out.npz", {{"x", Tensor::zeros(DType::F32, {1})}, {"x", Tensor::zeros(DType::F32, {1})}}); },
                     "out.npz", "used twice");
  expect_input_error([&] { ckpt::write_npz(dir / "out.npz", {{"ok", Tensor::zeros(DType::F32, {1})}, {"bf", Tensor::zeros(DType::BF16, {1})}}); },
                     "out.npz", "bfloat16");
  expect_input_error([&] { ckpt::write_npz(dir / "out.npz", {{"", Tensor::zeros(DType::F32, {1})}}); }, "out.npz", "empty");
  EXPECT_EQ(medport::testing::read_text(dir / "out.npz"), before);
  EXPECT_EQ(files_in(dir.path()), std::vector<fs::path>{"out.npz"});
}

TEST(NpzWrite, EmptyArchive) {
  mt::TempDir dir;
  ckpt::write_npz(dir / "none.npz", {});
  EXPECT_TRUE(ckpt::read_npz(dir / "none.npz").empty());
  expect_numpy_sees(dir / "none.npz", {}, 0);
}

TEST(NpzWrite, CreatesParentFolders) {
  mt::TempDir dir;
  ckpt::write_npz(dir / "a" / "b" / "out.npz", {{"x", Tensor::zeros(DType::U8, {1})}});
  EXPECT_EQ(ckpt::read_npz(dir / "a" / "b" / "out.npz").size(), 1u);
}

// --- archives that must be refused -----------------------------------------------------------

TEST(NpzRead, BadArchivesAreRefusedNamingTheFileAndMember) {
  mt::TempDir dir;
  const std::string script = R"PY(
import sys, io, zipfile, numpy as np
d = sys.argv[1]
def npy(a):
    b = io.BytesIO(); np.save(b, a); return b.getvalue()
with zipfile.ZipFile(d + '/not_npy.npz', 'w') as z:
    z.writestr('a.npy', npy(np.zeros(2)))
    z.writestr('notes.txt', b'hello')
with zipfile.ZipFile(d + '/bad_member.npz', 'w') as z:
    z.writestr('good.npy', npy(np.zeros(2)))
    z.writestr('bad.npy', npy(np.zeros(2))[:-4])
with zipfile.ZipFile(d + '/object.npz', 'w') as z:
    z.writestr('o.npy', npy(np.array([None, 1], dtype=object)))
with zipfile.ZipFile(d + '/dup.npz', 'w') as z:
    z.writestr('a.npy', npy(np.zeros(2)))
    z.writestr('a.npy', npy(np.ones(2)))
np.savez(d + '/good.npz', x=np.arange(4.0))
data = open(d + '/good.npz', 'rb').read()
open(d + '/truncated.npz', 'wb').write(data[:len(data) // 2])
corrupt = bytearray(data); corrupt[data.index(b'\x93NUMPY') + 90] ^= 0xff
open(d + '/crc.npz', 'wb').write(bytes(corrupt))
)PY";
  MEDPORT_RUN_PYTHON_OR_SKIP(made, script, dir.path().string());
  expect_input_error([&] { (void)ckpt::read_npz(dir / "not_npy.npz"); }, "not_npy.npz", "notes.txt");
  expect_input_error([&] { (void)ckpt::read_npz(dir / "bad_member.npz"); }, "bad_member.npz:bad.npy", "bytes of data follow");
  expect_input_error([&] { (void)ckpt::read_npz(dir / "object.npz"); }, "object.npz:o.npy", "pickled");
  // libzip itself refuses duplicate names ("File already exists"); NpzFile would too.
  expect_input_error([&] { (void)ckpt::read_npz(dir / "dup.npz"); }, "dup.npz", "");
  expect_input_error([&] { (void)ckpt::read_npz(dir / "truncated.npz"); }, "truncated.npz", "zip");
  expect_input_error([&] { (void)ckpt::read_npz(dir / "crc.npz"); }, "crc.npz", "CRC");
  expect_input_error([&] { (void)ckpt::read_npz(dir / "absent.npz"); }, "absent.npz", "no such file");
  // The lazy reader opens a partly bad archive and reads its good members.
  const auto lazy = ckpt::NpzFile::open(dir / "bad_member.npz");
  EXPECT_EQ(lazy.read("good").to_f32(), (std::vector<float>{0, 0}));
  EXPECT_EQ(ckpt::read_npz(dir / "good.npz")[0].second.to_f32(), (std::vector<float>{0, 1, 2, 3}));
}

TEST(NpzRead, FromMemory) {
  mt::TempDir dir;
  ckpt::write_npz(dir / "m.npz", {{"v", Tensor::from_f32({2}, std::vector<float>{1, 2})}});
  const std::string bytes = medport::testing::read_text(dir / "m.npz");
  auto owned = std::make_shared<const std::vector<std::byte>>(reinterpret_cast<const std::byte*>(bytes.data()),
                                                               reinterpret_cast<const std::byte*>(bytes.data()) + bytes.size());
  const auto arrays = ckpt::read_npz(owned, "memory");
  ASSERT_EQ(arrays.size(), 1u);
  EXPECT_EQ(arrays[0].second.to_f32(), (std::vector<float>{1, 2}));
  auto garbage = std::make_shared<const std::vector<std::byte>>(100, std::byte{0x50});
  expect_input_error([&] { (void)ckpt::read_npz(garbage, "memory-garbage"); }, "memory-garbage", "zip");
}
