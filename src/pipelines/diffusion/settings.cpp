#include "medport/pipelines/diffusion/settings.hpp"

#include <nlohmann/json.hpp>

#include "medport/error.hpp"
#include "medport/models/sidecar.hpp"

namespace medport::diffusion {
namespace {

template <class T>
void read_if(const nlohmann::json& j, const char* key, T& out) {
  if (j.is_object() && j.contains(key) && !j[key].is_null()) out = j[key].get<T>();
}

}  // namespace

VarianceType parse_variance_type(const std::string& name) {
  if (name == "learned_range") return VarianceType::LearnedRange;
  if (name == "fixed_small") return VarianceType::FixedSmall;
  if (name == "fixed_large") return VarianceType::FixedLarge;
  throw UsageError("unknown variance type '" + name + "' (learned_range, fixed_small or fixed_large)");
}

DiffusionSettings settings_for_model(const std::filesystem::path& onnx_path) {
  DiffusionSettings s;
  const auto path = models::sidecar_path_for(onnx_path);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return s;
  const nlohmann::json j = models::read_sidecar(onnx_path, "guided_diffusion").family_section;
  try {
    read_if(j, "spatial_multiple", s.spatial_multiple);
    if (j.contains("unet")) {
      read_if(j["unet"], "in_channels", s.in_channels);
      read_if(j["unet"], "image_size", s.image_size);
    }
    if (j.contains("diffusion")) {
      const auto& d = j["diffusion"];
      read_if(d, "diffusion_steps", s.diffusion_steps);
      std::string schedule = std::string(noise_schedule_name(s.schedule));
      read_if(d, "noise_schedule", schedule);
      s.schedule = parse_noise_schedule(schedule);
      read_if(d, "timestep_respacing", s.respacing);
      std::string variance;
      read_if(d, "variance", variance);
      if (!variance.empty()) s.sampler.variance = parse_variance_type(variance);
      if (d.contains("repaint")) {
        read_if(d["repaint"], "t_T", s.repaint.t_T);
        read_if(d["repaint"], "n_sample", s.repaint.n_sample);
        read_if(d["repaint"], "jump_length", s.repaint.jump_length);
        read_if(d["repaint"], "jump_n_sample", s.repaint.jump_n_sample);
      }
    }
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path.string(), std::string("invalid sidecar: ") + e.what());
  } catch (const UsageError& e) {
    throw InputError(path.string(), e.what());
  }
  return s;
}

void ProgressBar::update(std::size_t done, std::size_t total) {
  done_ = done;
  total_ = total;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && done < total && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  draw();
}

void ProgressBar::draw() {
  if (!stream_) return;
  constexpr std::size_t kWidth = 30;
  const std::size_t filled = total_ ? done_ * kWidth / total_ : kWidth;
  std::string bar(filled, '#');
  bar.resize(kWidth, '-');
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::fprintf(stream_, "\r%s [%s] %zu/%zu  %.1f s, %.1f ms/step", label_.c_str(), bar.c_str(), done_, total_,
               seconds, done_ ? 1000.0 * seconds / static_cast<double>(done_) : 0.0);
  std::fflush(stream_);
  drawn_ = true;
}

void ProgressBar::finish() {
  draw();
  if (stream_) std::fputc('\n', stream_);
}

StepCallback ProgressBar::callback() {
  return [this](const StepInfo& info) { update(info.index + 1, info.total); };
}

}  // namespace medport::diffusion
