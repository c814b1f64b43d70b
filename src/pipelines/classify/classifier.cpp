#include "medport/pipelines/classify/classifier.hpp"

#include <algorithm>
#include <numeric>

#include "medport/error.hpp"
#include "medport/models/sidecar.hpp"

namespace medport::classify {

namespace timm = models::timm;

struct Classifier::Impl {
  std::filesystem::path model;
  timm::ClassifierConfig config;
  runtime::Session session;
};

Classifier::Classifier(const std::filesystem::path& model, const runtime::SessionOptions& options) {
  const models::Sidecar sidecar = models::read_sidecar(model, timm::kFamilyId);
  const std::string source = models::sidecar_path_for(model).string();
  timm::ClassifierConfig config = timm::ClassifierConfig::from_json(sidecar.family_section, source);
  runtime::Session session(model, options);
  const auto& inputs = session.input_names();
  if (std::find(inputs.begin(), inputs.end(), timm::kImageInput) == inputs.end())
    throw InputError(model.string(), "has no input named 'image' (not a medport timm classifier)");
  const auto& outputs = session.output_names();
  if (std::find(outputs.begin(), outputs.end(), timm::kProbsOutput) == outputs.end())
    throw InputError(model.string(), "has no output named 'probs' (not a medport timm classifier)");
  impl_ = std::make_unique<Impl>(Impl{model, std::move(config), std::move(session)});
}

Classifier::~Classifier() = default;
Classifier::Classifier(Classifier&&) noexcept = default;
Classifier& Classifier::operator=(Classifier&&) noexcept = default;

const std::filesystem::path& Classifier::model_path() const { return impl_->model; }
const timm::ClassifierConfig& Classifier::config() const { return impl_->config; }

TransformSettings Classifier::transform(ResizeMode mode, CropAnchor anchor) const {
  const auto& c = impl_->config;
  TransformSettings s;
  s.height = c.height;
  s.width = c.width;
  s.interpolation = parse_interpolation(c.interpolation, models::sidecar_path_for(impl_->model).string());
  s.crop_pct = c.crop_pct;
  s.mode = mode == ResizeMode::Squash || c.crop_mode == "squash" ? ResizeMode::Squash : ResizeMode::Crop;
  s.anchor = anchor;
  return s;
}

std::vector<Prediction> Classifier::predict(const std::vector<std::vector<float>>& inputs) const {
  const auto& c = impl_->config;
  const auto per_image = static_cast<std::size_t>(3 * c.height * c.width);
  std::vector<float> batch;
  batch.reserve(per_image * inputs.size());
  for (const auto& in : inputs) {
    if (in.size() != per_image) throw std::logic_error("classify: input of the wrong size for the model");
    batch.insert(batch.end(), in.begin(), in.end());
  }
  const auto n = static_cast<std::int64_t>(inputs.size());
  const Tensor image = Tensor::from_f32({n, 3, c.height, c.width}, batch);
  std::vector<Prediction> out(inputs.size());
  for (const auto& result : impl_->session.run({{timm::kImageInput, image}})) {
    const bool probs = result.name == timm::kProbsOutput;
    if (!probs && result.name != timm::kLogitsOutput) continue;
    if (result.tensor.shape() != Shape{n, c.num_classes})
      throw InputError(impl_->model.string(), "output '" + result.name + "' has shape " + shape_string(result.tensor.shape()) +
                                                  ", the sidecar says " + std::to_string(c.num_classes) + " classes");
    const std::vector<float> values = result.tensor.to_f32();
    for (std::int64_t i = 0; i < n; ++i) {
      auto& dst = probs ? out[static_cast<std::size_t>(i)].probs : out[static_cast<std::size_t>(i)].logits;
      dst.assign(values.begin() + i * c.num_classes, values.begin() + (i + 1) * c.num_classes);
    }
  }
  for (auto& p : out) p.top1 = std::max_element(p.probs.begin(), p.probs.end()) - p.probs.begin();
  return out;
}

Prediction Classifier::classify(const RgbImage& image, const TransformSettings& transform) const {
  return predict({eval_transform(image, transform)}).front();
}

std::vector<RankedClass> Classifier::top_k(const Prediction& p, std::size_t k) const {
  std::vector<std::int64_t> order(p.probs.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
    return p.probs[static_cast<std::size_t>(a)] > p.probs[static_cast<std::size_t>(b)];
  });
  order.resize(std::min(k, order.size()));
  std::vector<RankedClass> out;
  for (std::int64_t i : order) out.push_back({i, impl_->config.class_label(i), p.probs[static_cast<std::size_t>(i)]});
  return out;
}

}  // namespace medport::classify
