#pragma once
// What the runtime's files share: the process's ONNX Runtime environment, type and error
// translation, session options, and the Session's own state. Internal to src/runtime.
#include <onnxruntime_cxx_api.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "medport/dtype.hpp"
#include "medport/runtime/session.hpp"

namespace medport::runtime::detail {

Ort::Env& ort_env();

// The first line of an ONNX Runtime message, without terminal escape sequences, at most 300
// characters: its messages can span lines and carry colour codes from the logger.
std::string one_line(std::string_view text);

// InputError for faults of the model or the arrays fed to it, EngineError otherwise. `loading`:
// the error came from loading the model file `source`.
[[noreturn]] void rethrow_ort_error(const Ort::Exception& e, const std::string& source, const std::string& context,
                                    bool loading = false);

ONNXTensorElementDataType to_onnx_type(DType d);
DType from_onnx_type(ONNXTensorElementDataType t);

Ort::SessionOptions make_ort_options(const SessionOptions& options);
// Where tensors of a session with these options live: CUDA device memory or host memory.
Ort::MemoryInfo device_memory_info(const SessionOptions& options);

// One-node Identity model for `dtype` with a 1-D input "x" of any length -> "y".
const std::vector<std::byte>& identity_model(DType dtype);

}  // namespace medport::runtime::detail

namespace medport::runtime {

struct Session::Impl {
  // Shared with the device tensors allocated from this session (their memory comes from its
  // allocator), so that they may outlive the Session object.
  std::shared_ptr<Ort::Session> session;
  SessionOptions options;
  std::vector<std::string> input_names, output_names;

  std::mutex mutex;  // guards the lazily created members below
  std::shared_ptr<Ort::Allocator> device_allocator;  // CUDA only
  std::map<DType, std::shared_ptr<Ort::Session>> copiers;  // Identity sessions on the same device

  void read_names();
  // The session-owned allocator of device memory (CUDA), created on first use.
  std::shared_ptr<Ort::Allocator> allocator();
  // The Identity session used for copies of `dtype` on this session's provider and device.
  std::shared_ptr<Ort::Session> copier(DType dtype);
};

}  // namespace medport::runtime
