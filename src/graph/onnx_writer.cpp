// graph::Graph -> the model structure as an onnx::ModelProto + the initializers streamed from the
// tensors' memory (onnx_stream.hpp) -> bytes / files (inline or with external data).
#include "medport/graph/onnx_writer.hpp"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <bit>
#include <climits>
#include <set>

#include "medport/util/atomic_file.hpp"
#include "onnx_stream.hpp"
#include "protobuf_pieces.hpp"
#include "output_shapes.hpp"
#include "medport/error.hpp"
#include "medport/util/file_io.hpp"
#include "medport/version.hpp"

namespace medport::graph {

static_assert(std::endian::native == std::endian::little, "raw_data is written in host byte order");

namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kExternalAlignment = 4096;
using detail::kProtobufLimit;

void fill_tensor_header(onnx::TensorProto& proto, const std::string& name, const Tensor& tensor) {
  if (!name.empty()) proto.set_name(name);
  for (auto d : tensor.shape()) proto.add_dims(d);
  proto.set_data_type(onnx_data_type(tensor.dtype()));
}

void fill_tensor_inline(onnx::TensorProto& proto, const std::string& name, const Tensor& tensor) {
  fill_tensor_header(proto, name, tensor);
  if (tensor.is_contiguous()) {
    proto.set_raw_data(reinterpret_cast<const char*>(tensor.raw_data()), tensor.nbytes());
  } else {
    const auto bytes = tensor.contiguous_bytes();
    proto.set_raw_data(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
}

void fill_attribute(onnx::AttributeProto& proto, const Attribute& attr) {
  proto.set_name(attr.name);
  switch (attr.kind) {
    case AttrKind::Int:
      proto.set_type(onnx::AttributeProto::INT);
      proto.set_i(attr.i);
      break;
    case AttrKind::Float:
      proto.set_type(onnx::AttributeProto::FLOAT);
      proto.set_f(attr.f);
      break;
    case AttrKind::String:
      proto.set_type(onnx::AttributeProto::STRING);
      proto.set_s(attr.s);
      break;
    case AttrKind::Ints:
      proto.set_type(onnx::AttributeProto::INTS);
      for (auto v : attr.ints) proto.add_ints(v);
      break;
    case AttrKind::Floats:
      proto.set_type(onnx::AttributeProto::FLOATS);
      for (auto v : attr.floats) proto.add_floats(v);
      break;
    case AttrKind::Strings:
      proto.set_type(onnx::AttributeProto::STRINGS);
      for (const auto& v : attr.strings) proto.add_strings(v);
      break;
    case AttrKind::Tensor:
      proto.set_type(onnx::AttributeProto::TENSOR);
      if (!attr.t.defined()) throw UsageError("attribute '" + attr.name + "' holds no tensor");
      fill_tensor_inline(*proto.mutable_t(), {}, attr.t);
      break;
  }
}

void fill_value_info(onnx::ValueInfoProto& proto, const ValueInfo& info) {
  proto.set_name(info.name);
  auto* tensor_type = proto.mutable_type()->mutable_tensor_type();
  tensor_type->set_elem_type(onnx_data_type(info.dtype));
  if (!info.shape) return;
  auto* shape = tensor_type->mutable_shape();
  for (const auto& d : *info.shape) {
    auto* dim = shape->add_dim();
    if (d.is_symbolic()) dim->set_dim_param(d.param);
    else if (d.is_fixed()) dim->set_dim_value(d.value);
  }
}

// Everything but the initializers.
onnx::ModelProto model_skeleton(const Graph& graph, const WriteOptions& options) {
  if (graph.opset < 1) throw UsageError("graph '" + graph.name + "': invalid opset " + std::to_string(graph.opset));
  if (graph.opset > 17 && !options.allow_opset_above_17)
    throw UsageError("graph '" + graph.name + "' uses opset " + std::to_string(graph.opset) +
                     "; the onnx 1.12 checker stops at 17 (set allow_opset_above_17 to write it anyway)");
  validate(graph);
  onnx::ModelProto model;
  model.set_ir_version(options.ir_version);
  model.set_producer_name("medport");
  model.set_producer_version(std::string(kVersion));
  auto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(graph.opset);
  std::set<std::string> domains;
  for (const auto& node : graph.nodes)
    if (!node.domain.empty() && node.domain != "ai.onnx") domains.insert(node.domain);
  for (const auto& domain : domains) {
    auto* extra = model.add_opset_import();
    extra->set_domain(domain);
    extra->set_version(1);
  }
  for (const auto& [key, value] : graph.metadata_props) {
    auto* prop = model.add_metadata_props();
    prop->set_key(key);
    prop->set_value(value);
  }
  auto* g = model.mutable_graph();
  g->set_name(graph.name.empty() ? std::string("medport") : graph.name);  // the checker wants a name
  if (!graph.doc_string.empty()) g->set_doc_string(graph.doc_string);
  for (const auto& node : graph.nodes) {
    auto* n = g->add_node();
    for (const auto& in : node.inputs) n->add_input(in);
    for (const auto& out : node.outputs) n->add_output(out);
    if (!node.name.empty()) n->set_name(node.name);
    n->set_op_type(node.op_type);
    if (!node.domain.empty()) n->set_domain(node.domain);
    for (const auto& attr : node.attributes) fill_attribute(*n->add_attribute(), attr);
  }
  for (const auto& in : graph.inputs) fill_value_info(*g->add_input(), in);
  for (const auto& out : graph.outputs) fill_value_info(*g->add_output(), out);
  fill_missing_output_shapes(model, graph, options.check);
  return model;
}

void check_size(std::size_t size, const std::string& what) {
  if (size > kProtobufLimit)
    throw UsageError(what + ": the model is " + std::to_string(size) +
                     " bytes, over protobuf's 2 GiB limit; write it to a file with external data");
}

detail::InitializerPiece inline_piece(const Initializer& init) {
  detail::InitializerPiece piece;
  fill_tensor_header(piece.header, init.name, init.tensor);
  piece.data = &init.tensor;
  return piece;
}

// Small pieces are gathered into one buffer; large ones (tensor data) go straight to the file.
class BufferedFileWriter {
 public:
  explicit BufferedFileWriter(AtomicFile& file) : file_(file) {}
  void put(std::span<const std::byte> bytes) {
    if (buffer_.size() + bytes.size() <= kBuffer) {
      buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
      return;
    }
    flush();
    if (bytes.size() < kBuffer) buffer_.assign(bytes.begin(), bytes.end());
    else file_.write(bytes);
  }
  void flush() {
    if (!buffer_.empty()) file_.write(buffer_);
    buffer_.clear();
  }

 private:
  static constexpr std::size_t kBuffer = std::size_t{1} << 16;
  AtomicFile& file_;
  std::vector<std::byte> buffer_;
};

void check_model_proto(const onnx::ModelProto& model, const std::string& source) {
  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {
    throw InputError(source, std::string("ONNX checker: ") + e.what());
  }
}

bool use_external_data(const Graph& graph, const WriteOptions& options) {
  switch (options.external_data) {
    case ExternalData::Always: return true;
    case ExternalData::Never: return false;
    case ExternalData::Auto: return graph.initializer_bytes() > options.external_threshold_bytes;
  }
  return false;
}

void set_external_key(onnx::TensorProto& proto, const std::string& key, const std::string& value) {
  auto* entry = proto.add_external_data();
  entry->set_key(key);
  entry->set_value(value);
}

}  // namespace

std::vector<std::byte> to_model_bytes(const Graph& graph, const WriteOptions& options) {
  if (options.external_data == ExternalData::Always)
    throw UsageError("graph '" + graph.name + "': external data needs a model file (write_onnx)");
  std::vector<detail::InitializerPiece> pieces;
  for (const auto& init : graph.initializers) pieces.push_back(inline_piece(init));
  const detail::StreamedModel model(model_skeleton(graph, options), std::move(pieces));
  const std::string what = "graph '" + graph.name + "'";
  check_size(model.size(), what);
  if (options.check) check_model_proto(model.for_checker(), what);
  std::vector<std::byte> bytes;
  bytes.reserve(model.size());
  model.write([&](std::span<const std::byte> piece) { bytes.insert(bytes.end(), piece.begin(), piece.end()); });
  return bytes;
}

WriteResult write_onnx(const Graph& graph, const fs::path& path, const WriteOptions& options) {
  WriteResult result;
  result.model_path = path;
  const fs::path data_path = fs::path(path).concat(".data");
  std::vector<detail::InitializerPiece> pieces;
  if (use_external_data(graph, options)) {
    const std::string location = data_path.filename().string();
    AtomicFile data(data_path);
    for (const auto& init : graph.initializers) {
      if (init.tensor.nbytes() < options.external_min_tensor_bytes) {
        pieces.push_back(inline_piece(init));
        continue;
      }
      const std::uint64_t offset = (data.size() + kExternalAlignment - 1) / kExternalAlignment * kExternalAlignment;
      data.pad_to(offset);
      const Tensor contiguous = init.tensor.contiguous();
      data.write(std::span(contiguous.raw_data(), contiguous.nbytes()));
      init.tensor.storage()->release_pages();
      detail::InitializerPiece piece;
      auto& proto = piece.header;
      fill_tensor_header(proto, init.name, init.tensor);
      set_external_key(proto, "location", location);
      set_external_key(proto, "offset", std::to_string(offset));
      set_external_key(proto, "length", std::to_string(contiguous.nbytes()));
      proto.set_data_location(onnx::TensorProto::EXTERNAL);
      pieces.push_back(std::move(piece));
      ++result.external_tensors;
    }
    result.data_bytes = data.size();
    data.commit();
    result.data_path = data_path;
  } else {
    for (const auto& init : graph.initializers) pieces.push_back(inline_piece(init));
  }
  const detail::StreamedModel model(model_skeleton(graph, options), std::move(pieces));
  check_size(model.size(), path.string());
  if (options.check && result.data_path.empty()) check_model_proto(model.for_checker(), path.string());
  AtomicFile model_file(path);
  BufferedFileWriter out(model_file);
  model.write([&](std::span<const std::byte> piece) { out.put(piece); });
  out.flush();
  result.model_bytes = model.size();
  model_file.close();
  if (options.check && !result.data_path.empty()) check_onnx_file(model_file.temp_path());  // finds the data
  model_file.commit();
  if (result.data_path.empty()) {
    std::error_code ec;
    fs::remove(data_path, ec);  // a stale data file from an earlier external-data write
  }
  return result;
}

void check_onnx_file(const fs::path& path) {
  try {
    onnx::checker::check_model(path.string());
  } catch (const std::exception& e) {
    throw InputError(path.string(), std::string("ONNX checker: ") + e.what());
  }
}

void check_onnx_bytes(std::span<const std::byte> bytes, const std::string& source) {
  onnx::ModelProto model;
  if (bytes.size() > kProtobufLimit || !model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    throw InputError(source, "not a parseable ONNX model");
  check_model_proto(model, source);
}

}  // namespace medport::graph
