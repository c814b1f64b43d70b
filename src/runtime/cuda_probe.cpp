// Whether --provider cuda can work here, found out once per device by running a one-node model
// on it: the CUDA provider library, the CUDA/cuDNN libraries it loads, the driver and the device
// all have to be there, and ONNX Runtime only reports each of them when it first needs it.
#include <algorithm>
#include <map>
#include <mutex>
#include <string_view>

#include "medport/error.hpp"
#include "medport/runtime/session.hpp"
#include "ort_support.hpp"

namespace medport::runtime {
namespace {

// "<file>:<line> <function> [ONNXRuntimeError] : 1 : FAIL : <what>" -> "<what>" (one line).
std::string without_source_location(std::string_view message) {
  constexpr std::string_view kMarker = "[ONNXRuntimeError] : ";
  const auto marker = message.find(kMarker);
  if (marker != std::string_view::npos) {
    std::string_view rest = message.substr(marker + kMarker.size());  // "1 : FAIL : <what>"
    for (int field = 0; field < 2; ++field) {
      const auto colon = rest.find(" : ");
      if (colon == std::string_view::npos) break;
      rest = rest.substr(colon + 3);
    }
    message = rest;
  }
  return detail::one_line(message);
}

std::string probe_cuda_device(int device) {
  SessionOptions options;
  options.provider = Provider::Cuda;
  options.cuda_device = device;
  options.intra_op_threads = 1;
  try {
    const auto& model = detail::identity_model(DType::F32);
    Ort::Session session(detail::ort_env(), model.data(), model.size(), detail::make_ort_options(options));
    float value = 1.0f;
    const std::int64_t shape[] = {1};
    const auto mem = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
    Ort::Value in = Ort::Value::CreateTensor<float>(mem, &value, 1, shape, 1);
    const char* in_name = "x";
    const char* out_name = "y";
    auto out = session.Run(Ort::RunOptions{nullptr}, &in_name, &in, 1, &out_name, 1);
    if (out.size() != 1 || out[0].GetTensorData<float>()[0] != 1.0f)
      return "CUDA device " + std::to_string(device) + " returned a wrong result for a copy";
  } catch (const Ort::Exception& e) {
    return without_source_location(e.what());
  }
  return {};
}

}  // namespace

std::string cuda_unavailable_reason(int device) {
  static std::mutex mutex;
  static std::map<int, std::string> known;
  std::lock_guard lock(mutex);
  const auto it = known.find(device);
  if (it != known.end()) return it->second;
  return known[device] = probe_cuda_device(device);
}

bool cuda_provider_available(int device) { return cuda_unavailable_reason(device).empty(); }

SessionOptions session_options_from_flags(int threads, const std::string& provider, int device) {
  SessionOptions options;
  options.intra_op_threads = threads;
  options.provider = parse_provider(provider);
  if (device < 0) throw UsageError("--device must be >= 0");
  options.cuda_device = device;
  if (options.provider != Provider::Cuda) return options;
  const std::string reason = cuda_unavailable_reason(device);
  if (reason.empty()) return options;
  // Device 0 works but this one does not: the index is what is wrong.
  if (device > 0 && cuda_provider_available(0))
    throw InputError("--device " + std::to_string(device), "no usable CUDA device of this index: " + reason);
  throw InputError("--provider cuda", "CUDA is not usable on this machine: " + reason);
}

}  // namespace medport::runtime
