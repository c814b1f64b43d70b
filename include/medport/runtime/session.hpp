#pragma once
// One ONNX Runtime session per model, shareable across threads (Ort::Session::Run is
// thread-safe). Tensors go in and out as medport::Tensor.
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "medport/tensor.hpp"

namespace medport::runtime {

enum class Provider { Cpu, Cuda };

struct SessionOptions {
  int intra_op_threads = 0;  // 0: ONNX Runtime's default (one per physical core)
  Provider provider = Provider::Cpu;
  int cuda_device = 0;
};

Provider parse_provider(const std::string& name);  // "cpu" | "cuda"; throws UsageError
// Options from the CLI's --threads / --provider flags; throws UsageError when "cuda" is asked
// for but this machine cannot create the CUDA execution provider.
SessionOptions session_options_from_flags(int threads, const std::string& provider);
// The ONNX Runtime version string ("1.29.0").
std::string onnxruntime_version();
// True when this ONNX Runtime build can create the CUDA execution provider here.
bool cuda_provider_available();

struct NamedTensor {
  std::string name;
  Tensor tensor;
};

class Session {
 public:
  Session(const std::filesystem::path& model_path, const SessionOptions& options = {});
  Session(std::span<const std::byte> model_bytes, const SessionOptions& options = {});
  ~Session();
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;

  const std::vector<std::string>& input_names() const;
  const std::vector<std::string>& output_names() const;

  // Runs the model; inputs are matched by name, every output is returned in graph order.
  std::vector<NamedTensor> run(const std::vector<NamedTensor>& inputs) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace medport::runtime
