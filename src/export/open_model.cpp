#include "medport/export/open_model.hpp"

#include <algorithm>

#include "medport/error.hpp"
#include "medport/export/coreml.hpp"
#include "medport/graph/onnx_writer.hpp"

namespace medport::exporters {

namespace fs = std::filesystem;

OpenedModel::OpenedModel(std::string format, runtime::Session session, std::vector<DType> input_dtypes,
                         bool batch_fixed_at_one)
    : format_(std::move(format)),
      session_(std::move(session)),
      input_dtypes_(std::move(input_dtypes)),
      batch_fixed_at_one_(batch_fixed_at_one) {}

std::vector<std::pair<std::string, Tensor>> OpenedModel::adapt_inputs(
    const std::vector<std::pair<std::string, Tensor>>& arrays) const {
  std::vector<std::pair<std::string, Tensor>> converted = arrays;
  if (input_dtypes_.empty()) return converted;
  const auto& names = session_.input_names();
  for (auto& [name, tensor] : converted) {
    auto it = std::find(names.begin(), names.end(), name);
    if (it == names.end()) continue;
    const DType want = input_dtypes_[static_cast<std::size_t>(it - names.begin())];
    if (tensor.dtype() != want) tensor = tensor.to(want);
  }
  return converted;
}

std::vector<runtime::NamedTensor> OpenedModel::run(const std::vector<runtime::NamedTensor>& inputs) const {
  std::vector<std::pair<std::string, Tensor>> arrays;
  for (const auto& in : inputs) arrays.emplace_back(in.name, in.tensor);
  std::vector<runtime::NamedTensor> feeds;
  for (auto& [name, tensor] : adapt_inputs(arrays)) feeds.push_back({name, tensor});
  return session_.run(feeds);
}

OpenedModel open_model(const fs::path& path, const runtime::SessionOptions& options) {
  if (!coreml::is_coreml_path(path)) return OpenedModel("onnx", runtime::Session(path, options), {});
  const graph::Graph g = coreml::read_coreml(path);
  graph::WriteOptions wo;
  wo.check = false;
  // A graph ONNX Runtime refuses (shapes that do not fit, a bad permutation ...) is the file's fault.
  runtime::Session session = [&] {
    try {
      return runtime::Session(graph::to_model_bytes(g, wo), options);
    } catch (const InputError& e) {
      throw InputError(path.string(), std::string("the network it describes is invalid: ") + e.what());
    }
  }();
  std::vector<DType> dtypes;
  for (const auto& name : session.input_names()) {
    auto in = std::find_if(g.inputs.begin(), g.inputs.end(), [&](const auto& i) { return i.name == name; });
    dtypes.push_back(in == g.inputs.end() ? DType::F32 : in->dtype);
  }
  const bool batch_one = !g.inputs.empty() && std::all_of(g.inputs.begin(), g.inputs.end(), [](const auto& in) {
    return in.shape && !in.shape->empty() && in.shape->front().is_fixed() && in.shape->front().value == 1;
  });
  const bool program = fs::is_directory(path);
  return OpenedModel(program ? "coreml-mlprogram" : "coreml-neuralnetwork", std::move(session), std::move(dtypes),
                     batch_one);
}

}  // namespace medport::exporters
