#include "export/coreml/nn_weights.hpp"

#include <cstring>

#include "graph/protobuf_pieces.hpp"
#include "medport/dtype.hpp"
#include "medport/util/atomic_file.hpp"

namespace medport::coreml {

namespace {

using graph::detail::bytes_of;
using graph::detail::field_prefix;
using graph::detail::serialized;

void fill(const LayerWeight& w) {
  const auto values = w.source.to_f32();
  if (w.fp16) {
    std::string bytes(2 * values.size(), '\0');
    for (std::size_t i = 0; i < values.size(); ++i) {
      const std::uint16_t h = float_to_half(values[i]);
      std::memcpy(bytes.data() + 2 * i, &h, 2);
    }
    w.params->set_float16value(std::move(bytes));
  } else {
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

// Moves the layers out of the model for the writer's lifetime (the model is otherwise only read).
class LayersSetAside {
 public:
  explicit LayersSetAside(spec::NeuralNetwork* nn) : nn_(nn) { layers_.Swap(nn_->mutable_layers()); }
  ~LayersSetAside() { layers_.Swap(nn_->mutable_layers()); }
  LayersSetAside(const LayersSetAside&) = delete;
  LayersSetAside& operator=(const LayersSetAside&) = delete;
  const google::protobuf::RepeatedPtrField<spec::NeuralNetworkLayer>& layers() const { return layers_; }

 private:
  spec::NeuralNetwork* nn_;
  google::protobuf::RepeatedPtrField<spec::NeuralNetworkLayer> layers_;
};

}  // namespace

void write_neural_network_file(spec::Model& model, const std::vector<LayerWeight>& weights,
                               const std::filesystem::path& path) {
  auto* nn = model.mutable_neuralnetwork();
  std::vector<std::vector<const LayerWeight*>> by_layer(static_cast<std::size_t>(nn->layers_size()));
  for (const auto& w : weights) by_layer.at(static_cast<std::size_t>(w.layer)).push_back(&w);

  // NeuralNetwork = its layers (field 1) then its other fields; Model = fields below
  // neuralNetwork (500), that field, the fields above it.
  std::size_t nn_size = 0;
  for (int i = 0; i < nn->layers_size(); ++i) {
    for (const auto* w : by_layer[static_cast<std::size_t>(i)]) fill_placeholder(*w);
    const std::size_t size = nn->layers(i).ByteSizeLong();
    for (const auto* w : by_layer[static_cast<std::size_t>(i)]) drop(*w);
    nn_size += field_prefix(spec::NeuralNetwork::kLayersFieldNumber, size).size() + size;
  }
  const LayersSetAside aside(nn);
  const std::string nn_rest = serialized(*nn);
  nn_size += nn_rest.size();
  std::string head, tail;
  graph::detail::serialized_around(model, spec::Model::kNeuralNetworkFieldNumber, head, tail);

  AtomicFile file(path);
  file.write(bytes_of(head));
  file.write(bytes_of(field_prefix(spec::Model::kNeuralNetworkFieldNumber, nn_size)));
  for (int i = 0; i < aside.layers().size(); ++i) {
    const auto& mine = by_layer[static_cast<std::size_t>(i)];
    for (const auto* w : mine) fill(*w);
    const std::string layer = serialized(aside.layers().Get(i));
    for (const auto* w : mine) {
      drop(*w);
      if (w->source.storage()) w->source.storage()->release_pages();
    }
    file.write(bytes_of(field_prefix(spec::NeuralNetwork::kLayersFieldNumber, layer.size())));
    file.write(bytes_of(layer));
  }
  file.write(bytes_of(nn_rest));
  file.write(bytes_of(tail));
  file.commit();
}

}  // namespace medport::coreml
