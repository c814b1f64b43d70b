#include "medport/pipelines/segment/predictor.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "medport/error.hpp"
#include "medport/runtime/fixed_batch.hpp"
#include "medport/util/file_io.hpp"
#include "tile_copy.hpp"

namespace medport::segment {

class FixedTileRunners {
 public:
  // Worker `worker`'s runner for inputs of `full_shape` (created on first use; CUDA graph id
  // worker + 1). Runners of other shapes are replaced.
  runtime::FixedBatchRunner& for_worker(const LoadedModel& model, int worker, const Shape& full_shape) {
    std::lock_guard lock(mutex_);
    auto& slot = runners_[worker];
    if (!slot || shapes_[worker] != full_shape) {
      slot = std::make_unique<runtime::FixedBatchRunner>(*model.session, model.info.input_name, model.info.output_name,
                                                         full_shape, worker + 1);
      shapes_[worker] = full_shape;
    }
    return *slot;
  }

 private:
  std::mutex mutex_;
  std::map<int, std::unique_ptr<runtime::FixedBatchRunner>> runners_;
  std::map<int, Shape> shapes_;
};

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

constexpr std::int64_t kMaxImageElements = std::int64_t{1} << 31;

// One mirror variant: which spatial axes are flipped (as a Box3 flip mask).
std::vector<Flip3> mirror_variants(const ModelInfo& info, bool mirror) {
  std::vector<Flip3> variants{Flip3{}};
  if (!mirror || info.allowed_mirroring_axes.empty()) return variants;
  const int offset = 3 - info.spatial_dims;  // 2D axes map onto (y, x) of the 3D box
  for (const auto& combo : imaging::mirror_axis_combinations(info.allowed_mirroring_axes)) {
    Flip3 flip;
    for (int axis : combo) flip.axis[static_cast<std::size_t>(axis + offset)] = true;
    variants.push_back(flip);
  }
  return variants;
}

// Sliding window of one model over one (C, *spatial) volume whose rank matches the model.
class WindowRun {
 public:
  WindowRun(const LoadedModel& model, const PredictorOptions& options, Progress& progress, std::mutex& progress_mutex,
            Timings& timings)
      : model_(model), info_(model.info), options_(options), progress_(progress), progress_mutex_(progress_mutex),
        timings_(timings) {}

  // Adds this model's logits for the volume into `out` (K x spatial, cropped back to the input size).
  void predict_into(std::span<const float> image, std::span<const std::int64_t> spatial, std::span<float> out) {
    const auto pad_start = Clock::now();
    const auto padding = imaging::padding_to_min_size(spatial, info_.patch_size);
    std::vector<std::int64_t> image_shape{info_.input_channels};
    image_shape.insert(image_shape.end(), spatial.begin(), spatial.end());
    std::vector<float> padded_storage;
    std::span<const float> padded = image;
    if (padding.any()) {
      padded_storage = imaging::pad_array(image, image_shape, padding, 0.0F);
      padded = padded_storage;
    }
    padded_box_ = Box3::from(padding.padded_size);
    patch_box_ = Box3::from(info_.patch_size);
    const double step = options_.tile_step_size.value_or(info_.tile_step_size);
    origins_ = imaging::sliding_window_tile_origins(
        imaging::sliding_window_steps(padding.padded_size, info_.patch_size, step));
    weights_ = info_.use_gaussian
                   ? imaging::gaussian_importance_map(info_.patch_size, options_.gaussian_precision,
                                                      info_.gaussian_sigma_scale, 10.0)
                   : std::vector<float>(static_cast<std::size_t>(patch_box_.numel()), 1.0F);
    variants_ = mirror_variants(info_, options_.mirror);
    const std::int64_t classes = info_.output_channels;
    logit_sum_.assign(static_cast<std::size_t>(classes * padded_box_.numel()), 0.0F);
    weight_sum_.assign(static_cast<std::size_t>(padded_box_.numel()), 0.0F);
    image_ = padded;
    timings_.pad_ms += ms_since(pad_start);

    run_tiles();

    const auto finish_start = Clock::now();
    const std::size_t voxels = weight_sum_.size();
    for (std::int64_t k = 0; k < classes; ++k) {
      float* row = logit_sum_.data() + static_cast<std::size_t>(k) * voxels;
      for (std::size_t i = 0; i < voxels; ++i) row[i] /= weight_sum_[i];
    }
    std::vector<std::int64_t> logits_shape{classes};
    logits_shape.insert(logits_shape.end(), padding.padded_size.begin(), padding.padded_size.end());
    if (padding.any()) logit_sum_ = imaging::crop_padding(logit_sum_, logits_shape, padding);
    for (std::size_t i = 0; i < out.size(); ++i) out[i] += logit_sum_[i];
    timings_.accumulate_ms += ms_since(finish_start);
    timings_.tiles += static_cast<std::int64_t>(origins_.size());
  }

 private:
  // Tiles are grouped into units (enough tiles to fill one Run call with all their mirror
  // variants); workers take units in turn and commit them in tile order, so the sums are
  // bit-identical whatever the number of workers.
  void run_tiles() {
    const auto n_variants = static_cast<int>(variants_.size());
    const int batch = std::max(1, options_.tile_batch);
    tiles_per_unit_ = std::max(1, batch / n_variants);
    const auto n_tiles = static_cast<std::int64_t>(origins_.size());
    n_units_ = (n_tiles + tiles_per_unit_ - 1) / tiles_per_unit_;
    next_unit_ = 0;
    next_commit_ = 0;
    failure_ = nullptr;
    failed_ = false;
    const int workers = static_cast<int>(std::clamp<std::int64_t>(options_.workers, 1, n_units_));
    std::vector<std::thread> threads;
    for (int w = 1; w < workers; ++w) threads.emplace_back([this, w] { worker(w); });
    worker(0);
    for (auto& t : threads) t.join();
    if (failure_) std::rethrow_exception(failure_);
  }

  void worker(int index) {
    try {
      for (;;) {
        const std::int64_t unit = next_unit_.fetch_add(1);
        if (unit >= n_units_ || failed_) return;
        auto predictions = predict_unit(unit, index);
        std::unique_lock lock(commit_mutex_);
        commit_cv_.wait(lock, [&] { return next_commit_ == unit || failed_; });
        if (failed_) return;
        commit_unit(unit, predictions);
        ++next_commit_;
        commit_cv_.notify_all();
      }
    } catch (...) {
      std::lock_guard lock(commit_mutex_);
      if (!failure_) failure_ = std::current_exception();
      failed_ = true;
      commit_cv_.notify_all();
    }
  }

  std::pair<std::int64_t, std::int64_t> unit_tiles(std::int64_t unit) const {
    const std::int64_t first = unit * tiles_per_unit_;
    return {first, std::min<std::int64_t>(first + tiles_per_unit_, static_cast<std::int64_t>(origins_.size()))};
  }

  // Mirror-averaged logits (K x patch) of each tile of the unit.
  std::vector<std::vector<float>> predict_unit(std::int64_t unit, int worker) {
    const auto [first, last] = unit_tiles(unit);
    const std::int64_t classes = info_.output_channels;
    const std::int64_t channels = info_.input_channels;
    const std::int64_t patch_numel = patch_box_.numel();
    const auto n_variants = static_cast<std::int64_t>(variants_.size());
    std::vector<std::vector<float>> sums(static_cast<std::size_t>(last - first),
                                         std::vector<float>(static_cast<std::size_t>(classes * patch_numel)));
    const std::int64_t samples = (last - first) * n_variants;
    const std::int64_t batch = std::max(1, options_.tile_batch);
    for (std::int64_t begin = 0; begin < samples; begin += batch) {
      const std::int64_t count = std::min(batch, samples - begin);
      Shape input_shape{count, channels};
      input_shape.insert(input_shape.end(), info_.patch_size.begin(), info_.patch_size.end());
      std::vector<std::byte> bytes(static_cast<std::size_t>(count * channels * patch_numel) * sizeof(float));
      auto* input = reinterpret_cast<float*>(bytes.data());
      for (std::int64_t s = 0; s < count; ++s) {
        const std::int64_t tile = first + (begin + s) / n_variants;
        const Flip3& flip = variants_[static_cast<std::size_t>((begin + s) % n_variants)];
        for (std::int64_t c = 0; c < channels; ++c)
          extract_tile(image_.data() + c * padded_box_.numel(), padded_box_,
                       Box3::origin_from(origins_[static_cast<std::size_t>(tile)]), patch_box_, flip,
                       input + (s * channels + c) * patch_numel);
      }
      runtime::NamedTensor feed{info_.input_name,
                                Tensor(std::make_shared<const Storage>(DType::F32, std::move(bytes)), 0, input_shape,
                                       contiguous_strides(input_shape))};
      const auto run_start = Clock::now();
      const Tensor logits = run_network(feed, worker, batch);
      const double run_ms = ms_since(run_start);
      Shape expected{count, classes};
      expected.insert(expected.end(), info_.patch_size.begin(), info_.patch_size.end());
      if (logits.dtype() != DType::F32 || logits.shape() != expected)
        throw InputError(info_.onnx_path.string(), "output '" + info_.output_name + "' is " +
                                                       std::string(dtype_name(logits.dtype())) + " " +
                                                       shape_string(logits.shape()) + ", expected float32 " +
                                                       shape_string(expected));
      const float* out = logits.data<float>();
      for (std::int64_t s = 0; s < count; ++s) {
        const std::int64_t tile = (begin + s) / n_variants;
        const std::int64_t variant = (begin + s) % n_variants;
        auto& sum = sums[static_cast<std::size_t>(tile)];
        for (std::int64_t k = 0; k < classes; ++k)
          add_unflipped(out + (s * classes + k) * patch_numel, patch_box_, variants_[static_cast<std::size_t>(variant)],
                        variant == 0, sum.data() + k * patch_numel);
      }
      {
        std::lock_guard lock(progress_mutex_);
        timings_.network_ms += run_ms;
        timings_.network_inputs += count;
        timings_.run_calls += 1;
        progress_.done += count;
        if (options_.progress) options_.progress(progress_);
      }
    }
    if (n_variants > 1) {
      const auto divisor = static_cast<float>(n_variants);
      for (auto& sum : sums)
        for (float& v : sum) v /= divisor;
    }
    return sums;
  }

  // The network on one batch of inputs: a plain run, or the worker's fixed buffers.
  Tensor run_network(const runtime::NamedTensor& feed, int worker, std::int64_t batch) {
    const runtime::SessionOptions& so = model_.session->options();
    if (options_.fixed_buffers || (so.provider == runtime::Provider::Cuda && so.cuda.cuda_graph)) {
      if (!model_.fixed_tiles) throw UsageError("fixed tile buffers need a model made by segment::load_model");
      Shape full = feed.tensor.shape();
      full[0] = batch;
      return model_.fixed_tiles->for_worker(model_, worker, full).run(feed.tensor);
    }
    return select_output(model_.session->run({feed}));
  }

  const Tensor& select_output(const std::vector<runtime::NamedTensor>& outputs) const {
    for (const auto& o : outputs)
      if (o.name == info_.output_name) return o.tensor;
    throw InputError(info_.onnx_path.string(), "the model has no output named '" + info_.output_name + "'");
  }

  void commit_unit(std::int64_t unit, const std::vector<std::vector<float>>& predictions) {
    const auto start = Clock::now();
    const auto [first, last] = unit_tiles(unit);
    for (std::int64_t tile = first; tile < last; ++tile)
      accumulate_weighted(predictions[static_cast<std::size_t>(tile - first)].data(), weights_.data(),
                          info_.output_channels, patch_box_,
                          Box3::origin_from(origins_[static_cast<std::size_t>(tile)]), padded_box_, logit_sum_.data(),
                          weight_sum_.data());
    timings_.accumulate_ms += ms_since(start);
  }

  const LoadedModel& model_;
  const ModelInfo& info_;
  const PredictorOptions& options_;
  Progress& progress_;
  std::mutex& progress_mutex_;
  Timings& timings_;

  std::span<const float> image_;
  Box3 padded_box_, patch_box_;
  std::vector<imaging::Extent> origins_;
  std::vector<float> weights_;
  std::vector<Flip3> variants_;
  std::vector<float> logit_sum_, weight_sum_;

  std::int64_t tiles_per_unit_ = 1, n_units_ = 0;
  std::atomic<std::int64_t> next_unit_{0};
  std::int64_t next_commit_ = 0;
  std::mutex commit_mutex_;
  std::condition_variable commit_cv_;
  std::exception_ptr failure_;
  std::atomic<bool> failed_{false};
};

}  // namespace

LoadedModel load_model(const std::filesystem::path& onnx_path, const runtime::SessionOptions& options) {
  LoadedModel model;
  model.info = load_model_info(onnx_path);
  model.session = std::make_shared<const runtime::Session>(onnx_path, options);
  model.onnx_sha256 = sha256_hex(read_file(onnx_path));
  model.fixed_tiles = std::make_shared<FixedTileRunners>();
  const auto& inputs = model.session->input_names();
  if (std::find(inputs.begin(), inputs.end(), model.info.input_name) == inputs.end())
    throw InputError(onnx_path.string(), "the model has no input named '" + model.info.input_name + "' (see its sidecar)");
  return model;
}

std::vector<float> predict_logits(std::span<const LoadedModel> models, std::span<const float> image,
                                  std::span<const std::int64_t> image_shape, const PredictorOptions& options,
                                  Timings* timings) {
  const auto start = Clock::now();
  if (models.empty()) throw UsageError("predict_logits: no model given");
  const ModelInfo& first = models.front().info;
  for (const auto& m : models)
    if (m.info.spatial_dims != first.spatial_dims || m.info.patch_size != first.patch_size ||
        m.info.input_channels != first.input_channels || m.info.output_channels != first.output_channels)
      throw InputError(m.info.sidecar_path.string(),
                       "cannot ensemble models with different patch size, channels or dimensionality");
  const auto rank = static_cast<std::size_t>(first.spatial_dims);
  const bool slice_wise = rank == 2 && image_shape.size() == 4;
  if (image_shape.size() != rank + 1 && !slice_wise)
    throw InputError("image", "expected shape (C, " + std::string(rank == 2 ? "H, W" : "D, H, W") + ")" +
                                  (rank == 2 ? " or (C, Z, H, W)" : "") + ", got " +
                                  shape_string(Shape(image_shape.begin(), image_shape.end())));
  if (image_shape[0] != first.input_channels)
    throw InputError("image", "has " + std::to_string(image_shape[0]) + " channel(s); the model expects " +
                                  std::to_string(first.input_channels));
  std::int64_t numel = 1;
  for (auto d : image_shape) {
    if (d <= 0) throw InputError("image", "has an empty axis");
    if (numel > kMaxImageElements / d) throw InputError("image", "is too large");
    numel *= d;
  }
  if (numel != static_cast<std::int64_t>(image.size())) throw InputError("image", "values do not match its shape");
  // The last line of defence for arrays that did not come through the image readers (e.g.
  // --preprocessed): a network fed NaN returns an all-background map that looks like a result.
  const auto non_finite = std::count_if(image.begin(), image.end(), [](float v) { return !std::isfinite(v); });
  if (non_finite > 0)
    throw InputError("image", "holds " + std::to_string(non_finite) +
                                  " NaN or infinite value(s); the network cannot segment them (for raw images, "
                                  "--nan-to-num replaces them)");
  const std::int64_t classes = first.output_channels;
  if (numel / image_shape[0] > kMaxImageElements / classes) throw InputError("image", "logits would be too large");

  const std::int64_t slices = slice_wise ? image_shape[1] : 1;
  const std::vector<std::int64_t> spatial(image_shape.end() - static_cast<std::ptrdiff_t>(rank), image_shape.end());
  std::int64_t slice_voxels = 1;
  for (auto d : spatial) slice_voxels *= d;

  Timings local;
  Timings& t = timings ? *timings : local;
  Progress progress;
  std::mutex progress_mutex;
  {
    // Total network evaluations, for the progress callback.
    const auto padding = imaging::padding_to_min_size(spatial, first.patch_size);
    const auto origins = imaging::sliding_window_tile_origins(imaging::sliding_window_steps(
        padding.padded_size, first.patch_size, options.tile_step_size.value_or(first.tile_step_size)));
    for (const auto& m : models)
      progress.total += slices * static_cast<std::int64_t>(origins.size() * mirror_variants(m.info, options.mirror).size());
  }

  std::vector<float> logits(static_cast<std::size_t>(classes * slices * slice_voxels), 0.0F);
  std::vector<float> slice_input, slice_logits;
  for (std::int64_t z = 0; z < slices; ++z) {
    std::span<const float> input = image;
    std::span<float> output = logits;
    if (slice_wise) {
      // (C, Z, H, W) -> (C, H, W) for slice z, and the slice's logits back into (K, Z, H, W).
      slice_input.resize(static_cast<std::size_t>(image_shape[0] * slice_voxels));
      for (std::int64_t c = 0; c < image_shape[0]; ++c)
        std::copy_n(image.data() + (c * slices + z) * slice_voxels, slice_voxels,
                    slice_input.data() + c * slice_voxels);
      slice_logits.assign(static_cast<std::size_t>(classes * slice_voxels), 0.0F);
      input = slice_input;
      output = slice_logits;
    }
    for (const auto& model : models) {
      WindowRun run(model, options, progress, progress_mutex, t);
      run.predict_into(input, spatial, output);
    }
    if (slice_wise)
      for (std::int64_t k = 0; k < classes; ++k)
        std::copy_n(slice_logits.data() + k * slice_voxels, slice_voxels,
                    logits.data() + (k * slices + z) * slice_voxels);
  }
  if (models.size() > 1) {
    const auto n = static_cast<float>(models.size());
    for (float& v : logits) v /= n;
  }
  t.total_ms += ms_since(start);
  return logits;
}

}  // namespace medport::segment
