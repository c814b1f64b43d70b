#include "export/coreml/neural_network.hpp"

#include "medport/error.hpp"

namespace medport::coreml {

NeuralNetworkBuild build_neural_network(const PreparedGraph&, const WriteOptions&, const std::string& source, spec::Model*) {
  throw InputError(source, "the neuralnetwork backend is not available yet");
}

}  // namespace medport::coreml
