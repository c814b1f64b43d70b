// The robustness suite, checkpoints and arrays: truncated, bit-flipped, lying and hostile torch
// checkpoints, pickles, npz, npy and safetensors files, generated here (plus the fixtures'
// hostile/ set when present), through `medport inspect` (human and --json) and `medport convert`.
// Each ends with exit 3 naming the file, in seconds and bounded memory, writing nothing.
// Cases whose fix belongs to the checkpoint readers and has not landed are DISABLED_ with the
// reason (docs/ROBUSTNESS.md).
#include <gtest/gtest.h>

#include "hostile_files.hpp"
#include "robustness_checks.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using namespace medport::testing;
using namespace std::string_literals;

struct HostileFile {
  std::string name;
  std::string bytes;
  std::string reason;  // a word the error must contain ("" : any clean refusal)
};

std::string le64(std::uint64_t v) {  // safetensors' header length
  std::string s;
  for (int i = 0; i < 8; ++i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
  return s;
}

std::string safetensors(const std::string& header, const std::string& data) { return le64(header.size()) + header + data; }

std::vector<HostileFile> hostile_checkpoints() {
  const std::string real = read_bytes(source_dir() / "models" / "phantom2d" / "fold_0" / "checkpoint_final.pth");
  const std::string small = torch_zip_checkpoint(pickle_one_tensor_referenced(1, 4), std::string(16, '\0'));
  return {
      {"truncated_half.pth", truncate_to(real, 0.5), ""},
      {"truncated_tail.pth", truncate_to(real, 0.999), ""},
      {"bitflip_zip.pth", flip_byte(real, 0.3), ""},
      {"bitflip_small.pth", flip_byte(small, 0.2), ""},
      {"ten_bytes.pth", real.substr(0, 10), ""},
      {"empty.pth", "", "empty"},
      {"global_reference.pkl", "\x80\x02" "cos\nsystem\n.", "refers to os.system"},
      {"global_call.pkl", "\x80\x02" "cposix\nsystem\nX\x02\x00\x00\x00ls\x85R."s, "calls posix.system"},
      {"escape_codes.pkl", "\x80\x02" "c\x1b[2J\x1b[H\nclear\n.", "\\x1b[2J"},
      {"deep_nesting.pkl", "\x80\x02" + std::string(100000, ']') + std::string(99999, 'a') + ".", "nested deeper"},
      {"stop_only.pkl", ".", ""},
      {"storage_too_small.pth", torch_zip_checkpoint(pickle_one_tensor_referenced(1, 1 << 20), std::string(16, '\0')), ""},
      {"not_a_zip.npz", "PK\x03\x04 this is not really a zip", ""},
      {"member_not_npy.npz", zip_archive({{"a.npy", "not an npy header"}}), "a.npy"},
      {"truncated.npy", truncate_to(npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (8, 8), }", std::string(256, '\1')), 0.7), "npy"},
      {"huge_shape.npy", npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 1000000000), }", ""), ""},
      {"object.npy", npy_raw("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", "\x80\x02N."), "object"},
      {"header_length.safetensors", le64(std::uint64_t{1} << 60) + "{}", ""},
      {"not_json.safetensors", safetensors("{not json", ""), ""},
      {"offsets_past_end.safetensors", safetensors(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,1000]}})", std::string(16, '\0')), ""},
      {"shape_lies.safetensors", safetensors(R"({"w":{"dtype":"F32","shape":[1000000,1000000],"data_offsets":[0,16]}})", std::string(16, '\0')), ""},
      {"unknown_dtype.safetensors", safetensors(R"({"w":{"dtype":"X9","shape":[4],"data_offsets":[0,16]}})", std::string(16, '\0')), ""},
  };
}

class RobustnessCheckpoints : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(MEDPORT_CLI)) GTEST_SKIP() << "medport binary not built";
  }
  // inspect, inspect --json and convert on `file`: all refuse it cleanly and write nothing.
  void expect_refused_everywhere(const fs::path& file, const std::string& reason, double max_seconds = 20.0) {
    const std::string name = file.filename().string();
    const fs::path out = dir_ / ("out_" + name);
    const std::vector<std::vector<std::string>> runs = {
        {"inspect", file.string()},
        {"inspect", file.string(), "--json"},
        {"convert", file.string(), "-o", (out / "model.onnx").string()},
    };
    for (const auto& args : runs) {
      const auto r = run_medport_guarded(args, robustness_limits());
      Expectation e{3, name, reason, max_seconds, 1024};
      if (!reason.empty() && args[0] == "convert") e.reason.clear();  // convert may stop at its own check first
      expect_outcome(r, e, args[0] + (args.size() > 2 && args[2] == "--json" ? " --json " : " ") + name);
      EXPECT_TRUE(r.out.find('\x1b') == std::string::npos) << name << ": raw escape code on stdout";
    }
    EXPECT_TRUE(everything_below(out).empty()) << name << ": convert left files behind";
  }
  TempDir dir_;
};

TEST_F(RobustnessCheckpoints, EveryHostileFileIsRefusedCleanly) {
  for (const auto& f : hostile_checkpoints()) {
    SCOPED_TRACE(f.name);
    write_bytes(dir_ / f.name, f.bytes);
    expect_refused_everywhere(dir_ / f.name, f.reason);
  }
}

TEST_F(RobustnessCheckpoints, TheFixturesHostileSetIsRefusedWithoutSideEffects) {
  MEDPORT_FIXTURE_OR_SKIP(hostile, "checkpoints/hostile");
  for (const auto& entry : fs::directory_iterator(hostile)) {
    SCOPED_TRACE(entry.path().filename().string());
    expect_refused_everywhere(entry.path(), "");
  }
  for (const auto& entry : fs::directory_iterator("/tmp"))
    EXPECT_EQ(entry.path().filename().string().rfind("medport_pwned", 0), std::string::npos) << entry.path();
}

TEST_F(RobustnessCheckpoints, IntactCheckpointIsInspectedAndConverted) {
  const fs::path model = source_dir() / "models" / "phantom2d";
  auto r = run_medport_guarded({"inspect", (model / "fold_0" / "checkpoint_final.pth").string()}, robustness_limits());
  expect_outcome(r, {0, "", ""}, "inspect");
  r = run_medport_guarded({"convert", model.string(), "-o", (dir_ / "m.onnx").string()}, robustness_limits());
  expect_outcome(r, {0, "", ""}, "convert");
  EXPECT_TRUE(fs::exists(dir_ / "m.onnx") && fs::exists(dir_ / "m.medport.json"));
  EXPECT_TRUE(temporaries_below(dir_.path()).empty());
}

// Issue 17 item 4: inspect is linear in the number of references; 200,000 references to one
// tensor take well under a few seconds and a few hundred MB (the JSON report lists each one).
TEST_F(RobustnessCheckpoints, InspectIsLinearInTheNumberOfReferences) {
  write_bytes(dir_ / "refs.pth", torch_zip_checkpoint(pickle_one_tensor_referenced(200000, 4), std::string(16, '\0')));
  const auto r = run_medport_guarded({"inspect", (dir_ / "refs.pth").string(), "--json"}, robustness_limits());
  // About 3 s alone on the 2-core machine; a quadratic walk would take hours. The bound leaves room
  // for a loaded CI machine (5 s was once missed by 4 ms with two test programs at once).
  expect_outcome(r, {0, "", "", 30.0, 640}, "inspect 200k references");
}

// Issue 17 item 4: reading an npz's metadata never decompresses whole records; a member that
// claims to inflate to 256 MB is reported from its header, far below that in memory.
TEST_F(RobustnessCheckpoints, InspectOfAnNpzBombStaysSmall) {
  const std::string header = npy_raw("{'descr': '|u1', 'fortran_order': False, 'shape': (268435456,), }", "");
  write_bytes(dir_ / "bomb.npz", zip_archive({{"big.npy", header, true, std::uint64_t{1} << 28}}));
  const auto r = run_medport_guarded({"inspect", (dir_ / "bomb.npz").string()}, robustness_limits());
  expect_outcome(r, {0, "", "", 20.0, 128}, "inspect npz bomb");  // memory is the point here
}

// Issue 17 item 5: `convert` of an image says that the file is not a checkpoint, not a pickle opcode.
TEST_F(RobustnessCheckpoints, ConvertOfAPngSaysItIsNotACheckpoint) {
  write_bytes(dir_ / "scan.png", png_bytes(32, 32));
  const auto r = run_medport_guarded({"convert", (dir_ / "scan.png").string(), "-o", (dir_ / "m.onnx").string()},
                                     robustness_limits());
  expect_outcome(r, {3, "scan.png", "not a"}, "convert scan.png");
  EXPECT_EQ(r.err.find("opcode"), std::string::npos) << r.err;
}

// Issue 17 item 8: uint16 .npy images (ultrasound, CT exports) are read (DType::U16).
TEST_F(RobustnessCheckpoints, Uint16NpyIsRead) {
  const std::string npy = npy_raw("{'descr': '<u2', 'fortran_order': False, 'shape': (2, 2), }",
                                  std::string("\x01\x00\x02\x00\x03\x00\xff\xff", 8));
  write_bytes(dir_ / "u16.npy", npy);
  const auto r = run_medport_guarded({"inspect", (dir_ / "u16.npy").string()}, robustness_limits());
  expect_outcome(r, {0, "", ""}, "inspect u16.npy");
}

}  // namespace
