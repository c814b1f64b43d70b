#pragma once
// The parts of a Core ML spec::Model every backend shares: the interface (inputs with their shape
// flexibility, outputs) and the metadata.
#include <map>
#include <string>

#include "coreml_model.pb.h"
#include "export/coreml/prepared_graph.hpp"

namespace medport::coreml {

// The I/O dtype of a graph value's float/int type (fp16_io: float16 floats).
spec::ArrayFeatureType::ArrayDataType io_array_type(DType dtype, bool fp16_io, const std::string& source,
                                              const std::string& name);
// Fills description.input/output/metadata.
void describe_interface(const PreparedGraph& graph, const WriteOptions& options, const std::string& source,
                        spec::Model* model);
// Deterministic bytes of a model (map entries sorted).
std::string serialize_model(const spec::Model& model);

}  // namespace medport::coreml
