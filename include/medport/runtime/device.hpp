#pragma once
// Tensors that stay where a session computes (CUDA device memory for the CUDA provider, host
// memory for the CPU provider) and IO binding, so that chains of runs - a sampling loop, one
// model feeding another - exchange data without a trip through the host. No ONNX Runtime header
// is needed to use them.
//
//   runtime::DeviceTensor x = runtime::DeviceTensor::allocate(unet, DType::F32, {1, 3, 64, 64});
//   x.upload(noise);                       // host -> device, in place (same address)
//   runtime::Binding call(unet);
//   call.input("x", x);  call.input("t", t_device);  call.output("out", out_device);
//   call.run();                            // reads and writes device memory only
//   Tensor image = out_device.download();  // device -> host when the caller wants it
//
// Copies between host and device go through one-node ONNX models (Identity) run by the owning
// session's provider, so they need no CUDA toolkit at build time.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "medport/runtime/session.hpp"
#include "medport/tensor.hpp"

namespace medport::runtime {

class DeviceTensor {
 public:
  DeviceTensor() = default;  // empty (no memory)

  // Uninitialised memory of `shape` where `session` computes. The memory stays valid as long as
  // this tensor (or a copy of it: copies share the memory) exists, even after the session is gone.
  static DeviceTensor allocate(const Session& session, DType dtype, const Shape& shape);
  // A device copy of a host tensor.
  static DeviceTensor from_host(const Session& session, const Tensor& host);

  bool empty() const { return impl_ == nullptr; }
  DType dtype() const;
  const Shape& shape() const;
  std::int64_t numel() const { return shape_numel(shape()); }
  bool on_cuda() const;  // false: host memory (CPU provider)

  // Host values into this tensor's memory, in place: bindings and captured CUDA graphs that use
  // this memory see the new values. dtype and element count must match (InputError otherwise).
  void upload(const Tensor& host) const;
  // Elements [offset, offset + host.numel()) of this tensor (flattened) from a host tensor.
  void upload_at(std::int64_t offset, const Tensor& host) const;
  // A host copy of the values.
  Tensor download() const;
  // Device-to-device copy of `source`'s values into this tensor (same dtype and element count).
  void copy_from(const DeviceTensor& source) const;

  struct Impl;

 private:
  friend class Binding;
  explicit DeviceTensor(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

// ONNX Runtime IO binding for one session: inputs and outputs bound once stay bound across runs.
// A Binding is used by one thread at a time; several Bindings may share a session.
class Binding {
 public:
  explicit Binding(const Session& session);
  ~Binding();
  Binding(Binding&&) noexcept;
  Binding& operator=(Binding&&) noexcept;

  // Binds a device tensor (read in place at every run).
  void input(const std::string& name, const DeviceTensor& value);
  // Binds host values: the CUDA provider copies them to the device now (later changes to the
  // host tensor are not seen); the CPU provider reads them in place. Small per-run parameters.
  void input(const std::string& name, const Tensor& host);
  // Binds a device tensor the run writes into (its shape must be the output's shape).
  void output(const std::string& name, const DeviceTensor& value);
  // The run allocates this output on the session's device; read it with outputs() afterwards.
  void output_on_device(const std::string& name);

  // Runs the session on the bound values. cuda_graph_id > 0 names the CUDA graph to capture or
  // replay for this binding (sessions with CudaOptions::cuda_graph; ignored otherwise): one id
  // per set of bound addresses. -1 runs without capturing or replaying (a warm-up call whose
  // bindings will still change); 0 leaves the choice to ONNX Runtime.
  void run(int cuda_graph_id = 0);

  // The bound outputs after a run, in the order they were bound.
  std::vector<DeviceTensor> outputs() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace medport::runtime
