// Pickles and checkpoints written at test time by CPython, numpy and PyTorch (/usr/bin/python3),
// read back and compared with the values the script put in: every pickle protocol, numpy
// scalars and arrays, inert records, torch.save options the fixtures do not cover.
#include <fstream>

#include "medport/checkpoint/pickle.hpp"
#include "medport/checkpoint/torch_checkpoint.hpp"
#include "medport/error.hpp"
#include "medport/util/file_io.hpp"
#include "test_support.hpp"

using namespace medport;
using namespace medport::ckpt;
namespace fs = std::filesystem;

namespace {

constexpr const char* kScript = R"PY(
import argparse, collections, datetime, io, pathlib, pickle, sys, zipfile
import numpy as np
out = sys.argv[1]
shared = [7, 8]
obj = {
    'int': 1, 'neg': -5, 'i32max': 2**31 - 1, 'big': 2**70, 'bigneg': -2**70, 'float': 0.1,
    'str': 'h\u00e9llo\n\\ \u20ac', 'bytes': b'\x00\xffab', 'bytearray': bytearray(b'xy'),
    'list': [1, [2, [3]]], 'tuple': (1, 'a', None), 'set': {1, 2, 3}, 'frozenset': frozenset({4}),
    'shared': shared, 'shared2': shared, 'od': collections.OrderedDict(a=1, b=2),
    'dd': collections.defaultdict(list, {'k': [1]}), 'complex': 1 + 2j, 'true': True, 'none': None,
    'slice': slice(1, 5, 2), 1: 'int key', (1, 2): 'tuple key', 'empty_bytes': b'',
}
for p in range(6):
    with open(f'{out}/plain_p{p}.pkl', 'wb') as f:
        pickle.dump(obj, f, protocol=p)
arrays = {
    'f32': np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32),
    'fortran': np.asfortranarray(np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float64)),
    'be_i4': np.arange(5, dtype='>i4'),
    'bool': np.array([True, False]),
    'empty': np.zeros((0, 3), dtype=np.float32),
    'u2': np.array([1, 2], dtype=np.uint16),
    'scalars': [np.float32(0.5), np.float64(-2.25), np.int64(-3), np.bool_(True), np.uint8(200)],
    'rng': np.random.RandomState(0),
    'records': [argparse.Namespace(lr=0.1), pathlib.PosixPath('/a/b'), datetime.datetime(2024, 1, 2, 3, 4, 5)],
}
for p in (0, 2, 4, 5):
    with open(f'{out}/numpy_p{p}.pkl', 'wb') as f:
        pickle.dump(arrays, f, protocol=p)

import torch
base = torch.arange(24, dtype=torch.float32)
sd = collections.OrderedDict()
sd['w'] = base.view(4, 6)
sd['wt'] = base.view(4, 6).t()
sd['tail'] = base[20:]
sd['p'] = torch.nn.Parameter(torch.arange(3, dtype=torch.float64))
sd['i8'] = torch.tensor([-1, 2], dtype=torch.int8)
sd['i16'] = torch.tensor([-300, 7], dtype=torch.int16)
sd['half'] = torch.tensor([0.5, -2.0], dtype=torch.float16)
ckpt = {'state_dict': sd, 'epoch': 3, 'args': argparse.Namespace(lr=0.5)}
torch.save(ckpt, f'{out}/zip_p4.pt', pickle_protocol=4)
torch.save(ckpt, f'{out}/legacy.pt', _use_new_zipfile_serialization=False)
torch.save(ckpt, f'{out}/zip_p2.pt')
with open(f'{out}/tensor_plain.pkl', 'wb') as f:
    pickle.dump(torch.ones(2), f, protocol=2)
m = torch.jit.script(torch.nn.Linear(2, 2))
torch.jit.save(m, f'{out}/scripted.pt')

# A big-endian archive: the same records with byte-swapped storages and a byteorder record.
import tarfile
torch.save({'a': torch.arange(4, dtype=torch.float32), 'b': torch.tensor([1, -2], dtype=torch.int64)}, f'{out}/little.pt')
zin = zipfile.ZipFile(f'{out}/little.pt')
with zipfile.ZipFile(f'{out}/big.pt', 'w') as zout:
    for n in zin.namelist():
        data = zin.read(n)
        if n.endswith('data/0'): data = np.frombuffer(data, '<f4').astype('>f4').tobytes()
        if n.endswith('data/1'): data = np.frombuffer(data, '<i8').astype('>i8').tobytes()
        zout.writestr(n, data)
    zout.writestr('little/byteorder', 'big')
torch.save({'e': torch.zeros(1).expand(2000)}, f'{out}/expanded.pt')
torch.save({'e': torch.arange(2.).expand(3, 2)}, f'{out}/expanded_ok.pt')
# The pre-0.4 tar layout.
with tarfile.open(f'{out}/old_tar.pt', 'w') as t:
    payload = pickle.dumps(1, protocol=2)
    info = tarfile.TarInfo('pickle')
    info.size = len(payload)
    t.addfile(info, io.BytesIO(payload))
)PY";

class PythonMade : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new medport::testing::TempDir();
    const auto script = *dir_ / "make.py";
    write_file_atomic(script, std::string_view(kScript));
    const auto r = medport::testing::run_program({MEDPORT_PYTHON, script.string(), dir_->path().string()});
    if (r.exit_code != 0) skip_reason_ = "python generator failed: " + r.err.substr(0, 500);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
  }
  static fs::path file(const std::string& name) { return *dir_ / name; }
  static ValuePtr read_pickle(const std::string& name) {
    const auto bytes = read_file(file(name));
    UnpickleOptions o;
    o.source = name;
    return unpickle(bytes, o).value;
  }
  static medport::testing::TempDir* dir_;
  static std::string skip_reason_;
};
medport::testing::TempDir* PythonMade::dir_ = nullptr;
std::string PythonMade::skip_reason_;

std::vector<float> floats(const Tensor& t) { return t.to_f32(); }

}  // namespace

TEST_F(PythonMade, EveryProtocolGivesTheSameValues) {
  for (int p = 0; p <= 5; ++p) {
    SCOPED_TRACE("protocol " + std::to_string(p));
    const auto v = read_pickle("plain_p" + std::to_string(p) + ".pkl");
    const Value& d = *v;
    ASSERT_EQ(d.type_name(), "dict");
    EXPECT_EQ(d.at("int").as_int(), 1);
    EXPECT_EQ(d.at("neg").as_int(), -5);
    EXPECT_EQ(d.at("i32max").as_int(), 2147483647);
    EXPECT_EQ(d.at("big").big_int_text(), "1180591620717411303424");
    EXPECT_EQ(d.at("bigneg").big_int_text(), "-1180591620717411303424");
    EXPECT_EQ(d.at("float").as_float(), 0.1);
    EXPECT_EQ(d.at("str").as_str(), "h\xc3\xa9llo\n\\ \xe2\x82\xac");
    EXPECT_EQ(d.at("bytes").as_bytes(), std::string("\x00\xff" "ab", 4));
    EXPECT_EQ(d.at("bytes").type_name(), "bytes");
    EXPECT_EQ(d.at("bytearray").type_name(), "bytearray");
    EXPECT_EQ(d.at("bytearray").as_bytes(), "xy");
    EXPECT_EQ(d.at("empty_bytes").as_bytes(), "");
    EXPECT_EQ(d.at("list").repr(), "[1, [2, [3]]]");
    EXPECT_EQ(d.at("tuple").repr(), "(1, 'a', None)");
    EXPECT_EQ(d.at("set").type_name(), "set");
    EXPECT_EQ(d.at("set").size(), 3u);
    EXPECT_EQ(d.at("frozenset").repr(), "frozenset({4})");
    EXPECT_EQ(d.get("shared").get(), d.get("shared2").get());  // one object, two keys
    EXPECT_EQ(d.at("od").repr(), "OrderedDict({'a': 1, 'b': 2})");
    EXPECT_EQ(d.at("dd").type_name(), "defaultdict");
    EXPECT_EQ(d.at("dd").at("k").repr(), "[1]");
    EXPECT_EQ(d.at("complex").as_complex(), std::complex<double>(1, 2));
    EXPECT_TRUE(d.at("true").as_bool());
    EXPECT_TRUE(d.at("none").is_none());
    EXPECT_EQ(d.at("slice").repr(), "slice(1, 5, 2)");
    // Non-string keys.
    bool int_key = false, tuple_key = false;
    for (const auto& [k, val] : d.dict_data().entries) {
      if (k->is(ValueKind::Int) && k->as_int() == 1) int_key = val->as_str() == "int key";
      if (k->is(ValueKind::Tuple)) tuple_key = k->repr() == "(1, 2)" && val->as_str() == "tuple key";
    }
    EXPECT_TRUE(int_key);
    EXPECT_TRUE(tuple_key);
  }
}

TEST_F(PythonMade, NumpyValuesInEveryProtocol) {
  for (int p : {0, 2, 4, 5}) {
    SCOPED_TRACE("protocol " + std::to_string(p));
    const auto v = read_pickle("numpy_p" + std::to_string(p) + ".pkl");
    const Value& d = *v;
    const auto& f32 = d.at("f32").numpy_array();
    EXPECT_EQ(d.at("f32").type_name(), "ndarray");
    EXPECT_EQ(f32.shape, (Shape{2, 3}));
    EXPECT_EQ(floats(f32.tensor), (std::vector<float>{1, 2, 3, 4, 5, 6}));
    const auto& fortran = d.at("fortran").numpy_array();
    EXPECT_EQ(fortran.tensor.dtype(), DType::F64);
    EXPECT_EQ(floats(fortran.tensor), (std::vector<float>{1, 2, 3, 4, 5, 6}));  // row-major after reading
    EXPECT_EQ(floats(d.at("be_i4").numpy_array().tensor), (std::vector<float>{0, 1, 2, 3, 4}));
    EXPECT_EQ(d.at("be_i4").numpy_array().dtype.name(), "int32");
    EXPECT_EQ(floats(d.at("bool").numpy_array().tensor), (std::vector<float>{1, 0}));
    EXPECT_EQ(d.at("empty").numpy_array().tensor.shape(), (Shape{0, 3}));
    const auto& u2 = d.at("u2").numpy_array();  // no medport dtype: raw bytes kept
    EXPECT_FALSE(u2.tensor.defined());
    EXPECT_EQ(u2.raw, std::string("\x01\x00\x02\x00", 4));
    const auto& s = d.at("scalars").items();
    EXPECT_EQ(s[0]->type_name(), "float32");
    EXPECT_EQ(s[0]->as_float(), 0.5);
    EXPECT_EQ(s[1]->type_name(), "float64");
    EXPECT_EQ(s[1]->as_float(), -2.25);
    EXPECT_EQ(s[2]->type_name(), "int64");
    EXPECT_EQ(s[2]->as_int(), -3);
    EXPECT_EQ(s[3]->type_name(), "bool");
    EXPECT_TRUE(s[3]->as_bool());
    EXPECT_EQ(s[4]->type_name(), "uint8");
    EXPECT_EQ(s[4]->as_int(), 200);
    EXPECT_EQ(d.at("rng").type_name(), "numpy.random._pickle.__randomstate_ctor");
    const auto& rec = d.at("records").items();
    EXPECT_EQ(rec[0]->type_name(), "argparse.Namespace");
    EXPECT_EQ(rec[0]->object_data().state->at("lr").as_float(), 0.1);
    EXPECT_EQ(rec[1]->type_name(), "pathlib.PosixPath");
    EXPECT_EQ(rec[2]->type_name(), "datetime.datetime");
  }
}

TEST_F(PythonMade, TorchSaveVariants) {
  for (const char* name : {"zip_p2.pt", "zip_p4.pt", "legacy.pt"}) {
    SCOPED_TRACE(name);
    const auto c = load_torch_checkpoint(file(name));
    EXPECT_EQ(c.format, std::string(name) == "legacy.pt" ? "torch-legacy" : "torch-zip");
    if (std::string(name) == "zip_p4.pt") {
      EXPECT_EQ(c.pickle_protocol, 4);
    }
    ASSERT_EQ(c.tensors.size(), 7u);
    EXPECT_EQ(c.storage_count, 5u);  // w, wt and tail share the arange storage
    std::vector<float> iota(24);
    for (int i = 0; i < 24; ++i) iota[static_cast<std::size_t>(i)] = static_cast<float>(i);
    EXPECT_EQ(floats(c.find("state_dict.w")->tensor), iota);
    const auto wt = floats(c.find("state_dict.wt")->tensor);
    EXPECT_EQ(wt[1], 6.0f);  // wt[0][1] = w[1][0]
    EXPECT_EQ(floats(c.find("state_dict.tail")->tensor), (std::vector<float>{20, 21, 22, 23}));
    EXPECT_EQ(c.find("state_dict.tail")->tensor.offset(), 20);
    const auto* p = c.find("state_dict.p");
    EXPECT_TRUE(p->is_parameter);
    EXPECT_TRUE(p->requires_grad);
    EXPECT_EQ(c.root->at("state_dict").at("p").type_name(), "Parameter");
    EXPECT_EQ(floats(p->tensor), (std::vector<float>{0, 1, 2}));
    EXPECT_EQ(floats(c.find("state_dict.i8")->tensor), (std::vector<float>{-1, 2}));
    EXPECT_EQ(floats(c.find("state_dict.i16")->tensor), (std::vector<float>{-300, 7}));
    EXPECT_EQ(floats(c.find("state_dict.half")->tensor), (std::vector<float>{0.5f, -2.0f}));
    EXPECT_EQ(c.root->at("epoch").as_int(), 3);
    EXPECT_EQ(c.root->at("args").type_name(), "argparse.Namespace");
  }
}

TEST_F(PythonMade, BigEndianStoragesAreSwapped) {
  const auto c = load_torch_checkpoint(file("big.pt"));
  EXPECT_EQ(c.byteorder, "big");
  EXPECT_EQ(c.archive_prefix, "little");
  EXPECT_EQ(floats(c.find("a")->tensor), (std::vector<float>{0, 1, 2, 3}));
  const auto b = c.find("b")->tensor;
  ASSERT_EQ(b.dtype(), DType::I64);
  EXPECT_EQ(b.data<std::int64_t>()[0], 1);
  EXPECT_EQ(b.data<std::int64_t>()[1], -2);
}

TEST_F(PythonMade, ExpandedViews) {
  const auto ok = load_torch_checkpoint(file("expanded_ok.pt"));
  EXPECT_EQ(ok.find("e")->tensor.strides(), (Shape{0, 1}));
  EXPECT_EQ(floats(ok.find("e")->tensor), (std::vector<float>{0, 1, 0, 1, 0, 1}));
  try {
    load_torch_checkpoint(file("expanded.pt"));
    ADD_FAILURE() << "2000x expansion accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("expanded more than 1024x"), std::string::npos) << e.what();
  }
}

TEST_F(PythonMade, RefusedTorchFiles) {
  try {
    load_torch_checkpoint(file("old_tar.pt"));
    ADD_FAILURE() << "tar checkpoint accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("unsupported legacy tar checkpoint"), std::string::npos) << e.what();
  }
  try {
    load_torch_checkpoint(file("scripted.pt"));
    ADD_FAILURE() << "TorchScript accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("TorchScript"), std::string::npos) << e.what();
  }
  try {
    load_torch_checkpoint(file("tensor_plain.pkl"));
    ADD_FAILURE() << "plain pickle of a tensor accepted";
  } catch (const InputError& e) {
    // pickle.dump of a tensor stores its storage through torch.storage._load_from_bytes.
    EXPECT_NE(std::string(e.what()).find("torch.storage._load_from_bytes"), std::string::npos) << e.what();
  }
}

TEST_F(PythonMade, PlainPickleLoadsAsCheckpoint) {
  const auto c = load_torch_checkpoint(file("plain_p2.pkl"));
  EXPECT_EQ(c.format, "pickle");
  EXPECT_EQ(c.format_version, "");
  EXPECT_TRUE(c.tensors.empty());
  EXPECT_EQ(c.root->at("int").as_int(), 1);
}
