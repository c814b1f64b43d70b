#pragma once
// A serialized ONNX model in pieces (not a public header): protobuf serializes the small
// structure (nodes, inputs, outputs, opsets, initializer headers), and the initializers' raw
// bytes are streamed from the tensors' own memory behind their headers, with the protobuf wire
// format written by hand (every length is known up front). Writing a model thus never holds a
// second copy of its weights, and the bytes are identical to protobuf's deterministic
// serialization of the whole ModelProto (tests/test_graph_writer.cpp checks both).
#include <onnx/onnx_pb.h>

#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "medport/tensor.hpp"

namespace medport::graph::detail {

struct InitializerPiece {
  onnx::TensorProto header;  // everything but raw_data
  const Tensor* data = nullptr;  // inline initializers: streamed as the raw_data field
};

class StreamedModel {
 public:
  // `skeleton` holds no initializers; `initializers` follow its nodes in this order.
  StreamedModel(const onnx::ModelProto& skeleton, std::vector<InitializerPiece> initializers);

  std::size_t size() const { return size_; }
  // Calls `put` with consecutive pieces of the serialized model (small buffers and the tensors'
  // bytes); a file-backed tensor's pages are released once written.
  void write(const std::function<void(std::span<const std::byte>)>& put) const;
  // The model with each inline initializer's raw_data replaced by a one-byte placeholder (empty
  // for empty tensors): onnx::checker only asks whether raw_data is empty, never what it holds or
  // how long it is, so its verdict on this proto is its verdict on the real model.
  onnx::ModelProto for_checker() const;

 private:
  onnx::ModelProto skeleton_;
  std::vector<InitializerPiece> initializers_;
  std::vector<std::string> headers_;  // serialized initializer headers + raw_data tag and length
  std::string model_head_, model_tail_, graph_head_, graph_tail_, graph_tag_;
  std::size_t size_ = 0;
};

}  // namespace medport::graph::detail
