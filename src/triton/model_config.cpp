#include "medport/triton/model_config.hpp"

#include <sstream>

#include "medport/error.hpp"

namespace medport::triton {

namespace {

bool is_batch(const models::SidecarDim& d) {
  return std::holds_alternative<std::string>(d) && std::get<std::string>(d) == "batch";
}

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

void write_tensors(std::ostringstream& out, const char* field, const std::vector<models::TensorSpec>& tensors,
                   bool drop_batch, const std::string& source) {
  out << field << " [\n";
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const auto& t = tensors[i];
    out << "  {\n    name: " << quoted(t.name) << "\n    data_type: " << triton_data_type(t.dtype, source) << "\n    dims: [ ";
    bool first = true;
    for (std::size_t k = drop_batch ? 1 : 0; k < t.shape.size(); ++k) {
      const auto& d = t.shape[k];
      out << (first ? "" : ", ") << (std::holds_alternative<std::int64_t>(d) ? std::get<std::int64_t>(d) : -1);
      first = false;
    }
    if (first) out << "1";  // a scalar per batch item: Triton wants at least one dim
    out << " ]\n  }" << (i + 1 < tensors.size() ? "," : "") << "\n";
  }
  out << "]\n";
}

}  // namespace

std::string triton_data_type(const std::string& dtype, const std::string& source) {
  static const std::pair<const char*, const char*> table[] = {
      {"float32", "TYPE_FP32"}, {"float16", "TYPE_FP16"}, {"float64", "TYPE_FP64"}, {"bfloat16", "TYPE_BF16"},
      {"int64", "TYPE_INT64"},  {"int32", "TYPE_INT32"},  {"int16", "TYPE_INT16"},  {"int8", "TYPE_INT8"},
      {"uint8", "TYPE_UINT8"},  {"bool", "TYPE_BOOL"}};
  for (const auto& [name, type] : table)
    if (dtype == name) return type;
  throw InputError(source, "dtype '" + dtype + "' has no Triton data type");
}

bool has_batch_axis(const models::GraphSpec& graph) {
  if (graph.inputs.empty() || graph.outputs.empty()) return false;
  auto batched = [](const models::TensorSpec& t) { return !t.shape.empty() && is_batch(t.shape.front()); };
  for (const auto& t : graph.inputs)
    if (!batched(t)) return false;
  for (const auto& t : graph.outputs)
    if (!batched(t)) return false;
  return true;
}

std::string model_config_pbtxt(const std::string& name, const models::GraphSpec& graph, const ConfigOptions& options,
                               const std::string& default_model_filename) {
  if (graph.inputs.empty() || graph.outputs.empty())
    throw InputError(name, "the sidecar lists no inputs or outputs for graph '" + graph.name + "'");
  const bool batching = options.max_batch_size > 0 && has_batch_axis(graph);
  std::ostringstream out;
  out << "# Written by medport export --format triton from the model's sidecar.\n";
  out << "name: " << quoted(name) << "\n";
  out << "platform: \"onnxruntime_onnx\"\n";
  if (!default_model_filename.empty()) out << "default_model_filename: " << quoted(default_model_filename) << "\n";
  out << "max_batch_size: " << (batching ? options.max_batch_size : 0) << "\n";
  out << "version_policy: { latest: { num_versions: 1 } }\n";
  write_tensors(out, "input", graph.inputs, batching, name);
  write_tensors(out, "output", graph.outputs, batching, name);
  if (batching) {
    out << "dynamic_batching {\n";
    if (!options.preferred_batch_sizes.empty()) {
      out << "  preferred_batch_size: [ ";
      for (std::size_t i = 0; i < options.preferred_batch_sizes.size(); ++i)
        out << (i ? ", " : "") << options.preferred_batch_sizes[i];
      out << " ]\n";
    }
    out << "  max_queue_delay_microseconds: " << options.max_queue_delay_us << "\n}\n";
  }
  out << "instance_group [\n  {\n    count: " << options.instance_count << "\n    kind: " << options.instance_kind << "\n";
  if (options.instance_kind == "KIND_GPU" && !options.gpus.empty()) {
    out << "    gpus: [ ";
    for (std::size_t i = 0; i < options.gpus.size(); ++i) out << (i ? ", " : "") << options.gpus[i];
    out << " ]\n";
  }
  out << "  }\n]\n";
  out << "parameters { key: \"medport_graph\" value: { string_value: " << quoted(graph.name) << " } }\n";
  return out.str();
}

}  // namespace medport::triton
