#pragma once
// The NeuralNetwork backend (.mlmodel for iOS13/14-era Core ML): N-D array layers
// (EXACT_ARRAY_MAPPING), weights inside the protobuf (float16 with --fp16, inputs stay float32),
// static shapes only.
#include <map>
#include <string>
#include <vector>

#include "coreml_model.pb.h"
#include "export/coreml/nn_weights.hpp"
#include "export/coreml/prepared_graph.hpp"

namespace medport::coreml {

struct NeuralNetworkBuild {
  std::map<std::string, std::size_t> layer_counts;
  std::size_t weight_bytes = 0;
  std::vector<LayerWeight> weights;  // the layers' WeightParams are left empty (nn_weights.hpp)
};

NeuralNetworkBuild build_neural_network(const PreparedGraph& graph, const WriteOptions& options,
                                        const std::string& source, spec::Model* model);

}  // namespace medport::coreml
