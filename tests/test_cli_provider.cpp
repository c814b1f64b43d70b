// --provider / --device on every command that runs a model: the same flags everywhere, a
// malformed value is a usage error (exit 2), and CUDA asked for where it cannot run is one line
// naming the flag (exit 3) before any input is read. With a usable CUDA device the unusable-CUDA
// half is skipped and an impossible device index is checked instead.
#include <string>
#include <vector>

#include "medport/runtime/session.hpp"
#include "test_support.hpp"

namespace {

using medport::testing::run_medport;

// Each command with placeholder inputs that do not exist: the provider check comes first.
const std::vector<std::vector<std::string>> kCommands = {
    {"segment", "missing.onnx", "missing.png", "-o", "out"},
    {"fewshot", "missing_dir", "--support", "s.nii.gz", "--support-mask", "m.nii.gz", "--query", "q.nii.gz", "-o", "out"},
    {"sample", "missing.onnx", "-o", "out.npz", "--size", "32"},
    {"inpaint", "missing.onnx", "--image", "i.png", "--mask", "m.png", "-o", "out.npz"},
    {"classify", "missing.onnx", "missing.png"},
    {"run", "missing.onnx", "--inputs", "in.npz", "-o", "out.npz"},
    {"verify", "missing.onnx", "--reference", "ref.npz"},
};

std::vector<std::string> with(std::vector<std::string> args, std::initializer_list<std::string> more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

TEST(CliProvider, MalformedProviderOrDeviceIsAUsageError) {
  for (const auto& command : kCommands) {
    const auto bad_provider = run_medport(with(command, {"--provider", "tpu"}));
    EXPECT_EQ(bad_provider.exit_code, 2) << command[0] << ": " << bad_provider.err;
    const auto bad_device = run_medport(with(command, {"--device", "-1"}));
    EXPECT_EQ(bad_device.exit_code, 2) << command[0] << ": " << bad_device.err;
  }
}

TEST(CliProvider, UnusableCudaIsOneLineNamingTheFlag) {
  if (medport::runtime::cuda_provider_available()) GTEST_SKIP() << "CUDA is usable here";
  for (const auto& command : kCommands) {
    const auto r = run_medport(with(command, {"--provider", "cuda"}));
    EXPECT_EQ(r.exit_code, 3) << command[0] << ": " << r.err;
    EXPECT_EQ(r.err.rfind("medport: error: --provider cuda: CUDA is not usable on this machine: ", 0), 0u)
        << command[0] << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << command[0] << ": " << r.err;
  }
}

TEST(CliProvider, AMissingCudaDeviceIndexNamesTheDeviceFlag) {
  if (!medport::runtime::cuda_provider_available()) GTEST_SKIP() << "no CUDA device: " << medport::runtime::cuda_unavailable_reason();
  for (const auto& command : kCommands) {
    const auto r = run_medport(with(command, {"--provider", "cuda", "--device", "1000"}));
    EXPECT_EQ(r.exit_code, 3) << command[0] << ": " << r.err;
    EXPECT_NE(r.err.find("--device 1000"), std::string::npos) << command[0] << ": " << r.err;
  }
}

}  // namespace
