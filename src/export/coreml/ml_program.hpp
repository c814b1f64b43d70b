#pragma once
// The ML Program backend: a prepared graph -> Model{mlProgram} with one function "main" whose
// block is specialized for the target's opset, plus the weight blobs it refers to.
#include <map>
#include <string>

#include "coreml_model.pb.h"
#include "export/coreml/blob_storage.hpp"
#include "export/coreml/prepared_graph.hpp"

namespace medport::coreml {

// Returns the op counts (const included).
std::map<std::string, std::size_t> build_ml_program(const PreparedGraph& graph, const WriteOptions& options,
                                                    const std::string& source, spec::Model* model, BlobPlan* blobs);

}  // namespace medport::coreml
