// Hostile checkpoints: each is refused with an InputError naming the file and the problem, and
// nothing is executed (the payloads would create /tmp/medport_pwned_* if they ran).
#include <filesystem>
#include <map>

#include "medport/checkpoint/torch_checkpoint.hpp"
#include "medport/error.hpp"
#include "test_support.hpp"

using namespace medport;
using namespace medport::ckpt;
namespace fs = std::filesystem;

namespace {

std::vector<fs::path> pwned_files() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(fs::temp_directory_path()))
    if (e.path().filename().string().rfind("medport_pwned_", 0) == 0) out.push_back(e.path());
  return out;
}

std::string refusal_of(const fs::path& file) {
  try {
    load_torch_checkpoint(file);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(accepted)";
}

}  // namespace

TEST(TorchHostile, EveryHostileFileIsRefusedWithoutSideEffects) {
  MEDPORT_FIXTURE_OR_SKIP(dir, "checkpoints/hostile");
  for (const auto& p : pwned_files()) fs::remove(p);

  // The problem each refusal must name.
  const std::map<std::string, std::string> expected = {
      {"os_system.pt", "the pickle calls os.system, which medport never executes"},
      {"eval_in_dict.pt", "the pickle calls builtins.eval, which medport never executes"},
      {"subprocess_plain.pkl", "the pickle calls commands.call, which medport never executes"},
      {"corrupt_pickle.pt", "unknown opcode 0xff"},
      {"deep_nesting.pt", "nested deeper than 1000 levels"},
      {"lying_numel.pt", "claims 1073741824 float32 elements (4294967296 bytes) but its record"},
      {"view_past_storage.pt", "tensor 'w' (storage 0): view [offset 0, shape [1000], strides [1]] reads past its storage of 4 elements"},
      {"truncated.pt", "not a valid zip archive"},
  };
  std::size_t seen = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    SCOPED_TRACE(name);
    ++seen;
    const std::string message = refusal_of(e.path());
    EXPECT_EQ(message.rfind(e.path().string() + ": ", 0), 0u) << "message does not start with the file: " << message;
    auto it = expected.find(name);
    ASSERT_NE(it, expected.end()) << "new hostile fixture without an expectation: " << message;
    EXPECT_NE(message.find(it->second), std::string::npos) << message;
  }
  EXPECT_EQ(seen, expected.size());
  EXPECT_TRUE(pwned_files().empty()) << "a payload ran";
}
