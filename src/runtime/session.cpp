#include "medport/runtime/session.hpp"

#include <algorithm>
#include <cstring>

#include "medport/error.hpp"
#include "medport/runtime/privacy.hpp"
#include "ort_support.hpp"

namespace medport::runtime {

using detail::rethrow_ort_error;

Provider parse_provider(const std::string& name) {
  if (name == "cpu") return Provider::Cpu;
  if (name == "cuda") return Provider::Cuda;
  throw UsageError("unknown provider '" + name + "' (use cpu or cuda)");
}

std::string provider_name(Provider provider) { return provider == Provider::Cuda ? "cuda" : "cpu"; }

std::string onnxruntime_version() {
  disable_runtime_telemetry();
  return Ort::GetVersionString();
}

void Session::Impl::read_names() {
  Ort::AllocatorWithDefaultOptions alloc;
  for (std::size_t i = 0; i < session->GetInputCount(); ++i)
    input_names.emplace_back(session->GetInputNameAllocated(i, alloc).get());
  for (std::size_t i = 0; i < session->GetOutputCount(); ++i)
    output_names.emplace_back(session->GetOutputNameAllocated(i, alloc).get());
}

Session::Session(const std::filesystem::path& model_path, const SessionOptions& options)
    : impl_(std::make_shared<Impl>()) {
  impl_->options = options;
  try {
    impl_->session = std::make_shared<Ort::Session>(detail::ort_env(), model_path.c_str(),
                                                    detail::make_ort_options(options));
  } catch (const Ort::Exception& e) {
    rethrow_ort_error(e, model_path.string(), "ONNX Runtime cannot load the model", /*loading=*/true);
  }
  impl_->read_names();
}

Session::Session(std::span<const std::byte> model_bytes, const SessionOptions& options)
    : impl_(std::make_shared<Impl>()) {
  impl_->options = options;
  try {
    impl_->session = std::make_shared<Ort::Session>(detail::ort_env(), model_bytes.data(), model_bytes.size(),
                                                    detail::make_ort_options(options));
  } catch (const Ort::Exception& e) {
    rethrow_ort_error(e, "<in-memory model>", "ONNX Runtime cannot load the model", /*loading=*/true);
  }
  impl_->read_names();
}

Session::~Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

const std::vector<std::string>& Session::input_names() const { return impl_->input_names; }
const std::vector<std::string>& Session::output_names() const { return impl_->output_names; }
const SessionOptions& Session::options() const { return impl_->options; }

std::vector<NamedTensor> Session::run(const std::vector<NamedTensor>& inputs) const {
  const auto mem = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  std::vector<Tensor> keep_alive;
  std::vector<Ort::Value> values;
  std::vector<const char*> names;
  for (const auto& in : inputs) {
    if (std::find(impl_->input_names.begin(), impl_->input_names.end(), in.name) == impl_->input_names.end())
      throw InputError(in.name, "the model has no input of this name");
    keep_alive.push_back(in.tensor.contiguous());
    const Tensor& t = keep_alive.back();
    // ORT only reads inputs; wrapping the existing buffer avoids a copy.
    values.push_back(Ort::Value::CreateTensor(mem, const_cast<std::byte*>(t.raw_data()), t.nbytes(),
                                              t.shape().data(), t.shape().size(), detail::to_onnx_type(t.dtype())));
    names.push_back(in.name.c_str());
  }
  std::vector<const char*> out_names;
  for (const auto& n : impl_->output_names) out_names.push_back(n.c_str());
  std::vector<Ort::Value> outputs;
  try {
    outputs = impl_->session->Run(Ort::RunOptions{nullptr}, names.data(), values.data(), values.size(),
                                  out_names.data(), out_names.size());
  } catch (const Ort::Exception& e) {
    rethrow_ort_error(e, "onnxruntime", "inference failed");
  }
  std::vector<NamedTensor> result;
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    auto info = outputs[i].GetTensorTypeAndShapeInfo();
    const DType dtype = detail::from_onnx_type(info.GetElementType());
    Shape shape = info.GetShape();
    const std::size_t nbytes = static_cast<std::size_t>(shape_numel(shape)) * dtype_size(dtype);
    const auto* p = static_cast<const std::byte*>(outputs[i].GetTensorRawData());
    result.push_back({impl_->output_names[i], Tensor::from_bytes(dtype, shape, {p, nbytes})});
  }
  return result;
}

}  // namespace medport::runtime
