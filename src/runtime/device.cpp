#include "medport/runtime/device.hpp"

#include <algorithm>
#include <cstring>

#include "medport/error.hpp"
#include "ort_support.hpp"

namespace medport::runtime {

using detail::rethrow_ort_error;

std::shared_ptr<Ort::Allocator> Session::Impl::allocator() {
  std::lock_guard lock(mutex);
  if (!device_allocator) {
    const Ort::MemoryInfo info = detail::device_memory_info(options);
    try {
      device_allocator = std::make_shared<Ort::Allocator>(*session, info);
    } catch (const Ort::Exception& e) {
      rethrow_ort_error(e, "onnxruntime", "no device allocator for this session");
    }
  }
  return device_allocator;
}

std::shared_ptr<Ort::Session> Session::Impl::copier(DType dtype) {
  std::lock_guard lock(mutex);
  auto& slot = copiers[dtype];
  if (!slot) {
    SessionOptions copy_options = options;
    copy_options.cuda.cuda_graph = false;
    copy_options.intra_op_threads = 1;
    const auto& model = detail::identity_model(dtype);
    try {
      slot = std::make_shared<Ort::Session>(detail::ort_env(), model.data(), model.size(),
                                            detail::make_ort_options(copy_options));
    } catch (const Ort::Exception& e) {
      rethrow_ort_error(e, "onnxruntime", "cannot create the copy session");
    }
  }
  return slot;
}

struct DeviceTensor::Impl {
  std::shared_ptr<Session::Impl> owner;  // before `value`: the memory comes from its allocator
  Ort::Value value{nullptr};
  DType dtype = DType::F32;
  Shape shape;
  bool cuda = false;

  std::size_t element_size() const { return dtype_size(dtype); }
  // A non-owning 1-D view of elements [offset, offset + count).
  Ort::Value flat_view(std::int64_t offset, std::int64_t count) const {
    const Ort::MemoryInfo info = detail::device_memory_info(owner->options);
    auto* base = static_cast<std::byte*>(const_cast<Ort::Value&>(value).GetTensorMutableRawData());
    const std::int64_t shape1[] = {count};
    return Ort::Value::CreateTensor(info, base + static_cast<std::size_t>(offset) * element_size(),
                                    static_cast<std::size_t>(count) * element_size(), shape1, 1,
                                    detail::to_onnx_type(dtype));
  }
};

namespace {

std::shared_ptr<DeviceTensor::Impl> wrap_value(std::shared_ptr<Session::Impl> owner, Ort::Value value) {
  auto impl = std::make_shared<DeviceTensor::Impl>();
  impl->owner = std::move(owner);
  auto info = value.GetTensorTypeAndShapeInfo();
  impl->dtype = detail::from_onnx_type(info.GetElementType());
  impl->shape = info.GetShape();
  impl->cuda = value.GetTensorMemoryInfo().GetDeviceType() == OrtMemoryInfoDeviceType_GPU;
  impl->value = std::move(value);
  return impl;
}

// Runs the owner's Identity session: src -> dst (both bound where they live; ONNX Runtime copies
// a host input to the device when it is bound).
void run_copy(Session::Impl& owner, DType dtype, const Ort::Value& src, const Ort::Value& dst) {
  const auto copier = owner.copier(dtype);
  try {
    Ort::IoBinding io(*copier);
    io.BindInput("x", src);
    io.BindOutput("y", dst);
    io.SynchronizeInputs();
    copier->Run(Ort::RunOptions{nullptr}, io);
    io.SynchronizeOutputs();
  } catch (const Ort::Exception& e) {
    rethrow_ort_error(e, "onnxruntime", "device copy failed");
  }
}

Ort::Value host_view(const Tensor& t) {
  const auto mem = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  const std::int64_t shape1[] = {t.numel()};
  return Ort::Value::CreateTensor(mem, const_cast<std::byte*>(t.raw_data()), t.nbytes(), shape1, 1,
                                  detail::to_onnx_type(t.dtype()));
}

}  // namespace

DeviceTensor DeviceTensor::allocate(const Session& session, DType dtype, const Shape& shape) {
  for (const std::int64_t d : shape)
    if (d < 1) throw UsageError("device tensors need a positive size on every axis, got " + shape_string(shape));
  auto owner = session.impl_;
  Ort::Value value{nullptr};
  try {
    if (owner->options.provider == Provider::Cuda) {
      value = Ort::Value::CreateTensor(*owner->allocator(), shape.data(), shape.size(), detail::to_onnx_type(dtype));
    } else {
      Ort::AllocatorWithDefaultOptions host;
      value = Ort::Value::CreateTensor(host, shape.data(), shape.size(), detail::to_onnx_type(dtype));
    }
  } catch (const Ort::Exception& e) {
    rethrow_ort_error(e, "onnxruntime", "cannot allocate " + shape_string(shape) + " on the device");
  }
  return DeviceTensor(wrap_value(std::move(owner), std::move(value)));
}

DeviceTensor DeviceTensor::from_host(const Session& session, const Tensor& host) {
  DeviceTensor t = allocate(session, host.dtype(), host.shape());
  t.upload(host);
  return t;
}

DType DeviceTensor::dtype() const { return impl_->dtype; }
const Shape& DeviceTensor::shape() const { return impl_->shape; }
bool DeviceTensor::on_cuda() const { return impl_->cuda; }

void DeviceTensor::upload(const Tensor& host) const {
  if (host.numel() != numel())
    throw InputError("upload", "a host tensor of " + shape_string(host.shape()) + " does not fit the device tensor " +
                                   shape_string(shape()));
  upload_at(0, host);
}

void DeviceTensor::upload_at(std::int64_t offset, const Tensor& host) const {
  if (host.dtype() != dtype())
    throw InputError("upload", std::string("dtype ") + std::string(dtype_name(host.dtype())) + " differs from the device tensor's " +
                                   std::string(dtype_name(dtype())));
  if (offset < 0 || host.numel() < 1 || offset + host.numel() > numel())
    throw InputError("upload", "elements [" + std::to_string(offset) + ", " + std::to_string(offset + host.numel()) +
                                   ") are outside the device tensor " + shape_string(shape()));
  const Tensor contiguous = host.contiguous();
  run_copy(*impl_->owner, dtype(), host_view(contiguous), impl_->flat_view(offset, host.numel()));
}

Tensor DeviceTensor::download() const {
  const auto copier = impl_->owner->copier(dtype());
  Tensor out = Tensor::zeros(dtype(), shape());
  try {
    Ort::IoBinding io(*copier);
    io.BindInput("x", impl_->flat_view(0, numel()));
    io.BindOutput("y", Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault));
    copier->Run(Ort::RunOptions{nullptr}, io);
    io.SynchronizeOutputs();
    const auto values = io.GetOutputValues();
    std::memcpy(const_cast<std::byte*>(out.raw_data()), values.at(0).GetTensorRawData(), out.nbytes());
  } catch (const Ort::Exception& e) {
    rethrow_ort_error(e, "onnxruntime", "device download failed");
  }
  return out;
}

void DeviceTensor::copy_from(const DeviceTensor& source) const {
  if (source.dtype() != dtype() || source.numel() != numel())
    throw InputError("copy", "cannot copy " + shape_string(source.shape()) + " into " + shape_string(shape()));
  run_copy(*impl_->owner, dtype(), source.impl_->flat_view(0, numel()), impl_->flat_view(0, numel()));
}

struct Binding::Impl {
  std::shared_ptr<Session::Impl> owner;

  void check_name(const std::string& name, const std::vector<std::string>& names, const char* kind) const {
    if (std::find(names.begin(), names.end(), name) == names.end())
      throw InputError(name, std::string("the model has no ") + kind + " of this name");
  }
  Ort::IoBinding io{nullptr};
  std::map<std::string, std::shared_ptr<DeviceTensor::Impl>> inputs;  // keeps bound memory alive
  std::map<std::string, Tensor> host_inputs;                           // read in place by the CPU provider
  // Outputs in binding order; null: allocated by the run (output_on_device).
  std::vector<std::pair<std::string, std::shared_ptr<DeviceTensor::Impl>>> outputs;

  void set_output_slot(const std::string& name, std::shared_ptr<DeviceTensor::Impl> value) {
    const auto it = std::find_if(outputs.begin(), outputs.end(), [&](const auto& o) { return o.first == name; });
    if (it == outputs.end()) {
      outputs.emplace_back(name, std::move(value));
    } else {
      it->second = std::move(value);
    }
  }
};

Binding::Binding(const Session& session) : impl_(std::make_unique<Impl>()) {
  impl_->owner = session.impl_;
  try {
    impl_->io = Ort::IoBinding(*impl_->owner->session);
  } catch (const Ort::Exception& e) {
    rethrow_ort_error(e, "onnxruntime", "cannot create an IO binding");
  }
}

Binding::~Binding() = default;
Binding::Binding(Binding&&) noexcept = default;
Binding& Binding::operator=(Binding&&) noexcept = default;

void Binding::input(const std::string& name, const DeviceTensor& value) {
  if (value.empty()) throw UsageError("binding '" + name + "': empty device tensor");
  impl_->check_name(name, impl_->owner->input_names, "input");
  try {
    impl_->io.BindInput(name.c_str(), value.impl_->value);
  } catch (const Ort::Exception& e) {
    rethrow_ort_error(e, name, "cannot bind the input");
  }
  impl_->inputs[name] = value.impl_;
  impl_->host_inputs.erase(name);
}

void Binding::input(const std::string& name, const Tensor& host) {
  impl_->check_name(name, impl_->owner->input_names, "input");
  const Tensor t = host.contiguous();
  const auto mem = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  try {
    const Ort::Value v = Ort::Value::CreateTensor(mem, const_cast<std::byte*>(t.raw_data()), t.nbytes(),
                                                  t.shape().data(), t.shape().size(), detail::to_onnx_type(t.dtype()));
    impl_->io.BindInput(name.c_str(), v);
  } catch (const Ort::Exception& e) {
    rethrow_ort_error(e, name, "cannot bind the input");
  }
  impl_->host_inputs[name] = t;
  impl_->inputs.erase(name);
}

void Binding::output(const std::string& name, const DeviceTensor& value) {
  if (value.empty()) throw UsageError("binding '" + name + "': empty device tensor");
  impl_->check_name(name, impl_->owner->output_names, "output");
  try {
    impl_->io.BindOutput(name.c_str(), value.impl_->value);
  } catch (const Ort::Exception& e) {
    rethrow_ort_error(e, name, "cannot bind the output");
  }
  impl_->set_output_slot(name, value.impl_);
}

void Binding::output_on_device(const std::string& name) {
  impl_->check_name(name, impl_->owner->output_names, "output");
  try {
    impl_->io.BindOutput(name.c_str(), detail::device_memory_info(impl_->owner->options));
  } catch (const Ort::Exception& e) {
    rethrow_ort_error(e, name, "cannot bind the output");
  }
  impl_->set_output_slot(name, nullptr);
}

void Binding::run(int cuda_graph_id) {
  Ort::RunOptions run_options;
  if (cuda_graph_id != 0) run_options.AddConfigEntry("gpu_graph_id", std::to_string(cuda_graph_id).c_str());
  try {
    impl_->io.SynchronizeInputs();
    impl_->owner->session->Run(run_options, impl_->io);
    impl_->io.SynchronizeOutputs();
  } catch (const Ort::Exception& e) {
    rethrow_ort_error(e, "onnxruntime", "inference failed");
  }
}

std::vector<DeviceTensor> Binding::outputs() const {
  std::vector<Ort::Value> values;
  try {
    values = impl_->io.GetOutputValues();
  } catch (const Ort::Exception& e) {
    rethrow_ort_error(e, "onnxruntime", "no outputs (run the binding first)");
  }
  if (values.size() != impl_->outputs.size()) throw EngineError("onnxruntime", "", "bound outputs went missing");
  std::vector<DeviceTensor> result;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto& bound = impl_->outputs[i].second;
    result.push_back(bound ? DeviceTensor(bound) : DeviceTensor(wrap_value(impl_->owner, std::move(values[i]))));
  }
  return result;
}

}  // namespace medport::runtime
