#include "medport/pipelines/diffusion/onnx_denoiser.hpp"

#include <algorithm>

#include "medport/error.hpp"

namespace medport::diffusion {

void require_unet_session(const runtime::Session& session) {
  const auto& names = session.input_names();
  const bool has_x = std::find(names.begin(), names.end(), "x") != names.end();
  const bool has_t = std::find(names.begin(), names.end(), "t") != names.end();
  if (!has_x || !has_t || session.output_names().empty()) {
    throw InputError("model", "not a diffusion UNet graph (expected inputs 'x' and 't')");
  }
}

DenoiseFn session_denoiser(const runtime::Session& session) {
  require_unet_session(session);
  return [&session](const Tensor& x, const Tensor& timesteps) {
    auto outputs = session.run({{"x", x}, {"t", timesteps}});
    return std::move(outputs.front().tensor);
  };
}

}  // namespace medport::diffusion
