#pragma once
// Adapts an ONNX Runtime session of a guided-diffusion UNet graph ("x", "t" -> "out") to the
// samplers' DenoiseFn. The session must outlive the returned function.
#include "medport/pipelines/diffusion/samplers.hpp"
#include "medport/runtime/session.hpp"

namespace medport::diffusion {

DenoiseFn session_denoiser(const runtime::Session& session);
// Throws InputError unless the session has inputs "x" and "t" and an output.
void require_unet_session(const runtime::Session& session);

}  // namespace medport::diffusion
