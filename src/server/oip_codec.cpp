#include "medport/server/oip_codec.hpp"

#include <cstring>
#include <limits>

#include <nlohmann/json.hpp>

#include "medport/error.hpp"
#include "medport/server/json_body.hpp"

namespace medport::server {

namespace {

using json = nlohmann::json;

struct TypeName {
  DType dtype;
  const char* oip;
  const char* sidecar;
};
constexpr TypeName kTypes[] = {{DType::Bool, "BOOL", "bool"},     {DType::U8, "UINT8", "uint8"},
                               {DType::U16, "UINT16", "uint16"},  {DType::I8, "INT8", "int8"},
                               {DType::I16, "INT16", "int16"},    {DType::I32, "INT32", "int32"},
                               {DType::I64, "INT64", "int64"},
                               {DType::F16, "FP16", "float16"},   {DType::F32, "FP32", "float32"},
                               {DType::F64, "FP64", "float64"},   {DType::BF16, "BF16", "bfloat16"}};

constexpr std::int64_t kMaxElements = std::int64_t{1} << 31;

Shape parse_shape(const json& j, const std::string& where) {
  if (!j.is_array() || j.size() > 16) throw UsageError(where + ".shape must be an array of at most 16 sizes");
  Shape shape;
  std::int64_t n = 1;
  for (const auto& d : j) {
    if (!d.is_number_integer() || d.get<std::int64_t>() < 0 || d.get<std::int64_t>() > kMaxElements)
      throw UsageError(where + ".shape holds a size that is not a non-negative integer");
    shape.push_back(d.get<std::int64_t>());
    n *= std::max<std::int64_t>(1, shape.back());
    if (n > kMaxElements) throw UsageError(where + ".shape is too large");
  }
  return shape;
}

void flatten(const json& j, std::vector<const json*>& out, int depth, const std::string& where) {
  if (depth > 16) throw UsageError(where + ".data is nested too deeply");
  if (j.is_array()) {
    for (const auto& v : j) flatten(v, out, depth + 1, where);
  } else {
    out.push_back(&j);
  }
}

template <class T>
void put(std::vector<std::byte>& bytes, std::size_t i, T v) {
  std::memcpy(bytes.data() + i * sizeof(T), &v, sizeof(T));
}

Tensor tensor_from_json(const json& data, DType dtype, const Shape& shape, const std::string& where) {
  std::vector<const json*> values;
  flatten(data, values, 0, where);
  if (static_cast<std::int64_t>(values.size()) != shape_numel(shape))
    throw UsageError(where + ".data holds " + std::to_string(values.size()) + " values; shape " + shape_string(shape) +
                     " needs " + std::to_string(shape_numel(shape)));
  std::vector<std::byte> bytes(values.size() * dtype_size(dtype));
  for (std::size_t i = 0; i < values.size(); ++i) {
    const json& v = *values[i];
    if (dtype == DType::Bool) {
      if (!v.is_boolean()) throw UsageError(where + ".data must hold booleans for BOOL");
      bytes[i] = std::byte{static_cast<unsigned char>(v.get<bool>() ? 1 : 0)};
      continue;
    }
    if (!v.is_number()) throw UsageError(where + ".data must hold numbers");
    if (!dtype_is_floating(dtype) && !v.is_number_integer())
      throw UsageError(where + ".data must hold integers for " + oip_datatype(dtype));
    switch (dtype) {
      case DType::F32: put(bytes, i, v.get<float>()); break;
      case DType::F64: put(bytes, i, v.get<double>()); break;
      case DType::F16: put(bytes, i, float_to_half(v.get<float>())); break;
      case DType::BF16: put(bytes, i, float_to_bfloat16(v.get<float>())); break;
      case DType::I64: put(bytes, i, v.get<std::int64_t>()); break;
      case DType::I32: put(bytes, i, v.get<std::int32_t>()); break;
      case DType::I16: put(bytes, i, v.get<std::int16_t>()); break;
      case DType::I8: put(bytes, i, v.get<std::int8_t>()); break;
      case DType::U8: put(bytes, i, v.get<std::uint8_t>()); break;
      case DType::U16: put(bytes, i, v.get<std::uint16_t>()); break;
      case DType::Bool: break;
    }
  }
  return Tensor::from_bytes(dtype, shape, bytes);
}

json tensor_to_json(const Tensor& t) {
  const Tensor c = t.contiguous();
  const auto n = static_cast<std::size_t>(c.numel());
  json data = json::array();
  auto& arr = data.get_ref<json::array_t&>();
  arr.reserve(n);
  const std::byte* p = c.raw_data();
  for (std::size_t i = 0; i < n; ++i) {
    switch (c.dtype()) {
      case DType::F32: { float v; std::memcpy(&v, p + 4 * i, 4); arr.emplace_back(v); break; }
      case DType::F64: { double v; std::memcpy(&v, p + 8 * i, 8); arr.emplace_back(v); break; }
      case DType::F16: { std::uint16_t v; std::memcpy(&v, p + 2 * i, 2); arr.emplace_back(half_to_float(v)); break; }
      case DType::BF16: { std::uint16_t v; std::memcpy(&v, p + 2 * i, 2); arr.emplace_back(bfloat16_to_float(v)); break; }
      case DType::I64: { std::int64_t v; std::memcpy(&v, p + 8 * i, 8); arr.emplace_back(v); break; }
      case DType::I32: { std::int32_t v; std::memcpy(&v, p + 4 * i, 4); arr.emplace_back(v); break; }
      case DType::I16: { std::int16_t v; std::memcpy(&v, p + 2 * i, 2); arr.emplace_back(v); break; }
      case DType::I8: arr.emplace_back(static_cast<std::int8_t>(p[i])); break;
      case DType::U8: arr.emplace_back(static_cast<std::uint8_t>(p[i])); break;
      case DType::U16: { std::uint16_t v; std::memcpy(&v, p + 2 * i, 2); arr.emplace_back(v); break; }
      case DType::Bool: arr.emplace_back(p[i] != std::byte{0}); break;
    }
  }
  return data;
}

bool binary_flag(const json& parameters, const char* key, const std::string& where) {
  if (!parameters.contains(key)) return false;
  if (!parameters[key].is_boolean()) throw UsageError(where + ".parameters." + key + " must be true or false");
  return parameters[key].get<bool>();
}

}  // namespace

DType dtype_from_oip(std::string_view name) {
  for (const auto& t : kTypes)
    if (name == t.oip) return t.dtype;
  throw UsageError("datatype '" + std::string(name.substr(0, 16)) + "' is not supported (BOOL, UINT8, INT8, INT16, INT32, "
                   "INT64, FP16, BF16, FP32, FP64)");
}

std::string oip_datatype(DType dtype) {
  for (const auto& t : kTypes)
    if (t.dtype == dtype) return t.oip;
  return "FP32";
}

std::string oip_datatype_of(const std::string& sidecar_dtype) {
  for (const auto& t : kTypes)
    if (sidecar_dtype == t.sidecar) return t.oip;
  return "BYTES";
}

InferRequest parse_infer_request(std::string_view body, std::optional<std::size_t> header_length) {
  std::string_view header = body;
  std::string_view binary;
  if (header_length) {
    if (*header_length > body.size()) throw UsageError("Inference-Header-Content-Length exceeds the body");
    header = body.substr(0, *header_length);
    binary = body.substr(*header_length);
  }
  const json j = parse_strict_json(header, "inference request");
  allow_only_keys(j, {"id", "parameters", "inputs", "outputs"}, "inference request");
  InferRequest r;
  if (j.contains("id")) {
    if (!j["id"].is_string()) throw UsageError("inference request: id must be a string");
    r.id = j["id"].get<std::string>().substr(0, 256);
  }
  if (j.contains("parameters")) {
    if (!j["parameters"].is_object()) throw UsageError("inference request: parameters must be an object");
    r.binary_all = binary_flag(j["parameters"], "binary_data_output", "inference request");
  }
  if (!j.contains("inputs") || !j["inputs"].is_array() || j["inputs"].empty())
    throw UsageError("inference request: inputs must be a non-empty array");
  std::size_t offset = 0;
  for (std::size_t i = 0; i < j["inputs"].size(); ++i) {
    const json& in = j["inputs"][i];
    const std::string where = "inputs[" + std::to_string(i) + "]";
    allow_only_keys(in, {"name", "shape", "datatype", "parameters", "data"}, where);
    if (!in.contains("name") || !in["name"].is_string()) throw UsageError(where + ".name must be a string");
    if (!in.contains("datatype") || !in["datatype"].is_string()) throw UsageError(where + ".datatype must be a string");
    if (!in.contains("shape")) throw UsageError(where + ".shape is missing");
    const std::string name = in["name"].get<std::string>();
    for (const auto& other : r.inputs)
      if (other.name == name) throw UsageError(where + ": input '" + name.substr(0, 64) + "' given twice");
    const DType dtype = dtype_from_oip(in["datatype"].get<std::string>());
    const Shape shape = parse_shape(in["shape"], where);
    const std::size_t nbytes = static_cast<std::size_t>(shape_numel(shape)) * dtype_size(dtype);
    std::optional<std::size_t> binary_size;
    if (in.contains("parameters")) {
      const json& p = in["parameters"];
      if (!p.is_object()) throw UsageError(where + ".parameters must be an object");
      if (p.contains("binary_data_size")) {
        if (!p["binary_data_size"].is_number_unsigned()) throw UsageError(where + ".parameters.binary_data_size must be a size");
        binary_size = p["binary_data_size"].get<std::size_t>();
      }
    }
    if (binary_size) {
      if (in.contains("data")) throw UsageError(where + " has both data and binary_data_size");
      if (!header_length) throw UsageError(where + " has binary_data_size but the request has no Inference-Header-Content-Length");
      if (*binary_size != nbytes)
        throw UsageError(where + ".parameters.binary_data_size is " + std::to_string(*binary_size) + "; shape and datatype need " +
                         std::to_string(nbytes) + " bytes");
      if (offset + nbytes > binary.size()) throw UsageError(where + ": the binary data ends early");
      const auto* p = reinterpret_cast<const std::byte*>(binary.data() + offset);
      r.inputs.push_back({name, Tensor::from_bytes(dtype, shape, {p, nbytes})});
      offset += nbytes;
    } else {
      if (!in.contains("data")) throw UsageError(where + " has neither data nor parameters.binary_data_size");
      r.inputs.push_back({name, tensor_from_json(in["data"], dtype, shape, where)});
    }
  }
  if (offset != binary.size()) throw UsageError("the binary data is longer than the inputs declare");
  if (j.contains("outputs")) {
    if (!j["outputs"].is_array()) throw UsageError("inference request: outputs must be an array");
    for (std::size_t i = 0; i < j["outputs"].size(); ++i) {
      const json& out = j["outputs"][i];
      const std::string where = "outputs[" + std::to_string(i) + "]";
      allow_only_keys(out, {"name", "parameters"}, where);
      if (!out.contains("name") || !out["name"].is_string()) throw UsageError(where + ".name must be a string");
      bool binary_out = false;
      if (out.contains("parameters")) {
        if (!out["parameters"].is_object()) throw UsageError(where + ".parameters must be an object");
        binary_out = binary_flag(out["parameters"], "binary_data", where);
      }
      r.requested_outputs.push_back(out["name"].get<std::string>());
      r.binary_outputs.push_back(binary_out);
    }
  }
  return r;
}

InferReply encode_infer_reply(const std::string& model_name, const std::string& model_version, const InferRequest& request,
                              const std::vector<runtime::NamedTensor>& outputs) {
  json reply{{"model_name", model_name}, {"model_version", model_version}};
  if (!request.id.empty()) reply["id"] = request.id;
  json list = json::array();
  std::string binary;
  auto add = [&](const runtime::NamedTensor& t, bool as_binary) {
    json o{{"name", t.name}, {"datatype", oip_datatype(t.tensor.dtype())}, {"shape", t.tensor.shape()}};
    if (as_binary) {
      const auto bytes = t.tensor.contiguous_bytes();
      o["parameters"] = {{"binary_data_size", bytes.size()}};
      binary.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    } else {
      o["data"] = tensor_to_json(t.tensor);
    }
    list.push_back(std::move(o));
  };
  if (request.requested_outputs.empty()) {
    for (const auto& t : outputs) add(t, request.binary_all);
  } else {
    for (std::size_t i = 0; i < request.requested_outputs.size(); ++i) {
      const auto& name = request.requested_outputs[i];
      const runtime::NamedTensor* found = nullptr;
      for (const auto& t : outputs)
        if (t.name == name) found = &t;
      if (!found) throw UsageError("the model has no output '" + name.substr(0, 64) + "'");
      add(*found, request.binary_all || request.binary_outputs[i]);
    }
  }
  reply["outputs"] = std::move(list);
  InferReply out;
  out.body = reply.dump(-1, ' ', false, json::error_handler_t::replace);
  if (!binary.empty()) {
    out.header_length = out.body.size();
    out.body += binary;
  }
  return out;
}

}  // namespace medport::server
