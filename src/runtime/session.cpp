#include "medport/runtime/session.hpp"

#include <onnxruntime_cxx_api.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <string_view>

#include "medport/error.hpp"
#include "medport/runtime/privacy.hpp"

namespace medport::runtime {

namespace {

// The first line of an ONNX Runtime message, without terminal escape sequences, at most 300
// characters: its messages can span lines and carry colour codes from the logger.
std::string one_line(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size() && out.size() < 300; ++i) {
    const char c = text[i];
    if (c == '\x1b') {  // ESC [ ... final byte
      if (i + 1 < text.size() && text[i + 1] == '[') {
        i += 2;
        while (i < text.size() && !(text[i] >= '@' && text[i] <= '~')) ++i;
      }
      continue;
    }
    if (c == '\n' || c == '\r') {
      if (!out.empty()) break;
      continue;
    }
    out += static_cast<unsigned char>(c) < 0x20 ? ' ' : c;
  }
  return out;
}

const char* ort_code_name(OrtErrorCode code) {
  switch (code) {
    case ORT_OK: return "OK";
    case ORT_FAIL: return "FAIL";
    case ORT_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case ORT_NO_SUCHFILE: return "NO_SUCHFILE";
    case ORT_NO_MODEL: return "NO_MODEL";
    case ORT_ENGINE_ERROR: return "ENGINE_ERROR";
    case ORT_RUNTIME_EXCEPTION: return "RUNTIME_EXCEPTION";
    case ORT_INVALID_PROTOBUF: return "INVALID_PROTOBUF";
    case ORT_MODEL_LOADED: return "MODEL_LOADED";
    case ORT_NOT_IMPLEMENTED: return "NOT_IMPLEMENTED";
    case ORT_INVALID_GRAPH: return "INVALID_GRAPH";
    case ORT_EP_FAIL: return "EP_FAIL";
    default: return "UNKNOWN";
  }
}

[[noreturn]] void rethrow_ort_error(const Ort::Exception& e, const std::string& source, const std::string& context) {
  const OrtErrorCode code = e.GetOrtErrorCode();
  const std::string message = context + ": " + one_line(e.what());
  switch (code) {
    // The model file or the arrays fed to it are at fault.
    case ORT_INVALID_ARGUMENT:
    case ORT_NO_SUCHFILE:
    case ORT_NO_MODEL:
    case ORT_INVALID_PROTOBUF:
    case ORT_INVALID_GRAPH:
    case ORT_NOT_IMPLEMENTED:
      throw InputError(source, message);
    default:  // the engine failed: out of memory, provider failure, internal error
      throw EngineError("onnxruntime", ort_code_name(code), message);
  }
}

}  // namespace
namespace {

// The one environment of the process. Telemetry is off before it exists (the environment
// variable, read when the runtime initialises its telemetry) and after (the API switch).
Ort::Env& ort_env() {
  static Ort::Env env = [] {
    disable_runtime_telemetry();
    Ort::Env created(ORT_LOGGING_LEVEL_WARNING, "medport");
    created.DisableTelemetryEvents();
    return created;
  }();
  return env;
}

ONNXTensorElementDataType to_onnx_type(DType d) {
  switch (d) {
    case DType::F32: return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
    case DType::F64: return ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE;
    case DType::F16: return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16;
    case DType::BF16: return ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16;
    case DType::I64: return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64;
    case DType::I32: return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32;
    case DType::I16: return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT16;
    case DType::I8: return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8;
    case DType::U8: return ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8;
    case DType::Bool: return ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL;
  }
  return ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
}

DType from_onnx_type(ONNXTensorElementDataType t) {
  switch (t) {
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT: return DType::F32;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE: return DType::F64;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16: return DType::F16;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16: return DType::BF16;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64: return DType::I64;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32: return DType::I32;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT16: return DType::I16;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8: return DType::I8;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8: return DType::U8;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL: return DType::Bool;
    default: throw std::runtime_error("unsupported ONNX output element type " + std::to_string(static_cast<int>(t)));
  }
}

Ort::SessionOptions make_options(const SessionOptions& options) {
  Ort::SessionOptions so;
  so.SetIntraOpNumThreads(options.intra_op_threads);
  so.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
  if (options.provider == Provider::Cuda) {
    OrtCUDAProviderOptions cuda{};
    cuda.device_id = options.cuda_device;
    so.AppendExecutionProvider_CUDA(cuda);
  }
  return so;
}

}  // namespace

Provider parse_provider(const std::string& name) {
  if (name == "cpu") return Provider::Cpu;
  if (name == "cuda") return Provider::Cuda;
  throw UsageError("unknown provider '" + name + "' (use cpu or cuda)");
}

SessionOptions session_options_from_flags(int threads, const std::string& provider) {
  SessionOptions options;
  options.intra_op_threads = threads;
  options.provider = parse_provider(provider);
  if (options.provider == Provider::Cuda && !cuda_provider_available())
    throw UsageError("--provider cuda: the CUDA execution provider is not available on this machine");
  return options;
}

std::string onnxruntime_version() {
  disable_runtime_telemetry();
  return Ort::GetVersionString();
}

bool cuda_provider_available() {
  disable_runtime_telemetry();
  const auto providers = Ort::GetAvailableProviders();
  if (std::find(providers.begin(), providers.end(), "CUDAExecutionProvider") == providers.end()) return false;
  try {
    Ort::SessionOptions so;
    OrtCUDAProviderOptions cuda{};
    so.AppendExecutionProvider_CUDA(cuda);
    return true;
  } catch (const Ort::Exception&) {
    return false;
  }
}

struct Session::Impl {
  Ort::Session session{nullptr};
  std::vector<std::string> input_names, output_names;

  void read_names() {
    Ort::AllocatorWithDefaultOptions alloc;
    for (std::size_t i = 0; i < session.GetInputCount(); ++i)
      input_names.emplace_back(session.GetInputNameAllocated(i, alloc).get());
    for (std::size_t i = 0; i < session.GetOutputCount(); ++i)
      output_names.emplace_back(session.GetOutputNameAllocated(i, alloc).get());
  }
};

Session::Session(const std::filesystem::path& model_path, const SessionOptions& options)
    : impl_(std::make_unique<Impl>()) {
  try {
    impl_->session = Ort::Session(ort_env(), model_path.c_str(), make_options(options));
  } catch (const Ort::Exception& e) {
    rethrow_ort_error(e, model_path.string(), "ONNX Runtime cannot load the model");
  }
  impl_->read_names();
}

Session::Session(std::span<const std::byte> model_bytes, const SessionOptions& options)
    : impl_(std::make_unique<Impl>()) {
  try {
    impl_->session = Ort::Session(ort_env(), model_bytes.data(), model_bytes.size(), make_options(options));
  } catch (const Ort::Exception& e) {
    rethrow_ort_error(e, "<in-memory model>", "ONNX Runtime cannot load the model");
  }
  impl_->read_names();
}

Session::~Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

const std::vector<std::string>& Session::input_names() const { return impl_->input_names; }
const std::vector<std::string>& Session::output_names() const { return impl_->output_names; }

std::vector<NamedTensor> Session::run(const std::vector<NamedTensor>& inputs) const {
  const auto mem = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  std::vector<Tensor> keep_alive;
  std::vector<Ort::Value> values;
  std::vector<const char*> names;
  for (const auto& in : inputs) {
    if (std::find(impl_->input_names.begin(), impl_->input_names.end(), in.name) == impl_->input_names.end())
      throw InputError(in.name, "the model has no input of this name");
    keep_alive.push_back(in.tensor.contiguous());
    const Tensor& t = keep_alive.back();
    // ORT only reads inputs; wrapping the existing buffer avoids a copy.
    values.push_back(Ort::Value::CreateTensor(mem, const_cast<std::byte*>(t.raw_data()), t.nbytes(),
                                              t.shape().data(), t.shape().size(), to_onnx_type(t.dtype())));
    names.push_back(in.name.c_str());
  }
  std::vector<const char*> out_names;
  for (const auto& n : impl_->output_names) out_names.push_back(n.c_str());
  std::vector<Ort::Value> outputs;
  try {
    outputs = impl_->session.Run(Ort::RunOptions{nullptr}, names.data(), values.data(), values.size(),
                                 out_names.data(), out_names.size());
  } catch (const Ort::Exception& e) {
    rethrow_ort_error(e, "onnxruntime", "inference failed");
  }
  std::vector<NamedTensor> result;
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    auto info = outputs[i].GetTensorTypeAndShapeInfo();
    const DType dtype = from_onnx_type(info.GetElementType());
    Shape shape = info.GetShape();
    const std::size_t nbytes = static_cast<std::size_t>(shape_numel(shape)) * dtype_size(dtype);
    const auto* p = static_cast<const std::byte*>(outputs[i].GetTensorRawData());
    result.push_back({impl_->output_names[i], Tensor::from_bytes(dtype, shape, {p, nbytes})});
  }
  return result;
}

}  // namespace medport::runtime
