#include "export/coreml/model_spec.hpp"

#include "graph/protobuf_pieces.hpp"
#include "medport/error.hpp"

namespace medport::coreml {

namespace {

void fill_array(const graph::ValueInfo& value, const std::vector<std::int64_t>& dims, const InputShape* flexible,
                spec::ArrayFeatureType::ArrayDataType dtype, spec::ArrayFeatureType* array) {
  (void)value;
  array->set_datatype(dtype);
  const bool known = std::none_of(dims.begin(), dims.end(), [](std::int64_t d) { return d < 0; });
  if (flexible) {
    for (auto d : flexible->fixed) array->add_shape(d);
    if (!flexible->ranges.empty()) {
      for (const auto& r : flexible->ranges) {
        auto* s = array->mutable_shaperange()->add_sizeranges();
        s->set_lowerbound(static_cast<std::uint64_t>(r.lower));
        s->set_upperbound(r.upper);
      }
    } else if (!flexible->enumerated.empty()) {
      for (const auto& shape : flexible->enumerated) {
        auto* s = array->mutable_enumeratedshapes()->add_shapes();
        for (auto d : shape) s->add_shape(d);
      }
    }
    return;
  }
  if (known)
    for (auto d : dims) array->add_shape(d);
}

}  // namespace

spec::ArrayFeatureType::ArrayDataType io_array_type(DType dtype, bool fp16_io, const std::string& source,
                                              const std::string& name) {
  if (dtype_is_floating(dtype)) return fp16_io ? spec::ArrayFeatureType::FLOAT16 : spec::ArrayFeatureType::FLOAT32;
  if (dtype == DType::I64 || dtype == DType::I32 || dtype == DType::I16 || dtype == DType::I8 || dtype == DType::U8)
    return spec::ArrayFeatureType::INT32;
  throw InputError(source, "'" + name + "' is " + std::string(dtype_name(dtype)) +
                               ": Core ML model inputs and outputs are float or int32 arrays");
}

void describe_interface(const PreparedGraph& graph, const WriteOptions& options, const std::string& source,
                        spec::Model* model) {
  auto* d = model->mutable_description();
  for (const auto& input : graph.graph.inputs) {
    auto* f = d->add_input();
    f->set_name(input.name);
    auto it = options.input_shapes.find(input.name);
    const InputShape* flexible = it != options.input_shapes.end() && it->second.flexible() ? &it->second : nullptr;
    fill_array(input, graph.shape(input.name).value_or(std::vector<std::int64_t>{}), flexible,
               io_array_type(input.dtype, options.fp16_io, source, input.name), f->mutable_type()->mutable_multiarraytype());
  }
  for (const auto& output : graph.graph.outputs) {
    auto* f = d->add_output();
    f->set_name(output.name);
    fill_array(output, graph.shape(output.name).value_or(std::vector<std::int64_t>{}), nullptr,
               io_array_type(graph.dtype(output.name), options.fp16_io, source, output.name),
               f->mutable_type()->mutable_multiarraytype());
  }
  auto* m = d->mutable_metadata();
  m->set_shortdescription(options.metadata.description);
  m->set_author(options.metadata.author);
  m->set_license(options.metadata.license);
  m->set_versionstring(options.metadata.version);
  for (const auto& [k, v] : options.metadata.user) (*m->mutable_userdefined())[k] = v;
}

std::string serialize_model(const spec::Model& model) { return graph::detail::serialized(model); }

}  // namespace medport::coreml
