// What a Core ML file holds, for `medport inspect`: interface, metadata, op/layer counts, weights.
#include <nlohmann/json.hpp>

#include "export/coreml/reader.hpp"
#include "export/coreml/spec_file.hpp"
#include "medport/error.hpp"
#include "medport/export/coreml.hpp"

namespace medport::coreml {

namespace {

FeatureInfo feature(const spec::FeatureDescription& f) {
  FeatureInfo info;
  info.name = f.name();
  const auto& a = f.type().multiarraytype();
  switch (a.datatype()) {
    case spec::ArrayFeatureType::FLOAT32: info.dtype = "float32"; break;
    case spec::ArrayFeatureType::FLOAT16: info.dtype = "float16"; break;
    case spec::ArrayFeatureType::INT32: info.dtype = "int32"; break;
    case spec::ArrayFeatureType::DOUBLE: info.dtype = "float64"; break;
    default: info.dtype = f.type().has_multiarraytype() ? "unknown" : "not a multi-array";
  }
  info.shape.assign(a.shape().begin(), a.shape().end());
  if (a.has_shaperange()) {
    info.flexibility = "ranges [";
    for (int i = 0; i < a.shaperange().sizeranges_size(); ++i) {
      const auto& r = a.shaperange().sizeranges(i);
      info.flexibility += (i ? ", " : "") + std::to_string(r.lowerbound()) + ".." +
                          (r.upperbound() < 0 ? std::string("*") : std::to_string(r.upperbound()));
    }
    info.flexibility += "]";
  } else if (a.has_enumeratedshapes()) {
    info.flexibility = "enumerated: " + std::to_string(a.enumeratedshapes().shapes_size()) + " shapes";
  }
  return info;
}

std::string shape_text(const std::vector<std::int64_t>& s) {
  if (s.empty()) return "(undeclared)";
  std::string t = "[";
  for (std::size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + "]";
}

}  // namespace

ModelSummary summarize_coreml(const std::filesystem::path& path) {
  const SpecFile file = open_spec(path);
  ModelSummary s;
  s.path = path;
  s.specification_version = file.model.specificationversion();
  const auto& d = file.model.description();
  for (const auto& f : d.input()) s.inputs.push_back(feature(f));
  for (const auto& f : d.output()) s.outputs.push_back(feature(f));
  const auto& m = d.metadata();
  s.metadata.description = m.shortdescription();
  s.metadata.author = m.author();
  s.metadata.license = m.license();
  s.metadata.version = m.versionstring();
  std::map<std::string, std::string> sorted(m.userdefined().begin(), m.userdefined().end());
  for (const auto& [k, v] : sorted) s.metadata.user.emplace_back(k, v);
  if (file.model.has_mlprogram()) {
    s.type = "mlProgram";
    const mil::Block& block = main_block(file, &s.opset);
    for (const auto& op : block.operations()) {
      if (op.type() == "const") {
        ++s.const_ops;
        const auto val = op.attributes().find("val");
        if (val == op.attributes().end()) throw InputError(file.spec_path.string(), "a const without a value");
        const auto& v = val->second;
        if (v.has_blobfilevalue()) {
          if (!file.weights)
            throw InputError(file.spec_path.string(), "a weight blob is referenced but the package has no weight.bin");
          const auto b = file.weights->blob(v.blobfilevalue().offset());
          s.weight_bytes += b.size;
          s.weight_elements += static_cast<std::int64_t>(b.size / blob_dtype_size(b.dtype));
        }
      } else {
        ++s.op_counts[op.type()];
      }
    }
    if (file.weights) s.blob_count = file.weights->metadata_offsets().size();
  } else if (file.model.has_neuralnetwork()) {
    s.type = "neuralNetwork";
    for (const auto& layer : file.model.neuralnetwork().layers()) {
      const auto* field = layer.GetDescriptor()->FindFieldByNumber(static_cast<int>(layer.layer_case()));
      ++s.op_counts[field ? field->name() : "unknown"];
    }
    const graph::Graph g = read_neural_network(file);
    for (const auto& init : g.initializers) s.weight_elements += init.tensor.numel();
    s.weight_bytes = std::filesystem::file_size(file.spec_path);
  } else {
    throw InputError(file.spec_path.string(), "neither an ML Program nor a NeuralNetwork model");
  }
  return s;
}

std::string summary_text(const ModelSummary& s) {
  std::string t;
  auto line = [&](const std::string& label, const std::string& value) {
    t += "  " + label + std::string(label.size() < 12 ? 12 - label.size() : 1, ' ') + value + "\n";
  };
  t += s.path.string() + "\n";
  line("format", "Core ML " + s.type + ", specification version " + std::to_string(s.specification_version) +
                     (s.opset.empty() ? "" : ", opset " + s.opset));
  for (const auto& f : s.inputs)
    line("input", f.name + "  " + f.dtype + " " + shape_text(f.shape) + (f.flexibility.empty() ? "" : "  " + f.flexibility));
  for (const auto& f : s.outputs) line("output", f.name + "  " + f.dtype + " " + shape_text(f.shape));
  if (!s.metadata.description.empty()) line("description", s.metadata.description);
  if (!s.metadata.author.empty()) line("author", s.metadata.author);
  if (!s.metadata.license.empty()) line("license", s.metadata.license);
  if (!s.metadata.version.empty()) line("version", s.metadata.version);
  for (const auto& [k, v] : s.metadata.user) line("metadata", k + " = " + (v.size() > 160 ? v.substr(0, 157) + "..." : v));
  std::size_t total = 0;
  std::string ops;
  std::vector<std::pair<std::size_t, std::string>> by_count;
  for (const auto& [k, n] : s.op_counts) by_count.emplace_back(n, k), total += n;
  std::sort(by_count.rbegin(), by_count.rend());
  for (const auto& [n, k] : by_count) ops += (ops.empty() ? "" : ", ") + k + " " + std::to_string(n);
  line(s.type == "mlProgram" ? "ops" : "layers", std::to_string(total) + ": " + ops);
  if (s.type == "mlProgram") line("consts", std::to_string(s.const_ops) + " (" + std::to_string(s.blob_count) + " in weight.bin)");
  line("weights", std::to_string(s.weight_elements) + " values, " + std::to_string(s.weight_bytes) + " bytes" +
                      (s.type == "mlProgram" ? " in weight.bin" : " (the whole spec file)"));
  return t;
}

std::string summary_json(const ModelSummary& s) {
  nlohmann::ordered_json j;
  j["schema"] = "medport.coreml-inspect/1";
  j["path"] = s.path.string();
  j["type"] = s.type;
  j["specification_version"] = s.specification_version;
  if (!s.opset.empty()) j["opset"] = s.opset;
  auto features = [](const std::vector<FeatureInfo>& fs) {
    nlohmann::ordered_json a = nlohmann::ordered_json::array();
    for (const auto& f : fs)
      a.push_back({{"name", f.name}, {"dtype", f.dtype}, {"shape", f.shape}, {"flexibility", f.flexibility}});
    return a;
  };
  j["inputs"] = features(s.inputs);
  j["outputs"] = features(s.outputs);
  nlohmann::ordered_json user = nlohmann::ordered_json::object();
  for (const auto& [k, v] : s.metadata.user) user[k] = v;
  j["metadata"] = {{"description", s.metadata.description}, {"author", s.metadata.author},
                   {"license", s.metadata.license}, {"version", s.metadata.version}, {"user", user}};
  j["op_counts"] = s.op_counts;
  j["const_ops"] = s.const_ops;
  j["blobs"] = s.blob_count;
  j["weight_bytes"] = s.weight_bytes;
  j["weight_elements"] = s.weight_elements;
  return j.dump(2);
}

}  // namespace medport::coreml
