#include "export/coreml/nn_weights.hpp"

#include <stdexcept>

#include "graph/protobuf_pieces.hpp"
#include "medport/dtype.hpp"
#include "medport/error.hpp"
#include "medport/util/atomic_file.hpp"

namespace medport::coreml {

namespace {

using graph::detail::bytes_of;
using graph::detail::field_prefix;
using graph::detail::kProtobufLimit;
using graph::detail::serialized;

void fill(const LayerWeight& w) {
  if (w.fp16) {
    const Tensor half = w.source.to(DType::F16);
    w.params->set_float16value(reinterpret_cast<const char*>(half.raw_data()), half.nbytes());
  } else {
    const auto values = w.source.to_f32();
    w.params->mutable_floatvalue()->Add(values.begin(), values.end());
  }
}

// Zeros of the same encoded size: the layer's length without converting (or reading) its weights.
void fill_placeholder(const LayerWeight& w) {
  const auto n = static_cast<std::size_t>(w.source.numel());
  if (w.fp16) {
    w.params->set_float16value(std::string(2 * n, '\0'));
  } else {
    w.params->mutable_floatvalue()->Resize(static_cast<int>(n), 0.0f);
  }
}

// Clear() would keep the buffers' capacity; swapping with a fresh message frees them.
void drop(const LayerWeight& w) { spec::WeightParams().Swap(w.params); }

// One layer's weights while they are in it: dropped again however the scope is left, so the model
// comes back as it came even when converting a weight throws.
class LayerFill {
 public:
  LayerFill(const std::vector<const LayerWeight*>& weights, bool placeholders) : weights_(weights) {
    for (const auto* w : weights_) placeholders ? fill_placeholder(*w) : fill(*w);
  }
  ~LayerFill() {
    for (const auto* w : weights_) drop(*w);
  }
  LayerFill(const LayerFill&) = delete;
  LayerFill& operator=(const LayerFill&) = delete;

 private:
  const std::vector<const LayerWeight*>& weights_;
};

// Moves the layers out of the model for the writer's lifetime (the model is otherwise only read).
// Neither side lives on an arena, so Swap exchanges the element pointers: LayerWeight::params
// stay valid.
class LayersSetAside {
 public:
  explicit LayersSetAside(spec::NeuralNetwork* nn) : nn_(nn) { layers_.Swap(nn_->mutable_layers()); }
  ~LayersSetAside() { layers_.Swap(nn_->mutable_layers()); }
  LayersSetAside(const LayersSetAside&) = delete;
  LayersSetAside& operator=(const LayersSetAside&) = delete;
  const spec::NeuralNetworkLayer& layer(int i) const { return layers_.Get(i); }

 private:
  spec::NeuralNetwork* nn_;
  google::protobuf::RepeatedPtrField<spec::NeuralNetworkLayer> layers_;
};

}  // namespace

std::size_t payload_bytes(const LayerWeight& w) { return static_cast<std::size_t>(w.source.numel()) * (w.fp16 ? 2 : 4); }

void write_neural_network_file(spec::Model& model, const std::vector<LayerWeight>& weights,
                               const std::filesystem::path& path) {
  auto* nn = model.mutable_neuralnetwork();
  const auto layer_count = static_cast<std::size_t>(nn->layers_size());
  std::vector<std::vector<const LayerWeight*>> by_layer(layer_count);
  std::size_t all_payload = 0;
  for (const auto& w : weights) {
    by_layer.at(static_cast<std::size_t>(w.layer)).push_back(&w);
    all_payload += payload_bytes(w);
  }
  auto refuse_size = [&](std::size_t bytes) {
    throw UsageError(path.string() + ": the NeuralNetwork model would take at least " + std::to_string(bytes) +
                     " bytes, beyond protobuf's 2 GiB limit for a .mlmodel; use --backend mlprogram (weights in weight.bin)");
  };
  if (all_payload > kProtobufLimit) refuse_size(all_payload);

  // Each layer's length, from placeholders. A weight whose WeightParams lies outside its layer
  // would not lengthen it: the lowering attributed it wrongly, and the file would lack it.
  std::vector<std::size_t> sizes(layer_count);
  std::size_t nn_size = 0;
  for (std::size_t i = 0; i < layer_count; ++i) {
    const auto& mine = by_layer[i];
    const std::size_t empty = nn->layers(static_cast<int>(i)).ByteSizeLong();
    std::size_t payload = 0;
    for (const auto* w : mine) payload += payload_bytes(*w);
    {
      const LayerFill placeholders(mine, true);
      sizes[i] = nn->layers(static_cast<int>(i)).ByteSizeLong();
    }
    if (sizes[i] < empty + payload)
      throw std::logic_error("NeuralNetwork writer: a weight is not inside layer " + nn->layers(static_cast<int>(i)).name());
    nn_size += field_prefix(spec::NeuralNetwork::kLayersFieldNumber, sizes[i]).size() + sizes[i];
  }
  const LayersSetAside aside(nn);
  // NeuralNetwork = its layers (field 1) then its other fields; Model = the fields below
  // neuralNetwork (500), that field, the fields above it.
  const std::string nn_rest = serialized(*nn);
  nn_size += nn_rest.size();
  std::string head, tail;
  graph::detail::serialized_around(model, spec::Model::kNeuralNetworkFieldNumber, head, tail);
  const std::string nn_prefix = field_prefix(spec::Model::kNeuralNetworkFieldNumber, nn_size);
  const std::size_t total = head.size() + nn_prefix.size() + nn_size + tail.size();
  if (total > kProtobufLimit) refuse_size(total);

  AtomicFile file(path);
  file.write(bytes_of(head));
  file.write(bytes_of(nn_prefix));
  for (std::size_t i = 0; i < layer_count; ++i) {
    std::string layer;
    {
      const LayerFill values(by_layer[i], false);
      layer = serialized(aside.layer(static_cast<int>(i)));
    }
    for (const auto* w : by_layer[i])
      if (w->source.storage()) w->source.storage()->release_pages();
    if (layer.size() != sizes[i]) throw std::logic_error("NeuralNetwork writer: layer " + aside.layer(static_cast<int>(i)).name() +
                                                         " changed length between measuring and writing");
    file.write(bytes_of(field_prefix(spec::NeuralNetwork::kLayersFieldNumber, layer.size())));
    file.write(bytes_of(layer));
  }
  file.write(bytes_of(nn_rest));
  file.write(bytes_of(tail));
  file.commit();
}

}  // namespace medport::coreml
