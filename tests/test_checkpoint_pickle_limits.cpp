// Each PickleLimits bound is enforced, nesting is refused without recursion, reference cycles
// are refused, and deep values are destroyed without recursion.
#include "medport/checkpoint/pickle.hpp"
#include "medport/checkpoint/torch_checkpoint.hpp"
#include "medport/error.hpp"
#include "test_support.hpp"

using namespace medport;
using namespace medport::ckpt;
using namespace std::string_literals;

namespace {

std::string error_of(const std::string& bytes, PickleLimits limits = {}) {
  UnpickleOptions o;
  o.source = "limits.pkl";
  o.limits = limits;
  try {
    unpickle(std::as_bytes(std::span(bytes.data(), bytes.size())), o);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(accepted)";
}

std::string nested_lists(std::size_t depth) {
  // [[[...]]]: `depth` EMPTY_LISTs, then APPENDs folding each into the one below.
  return "\x80\x02" + std::string(depth, ']') + std::string(depth - 1, 'a') + ".";
}

std::string le(std::uint64_t v, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

}  // namespace

TEST(PickleLimits, DepthAtTheLimitIsAcceptedOneMoreIsRefused) {
  PickleLimits l;
  l.max_depth = 5;
  EXPECT_EQ(error_of(nested_lists(5), l), "(accepted)");
  const auto e = error_of(nested_lists(6), l);
  EXPECT_NE(e.find("nested deeper than 5 levels"), std::string::npos) << e;
  // Tuples and dicts count too.
  EXPECT_NE(error_of("\x80\x02)\x85\x85\x85\x85\x85\x85.", l).find("nested deeper"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02}X\x01\x00\x00\x00" "a}X\x01\x00\x00\x00" "a}X\x01\x00\x00\x00" "a}X\x01\x00\x00\x00" "a}X\x01\x00\x00\x00" "a]ssssss."s, l)
                .find("nested deeper"),
            std::string::npos);
}

TEST(PickleLimits, HundredThousandNestedListsAreRefusedWithoutRecursion) {
  const auto e = error_of(nested_lists(100000));
  EXPECT_NE(e.find("nested deeper than 1000 levels"), std::string::npos) << e;
}

TEST(PickleLimits, NestingBuiltByMutationAfterAppendIsCaught) {
  // Lists L0..Ln memoised first, then each Li+1 appended into Li: every single APPEND sees a
  // shallow child, so only the check of the finished graph can see the real depth.
  const int n = 50;
  std::string p = "\x80\x02";
  for (int i = 0; i < n; ++i) p += "]r" + le(static_cast<std::uint64_t>(i), 4) + "0";
  for (int i = 0; i <= n - 2; ++i)
    p += "j" + le(static_cast<std::uint64_t>(i), 4) + "j" + le(static_cast<std::uint64_t>(i + 1), 4) + "a0";
  p += "j" + le(0, 4) + ".";
  PickleLimits l;
  l.max_depth = 20;
  EXPECT_NE(error_of(p, l).find("nested deeper than 20 levels"), std::string::npos) << error_of(p, l);
  l.max_depth = 50;
  EXPECT_EQ(error_of(p, l), "(accepted)");
}

TEST(PickleLimits, ReferenceCyclesAreRefused) {
  // l = []; l.append(l)
  const auto e = error_of("\x80\x02]q\x00h\x00" "a."s);
  EXPECT_NE(e.find("contains itself"), std::string::npos) << e;
  // d = {}; d['self'] = (d,) : a cycle through a tuple.
  const auto e2 = error_of("\x80\x02}q\x00X\x04\x00\x00\x00selfh\x00\x85s."s);
  EXPECT_NE(e2.find("contains itself"), std::string::npos) << e2;
}

TEST(PickleLimits, StackMemoElementsStringsAndIntegers) {
  PickleLimits l;
  l.max_stack = 100;
  EXPECT_NE(error_of("\x80\x02" + std::string(101, 'N') + ".", l).find("values on the stack"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02" + std::string(101, '(') + "N.", l).find("values on the stack"), std::string::npos);
  EXPECT_EQ(error_of("\x80\x02" + std::string(99, 'N') + ".", l), "(accepted)");

  l = {};
  l.max_memo = 10;
  std::string memo = "\x80\x02N";
  for (int i = 0; i < 11; ++i) memo += "q" + std::string(1, static_cast<char>(i));
  EXPECT_NE(error_of(memo + ".", l).find("memo entries"), std::string::npos);
  EXPECT_EQ(error_of("\x80\x02Nq\x01q\x01q\x01."s, l), "(accepted)");  // re-using a key is no new entry

  l = {};
  l.max_elements = 10;
  EXPECT_NE(error_of("\x80\x02](" + std::string(11, 'N') + "e.", l).find("container elements"), std::string::npos);
  // Copies made by allow-listed constructors count too: list(x) of a memoised list, repeatedly.
  EXPECT_NE(error_of("\x80\x02](NNNNNNeq\x00" "c__builtin__\nlist\nh\x00\x85R0c__builtin__\nlist\nh\x00\x85R."s, l)
                .find("container elements"),
            std::string::npos);

  l = {};
  l.max_string_bytes = 8;
  EXPECT_NE(error_of("\x80\x02(X\x05\x00\x00\x00" "abcdeX\x05\x00\x00\x00" "abcdet."s, l).find("bytes of strings"),
            std::string::npos);

  l = {};
  l.max_int_bytes = 16;
  EXPECT_NE(error_of("\x80\x02\x8a\x11" + std::string(17, '\x01') + ".", l).find("exceeds the limit"), std::string::npos);
  EXPECT_NE(error_of("L" + std::string(60, '7') + "L\n.", l).find("limit"), std::string::npos);
}

TEST(PickleLimits, LengthFieldsAreCheckedBeforeAllocating) {
  for (const std::string& p : {"\x80\x04\x8d"s + le(~0ULL >> 1, 8) + "x.", "\x80\x04\x8e"s + le(1ULL << 40, 8) + ".",
                               "\x80\x05\x96"s + le(1ULL << 40, 8) + ".", "\x80\x02X"s + le(0xffffffff, 4) + ".",
                               "\x80\x02T"s + le(0x7fffffff, 4) + ".", "\x80\x02\x8b"s + le(0x7fffffff, 4) + "."}) {
    const auto e = error_of(p);
    EXPECT_NE(e, "(accepted)");
    EXPECT_EQ(e.rfind("limits.pkl: ", 0), 0u) << e;
  }
}

TEST(PickleLimits, DeepValuesAreDestroyedWithoutRecursion) {
  // Built directly (no pickle limits involved): a million nested lists must not overflow the
  // stack when the last reference goes.
  ValuePtr v = Value::list();
  for (int i = 0; i < 1'000'000; ++i) v = Value::list({v});
  v.reset();
  SUCCEED();
}

TEST(PickleLimits, FailedParsesReleaseEverything) {
  // A cycle built before a failure: tear-down must break it (observed through a weak pointer).
  std::weak_ptr<Value> witness;
  UnpickleOptions o;
  o.source = "cycle.pkl";
  o.persistent_load = [&](const ValuePtr& pid) {
    witness = pid;
    throw InputError("cycle.pkl", "stop here");
    return pid;
  };
  const std::string p = "\x80\x02]q\x00h\x00" "ah\x00Q."s;  // l.append(l); persistent_load(l)
  EXPECT_THROW(unpickle(std::as_bytes(std::span(p.data(), p.size())), o), InputError);
  EXPECT_TRUE(witness.expired());
}

TEST(PickleLimits, ExponentialKeysAreRefused) {
  // t = 'a' * 1000; t = (t, t) thirty times; {t: None}: a 2**30 kB key from a 1 kB pickle.
  std::string p = "\x80\x02}X" + le(1000, 4) + std::string(1000, 'a');
  for (int i = 0; i < 30; ++i) p += "2\x86";
  p += "Ns.";
  EXPECT_NE(error_of(p).find("too large"), std::string::npos) << error_of(p);
}

TEST(TorchLimits, SharedSubObjectsCannotExplodeTheTensorWalk) {
  // ([],); then (x, x) forty times: 2**40 paths to one empty list.
  std::string p = "\x80\x02]\x85";
  for (int i = 0; i < 40; ++i) p += "2\x86";
  p += ".";
  TorchLoadOptions o;
  o.max_values_visited = 100000;
  auto bytes = std::make_shared<const std::vector<std::byte>>(std::as_bytes(std::span(p.data(), p.size())).begin(),
                                                             std::as_bytes(std::span(p.data(), p.size())).end());
  try {
    load_torch_checkpoint_bytes(bytes, "dag.pkl", o);
    ADD_FAILURE() << "accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("more than 100000 values"), std::string::npos) << e.what();
  }
}

TEST(TorchLimits, OverlongPathsAreRefused) {
  // Seventy nested dicts, each under the same 1000-character key.
  std::string p = "\x80\x02}X" + le(1000, 4) + std::string(1000, 'k') + "q\x00"s;
  for (int i = 0; i < 70; ++i) p += "}h\x00"s;
  p += "]" + std::string(71, 's') + ".";
  auto bytes = std::make_shared<const std::vector<std::byte>>(std::as_bytes(std::span(p.data(), p.size())).begin(),
                                                             std::as_bytes(std::span(p.data(), p.size())).end());
  try {
    load_torch_checkpoint_bytes(bytes, "long.pkl");
    ADD_FAILURE() << "accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("longer than 65536 characters"), std::string::npos) << e.what();
  }
}
