// Opcode-level tests of the pickle machine on hand-written pickle bytes, with the values
// worked out by hand from CPython's pickle format.
#include <cstring>

#include "medport/checkpoint/pickle.hpp"
#include "medport/error.hpp"
#include "test_support.hpp"

using namespace medport;
using namespace medport::ckpt;
using namespace std::string_literals;

namespace {

UnpickleResult load(const std::string& bytes, PersistentLoader loader = {}, PickleLimits limits = {}) {
  UnpickleOptions o;
  o.source = "test.pkl";
  o.limits = limits;
  o.persistent_load = std::move(loader);
  return unpickle(std::as_bytes(std::span(bytes.data(), bytes.size())), o);
}
ValuePtr value(const std::string& bytes) { return load(bytes).value; }

std::string error_of(const std::string& bytes, PersistentLoader loader = {}, PickleLimits limits = {}) {
  try {
    load(bytes, std::move(loader), limits);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(accepted)";
}

std::string le(std::uint64_t v, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

// A persistent loader that returns a float32 storage of `numel` elements named by the pid key.
ValuePtr fake_storage(const ValuePtr& pid) {
  StorageData s;
  s.key = pid->items()[2]->as_str();
  s.dtype = DType::F32;
  s.type_name = "FloatStorage";
  s.location = "cpu";
  s.numel = pid->items()[4]->as_int();
  return Value::storage(std::move(s));
}

const std::string kStoragePid =  // ('storage', torch.FloatStorage, '0', 'cpu', 6) BINPERSID
    "(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x00" "0X\x03\x00\x00\x00" "cpuK\x06tQ"s;

}  // namespace

TEST(Pickle, Protocol0TextForms) {
  // [1, True, 12345678901234567890, 2.5, "a'b\n", u"café", <memo 1 again>, -7, False]
  const std::string p =
      "(lp0\nI1\naI01\naL12345678901234567890L\naF2.5\naS'a\\'b\\n'\np1\naVcaf\\u00e9\np2\nag1\naI-7\naI00\na.";
  const auto r = load(p);
  EXPECT_EQ(r.protocol, 0);
  EXPECT_EQ(r.consumed, p.size());
  const auto& l = r.value->items();
  ASSERT_EQ(l.size(), 9u);
  EXPECT_EQ(l[0]->kind(), ValueKind::Int);
  EXPECT_EQ(l[0]->as_int(), 1);
  EXPECT_EQ(l[1]->kind(), ValueKind::Bool);
  EXPECT_TRUE(l[1]->as_bool());
  EXPECT_EQ(l[2]->kind(), ValueKind::BigInt);
  EXPECT_EQ(l[2]->big_int_text(), "12345678901234567890");
  EXPECT_EQ(l[3]->as_float(), 2.5);
  EXPECT_EQ(l[4]->as_str(), "a'b\n");
  EXPECT_EQ(l[5]->as_str(), "caf\xc3\xa9");
  EXPECT_EQ(l[6].get(), l[4].get());  // GET returns the memoised object itself
  EXPECT_EQ(l[7]->as_int(), -7);
  EXPECT_FALSE(l[8]->as_bool());
}

TEST(Pickle, Protocol0DictTupleAndGlobals) {
  const auto d = value("(dp0\nS'k'\np1\n(I1\nI2\ntp2\nsS\"q\"\nc__builtin__\nset\n((lI1\naI2\naI1\natRs.");
  ASSERT_EQ(d->type_name(), "dict");
  const Value& t = d->at("k");
  ASSERT_EQ(t.type_name(), "tuple");
  EXPECT_EQ(t.items()[1]->as_int(), 2);
  const Value& s = d->at("q");
  EXPECT_EQ(s.type_name(), "set");
  EXPECT_EQ(s.items().size(), 2u);  // duplicates collapse

  const auto d2 = value("(S'a'\nI1\nS'b'\nF-0.5\nd.");
  EXPECT_EQ(d2->at("b").as_float(), -0.5);
  EXPECT_EQ(d2->size(), 2u);
}

TEST(Pickle, PersistentIdsGoThroughTheCallback) {
  std::vector<std::string> seen;
  auto loader = [&](const ValuePtr& pid) {
    seen.push_back(pid->as_str());
    return Value::str("loaded " + pid->as_str());
  };
  const auto v = load("(lPabc\naPabc\na.", loader).value;
  EXPECT_EQ(seen, (std::vector<std::string>{"abc", "abc"}));
  EXPECT_EQ(v->items()[0]->as_str(), "loaded abc");
  EXPECT_NE(error_of("Pabc\n."), "(accepted)");  // no loader: refused
}

TEST(Pickle, Protocol2BinaryForms) {
  std::string p = "\x80\x02(";
  p += "J" + le(static_cast<std::uint32_t>(-100000), 4);  // BININT
  p += "K\xff";                                            // BININT1 255
  p += "M\xff\xff";                                        // BININT2 65535
  p += std::string("\x8a\x01\xff", 3);                     // LONG1 -1
  p += std::string("\x8a\x00", 2);                         // LONG1 0
  p += std::string("G\x3f\xf8\x00\x00\x00\x00\x00\x00", 9);  // BINFLOAT 1.5 (big-endian)
  p += "N\x88\x89";                                          // None True False
  p += "K\x01\x85K\x01K\x02\x86K\x01K\x02K\x03\x87";         // TUPLE1..3
  p += "U\x02hiT" + le(3, 4) + "abc";                        // SHORT_BINSTRING, BINSTRING
  p += "C\x02\x00\xff" "B"s + le(1, 4) + "z";                 // SHORT_BINBYTES, BINBYTES
  p += "t.";
  const auto t = value(p);
  const auto& i = t->items();
  ASSERT_EQ(i.size(), 16u);
  EXPECT_EQ(i[0]->as_int(), -100000);
  EXPECT_EQ(i[1]->as_int(), 255);
  EXPECT_EQ(i[2]->as_int(), 65535);
  EXPECT_EQ(i[3]->as_int(), -1);
  EXPECT_EQ(i[4]->as_int(), 0);
  EXPECT_EQ(i[5]->as_float(), 1.5);
  EXPECT_TRUE(i[6]->is_none());
  EXPECT_TRUE(i[7]->as_bool());
  EXPECT_FALSE(i[8]->as_bool());
  EXPECT_EQ(i[9]->items().size(), 1u);
  EXPECT_EQ(i[10]->items().size(), 2u);
  EXPECT_EQ(i[11]->items()[2]->as_int(), 3);
  EXPECT_EQ(i[12]->as_str(), "hi");
  EXPECT_EQ(i[13]->as_str(), "abc");
  EXPECT_EQ(i[14]->as_bytes(), "\x00\xff"s);
  EXPECT_EQ(i[15]->as_bytes(), "z");
}

TEST(Pickle, BytesOpcodes) {
  const auto t = value(std::string("\x80\x03(C\x02\x00\xff", 7) + "B" + le(1, 4) + "z" + "\x8e" + le(2, 8) + "xyt.");
  ASSERT_EQ(t->items().size(), 3u);
  EXPECT_EQ(t->items()[0]->as_bytes(), std::string("\x00\xff", 2));
  EXPECT_EQ(t->items()[1]->as_bytes(), "z");
  EXPECT_EQ(t->items()[2]->as_bytes(), "xy");
}

TEST(Pickle, MemoHasReferenceSemantics) {
  // outer = []; inner = []; outer.append(inner); outer.append(inner); inner.append(5)
  const auto outer = value("\x80\x02]q\x00]q\x01" "ah\x01" "ah\x01K\x05" "a0."s);
  ASSERT_EQ(outer->items().size(), 2u);
  EXPECT_EQ(outer->items()[0].get(), outer->items()[1].get());
  ASSERT_EQ(outer->items()[0]->items().size(), 1u);
  EXPECT_EQ(outer->items()[1]->items()[0]->as_int(), 5);

  // A dict memoised, put in a tuple, then filled by SETITEMS: the tuple sees the items.
  const auto t = value("\x80\x02}q\x00h\x00\x85q\x01" "0h\x00(X\x01\x00\x00\x00" "aK\x01u0h\x01."s);
  ASSERT_EQ(t->type_name(), "tuple");
  EXPECT_EQ(t->items()[0]->at("a").as_int(), 1);

  // LONG_BINPUT / LONG_BINGET with a large index; DUP shares too.
  const auto l = value("\x80\x02]r" + le(70000, 4) + "j" + le(70000, 4) + "2\x86.");
  EXPECT_EQ(l->items()[0].get(), l->items()[1].get());
}

TEST(Pickle, Protocol4FramesStackGlobalAndMemoize) {
  std::string body;
  body += "\x8c\x0b" "collections\x94";
  body += "\x8c\x0b" "OrderedDict\x94";
  body += "\x93\x94)R\x94";                   // OrderedDict() memo 2 (global), 3 (dict)
  body += "\x8c\x01" "a\x94K\x01s";           // d['a'] = 1
  body += "\x8c\x01" "b\x94\x8f\x94(K\x01K\x02K\x01\x90s";  // d['b'] = {1, 2}
  body += "\x8c\x01" "c\x94(K\x03\x91s";      // d['c'] = frozenset({3})
  body += "\x8c\x01" "d\x94h\x04s";           // d['d'] = <memo 4>, the string 'a'
  body += ".";
  const std::string p = "\x80\x04\x95" + le(body.size(), 8) + body;
  const auto r = load(p);
  EXPECT_EQ(r.protocol, 4);
  const auto& d = *r.value;
  ASSERT_EQ(d.type_name(), "OrderedDict");
  EXPECT_EQ(d.at("a").as_int(), 1);
  EXPECT_EQ(d.at("b").type_name(), "set");
  EXPECT_EQ(d.at("b").items().size(), 2u);
  EXPECT_EQ(d.at("c").type_name(), "frozenset");
  EXPECT_EQ(d.at("d").as_str(), "a");
  // A frame that claims more bytes than exist is refused.
  EXPECT_NE(error_of("\x80\x04\x95" + le(1000, 8) + "N."), "(accepted)");
}

TEST(Pickle, Protocol4LongStrings) {
  const auto t = value("\x80\x04(\x8d" + le(3, 8) + "abc" + "X" + le(2, 4) + "de" + "t.");
  EXPECT_EQ(t->items()[0]->as_str(), "abc");
  EXPECT_EQ(t->items()[1]->as_str(), "de");
}

TEST(Pickle, Protocol5ByteArrayAndBuffers) {
  const auto b = value("\x80\x05\x96" + le(3, 8) + "xyz.");
  EXPECT_EQ(b->type_name(), "bytearray");
  EXPECT_EQ(b->as_bytes(), "xyz");
  EXPECT_NE(error_of("\x80\x05\x97."), "(accepted)");
  EXPECT_NE(error_of("\x80\x05\x96" + le(1, 8) + "x\x98."), "(accepted)");
  EXPECT_NE(error_of("\x80\x05\x97.").find("out-of-band"), std::string::npos);
}

TEST(Pickle, BigIntegers) {
  // 2**64 and -2**64 need 9 bytes (two's complement, little-endian).
  const auto pos = value(std::string("\x80\x02\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01.", 14));
  EXPECT_EQ(pos->big_int_text(), "18446744073709551616");
  const auto neg = value(std::string("\x80\x02\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\xff.", 14));
  EXPECT_EQ(neg->big_int_text(), "-18446744073709551616");
  const auto min = value(std::string("\x80\x02\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x80.", 13));
  EXPECT_EQ(min->kind(), ValueKind::Int);
  EXPECT_EQ(min->as_int(), INT64_MIN);
  // torch's legacy magic number 0x1950a86a20f9469cfc6c.
  const auto magic = value(std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 15));
  EXPECT_EQ(magic->big_int_text(), "119547037146038801333356");
  // LONG4 of 100 bytes: 2**799 written as hex text.
  std::string big(100, '\0');
  big[99] = 0x7f;
  const auto huge = value("\x80\x02\x8b" + le(100, 4) + big + ".");
  EXPECT_EQ(huge->big_int_text().substr(0, 4), "0x7f");
  EXPECT_EQ(huge->big_int_text().size(), 2u + 200u);
  EXPECT_EQ(value("L-99999999999999999999L\n.")->big_int_text(), "-99999999999999999999");
  EXPECT_EQ(value("L-9223372036854775808L\n.")->as_int(), INT64_MIN);
}

TEST(Pickle, RefusesWhatItCannotRepresentSafely) {
  EXPECT_NE(error_of("\x80\x02\x82\x01."), "(accepted)");                      // EXT1
  EXPECT_NE(error_of("\x80\x02\xff."), "(accepted)");                          // unknown opcode
  EXPECT_NE(error_of("\x80\x02N"), "(accepted)");                              // no STOP
  EXPECT_NE(error_of("\x80\x06N."), "(accepted)");                             // protocol 6
  EXPECT_NE(error_of("\x80\x02h\x05."), "(accepted)");                         // memo key never stored
  EXPECT_NE(error_of("\x80\x02" "a."), "(accepted)");                          // stack underflow
  EXPECT_NE(error_of("\x80\x02X\x02\x00\x00\x00\xff\xfe."s).find("not valid UTF-8"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02X\x01\x00\x00\x00\xc3."s).find("not valid UTF-8"), std::string::npos);
  // A length field far beyond the data: refused before anything is allocated.
  const auto e = error_of("\x80\x04\x8d" + le(0xffffffffffffULL, 8) + "abc.");
  EXPECT_NE(e.find("runs past the end of the data"), std::string::npos) << e;
  EXPECT_EQ(e.rfind("test.pkl: ", 0), 0u) << e;
}

TEST(Pickle, CallsAreRefusedByName) {
  const auto e = error_of("\x80\x02" "cposix\nsystem\nX\x02\x00\x00\x00ls\x85R."s);
  EXPECT_NE(e.find("the pickle calls posix.system, which medport never executes"), std::string::npos) << e;
  EXPECT_NE(error_of("\x80\x02" "ctorch.nn.modules.conv\nConv2d\n)\x81.").find("torch.nn.modules.conv.Conv2d"),
            std::string::npos);
  EXPECT_NE(error_of("(S'ls'\nios\nsystem\n.").find("os.system"), std::string::npos);  // INST
  EXPECT_NE(error_of("(cos\nsystem\nS'ls'\no.").find("os.system"), std::string::npos);  // OBJ
  EXPECT_NE(error_of("\x80\x02" "cbuiltins\ngetattr\n)R.").find("builtins.getattr"), std::string::npos);
  // copyreg._reconstructor only builds inert records.
  EXPECT_NE(error_of("\x80\x02" "ccopy_reg\n_reconstructor\ncos\nsystem\ncbuiltins\nobject\nN\x87R.").find("os.system"),
            std::string::npos);
  // A global that is only named, never called, is refused all the same (GLOBAL and STACK_GLOBAL).
  EXPECT_NE(error_of("\x80\x02" "cos\nsystem\n.").find("the pickle refers to os.system"), std::string::npos);
  EXPECT_NE(error_of("\x80\x04\x8c\x02os\x8c\x06system\x93."s).find("the pickle refers to os.system"), std::string::npos);
  // Allow-listed globals and inert record types may still be named without a call.
  EXPECT_EQ(value("\x80\x02" "ctorch\nfloat16\n.")->kind(), ValueKind::Global);
  EXPECT_EQ(value("\x80\x02" "cargparse\nNamespace\n.")->kind(), ValueKind::Global);
}

TEST(Pickle, InertRecordTypesBecomeObjects) {
  // argparse.Namespace via NEWOBJ + BUILD (protocol 2), and via copyreg._reconstructor (protocol 0/1).
  const auto ns = value("\x80\x02" "cargparse\nNamespace\n)\x81}X\x02\x00\x00\x00lrG?\x84z\xe1G\xae\x14{sb."s);
  ASSERT_EQ(ns->kind(), ValueKind::Object);
  EXPECT_EQ(ns->type_name(), "argparse.Namespace");
  EXPECT_EQ(ns->object_data().state->at("lr").as_float(), 0.01);
  const auto old = value("ccopy_reg\n_reconstructor\n(cargparse\nNamespace\nc__builtin__\nobject\nNtR(dS'x'\nI1\nsb.");
  EXPECT_EQ(old->type_name(), "argparse.Namespace");
  EXPECT_EQ(old->object_data().state->at("x").as_int(), 1);
  const auto path = value("\x80\x02" "cpathlib\nPosixPath\nX\x04\x00\x00\x00/tmp\x85R."s);
  EXPECT_EQ(path->type_name(), "pathlib.PosixPath");
  EXPECT_EQ(path->object_data().args->items()[0]->as_str(), "/tmp");
}

TEST(Pickle, AllowListedConstructors) {
  const auto v = value(
      "\x80\x02(ccollections\ndefaultdict\nc__builtin__\nlist\n\x85R"  // defaultdict(list)
      "c__builtin__\nslice\nK\x01K\x05N\x87R"                           // slice(1, 5, None)
      "c__builtin__\ncomplex\nG?\xf0\x00\x00\x00\x00\x00\x00G\xc0\x00\x00\x00\x00\x00\x00\x00\x86R"  // 1-2j
      "c__builtin__\nbytes\n)R"                                       // b''
      "c_codecs\nencode\nX\x04\x00\x00\x00\xc3\xbf\x01" "aX\x06\x00\x00\x00latin1\x86R"  // b'\xff\x01a'
      "ctorch\ndevice\nX\x04\x00\x00\x00" "cudaK\x00\x86R"                // cuda:0
      "c__builtin__\nbytearray\nX\x02\x00\x00\x00hiX\x07\x00\x00\x00latin-1\x86R"
      "ctorch\nfloat16\n"
      "t."s);
  const auto& i = v->items();
  ASSERT_EQ(i.size(), 8u);
  EXPECT_EQ(i[0]->type_name(), "defaultdict");
  EXPECT_EQ(i[0]->dict_data().default_factory->global_ref().qualified(), "builtins.list");
  EXPECT_EQ(i[1]->type_name(), "slice");
  EXPECT_EQ(i[1]->items()[1]->as_int(), 5);
  EXPECT_EQ(i[2]->as_complex(), std::complex<double>(1.0, -2.0));
  EXPECT_EQ(i[3]->as_bytes(), "");
  EXPECT_EQ(i[4]->as_bytes(), std::string("\xff\x01" "a", 3));
  EXPECT_EQ(i[5]->device_text(), "cuda:0");
  EXPECT_EQ(i[5]->type_name(), "torch.device");
  EXPECT_EQ(i[6]->type_name(), "bytearray");
  EXPECT_EQ(i[7]->type_name(), "torch.dtype");
}

TEST(Pickle, NumpyScalarsDecodeTheirBytes) {
  // numpy.core.multiarray.scalar(numpy.dtype('f4', False, True) + BUILD state, b'\x00\x00\x80?')
  const std::string p =
      "\x80\x02" "cnumpy.core.multiarray\nscalar\ncnumpy\ndtype\nX\x02\x00\x00\x00" "f4\x89\x88\x87R"
      "(K\x03X\x01\x00\x00\x00<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
      "c_codecs\nencode\nX\x05\x00\x00\x00\x00\x00\xc2\x80?X\x06\x00\x00\x00latin1\x86R\x86R."s;
  const auto s = value(p);
  ASSERT_EQ(s->kind(), ValueKind::NumpyScalar);
  EXPECT_EQ(s->type_name(), "float32");
  EXPECT_EQ(s->as_float(), 1.0);
  EXPECT_EQ(s->repr(), "np.float32(1.0)");
}

TEST(Pickle, TensorsNeedAllowListedPieces) {
  const std::string rebuild = "ctorch._utils\n_rebuild_tensor_v2\n";
  // _rebuild_tensor_v2(storage, 2, (2, 2), (2, 1), False, OrderedDict())
  const std::string ok = "\x80\x02" + rebuild + "(" + kStoragePid + "K\x02K\x02K\x02\x86K\x02K\x01\x86\x89"s +
                         "ccollections\nOrderedDict\n)Rt" + "R.";
  const auto t = load(ok, fake_storage).value;
  ASSERT_EQ(t->type_name(), "Tensor");
  EXPECT_EQ(t->tensor_data().offset, 2);
  EXPECT_EQ(t->tensor_data().shape, (Shape{2, 2}));
  EXPECT_EQ(t->tensor_data().storage->storage_data().key, "0");
  EXPECT_FALSE(t->tensor_data().tensor.defined());  // bound later, by the checkpoint loader

  // A backward-hooks dict holding a foreign global: refused, naming it.
  const std::string hooked = "\x80\x02" + rebuild + "(" + kStoragePid + "K\x00K\x02\x85K\x01\x85\x89"s +
                             "}X\x01\x00\x00\x00hcevil\nhook\nst"s + "R.";
  const auto e = error_of(hooked, fake_storage);
  EXPECT_NE(e.find("depends on evil.hook"), std::string::npos) << e;

  // _rebuild_from_type_v2 with a tensor subclass medport does not know: refused, naming it.
  const std::string subclass = "\x80\x02" "ctorch._tensor\n_rebuild_from_type_v2\n(" + rebuild + "cmylib\nMyTensor\n(" +
                               kStoragePid + "K\x00K\x02\x85K\x01\x85\x89"s + "ccollections\nOrderedDict\n)Rt}tR.";
  EXPECT_NE(error_of(subclass, fake_storage).find("mylib.MyTensor"), std::string::npos);

  // ... and with torch.nn.Parameter it yields a parameter.
  const std::string param = "\x80\x02" "ctorch._tensor\n_rebuild_from_type_v2\n(" + rebuild +
                            "ctorch.nn.parameter\nParameter\n(" + kStoragePid + "K\x00K\x02\x85K\x01\x85\x88"s +
                            "ccollections\nOrderedDict\n)Rt}tR.";
  const auto pv = load(param, fake_storage).value;
  EXPECT_EQ(pv->type_name(), "Parameter");
  EXPECT_TRUE(pv->tensor_data().requires_grad);
}

TEST(Value, TypeNamesReprAndKeys) {
  EXPECT_EQ(Value::none()->type_name(), "NoneType");
  EXPECT_EQ(Value::integer(1)->type_name(), "int");
  EXPECT_EQ(Value::big_integer("123456789012345678901")->type_name(), "int");
  EXPECT_EQ(Value::floating(1)->type_name(), "float");
  EXPECT_EQ(Value::str("x")->type_name(), "str");
  EXPECT_EQ(Value::bytes("x")->type_name(), "bytes");
  EXPECT_EQ(Value::list()->type_name(), "list");
  EXPECT_EQ(Value::tuple()->type_name(), "tuple");
  EXPECT_EQ(Value::dict(DictFlavor::OrderedDict)->type_name(), "OrderedDict");
  EXPECT_EQ(Value::set({}, true)->type_name(), "frozenset");
  EXPECT_EQ(Value::device("cpu")->type_name(), "torch.device");

  auto d = Value::dict();
  d->set_item(Value::integer(1), Value::str("int"));
  d->set_item(Value::floating(1.0), Value::str("float"));  // same key as 1 in Python
  d->set_item(Value::boolean(true), Value::str("bool"));   // and as True
  d->set_item(Value::tuple({Value::integer(1), Value::str("a")}), Value::none());
  ASSERT_EQ(d->size(), 2u);
  EXPECT_EQ(d->dict_data().entries[0].first->kind(), ValueKind::Int);  // the first key object stays
  EXPECT_EQ(d->dict_data().entries[0].second->as_str(), "bool");
  EXPECT_EQ(d->repr(), "{1: 'bool', (1, 'a'): None}");
  EXPECT_THROW(d->set_item(Value::list(), Value::none()), InputError);
  EXPECT_THROW(Value::str("x")->as_int(), InputError);
  EXPECT_THROW(Value::integer(3)->as_str(), InputError);

  std::vector<ValuePtr> many;
  for (int i = 0; i < 1000; ++i) many.push_back(Value::integer(i));
  const auto long_repr = Value::list(many)->repr(50);
  EXPECT_LE(long_repr.size(), 60u);
  EXPECT_NE(long_repr.find("..."), std::string::npos);

  EXPECT_EQ(python_float_repr(0.001), "0.001");
  EXPECT_EQ(python_float_repr(1e-05), "1e-05");
  EXPECT_EQ(python_float_repr(2.0), "2.0");
  EXPECT_EQ(python_float_repr(100000.0), "100000.0");
  EXPECT_EQ(python_float_repr(1e16), "1e+16");
  EXPECT_EQ(python_float_repr(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(key_to_path_part(*Value::integer(3)), "3");
  EXPECT_EQ(key_to_path_part(*Value::str("w")), "w");
}
