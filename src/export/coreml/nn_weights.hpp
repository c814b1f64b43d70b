#pragma once
// A NeuralNetwork model keeps its weights inside the protobuf message. To write one without holding
// its weights in memory (twice, while serializing), the layers are built with empty WeightParams and
// a list of which tensor fills which; the writer converts a layer's weights into it only while it
// serializes that layer and drops them after, so memory holds one layer's weights at a time. The
// bytes equal protobuf's deterministic serialization of the filled model.
#include <filesystem>
#include <vector>

#include "coreml_model.pb.h"
#include "medport/tensor.hpp"

namespace medport::coreml {

struct LayerWeight {
  int layer = 0;                         // index into NeuralNetwork.layers
  spec::WeightParams* params = nullptr;  // inside that layer
  Tensor source;                         // any float dtype and strides
  bool fp16 = false;                     // float16Value bytes, else floatValue
};

// The bytes of the values `w` puts into its WeightParams (float16 or float32).
std::size_t payload_bytes(const LayerWeight& w);

// Writes `model`, whose NeuralNetwork weights are listed in `weights`, atomically to `path`. The
// model is left as it came (weights still empty).
void write_neural_network_file(spec::Model& model, const std::vector<LayerWeight>& weights,
                               const std::filesystem::path& path);

}  // namespace medport::coreml
