#include "onnx_stream.hpp"

#include "graph/protobuf_pieces.hpp"

namespace medport::graph::detail {

StreamedModel::StreamedModel(const onnx::ModelProto& skeleton, std::vector<InitializerPiece> initializers)
    : skeleton_(skeleton), initializers_(std::move(initializers)) {
  serialized_around(skeleton_, onnx::ModelProto::kGraphFieldNumber, model_head_, model_tail_);
  serialized_around(skeleton_.graph(), onnx::GraphProto::kInitializerFieldNumber, graph_head_, graph_tail_);
  std::size_t graph_size = graph_head_.size() + graph_tail_.size();
  headers_.reserve(initializers_.size());
  for (const auto& init : initializers_) {
    std::string header = serialized(init.header);
    std::size_t tensor_size = header.size();
    if (init.data) {
      const std::size_t n = init.data->nbytes();
      header += field_prefix(onnx::TensorProto::kRawDataFieldNumber, n);
      tensor_size = header.size() + n;
    }
    header.insert(0, field_prefix(onnx::GraphProto::kInitializerFieldNumber, tensor_size));
    graph_size += header.size() + (init.data ? init.data->nbytes() : 0);
    headers_.push_back(std::move(header));
  }
  graph_tag_ = field_prefix(onnx::ModelProto::kGraphFieldNumber, graph_size);
  size_ = model_head_.size() + graph_tag_.size() + graph_size + model_tail_.size();
}

void StreamedModel::write(const std::function<void(std::span<const std::byte>)>& put) const {
  put(bytes_of(model_head_));
  put(bytes_of(graph_tag_));
  put(bytes_of(graph_head_));
  for (std::size_t i = 0; i < initializers_.size(); ++i) {
    put(bytes_of(headers_[i]));
    const Tensor* t = initializers_[i].data;
    if (!t || t->numel() == 0) continue;
    if (t->is_contiguous()) {
      put(std::span(t->raw_data(), t->nbytes()));
    } else {
      const auto gathered = t->contiguous_bytes();
      put(gathered);
    }
    t->storage()->release_pages();
  }
  put(bytes_of(graph_tail_));
  put(bytes_of(model_tail_));
}

onnx::ModelProto StreamedModel::for_checker() const {
  onnx::ModelProto model = skeleton_;
  auto* graph = model.mutable_graph();
  for (const auto& init : initializers_) {
    auto* t = graph->add_initializer();
    *t = init.header;
    if (init.data) t->set_raw_data(init.data->nbytes() ? std::string(1, '\0') : std::string());
  }
  return model;
}

}  // namespace medport::graph::detail
