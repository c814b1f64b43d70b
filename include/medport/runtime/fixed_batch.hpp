#pragma once
// One-input models run through fixed device buffers: every call uploads its rows into the same
// input memory (zero-padding up to the full batch) and the model writes into the same output
// memory, so that a CUDA session created with CudaOptions::cuda_graph captures the call once (per
// graph id) and replays it afterwards. Rows are assumed independent (batch = separate samples). The CPU provider runs the same code without graphs.
// Keep a runner as long as its session: a captured graph refers to the runner's buffers.
#include <cstdint>
#include <memory>
#include <string>

#include "medport/runtime/device.hpp"

namespace medport::runtime {

class FixedBatchRunner {
 public:
  // `full_input_shape`: the input at the full batch ([batch, ...]); `cuda_graph_id` >= 1 names
  // this runner's graph (one id per runner of a session).
  FixedBatchRunner(const Session& session, std::string input_name, std::string output_name, Shape full_input_shape,
                   int cuda_graph_id = 1);

  // The model's output for `input` ([rows <= batch, ...] of the full shape's dtype F32): the first
  // `rows` rows of the output. Throws InputError for a mismatched input.
  Tensor run(const Tensor& input);

  std::int64_t batch() const { return full_shape_.front(); }

 private:
  const Session& session_;
  std::string input_name_, output_name_;
  Shape full_shape_;
  int graph_id_;
  DeviceTensor input_, output_;
  Binding binding_;
  bool captured_ = false;  // the first call ran (uncaptured) and fixed the output buffer
};

}  // namespace medport::runtime
