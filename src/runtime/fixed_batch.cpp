#include "medport/runtime/fixed_batch.hpp"

#include "medport/error.hpp"

namespace medport::runtime {

FixedBatchRunner::FixedBatchRunner(const Session& session, std::string input_name, std::string output_name,
                                   Shape full_input_shape, int cuda_graph_id)
    : session_(session),
      input_name_(std::move(input_name)),
      output_name_(std::move(output_name)),
      full_shape_(std::move(full_input_shape)),
      graph_id_(cuda_graph_id),
      binding_(session) {
  if (full_shape_.empty()) throw UsageError("fixed-batch runner: the input needs a batch axis");
  if (graph_id_ < 1) throw UsageError("fixed-batch runner: CUDA graph ids start at 1");
  input_ = DeviceTensor::allocate(session, DType::F32, full_shape_);
  input_.upload(Tensor::zeros(DType::F32, full_shape_));
  binding_.input(input_name_, input_);
}

Tensor FixedBatchRunner::run(const Tensor& input) {
  const Shape& s = input.shape();
  if (input.dtype() != DType::F32 || s.size() != full_shape_.size() || s[0] < 1 || s[0] > batch() ||
      !std::equal(s.begin() + 1, s.end(), full_shape_.begin() + 1)) {
    throw InputError(input_name_, "input " + shape_string(s) + " does not fit the fixed batch " + shape_string(full_shape_));
  }
  const std::int64_t rows = s[0];
  // Rows past this input keep zeros or an earlier call's values: every row is computed on its
  // own and only the input's rows are returned.
  input_.upload_at(0, input);
  const bool graphs = session_.options().provider == Provider::Cuda && session_.options().cuda.cuda_graph;
  if (!captured_) {
    binding_.output_on_device(output_name_);
    binding_.run(graphs ? -1 : 0);
    output_ = binding_.outputs().front();
    binding_.output(output_name_, output_);
    captured_ = true;
  } else {
    binding_.run(graphs ? graph_id_ : 0);
  }
  const Tensor all = output_.download();
  if (all.shape().empty() || all.shape()[0] != batch())
    throw InputError(output_name_, "output " + shape_string(all.shape()) + " has no batch axis of " + std::to_string(batch()));
  if (rows == batch()) return all;
  Shape out_shape = all.shape();
  out_shape[0] = rows;
  return Tensor(all.storage(), 0, out_shape, contiguous_strides(out_shape));
}

}  // namespace medport::runtime
