#pragma once
// Triton's config.pbtxt (protobuf text format of inference.ModelConfig) for a medport graph, from
// the graph's inputs and outputs in the sidecar: platform onnxruntime_onnx, the batch axis taken
// out of the dims when every input and output starts with the symbolic "batch" (max_batch_size and
// dynamic batching then apply), other symbolic axes as -1, and one instance group.
#include <cstdint>
#include <string>
#include <vector>

#include "medport/models/sidecar.hpp"

namespace medport::triton {

struct ConfigOptions {
  int max_batch_size = 8;                 // 0: no batching (dims are the full shapes)
  std::vector<int> preferred_batch_sizes;  // empty: Triton's default
  int max_queue_delay_us = 100;
  std::string instance_kind = "KIND_CPU";  // KIND_CPU | KIND_GPU
  int instance_count = 1;
  std::vector<int> gpus;                   // KIND_GPU: device ids (empty: all)
};

// "float32" -> "TYPE_FP32" (Triton's DataType); InputError naming `source` for other dtypes.
std::string triton_data_type(const std::string& dtype, const std::string& source = "sidecar");
// True when every input and output of `graph` has the symbolic batch axis first.
bool has_batch_axis(const models::GraphSpec& graph);

// The config.pbtxt text. `default_model_filename` is set when the graph's file is not
// model.onnx (multi-graph folders).
std::string model_config_pbtxt(const std::string& name, const models::GraphSpec& graph, const ConfigOptions& options,
                               const std::string& default_model_filename = {});

}  // namespace medport::triton
