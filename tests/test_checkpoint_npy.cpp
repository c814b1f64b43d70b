// .npy reading and writing: NumPy-made files (fixtures and files numpy writes at test time),
// hand-built headers, byte-identical output, and malformed input refused with InputError.
#include "medport/checkpoint/npy.hpp"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

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

std::vector<std::byte> to_bytes(std::string_view s) {
  std::vector<std::byte> out(s.size());
  std::memcpy(out.data(), s.data(), s.size());
  return out;
}

// A .npy file with a hand-written dict (version 1.0) followed by `data`.
std::vector<std::byte> npy_with_header(const std::string& dict, std::string_view data = {}, char major = 1) {
  std::string file = "\x93NUMPY";
  file += major;
  file += '\0';
  const std::size_t length = dict.size();
  file += static_cast<char>(length & 0xff);
  file += static_cast<char>((length >> 8) & 0xff);
  if (major != 1) file += std::string(2, '\0');
  file += dict;
  file += data;
  return to_bytes(file);
}

template <class T>
std::string raw(std::initializer_list<T> values) {
  std::string s(values.size() * sizeof(T), '\0');
  std::size_t i = 0;
  for (const T v : values) std::memcpy(s.data() + sizeof(T) * i++, &v, sizeof(T));
  return s;
}

std::string hex(const std::vector<std::byte>& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (const auto b : bytes) {
    s += digits[static_cast<unsigned>(b) >> 4];
    s += digits[static_cast<unsigned>(b) & 15];
  }
  return s;
}

// Runs Debian's python3 with numpy; skips the test when it is not available.
// What numpy reads: [[name, {dtype, shape, hex of little-endian C-order bytes}], ...].
constexpr const char* kDumpScript = R"PY(
import sys, json, numpy as np
def dump(a):
    a = np.asarray(a)
    le = np.ascontiguousarray(a).astype(a.dtype.newbyteorder('<'))
    return {"dtype": a.dtype.name, "shape": list(a.shape), "hex": le.tobytes().hex()}
path = sys.argv[1]
if path.endswith('.npz'):
    z = np.load(path, allow_pickle=False)
    print(json.dumps([[k, dump(z[k])] for k in z.files]))
else:
    print(json.dumps([["", dump(np.load(path, allow_pickle=False))]]))
)PY";

void expect_matches_numpy(const std::string& numpy_json, const ckpt::NamedTensors& ours) {
  const auto expected = nlohmann::json::parse(numpy_json);
  ASSERT_EQ(expected.size(), ours.size());
  for (std::size_t i = 0; i < ours.size(); ++i) {
    const std::string name = expected[i][0].get<std::string>();
    const auto& info = expected[i][1];
    SCOPED_TRACE(name);
    if (!name.empty()) {
      EXPECT_EQ(ours[i].first, name);
    }
    EXPECT_EQ(std::string(medport::dtype_name(ours[i].second.dtype())), info["dtype"].get<std::string>());
    EXPECT_EQ(ours[i].second.shape(), info["shape"].get<Shape>());
    EXPECT_EQ(hex(ours[i].second.contiguous_bytes()), info["hex"].get<std::string>());
  }
}

// The values every dtype test uses, shape (2, 3).
struct Sample {
  DType dtype;
  const char* numpy;  // numpy dtype string (little-endian)
  std::vector<float> values;
};
const std::vector<Sample>& samples() {
  static const std::vector<Sample> s{
      {DType::F32, "<f4", {0.5f, -1.25f, 3.0f, 1e-3f, -0.0f, 65504.0f}},
      {DType::F64, "<f8", {0.5f, -1.25f, 3.0f, 1e-3f, -0.0f, 1e30f}},
      {DType::F16, "<f2", {0.5f, -1.25f, 3.0f, 0.099975586f, -0.0f, 65504.0f}},
      {DType::I64, "<i8", {0, 1, -2, 3, 100000, -7}},
      {DType::I32, "<i4", {0, 1, -2, 3, 100000, -7}},
      {DType::I16, "<i2", {0, 1, -2, 3, 30000, -7}},
      {DType::I8, "|i1", {0, 1, -2, 3, 127, -128}},
      {DType::U8, "|u1", {0, 1, 2, 3, 200, 255}},
      {DType::Bool, "|b1", {0, 1, 0, 1, 1, 0}},
  };
  return s;
}

Tensor sample_tensor(const Sample& s) {
  return Tensor::from_f32({2, 3}, s.values).to(s.dtype);
}

// Exact decimal forms, so numpy starts from the very same values.
std::string float_list(const std::vector<float>& v) {
  std::string s = "[";
  for (const float f : v) {
    char buffer[40];
    std::snprintf(buffer, sizeof(buffer), "%.17g", static_cast<double>(f));
    std::string item = buffer;
    if (item.find_first_of(".e") == std::string::npos) item += ".0";  // "-0" would be an int
    s += item + ",";
  }
  return s + "]";
}

}  // namespace

// --- fixtures made by numpy ------------------------------------------------------------------

TEST(Npz, FixtureMatchesWhatNumpyReads) {
  MEDPORT_FIXTURE_OR_SKIP(path, "checkpoints/edge/numpy_npz.npz");
  const auto ours = ckpt::read_npz(path);
  MEDPORT_RUN_PYTHON_OR_SKIP(numpy, kDumpScript, path.string());
  expect_matches_numpy(numpy.out, ours);
}

TEST(Npz, FixtureValuesByHandIncludingFortranMember) {
  MEDPORT_FIXTURE_OR_SKIP(path, "checkpoints/edge/numpy_npz.npz");
  const auto ours = ckpt::read_npz(path);
  ASSERT_EQ(ours.size(), 3u);
  EXPECT_EQ(ours[0].first, "a");
  EXPECT_EQ(ours[0].second.dtype(), DType::F32);
  EXPECT_EQ(ours[0].second.to_f32(), (std::vector<float>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(ours[1].first, "b");
  EXPECT_EQ(ours[1].second.dtype(), DType::I64);
  EXPECT_EQ(ours[1].second.shape(), (Shape{2}));
  EXPECT_EQ(ours[1].second.to_f32(), (std::vector<float>{1, 2}));
  // 'c' is stored column-major; it must come back as row-major [[0,1,2],[3,4,5]].
  EXPECT_EQ(ours[2].first, "c");
  EXPECT_EQ(ours[2].second.dtype(), DType::F64);
  EXPECT_EQ(ours[2].second.shape(), (Shape{2, 3}));
  EXPECT_TRUE(ours[2].second.is_contiguous());
  EXPECT_EQ(ours[2].second.to_f32(), (std::vector<float>{0, 1, 2, 3, 4, 5}));
}

TEST(Npz, CompressedFixture) {
  MEDPORT_FIXTURE_OR_SKIP(path, "checkpoints/edge/numpy_npz_compressed.npz");
  const auto ours = ckpt::read_npz(path);
  ASSERT_EQ(ours.size(), 1u);
  EXPECT_EQ(ours[0].first, "a");
  const auto v = ours[0].second.to_f32();
  ASSERT_EQ(v.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_FLOAT_EQ(v[static_cast<std::size_t>(i)], static_cast<float>(i) / 9.0f);
  MEDPORT_RUN_PYTHON_OR_SKIP(numpy, kDumpScript, path.string());
  expect_matches_numpy(numpy.out, ours);
}

TEST(Npz, LazyReaderListsAndReadsMembers) {
  MEDPORT_FIXTURE_OR_SKIP(path, "checkpoints/edge/numpy_npz.npz");
  const auto npz = ckpt::NpzFile::open(path);
  EXPECT_EQ(npz.names(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(npz.contains("b"));
  EXPECT_FALSE(npz.contains("b.npy"));
  EXPECT_EQ(npz.read("b").to_f32(), (std::vector<float>{1, 2}));
  EXPECT_EQ(ckpt::read_npz_member(path, "a").shape(), (Shape{2, 3}));
  try {
    (void)npz.read("missing");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("missing"), std::string::npos) << e.what();
  }
}

TEST(Npz, EveryFixtureArchiveReads) {
  // The parity fixtures other tests rely on: every member parses and matches its recorded size.
  const auto root = mt::fixtures_dir();
  if (!fs::exists(root)) GTEST_SKIP() << "no fixtures";
  int archives = 0;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.path().extension() != ".npz") continue;
    SCOPED_TRACE(entry.path().string());
    const auto arrays = ckpt::read_npz(entry.path());
    EXPECT_FALSE(arrays.empty());
    ++archives;
  }
  EXPECT_GT(archives, 5);
}

// --- every dtype against numpy ---------------------------------------------------------------

TEST(Npy, ReadsWhatNumpyWritesForEveryDtypeAndByteOrder) {
  mt::TempDir dir;
  std::string script = "import sys, numpy as np\nd = sys.argv[1]\n";
  for (const auto& s : samples()) {
    const std::string name(medport::dtype_name(s.dtype));
    script += "v = np.array(" + float_list(s.values) + ").reshape(2, 3)\n";
    script += "np.save(d + '/" + name + "_le.npy', v.astype('" + s.numpy + "'))\n";
    script += "np.save(d + '/" + name + "_be.npy', v.astype('" + s.numpy + "'.replace('<', '>')))\n";
    script += "np.save(d + '/" + name + "_f.npy', np.asfortranarray(v.astype('" + s.numpy + "')))\n";
  }
  MEDPORT_RUN_PYTHON_OR_SKIP(made, script, dir.path().string());
  for (const auto& s : samples()) {
    const std::string name(medport::dtype_name(s.dtype));
    for (const char* variant : {"_le", "_be", "_f"}) {
      SCOPED_TRACE(name + variant);
      const Tensor t = ckpt::read_npy_file(dir / (name + variant + ".npy"));
      EXPECT_EQ(t.dtype(), s.dtype);
      EXPECT_EQ(t.shape(), (Shape{2, 3}));
      EXPECT_TRUE(t.is_contiguous());
      const auto values = t.to_f32();
      for (std::size_t i = 0; i < 6; ++i) EXPECT_EQ(values[i], s.values[i]) << i;
    }
  }
}

TEST(Npy, WritesTheSameBytesAsNumpy) {
  mt::TempDir dir;
  std::string script = "import sys, numpy as np\nd = sys.argv[1]\n";
  for (const auto& s : samples()) {
    const std::string name(medport::dtype_name(s.dtype));
    script += "np.save(d + '/" + name + ".npy', np.array(" + float_list(s.values) + ").reshape(2, 3).astype('" +
              s.numpy + "'))\n";
  }
  script += "np.save(d + '/scalar.npy', np.array(2.5, dtype='<f4'))\n";
  script += "np.save(d + '/empty.npy', np.zeros((0, 4), dtype='<i8'))\n";
  script += "np.save(d + '/vector.npy', np.arange(1234567, dtype='|u1')[:7])\n";
  script += "np.save(d + '/rank5.npy', np.zeros((1, 2, 1, 2, 1), dtype='<f2'))\n";
  MEDPORT_RUN_PYTHON_OR_SKIP(made, script, dir.path().string());
  for (const auto& s : samples()) {
    SCOPED_TRACE(medport::dtype_name(s.dtype));
    const auto ours = ckpt::write_npy(sample_tensor(s));
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(ours.data()), ours.size()),
              medport::testing::read_text(dir / (std::string(medport::dtype_name(s.dtype)) + ".npy")));
  }
  const std::vector<std::pair<std::string, Tensor>> others{
      {"scalar", Tensor::from_f32({}, std::vector<float>{2.5f})},
      {"empty", Tensor::zeros(DType::I64, {0, 4})},
      {"vector", Tensor::from_f32({7}, std::vector<float>{0, 1, 2, 3, 4, 5, 6}).to(DType::U8)},
      {"rank5", Tensor::zeros(DType::F16, {1, 2, 1, 2, 1})},
  };
  for (const auto& [name, tensor] : others) {
    SCOPED_TRACE(name);
    const auto ours = ckpt::write_npy(tensor);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(ours.data()), ours.size()), medport::testing::read_text(dir / (name + ".npy")));
  }
}

TEST(Npy, ReadsFormatVersions2And3) {
  mt::TempDir dir;
  const std::string script = R"PY(
import sys, numpy as np
from numpy.lib import format as fmt
for version in [(1, 0), (2, 0), (3, 0)]:
    with open(sys.argv[1] + '/v%d.npy' % version[0], 'wb') as f:
        fmt.write_array(f, np.arange(6, dtype='<i4').reshape(3, 2), version=version)
)PY";
  MEDPORT_RUN_PYTHON_OR_SKIP(made, script, dir.path().string());
  for (const char* v : {"v1.npy", "v2.npy", "v3.npy"}) {
    SCOPED_TRACE(v);
    const Tensor t = ckpt::read_npy_file(dir / v);
    EXPECT_EQ(t.shape(), (Shape{3, 2}));
    EXPECT_EQ(t.to_f32(), (std::vector<float>{0, 1, 2, 3, 4, 5}));
  }
}

// --- hand-built files ------------------------------------------------------------------------

TEST(Npy, BigEndianIsByteSwapped) {
  const std::string data = std::string("\x00\x00\x00\x01", 4) + std::string("\xff\xff\xff\xfe", 4);  // 1, -2
  const auto t = ckpt::read_npy(npy_with_header("{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }\n", data), "be");
  EXPECT_EQ(t.dtype(), DType::I32);
  EXPECT_EQ(t.to_f32(), (std::vector<float>{1, -2}));
  const std::string half = std::string("\x3c\x00", 2) + std::string("\xc0\x00", 2);  // 1.0, -2.0 in big-endian f16
  EXPECT_EQ(ckpt::read_npy(npy_with_header("{'descr': '>f2', 'fortran_order': False, 'shape': (2,), }", half), "be")
                .to_f32(),
            (std::vector<float>{1, -2}));
}

TEST(Npy, FortranOrderThreeDimensionsBecomesRowMajor) {
  // Logical value at [i][j][k] is 100i + 10j + k; column-major storage has i varying fastest.
  std::vector<std::int16_t> column_major;
  for (int k = 0; k < 4; ++k)
    for (int j = 0; j < 3; ++j)
      for (int i = 0; i < 2; ++i) column_major.push_back(static_cast<std::int16_t>(100 * i + 10 * j + k));
  const std::string data(reinterpret_cast<const char*>(column_major.data()), column_major.size() * 2);
  const auto t = ckpt::read_npy(npy_with_header("{'descr': '<i2', 'fortran_order': True, 'shape': (2, 3, 4), }", data), "f");
  ASSERT_EQ(t.shape(), (Shape{2, 3, 4}));
  EXPECT_TRUE(t.is_contiguous());
  const auto v = t.to_f32();
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) EXPECT_EQ(v[static_cast<std::size_t>(12 * i + 4 * j + k)], 100 * i + 10 * j + k);
}

TEST(Npy, ZeroDimensionalAndEmptyArrays) {
  const auto scalar = ckpt::read_npy(npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (), }", raw({2.5})), "s");
  EXPECT_EQ(scalar.shape(), Shape{});
  EXPECT_EQ(scalar.numel(), 1);
  EXPECT_EQ(scalar.to_f32(), std::vector<float>{2.5f});
  const auto empty = ckpt::read_npy(npy_with_header("{'descr': '<f4', 'fortran_order': True, 'shape': (3, 0, 2), }"), "e");
  EXPECT_EQ(empty.shape(), (Shape{3, 0, 2}));
  EXPECT_EQ(empty.numel(), 0);
  // Python 2 era files wrote long literals; double quotes and extra spaces are Python too.
  const auto old = ckpt::read_npy(npy_with_header("{\"shape\": (2L, ) ,\"fortran_order\":False,'descr':'|u1'}  \n", "\x07\x09"), "o");
  EXPECT_EQ(old.shape(), (Shape{2}));
  EXPECT_EQ(old.to_f32(), (std::vector<float>{7, 9}));
}

TEST(Npy, BoolBytesAreNormalised) {
  const auto t = ckpt::read_npy(npy_with_header("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", std::string("\x00\x02\xff", 3)), "b");
  EXPECT_EQ(t.to_f32(), (std::vector<float>{0, 1, 1}));
  EXPECT_EQ(static_cast<int>(t.contiguous_bytes()[1]), 1);
}

TEST(Npy, RoundTripsEveryDtypeIncludingViews) {
  mt::TempDir dir;
  for (const auto& s : samples()) {
    SCOPED_TRACE(medport::dtype_name(s.dtype));
    const Tensor t = sample_tensor(s);
    ckpt::write_npy_file(dir / "t.npy", t);
    const Tensor back = ckpt::read_npy_file(dir / "t.npy");
    EXPECT_EQ(back.dtype(), s.dtype);
    EXPECT_EQ(back.shape(), t.shape());
    EXPECT_EQ(back.contiguous_bytes(), t.contiguous_bytes());
  }
  // A transposed (non-contiguous) view is written in its logical row-major order.
  const Tensor base = Tensor::from_f32({2, 3}, std::vector<float>{0, 1, 2, 3, 4, 5});
  const Tensor transposed(base.storage(), 0, {3, 2}, {1, 3});
  const Tensor back = ckpt::read_npy(ckpt::write_npy(transposed), "t");
  EXPECT_EQ(back.shape(), (Shape{3, 2}));
  EXPECT_EQ(back.to_f32(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
}

TEST(Npy, WriterRefusesBfloat16) {
  mt::TempDir dir;
  const Tensor t = Tensor::zeros(DType::BF16, {2});
  try {
    ckpt::write_npy_file(dir / "bf.npy", t);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("bfloat16"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("bf.npy"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir / "bf.npy"));
}

TEST(Npy, ManyDimensionsKeepVersion1AndAlignment) {
  // Even 64 dimensions fit a version 1.0 header; the data stays 64-byte aligned.
  const Tensor t = Tensor::zeros(DType::U8, Shape(64, 1));
  const auto bytes = ckpt::write_npy(t);
  EXPECT_EQ(static_cast<int>(bytes[6]), 1);
  EXPECT_EQ((bytes.size() - 1) % 64, 0u);
  EXPECT_EQ(ckpt::read_npy(bytes, "dims").shape(), Shape(64, 1));
}

// --- malformed input -------------------------------------------------------------------------

struct Malformed {
  const char* label;
  std::vector<std::byte> bytes;
  const char* message;  // part of the expected error
};

class NpyMalformed : public ::testing::TestWithParam<int> {};

std::vector<Malformed> malformed_cases() {
  const std::string good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  const std::string two_floats = raw({1.0f, 2.0f});
  auto truncated = npy_with_header(good, two_floats);
  truncated.resize(truncated.size() - 3);
  auto cut_in_header = npy_with_header(good, two_floats);
  cut_in_header.resize(30);
  std::string huge_header = "\x93NUMPY\x02";
  huge_header += std::string("\0\xff\xff\xff\x7f{", 6);
  return {
      {"truncated data", truncated, "8 bytes) but 5 bytes"},
      {"truncated header", cut_in_header, "truncated"},
      {"lying shape", npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", two_floats), "but 8 bytes"},
      {"extra data", npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", two_floats), "but 8 bytes"},
      {"huge shape", npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4611686018427387904), }", two_floats), "too large"},
      {"huge empty shape", npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 0, 4611686018427387904), }"), "too large"},
      {"dimension overflow", npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", two_floats), "64 bits"},
      {"negative dimension", npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", two_floats), "negative"},
      {"object array", npy_with_header("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", two_floats), "pickled"},
      {"unsigned 32", npy_with_header("{'descr': '<u4', 'fortran_order': False, 'shape': (2,), }", two_floats), "unsupported .npy dtype '<u4'"},
      {"complex", npy_with_header("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", two_floats), "unsupported"},
      {"bad byte order", npy_with_header("{'descr': '|f4', 'fortran_order': False, 'shape': (2,), }", two_floats), "unsupported"},
      {"structured", npy_with_header("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", two_floats), "structured"},
      {"missing key", npy_with_header("{'descr': '<f4', 'shape': (2,), }", two_floats), "'fortran_order' is missing"},
      {"unknown key", npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", two_floats), "unexpected key"},
      {"duplicate key", npy_with_header("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", two_floats), "twice"},
      {"int not tuple", npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2), }", two_floats), "trailing comma"},
      {"bad bool", npy_with_header("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }", two_floats), "True or False"},
      {"trailing junk", npy_with_header(good + " x", two_floats), "after the closing"},
      {"unterminated", npy_with_header("{'descr': '<f4", two_floats), "unterminated"},
      {"escape", npy_with_header("{'descr': '<f\\4', 'fortran_order': False, 'shape': (2,), }", two_floats), "escape"},
      {"non-ascii", npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), '\xe9': 1}", two_floats), "non-ASCII"},
      {"bad magic", to_bytes("\x93NUMPX\x01\x00\x00\x00"), "does not start with"},
      {"empty", {}, "does not start with"},
      {"version 4", npy_with_header(good, two_floats, 4), "version 4.0"},
      {"header past end", to_bytes(huge_header), "claims"},
  };
}

TEST(Npy, MalformedInputIsRefusedNamingTheSource) {
  for (const auto& c : malformed_cases()) {
    SCOPED_TRACE(c.label);
    try {
      (void)ckpt::read_npy(c.bytes, "bad-source.npy");
      ADD_FAILURE() << c.label << ": no error";
    } catch (const InputError& e) {
      const std::string what = e.what();
      EXPECT_EQ(what.rfind("bad-source.npy: ", 0), 0u) << what;
      EXPECT_NE(what.find(c.message), std::string::npos) << what;
    }
  }
}

TEST(Npy, MissingFileIsAnInputError) {
  mt::TempDir dir;
  EXPECT_THROW((void)ckpt::read_npy_file(dir / "absent.npy"), InputError);
}
