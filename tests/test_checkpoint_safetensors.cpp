// safetensors: byte layout of the reference writer, files written by a plain-Python
// struct/json script, round trips of every dtype, and malformed files refused.
#include "medport/checkpoint/safetensors.hpp"

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

std::string as_string(const std::vector<std::byte>& b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

std::vector<std::byte> as_bytes(const std::string& s) {
  std::vector<std::byte> out(s.size());
  std::memcpy(out.data(), s.data(), s.size());
  return out;
}

std::string le64(std::uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  return s;
}

// A file with this header text (unpadded) followed by `data`.
std::vector<std::byte> file_with(const std::string& header, const std::string& data = {}) {
  return as_bytes(le64(header.size()) + header + data);
}

std::string f32_bytes(std::initializer_list<float> values) {
  std::string s;
  for (const float v : values) s.append(reinterpret_cast<const char*>(&v), 4);
  return s;
}

ckpt::NamedTensors every_dtype() {
  // In range for every dtype (converting out-of-range floats to integers is undefined).
  const std::vector<float> v{0.5f, 4.0f, 2.0f, 3.0f, 0.0f, 1.0f};
  ckpt::NamedTensors t;
  for (const DType d : {DType::F32, DType::F64, DType::F16, DType::BF16, DType::I64, DType::I32, DType::I16,
                        DType::I8, DType::U8, DType::Bool})
    t.emplace_back(std::string(medport::dtype_name(d)), Tensor::from_f32({2, 3}, v).to(d));
  return t;
}

void expect_error(const std::vector<std::byte>& bytes, const std::string& part) {
  try {
    (void)ckpt::read_safetensors(bytes, "bad.safetensors");
    ADD_FAILURE() << "no error, expected one mentioning: " << part;
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("bad.safetensors: ", 0), 0u) << what;
    EXPECT_NE(what.find(part), std::string::npos) << what;
  }
}

}  // namespace

// --- the reference writer's exact layout -----------------------------------------------------

TEST(SafetensorsWrite, SingleTensorLayout) {
  const auto bytes = ckpt::write_safetensors(
      {{"attn.0", Tensor::from_f32({1, 2, 3}, std::vector<float>{0, 1, 2, 3, 4, 5})}});
  const std::string header = R"({"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}})";
  ASSERT_EQ(header.size(), 64u);  // already a multiple of 8: no padding
  EXPECT_EQ(as_string(bytes), le64(64) + header + f32_bytes({0, 1, 2, 3, 4, 5}));
}

TEST(SafetensorsWrite, HeaderIsPaddedWithSpacesTo8Bytes) {
  const auto bytes = ckpt::write_safetensors(
      {{"attn0", Tensor::from_f32({1, 1, 2, 3}, std::vector<float>{0, 1, 2, 3, 4, 5})}});
  const std::string header = R"({"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}})";
  ASSERT_EQ(header.size(), 65u);
  EXPECT_EQ(as_string(bytes), le64(72) + header + std::string(7, ' ') + f32_bytes({0, 1, 2, 3, 4, 5}));
}

TEST(SafetensorsWrite, EmptyFilesWithAndWithoutMetadata) {
  EXPECT_EQ(as_string(ckpt::write_safetensors({})), le64(8) + "{}      ");
  EXPECT_EQ(as_string(ckpt::write_safetensors({}, {{"framework", "pt"}})),
            le64(40) + R"({"__metadata__":{"framework":"pt"}})" + "     ");
}

TEST(SafetensorsWrite, LaysOutByDescendingAlignmentThenName) {
  const ckpt::NamedTensors tensors{
      {"b", Tensor::zeros(DType::I8, {1})},    {"a", Tensor::zeros(DType::F32, {1})},
      {"c", Tensor::zeros(DType::F64, {1})},   {"d", Tensor::zeros(DType::F32, {2})},
      {"e", Tensor::zeros(DType::I64, {1})},   {"f", Tensor::zeros(DType::BF16, {1})},
      {"g", Tensor::zeros(DType::F16, {1})},   {"h", Tensor::zeros(DType::Bool, {1})},
      {"i", Tensor::zeros(DType::U8, {1})},    {"j", Tensor::zeros(DType::I16, {1})},
      {"k", Tensor::zeros(DType::I32, {1})},
  };
  const auto file = ckpt::read_safetensors(ckpt::write_safetensors(tensors, {{"z", "1"}, {"a", "2"}}), "layout");
  std::vector<std::string> order;
  for (const auto& [name, t] : file.tensors) order.push_back(name);
  // I64 > F64 > F32 > I32 > BF16 > F16 > I16 > I8 > U8 > BOOL, names ascending within a dtype.
  EXPECT_EQ(order, (std::vector<std::string>{"e", "c", "a", "d", "k", "f", "g", "j", "b", "i", "h"}));
  EXPECT_EQ(file.metadata, (std::map<std::string, std::string>{{"a", "2"}, {"z", "1"}}));
  // The header text itself keeps __metadata__ first, then the tensors in layout order.
  const auto bytes = ckpt::write_safetensors(tensors, {{"z", "1"}, {"a", "2"}});
  const std::string text = as_string(bytes).substr(8, 60);
  EXPECT_EQ(text.rfind(R"({"__metadata__":{"a":"2","z":"1"},"e":{"dtype":"I64")", 0), 0u) << text;
}

TEST(SafetensorsWrite, RefusesBadNames) {
  const auto t = Tensor::zeros(DType::F32, {1});
  EXPECT_THROW((void)ckpt::write_safetensors({{"x", t}, {"x", t}}), InputError);
  EXPECT_THROW((void)ckpt::write_safetensors({{"", t}}), InputError);
  EXPECT_THROW((void)ckpt::write_safetensors({{"__metadata__", t}}), InputError);
  EXPECT_THROW((void)ckpt::write_safetensors({{"\xff\xfe", t}}), InputError);
}

// --- round trips -----------------------------------------------------------------------------

TEST(Safetensors, RoundTripsEveryDtypeThroughAFile) {
  mt::TempDir dir;
  auto tensors = every_dtype();
  tensors.emplace_back("scalar", Tensor::from_f32({}, std::vector<float>{4.0f}));
  tensors.emplace_back("empty", Tensor::zeros(DType::F16, {0, 3}));
  const Tensor base = Tensor::from_f32({2, 3}, std::vector<float>{0, 1, 2, 3, 4, 5});
  tensors.emplace_back("transposed", Tensor(base.storage(), 0, {3, 2}, {1, 3}));
  ckpt::write_safetensors_file(dir / "all.safetensors", tensors, {{"format", "pt"}});
  const auto file = ckpt::read_safetensors_file(dir / "all.safetensors");
  EXPECT_EQ(file.metadata.at("format"), "pt");
  ASSERT_EQ(file.tensors.size(), tensors.size());
  for (const auto& [name, original] : tensors) {
    SCOPED_TRACE(name);
    const auto it = std::find_if(file.tensors.begin(), file.tensors.end(), [&](const auto& p) { return p.first == name; });
    ASSERT_NE(it, file.tensors.end());
    EXPECT_EQ(it->second.dtype(), original.dtype());
    EXPECT_EQ(it->second.shape(), original.shape());
    EXPECT_EQ(it->second.contiguous_bytes(), original.contiguous_bytes());
  }
}

// --- cross-checks with plain Python (struct + json; the safetensors package is not installed) -

TEST(Safetensors, ReadsAFileWrittenByPython) {
  mt::TempDir dir;
  // Keys in arbitrary JSON order, data not in name order, every dtype, metadata, 0-d and empty.
  const std::string script = R"PY(
import sys, json, struct
tensors = [  # name, dtype, shape, raw little-endian bytes
    ("z.f64", "F64", [2], struct.pack("<2d", 1.5, -2.25)),
    ("a.bf16", "BF16", [3], struct.pack("<3H", 0x3f80, 0xc000, 0x4049)),  # 1, -2, 3.140625
    ("m.f16", "F16", [2], struct.pack("<2H", 0x3c00, 0xc200)),  # 1, -3
    ("i64", "I64", [1, 2], struct.pack("<2q", -5, 1 << 40)),
    ("i32", "I32", [], struct.pack("<i", -7)),
    ("i16", "I16", [2], struct.pack("<2h", -300, 300)),
    ("i8", "I8", [2], struct.pack("<2b", -128, 127)),
    ("u8", "U8", [2], bytes([0, 255])),
    ("flag", "BOOL", [3], bytes([1, 0, 1])),
    ("f32", "F32", [2, 0], b""),
    ("f32b", "F32", [2], struct.pack("<2f", 0.25, 8.0)),
]
header, data = {}, b""
for name, dtype, shape, raw in tensors:
    header[name] = {"shape": shape, "data_offsets": [len(data), len(data) + len(raw)], "dtype": dtype}
    data += raw
header["__metadata__"] = {"format": "pt", "note": "caf\u00e9"}
text = json.dumps(dict(reversed(list(header.items())))).encode()
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text + data)
)PY";
  MEDPORT_RUN_PYTHON_OR_SKIP(made, script, (dir / "py.safetensors").string());
  const auto file = ckpt::read_safetensors_file(dir / "py.safetensors");
  EXPECT_EQ(file.metadata, (std::map<std::string, std::string>{{"format", "pt"}, {"note", "caf\xc3\xa9"}}));
  std::map<std::string, Tensor> by_name(file.tensors.begin(), file.tensors.end());
  ASSERT_EQ(by_name.size(), 11u);
  // Returned in data-offset order, whatever the JSON order.
  EXPECT_EQ(file.tensors.front().first, "z.f64");
  EXPECT_EQ(file.tensors.back().first, "f32b");
  EXPECT_EQ(by_name["z.f64"].to_f32(), (std::vector<float>{1.5f, -2.25f}));
  EXPECT_EQ(by_name["a.bf16"].dtype(), DType::BF16);
  EXPECT_EQ(by_name["a.bf16"].to_f32(), (std::vector<float>{1.0f, -2.0f, 3.140625f}));
  EXPECT_EQ(by_name["m.f16"].to_f32(), (std::vector<float>{1.0f, -3.0f}));
  EXPECT_EQ(by_name["i64"].shape(), (Shape{1, 2}));
  EXPECT_EQ(by_name["i64"].data<std::int64_t>()[1], std::int64_t{1} << 40);
  EXPECT_EQ(by_name["i64"].data<std::int64_t>()[0], -5);
  EXPECT_EQ(by_name["i32"].shape(), Shape{});
  EXPECT_EQ(by_name["i32"].to_f32(), std::vector<float>{-7.0f});
  EXPECT_EQ(by_name["i16"].to_f32(), (std::vector<float>{-300, 300}));
  EXPECT_EQ(by_name["i8"].to_f32(), (std::vector<float>{-128, 127}));
  EXPECT_EQ(by_name["u8"].to_f32(), (std::vector<float>{0, 255}));
  EXPECT_EQ(by_name["flag"].to_f32(), (std::vector<float>{1, 0, 1}));
  EXPECT_EQ(by_name["f32"].shape(), (Shape{2, 0}));
  EXPECT_EQ(by_name["f32b"].to_f32(), (std::vector<float>{0.25f, 8.0f}));
}

TEST(Safetensors, PythonReadsWhatWeWrite) {
  mt::TempDir dir;
  ckpt::write_safetensors_file(dir / "ours.safetensors", every_dtype(), {{"k", "v"}});
  // Decodes with struct/json/numpy only and checks the format's invariants on the way.
  const std::string script = R"PY(
import sys, json, struct, numpy as np
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
assert n % 8 == 0, n
text = raw[8:8 + n]
assert text.rstrip(b" ") == text.rstrip(), "padding must be spaces"
header = json.loads(text)
data = raw[8 + n:]
kinds = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
         "I8": "<i1", "U8": "<u1", "BOOL": "?"}
out, end = {}, 0
for name, info in header.items():
    if name == "__metadata__":
        out[name] = info
        continue
    b, e = info["data_offsets"]
    assert b == end, (name, b, end)
    end = e
    chunk = data[b:e]
    if info["dtype"] == "BF16":
        values = (np.frombuffer(chunk, "<u2").astype("<u4") << 16).view("<f4")
    else:
        values = np.frombuffer(chunk, kinds[info["dtype"]])
    out[name] = {"dtype": info["dtype"], "shape": info["shape"], "values": values.astype(float).tolist()}
assert end == len(data)
print(json.dumps(out))
)PY";
  MEDPORT_RUN_PYTHON_OR_SKIP(read, script, (dir / "ours.safetensors").string());
  const auto seen = nlohmann::json::parse(read.out);
  EXPECT_EQ(seen["__metadata__"]["k"], "v");
  const std::map<DType, std::string> names{{DType::F32, "F32"}, {DType::F64, "F64"}, {DType::F16, "F16"},
                                           {DType::BF16, "BF16"}, {DType::I64, "I64"}, {DType::I32, "I32"},
                                           {DType::I16, "I16"}, {DType::I8, "I8"}, {DType::U8, "U8"},
                                           {DType::Bool, "BOOL"}};
  for (const auto& [name, t] : every_dtype()) {
    SCOPED_TRACE(name);
    EXPECT_EQ(seen[name]["dtype"], names.at(t.dtype()));
    EXPECT_EQ(seen[name]["shape"].get<Shape>(), (Shape{2, 3}));
    const auto ours = t.to_f32();
    EXPECT_EQ(seen[name]["values"].get<std::vector<double>>(), std::vector<double>(ours.begin(), ours.end()));
  }
}

// --- malformed files -------------------------------------------------------------------------

TEST(SafetensorsRead, MalformedFilesAreRefusedNamingTheSource) {
  const std::string t8 = f32_bytes({1, 2});
  const auto info = [](const std::string& name, const std::string& dtype, const std::string& shape, int b, int e) {
    return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" +
           std::to_string(b) + "," + std::to_string(e) + "]}";
  };
  expect_error(as_bytes("1234567"), "too short");
  expect_error(as_bytes(le64(200'000'000) + "{}"), "100 MB");
  expect_error(as_bytes(le64(50) + "{}"), "claims 50 bytes");
  expect_error(file_with(" {}"), "does not start with '{'");
  expect_error(file_with("{\"a\":"), "not valid JSON");
  expect_error(file_with("{} trailing"), "not valid JSON");
  expect_error(file_with("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}\xff"), "not valid JSON");
  expect_error(file_with("{" + info("a", "U32", "[2]", 0, 8) + "}", t8), "unsupported dtype 'U32'");
  expect_error(file_with("{" + info("a", "F32", "[3]", 0, 8) + "}", t8), "needs 12 bytes");
  expect_error(file_with("{" + info("a", "F32", "[-2]", 0, 8) + "}", t8), "non-negative");
  expect_error(file_with("{" + info("a", "F32", "[2.0]", 0, 8) + "}", t8), "non-negative");
  expect_error(file_with("{" + info("a", "F32", "[1]", 0, 4) + "," + info("b", "F32", "[1]", 2, 6) + "}", t8),
               "overlap or leave a gap");
  expect_error(file_with("{" + info("a", "F32", "[1]", 0, 4) + "," + info("b", "F32", "[1]", 0, 4) + "}", t8),
               "overlap or leave a gap");
  expect_error(file_with("{" + info("a", "F32", "[1]", 4, 8) + "}", t8), "expected to start at 0");
  expect_error(file_with("{" + info("a", "F32", "[1]", 0, 4) + "}", t8), "cover 4 of the 8");
  expect_error(file_with("{" + info("a", "F32", "[4]", 0, 16) + "}", t8), "past the 8 data bytes");
  expect_error(file_with("{" + info("a", "F32", "[2]", 8, 0) + "}", t8), "overlap");
  expect_error(file_with("{" + info("a", "F32", "[2]", 0, 8) + "," + info("a", "F32", "[2]", 0, 8) + "}", t8), "twice");
  expect_error(file_with("{" + info("a", "F32", "[4611686018427387904,0,4611686018427387904]", 0, 0) + "}"), "too large");
  expect_error(file_with("{" + info("a", "F32", "[18446744073709551615]", 0, 0) + "}"), "too large");
  expect_error(file_with("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", t8), "needs dtype, shape and data_offsets");
  expect_error(file_with("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", t8), "[begin, end]");
  expect_error(file_with("{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", t8), "non-negative");
  expect_error(file_with("{\"a\":{\"dtype\":\"F32\",\"shape\":[[[[2]]]],\"data_offsets\":[0,8]}}", t8), "nested deeper");
  expect_error(file_with("{\"a\":[1]}", t8), "expected an object");
  expect_error(file_with("{\"__metadata__\":{\"k\":1}}"), "not a string");
  expect_error(file_with("{\"__metadata__\":[]}"), "object of strings");
  expect_error(file_with("[]"), "does not start with '{'");
}

TEST(SafetensorsRead, PaddedHeaderAndEmptyFile) {
  const auto file = ckpt::read_safetensors(file_with("{}      "), "empty");
  EXPECT_TRUE(file.tensors.empty());
  EXPECT_TRUE(file.metadata.empty());
  const auto bools = ckpt::read_safetensors(
      file_with(R"({"b":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})", std::string("\x00\x05", 2)), "bools");
  EXPECT_EQ(bools.tensors[0].second.to_f32(), (std::vector<float>{0, 1}));
}

TEST(SafetensorsRead, MissingFileNamesIt) {
  mt::TempDir dir;
  try {
    (void)ckpt::read_safetensors_file(dir / "none.safetensors");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("none.safetensors"), std::string::npos);
  }
}
