#include "medport/pipelines/classify/results.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "medport/error.hpp"

namespace medport::classify {
namespace {

using Json = nlohmann::ordered_json;

// CSV field: quoted when it holds a comma, quote or line break.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string class_columns(const models::timm::ClassifierConfig& config) {
  std::string out;
  for (std::int64_t i = 0; i < config.num_classes; ++i) out += "," + csv_field(config.class_label(i));
  return out;
}

std::string prob_columns(const Prediction& p) {
  std::string out;
  for (float v : p.probs) out += fmt::format(",{:.9g}", v);
  return out;
}

Json probabilities_json(const Prediction& p, const models::timm::ClassifierConfig& config) {
  Json probs = Json::object();
  for (std::size_t i = 0; i < p.probs.size(); ++i) probs[config.class_label(static_cast<std::int64_t>(i))] = p.probs[i];
  return probs;
}

}  // namespace

Json image_result_json(const ImageResult& r, const Classifier& model, std::size_t top_k) {
  const auto& config = model.config();
  Json ranked = Json::array();
  for (const auto& c : model.top_k(r.prediction, top_k))
    ranked.push_back({{"index", c.index}, {"label", c.label}, {"probability", c.probability}});
  Json j = {{"image", r.name},
            {"source", r.source},
            {"model", model.model_path().string()},
            {"top1", ranked.empty() ? Json(nullptr) : ranked[0]},
            {"top_k", ranked},
            {"probabilities", probabilities_json(r.prediction, config)}};
  if (!r.prediction.logits.empty()) j["logits"] = r.prediction.logits;
  return j;
}

ImageResult image_result_from_json(const Json& j, const models::timm::ClassifierConfig& config, const std::string& source) {
  ImageResult r;
  try {
    r.name = j.at("image").get<std::string>();
    r.source = j.at("source").get<std::string>();
    const Json& probs = j.at("probabilities");
    for (std::int64_t i = 0; i < config.num_classes; ++i) r.prediction.probs.push_back(probs.at(config.class_label(i)).get<float>());
    if (j.contains("logits")) r.prediction.logits = j["logits"].get<std::vector<float>>();
  } catch (const nlohmann::json::exception& e) {
    throw InputError(source, std::string("not a classification result of this model: ") + e.what());
  }
  r.prediction.top1 = std::max_element(r.prediction.probs.begin(), r.prediction.probs.end()) - r.prediction.probs.begin();
  return r;
}

std::string images_csv(const std::vector<ImageResult>& results, const models::timm::ClassifierConfig& config) {
  std::string out = "image,source,top1,top1_probability" + class_columns(config) + "\n";
  for (const auto& r : results)
    out += csv_field(r.name) + "," + csv_field(r.source) + "," + csv_field(config.class_label(r.prediction.top1)) +
           fmt::format(",{:.9g}", r.prediction.probs[static_cast<std::size_t>(r.prediction.top1)]) +
           prob_columns(r.prediction) + "\n";
  return out;
}

std::string frames_csv(const std::vector<FrameResult>& frames, const models::timm::ClassifierConfig& config) {
  std::string out = "frame,time_s,top1,top1_probability" + class_columns(config) + "\n";
  for (const auto& f : frames)
    out += fmt::format("{},{:.6f},", f.frame, f.time_s) + csv_field(config.class_label(f.prediction.top1)) +
           fmt::format(",{:.9g}", f.prediction.probs[static_cast<std::size_t>(f.prediction.top1)]) +
           prob_columns(f.prediction) + "\n";
  return out;
}

Json frames_json(const std::vector<FrameResult>& frames, const models::timm::ClassifierConfig& config) {
  Json out = Json::array();
  for (const auto& f : frames)
    out.push_back({{"frame", f.frame},
                   {"time_s", f.time_s},
                   {"top1", config.class_label(f.prediction.top1)},
                   {"top1_index", f.prediction.top1},
                   {"top1_probability", f.prediction.probs[static_cast<std::size_t>(f.prediction.top1)]},
                   {"probabilities", probabilities_json(f.prediction, config)}});
  return out;
}

Comparison compare(const std::vector<FrameResult>& a, const std::vector<FrameResult>& b) {
  if (a.size() != b.size()) throw InputError("--compare", "the two runs classified different numbers of frames");
  Comparison c;
  double sum = 0;
  std::size_t count = 0, agree = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto& pa = a[i].prediction.probs;
    const auto& pb = b[i].prediction.probs;
    if (pa.size() != pb.size() || a[i].frame != b[i].frame)
      throw InputError("--compare", "the two models have different classes (" + std::to_string(pa.size()) + " vs " +
                                        std::to_string(pb.size()) + ")");
    FrameDifference d{a[i].frame, a[i].time_s, 0, 0, a[i].prediction.top1, b[i].prediction.top1};
    for (std::size_t k = 0; k < pa.size(); ++k) {
      const double diff = std::fabs(static_cast<double>(pa[k]) - static_cast<double>(pb[k]));
      d.max_abs = std::max(d.max_abs, diff);
      d.mean_abs += diff;
      sum += diff;
    }
    count += pa.size();
    d.mean_abs /= static_cast<double>(std::max<std::size_t>(pa.size(), 1));
    c.max_abs = std::max(c.max_abs, d.max_abs);
    if (d.top1_a == d.top1_b) ++agree;
    else if (!c.first_disagreement) c.first_disagreement = d.frame;
    c.frames.push_back(d);
  }
  c.mean_abs = count ? sum / static_cast<double>(count) : 0.0;
  c.agreement = a.empty() ? 1.0 : static_cast<double>(agree) / static_cast<double>(a.size());
  return c;
}

Json comparison_json(const Comparison& c, const std::string& model_a, const std::string& model_b) {
  Json frames = Json::array();
  for (const auto& d : c.frames)
    frames.push_back({{"frame", d.frame},
                      {"time_s", d.time_s},
                      {"max_abs_diff", d.max_abs},
                      {"mean_abs_diff", d.mean_abs},
                      {"top1_a", d.top1_a},
                      {"top1_b", d.top1_b},
                      {"top1_agree", d.top1_a == d.top1_b}});
  return {{"model_a", model_a},
          {"model_b", model_b},
          {"frames", c.frames.size()},
          {"max_abs_diff", c.max_abs},
          {"mean_abs_diff", c.mean_abs},
          {"top1_agreement", c.agreement},
          {"first_disagreeing_frame", c.first_disagreement ? Json(*c.first_disagreement) : Json(nullptr)},
          {"per_frame", frames}};
}

std::string comparison_csv(const Comparison& c) {
  std::string out = "frame,time_s,max_abs_diff,mean_abs_diff,top1_a,top1_b,top1_agree\n";
  for (const auto& d : c.frames)
    out += fmt::format("{},{:.6f},{:.9g},{:.9g},{},{},{}\n", d.frame, d.time_s, d.max_abs, d.mean_abs, d.top1_a, d.top1_b,
                       d.top1_a == d.top1_b ? 1 : 0);
  return out;
}

}  // namespace medport::classify
