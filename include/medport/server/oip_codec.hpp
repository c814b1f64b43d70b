#pragma once
// The Open Inference Protocol v2 REST encoding of tensors (KServe / Triton):
//  - JSON: {"inputs": [{"name", "shape", "datatype", "data"}], "outputs": [{"name", "parameters"}],
//    "id", "parameters"}; data flat or nested row-major;
//  - binary-tensor extension: the body is the JSON header (its length in the header
//    Inference-Header-Content-Length) followed by the raw little-endian tensors; an input holds
//    parameters.binary_data_size instead of data; outputs are sent binary when asked for
//    (output parameters.binary_data or request parameters.binary_data_output).
// Data types: BOOL UINT8 INT8 INT16 INT32 INT64 FP16 FP32 FP64 (BYTES is not supported).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "medport/runtime/session.hpp"

namespace medport::server {

// "FP32" <-> DType; UsageError for an unknown or unsupported name.
DType dtype_from_oip(std::string_view datatype);
std::string oip_datatype(DType dtype);
// Sidecar dtype name ("float32") -> "FP32".
std::string oip_datatype_of(const std::string& sidecar_dtype);

struct InferRequest {
  std::string id;
  std::vector<runtime::NamedTensor> inputs;
  std::vector<std::string> requested_outputs;  // empty: all
  std::vector<bool> binary_outputs;            // per requested output
  bool binary_all = false;                     // request parameters.binary_data_output
};

// Parses a request body. `header_length`: the Inference-Header-Content-Length value when present.
// UsageError for any fault (400).
InferRequest parse_infer_request(std::string_view body, std::optional<std::size_t> header_length);

struct InferReply {
  std::string body;
  std::optional<std::size_t> header_length;  // set when binary data follows the JSON
};

// model_name/version as Triton reports them; outputs in the order the request asked for (all
// model outputs in graph order when none were named).
InferReply encode_infer_reply(const std::string& model_name, const std::string& model_version, const InferRequest& request,
                              const std::vector<runtime::NamedTensor>& outputs);

}  // namespace medport::server
