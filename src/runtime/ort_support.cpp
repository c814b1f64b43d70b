#include "ort_support.hpp"

#include <string>

#include "medport/error.hpp"
#include "medport/runtime/privacy.hpp"
#include "medport/graph/builder.hpp"
#include "medport/graph/onnx_writer.hpp"

namespace medport::runtime::detail {
namespace {

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

const char* conv_algo_search_name(ConvAlgoSearch search) {
  switch (search) {
    case ConvAlgoSearch::Exhaustive: return "EXHAUSTIVE";
    case ConvAlgoSearch::Heuristic: return "HEURISTIC";
    case ConvAlgoSearch::Default: return "DEFAULT";
  }
  return "EXHAUSTIVE";
}

}  // namespace

// The one environment of the process. Telemetry is off before it exists (the environment
// variable, read when the runtime initialises its telemetry) and after (the API switch).
Ort::Env& ort_env() {
  static Ort::Env env = [] {
    disable_runtime_telemetry();
    // Only fatal messages from ONNX Runtime's own logger: every failure reaches the user as
    // medport's one-line error (a second, multi-line copy with colour codes would only confuse).
    Ort::Env created(ORT_LOGGING_LEVEL_FATAL, "medport");
    created.DisableTelemetryEvents();
    return created;
  }();
  return env;
}

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
    // Lines are joined (the detail of "invalid dimensions ..." is on the next one), runs of
    // whitespace collapsed.
    const char printable = static_cast<unsigned char>(c) < 0x20 ? ' ' : c;
    if (printable == ' ' && (out.empty() || out.back() == ' ')) continue;
    out += printable;
  }
  return out;
}

void rethrow_ort_error(const Ort::Exception& e, const std::string& source, const std::string& context, bool loading) {
  const OrtErrorCode code = e.GetOrtErrorCode();
  std::string message = context + ": " + one_line(e.what());
  while (!message.empty() && message.back() == ' ') message.pop_back();
  // Loading a file, a generic failure is the file's (empty, unsupported IR version, external
  // data outside its folder), unless memory ran out.
  const bool memory = message.find("alloc") != std::string::npos || message.find("memory") != std::string::npos;
  if (loading && code == ORT_FAIL && !memory) throw InputError(source, message);
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
    case DType::U16: return ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT16;
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
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT16: return DType::U16;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL: return DType::Bool;
    default: throw std::runtime_error("unsupported ONNX output element type " + std::to_string(static_cast<int>(t)));
  }
}

Ort::SessionOptions make_ort_options(const SessionOptions& options) {
  // The environment (and its logger) must exist before a provider is appended: the CUDA provider
  // logs while it loads.
  ort_env();
  Ort::SessionOptions so;
  so.SetIntraOpNumThreads(options.intra_op_threads);
  so.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
  if (options.provider == Provider::Cuda) {
    const CudaOptions& c = options.cuda;
    Ort::CUDAProviderOptions cuda;
    cuda.Update({
        {"device_id", std::to_string(options.cuda_device)},
        {"cudnn_conv_algo_search", conv_algo_search_name(c.conv_algo_search)},
        {"cudnn_conv_use_max_workspace", c.max_conv_workspace ? "1" : "0"},
        {"arena_extend_strategy", c.arena_grows_exactly ? "kSameAsRequested" : "kNextPowerOfTwo"},
        {"enable_cuda_graph", c.cuda_graph ? "1" : "0"},
        {"prefer_nhwc", c.prefer_nhwc ? "1" : "0"},
        {"use_tf32", c.tf32 ? "1" : "0"},
        {"do_copy_in_default_stream", "1"},
    });
    if (c.memory_limit_bytes > 0) cuda.Update({{"gpu_mem_limit", std::to_string(c.memory_limit_bytes)}});
    so.AppendExecutionProvider_CUDA_V2(*cuda);
  }
  return so;
}

Ort::MemoryInfo device_memory_info(const SessionOptions& options) {
  if (options.provider == Provider::Cuda)
    return Ort::MemoryInfo("Cuda", OrtArenaAllocator, options.cuda_device, OrtMemTypeDefault);
  return Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
}

const std::vector<std::byte>& identity_model(DType dtype) {
  static std::mutex mutex;
  static std::map<DType, std::vector<std::byte>> models;
  std::lock_guard lock(mutex);
  auto it = models.find(dtype);
  if (it == models.end()) {
    graph::Builder b("medport_copy");
    const graph::Value x = b.input("x", dtype, {"n"});
    b.output(b.identity(x, "copy"), "y");
    it = models.emplace(dtype, graph::to_model_bytes(std::move(b).finish())).first;
  }
  return it->second;
}

}  // namespace medport::runtime::detail
