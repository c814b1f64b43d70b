#pragma once
// One way for front ends to run an exported model of any format: `.onnx` directly with ONNX
// Runtime; Core ML (`.mlpackage`, `.mlmodel`) by reading the file back into medport's graph and
// executing that with ONNX Runtime (Core ML itself only runs on Apple systems), which also makes
// every run an independent check of what the Core ML writer produced.
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "medport/dtype.hpp"
#include "medport/runtime/session.hpp"

namespace medport::exporters {

class OpenedModel {
 public:
  OpenedModel(std::string format, runtime::Session session, std::vector<DType> input_dtypes,
              bool batch_fixed_at_one = false);

  // "onnx", "coreml-mlprogram", "coreml-neuralnetwork"
  const std::string& format() const { return format_; }
  const std::vector<std::string>& input_names() const { return session_.input_names(); }
  const std::vector<std::string>& output_names() const { return session_.output_names(); }
  // Inputs by name; a float/integer tensor is converted to the dtype the model declares (Core ML
  // has int32 where ONNX graphs take int64, float16 inputs with --fp16-io).
  std::vector<runtime::NamedTensor> run(const std::vector<runtime::NamedTensor>& inputs) const;
  // The same conversion for callers that run the session themselves (pipelines::run_on_arrays).
  std::vector<std::pair<std::string, Tensor>> adapt_inputs(const std::vector<std::pair<std::string, Tensor>>& arrays) const;
  const runtime::Session& session() const { return session_; }
  // True when every input declares a fixed leading dimension of 1 (Core ML models are written with
  // fixed shapes): a batch of N samples has to be run one sample at a time.
  bool batch_fixed_at_one() const { return batch_fixed_at_one_; }

 private:
  std::string format_;
  runtime::Session session_;
  std::vector<DType> input_dtypes_;
  bool batch_fixed_at_one_ = false;
};

// InputError naming the file when it is not a readable model.
OpenedModel open_model(const std::filesystem::path& path, const runtime::SessionOptions& options = {});

}  // namespace medport::exporters
