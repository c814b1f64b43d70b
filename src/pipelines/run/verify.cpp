#include <algorithm>
#include <cmath>

#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/export/open_model.hpp"
#include "medport/pipelines/run.hpp"

namespace medport::pipelines {
namespace {

OutputCheck compare(const std::string& name, const Tensor& got, const Tensor& ref, const VerifyOptions& o,
                    const std::string& source) {
  if (got.shape() != ref.shape())
    throw InputError(source, "output '" + name + "' has shape " + shape_string(got.shape()) + " but the reference " +
                                 shape_string(ref.shape()));
  OutputCheck c;
  c.name = name;
  c.shape = got.shape();
  const auto a = got.to_f32(), b = ref.to_f32();
  c.elements = a.size();
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double x = a[i], y = b[i];
    const double err = std::abs(x - y);
    // NaN in either side never passes (numpy.allclose with equal_nan=False).
    if (!(err <= o.atol + o.rtol * std::abs(y))) ++c.outside_tolerance;
    if (std::isfinite(err)) c.max_abs_error = std::max(c.max_abs_error, err);
    else c.max_abs_error = INFINITY;
    if (std::isfinite(y)) c.max_abs_reference = std::max(c.max_abs_reference, std::abs(y));
  }
  c.max_rel_error = c.max_abs_error / std::max(c.max_abs_reference, 1e-30);
  if (c.shape.size() >= 2 && c.shape[1] >= 2) {
    const std::int64_t n = c.shape[0], k = c.shape[1];
    const std::int64_t inner = static_cast<std::int64_t>(a.size()) / std::max<std::int64_t>(1, n * k);
    std::int64_t agree = 0;
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t p = 0; p < inner; ++p) {
        std::int64_t ia = 0, ib = 0;
        for (std::int64_t j = 1; j < k; ++j) {
          const auto at = [&](std::int64_t jj) { return static_cast<std::size_t>((i * k + jj) * inner + p); };
          if (a[at(j)] > a[at(ia)]) ia = j;
          if (b[at(j)] > b[at(ib)]) ib = j;
        }
        agree += ia == ib;
      }
    c.argmax_agreement = static_cast<double>(agree) / static_cast<double>(std::max<std::int64_t>(1, n * inner));
  }
  return c;
}

// Sample i of a batch as a [1, ...] view.
Tensor sample_of(const Tensor& batch, std::int64_t i) {
  Shape shape = batch.shape();
  shape[0] = 1;
  return Tensor(batch.storage(), batch.offset() + i * batch.strides()[0], shape, batch.strides());
}

Tensor stack_samples(const std::vector<Tensor>& samples) {
  std::vector<std::byte> bytes;
  for (const auto& s : samples) {
    const auto b = s.contiguous_bytes();
    bytes.insert(bytes.end(), b.begin(), b.end());
  }
  Shape shape = samples.front().shape();
  shape[0] = static_cast<std::int64_t>(samples.size());
  return Tensor::from_bytes(samples.front().dtype(), shape, bytes);
}

// A model whose inputs are fixed at batch 1 (Core ML) is run once per sample of a batched
// reference; the outputs are stacked back so they compare with the reference as a whole.
std::vector<runtime::NamedTensor> run_reference(const exporters::OpenedModel& model, const NamedArrays& arrays,
                                                const std::string& source) {
  // The arrays the model takes (a reference also holds its outputs), converted as it declares.
  const auto& names = model.input_names();
  NamedArrays inputs;
  for (auto& [name, tensor] : model.adapt_inputs(arrays))
    if (std::find(names.begin(), names.end(), name) != names.end()) inputs.emplace_back(name, std::move(tensor));
  std::int64_t batch = 0;
  for (const auto& [name, tensor] : inputs)
    if (tensor.ndim() > 0) batch = batch == 0 || batch == tensor.shape()[0] ? tensor.shape()[0] : -1;
  if (!model.batch_fixed_at_one() || batch <= 1) return run_on_arrays(model.session(), inputs, source, true);
  std::vector<std::vector<runtime::NamedTensor>> per_sample;
  for (std::int64_t i = 0; i < batch; ++i) {
    NamedArrays one;
    for (const auto& [name, tensor] : inputs) one.emplace_back(name, tensor.ndim() > 0 ? sample_of(tensor, i) : tensor);
    per_sample.push_back(run_on_arrays(model.session(), one, source, true));
  }
  std::vector<runtime::NamedTensor> stacked;
  for (std::size_t k = 0; k < per_sample.front().size(); ++k) {
    std::vector<Tensor> parts;
    for (const auto& outs : per_sample) parts.push_back(outs[k].tensor);
    stacked.push_back({per_sample.front()[k].name, stack_samples(parts)});
  }
  return stacked;
}

}  // namespace

bool VerifyReport::passed() const {
  return std::all_of(outputs.begin(), outputs.end(), [](const OutputCheck& c) { return c.passed(); });
}

VerifyReport verify_model(const std::filesystem::path& model, const std::filesystem::path& reference,
                          const VerifyOptions& options) {
  if (!(options.rtol >= 0) || !(options.atol >= 0) || !std::isfinite(options.rtol) || !std::isfinite(options.atol))
    throw UsageError("--rtol and --atol must be finite non-negative numbers");
  const std::string source = reference.string();
  NamedArrays arrays;
  for (auto& [name, tensor] : ckpt::read_npz(reference)) {
    const auto it = options.rename.find(name);
    arrays.emplace_back(it == options.rename.end() ? name : it->second, std::move(tensor));
  }
  // Any exported format (open_model): .onnx, or Core ML read back into the graph.
  const exporters::OpenedModel opened = exporters::open_model(model, options.session);
  VerifyReport report;
  report.inputs = opened.input_names();
  const auto outputs = run_reference(opened, arrays, source);
  for (const auto& out : outputs) {
    const auto ref = std::find_if(arrays.begin(), arrays.end(), [&](const auto& a) { return a.first == out.name; });
    if (ref == arrays.end()) {
      report.not_compared.push_back(out.name);
      continue;
    }
    const auto values = ref->second.to_f32();
    if (std::any_of(values.begin(), values.end(), [](float v) { return !std::isfinite(v); }))
      throw InputError(source, "reference '" + out.name + "' holds NaN or infinite values: nothing to compare against");
    report.outputs.push_back(compare(out.name, out.tensor, ref->second, options, source));
  }
  if (report.outputs.empty()) {
    std::string names;
    for (const auto& n : report.not_compared) names += (names.empty() ? "" : ", ") + n;
    throw InputError(source, "holds none of the model's outputs (" + names + "); name them like the outputs or use --map");
  }
  return report;
}

}  // namespace medport::pipelines
