#pragma once
// One ONNX Runtime session per model, shareable across threads (Ort::Session::Run is
// thread-safe). Tensors go in and out as medport::Tensor; device-resident tensors and IO binding
// (runtime/device.hpp) keep data on the provider's device between runs.
#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "medport/tensor.hpp"

namespace medport::runtime {

enum class Provider { Cpu, Cuda };

// cuDNN's choice of convolution algorithm: benchmark every candidate once per shape
// (EXHAUSTIVE, ONNX Runtime's default), cuDNN's heuristics, or the default algorithm.
enum class ConvAlgoSearch { Exhaustive, Heuristic, Default };

// Settings of ONNX Runtime's CUDA execution provider (ignored by the CPU provider).
struct CudaOptions {
  ConvAlgoSearch conv_algo_search = ConvAlgoSearch::Exhaustive;
  bool max_conv_workspace = true;  // let cuDNN use as much workspace as its fastest algorithm wants
  std::size_t memory_limit_bytes = 0;  // 0: no limit for the session's memory arena
  bool arena_grows_exactly = false;    // grow the arena by what is requested, not to the next power of two
  // Capture the session's kernels as CUDA graphs and replay them (runtime::Binding::run with a
  // graph id): every node must run on CUDA, shapes and bound device addresses must stay fixed.
  bool cuda_graph = false;
  bool prefer_nhwc = false;  // NHWC convolution kernels (often faster in fp16 on tensor cores)
  // TensorFloat-32 matmuls and convolutions. ONNX Runtime turns it on by default; medport keeps
  // it off so that float32 results stay within float32 tolerance of the CPU and of PyTorch.
  bool tf32 = false;
};

struct SessionOptions {
  int intra_op_threads = 0;  // 0: ONNX Runtime's default (one per physical core)
  Provider provider = Provider::Cpu;
  int cuda_device = 0;
  CudaOptions cuda;
};

Provider parse_provider(const std::string& name);  // "cpu" | "cuda"; throws UsageError
std::string provider_name(Provider provider);       // "cpu" | "cuda"
// Options from the CLI's --threads / --provider / --device flags. Throws UsageError for an
// unknown provider name or a negative device, InputError (exit 3, naming the flag) when "cuda" is
// asked for but this machine cannot run it (no CUDA provider in this ONNX Runtime build, CUDA
// libraries or driver missing, no such device).
SessionOptions session_options_from_flags(int threads, const std::string& provider, int device = 0);
// True when this ONNX Runtime build can create the CUDA execution provider here and run a
// one-node model on CUDA device `device` (checked once per device, then remembered).
bool cuda_provider_available(int device = 0);
// Why cuda_provider_available(device) is false (one line); empty when it is true.
std::string cuda_unavailable_reason(int device = 0);
// The ONNX Runtime version string ("1.29.0").
std::string onnxruntime_version();

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
  const SessionOptions& options() const;

  // Runs the model; inputs are matched by name, every output is returned in graph order.
  std::vector<NamedTensor> run(const std::vector<NamedTensor>& inputs) const;

  struct Impl;  // defined in src/runtime (ONNX Runtime types); opaque to callers

 private:
  friend class Binding;
  friend class DeviceTensor;
  std::shared_ptr<Impl> impl_;
};

}  // namespace medport::runtime
