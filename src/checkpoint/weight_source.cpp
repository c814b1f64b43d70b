// WeightSource over the lazy readers: the file is memory-mapped, the torch loader / safetensors
// reader list its tensors bound to storages that read nothing until used. Views share one File;
// the used-set is per file, by position in the file's tensor list.
#include "medport/checkpoint/weight_source.hpp"

#include <atomic>
#include <cstring>
#include <future>
#include <mutex>
#include <set>
#include <stdexcept>
#include <tuple>
#include <unordered_map>

#include "medport/checkpoint/file_bytes.hpp"
#include "medport/checkpoint/safetensors.hpp"
#include "medport/checkpoint/torch_checkpoint.hpp"
#include "medport/checkpoint/zip_archive.hpp"
#include "medport/error.hpp"

namespace medport::ckpt {

namespace fs = std::filesystem;

struct WeightSource::File {
  fs::path path;
  std::string format;
  std::shared_ptr<const FileBytes> bytes;  // null for "memory" and "index" sources
  std::vector<WeightInfo> tensor_info;     // full dotted names, file order
  std::vector<Tensor> tensors;             // parallel to tensor_info; empty for "index" sources
  ValuePtr metadata;

  mutable std::mutex sha_mutex;
  mutable std::string sha;
  mutable bool sha_done = false;
  mutable std::future<std::string> sha_pending;
  mutable std::future<void> verify_pending;  // verify_in_background; its error surfaces from sha256()
  std::atomic<bool> cancel_sha{false};

  mutable std::mutex used_mutex;
  mutable std::vector<bool> used;  // by position in tensor_info

  ~File() {
    cancel_sha = true;
    if (sha_pending.valid()) sha_pending.wait();
    if (verify_pending.valid()) verify_pending.wait();
  }
  bool has_data() const { return format != "index"; }
};

struct WeightSource::View {
  std::shared_ptr<File> file;
  std::string prefix;  // "" or "network_weights." (full-name prefix of this view)
  std::vector<WeightInfo> index;
  std::vector<std::size_t> position;                   // parallel to index: position in the file
  std::unordered_map<std::string, std::size_t> by_name;  // relative name -> position in index
};

namespace {

bool looks_like_safetensors(std::span<const std::byte> head, std::uint64_t size) {
  if (head.size() < 9 || static_cast<char>(head[8]) != '{') return false;
  std::uint64_t len = 0;
  for (int i = 0; i < 8; ++i) len |= static_cast<std::uint64_t>(head[static_cast<std::size_t>(i)]) << (8 * i);
  return len >= 2 && len <= size - 8;
}

std::string relative_name(const std::string& full, const std::string& prefix) {
  std::string rel = full.substr(prefix.size());
  if (rel.rfind("module.", 0) == 0) rel = rel.substr(7);
  return rel;
}

ValuePtr metadata_or_empty(ValuePtr metadata) { return metadata ? metadata : Value::dict(); }

}  // namespace

WeightSource WeightSource::open(const fs::path& path, const OpenOptions& options) {
  auto file = std::make_shared<File>();
  file->path = path;
  file->bytes = FileBytes::map(path);
  if (options.hash_in_background) {
    file->sha_pending = std::async(std::launch::async, [bytes = file->bytes, cancel = &file->cancel_sha] {
      return bytes->sha256(cancel);
    });
    // A thread of its own: with the hash and the graph work it overlaps the output's write.
    if (options.verify_in_background && looks_like_zip(file->bytes->bytes()))
      file->verify_pending = std::async(std::launch::async, [bytes = file->bytes] { ZipArchive(bytes).verify_stored_entries(); });
  }
  auto add = [&](std::string name, Tensor tensor) {
    file->tensor_info.push_back({std::move(name), tensor.dtype(), tensor.shape()});
    file->tensors.push_back(std::move(tensor));
  };
  if (looks_like_safetensors(file->bytes->bytes(), file->bytes->size())) {
    auto st = read_safetensors(file->bytes);
    file->format = "safetensors";
    for (auto& [name, tensor] : st.tensors) add(std::move(name), std::move(tensor));
    file->metadata = Value::dict();
    for (const auto& [k, v] : st.metadata) file->metadata->set_item(Value::str(k), Value::str(v));
  } else {
    TorchLoadOptions load_options;
    load_options.crc_checked_by_caller = options.hash_in_background && options.verify_in_background;
    auto ck = load_torch_checkpoint(file->bytes, load_options);
    if (ck.format == "pickle") throw InputError(path.string(), "a plain pickle holds no tensor storages (not a checkpoint with weights)");
    file->format = ck.format;
    file->metadata = ck.root;
    for (auto& e : ck.tensors) add(std::move(e.path), std::move(e.tensor));
  }
  file->used.assign(file->tensor_info.size(), false);
  auto view = std::make_shared<View>();
  view->file = std::move(file);
  return WeightSource(std::move(view)).within("");
}

WeightSource WeightSource::from_tensors(std::vector<std::pair<std::string, Tensor>> tensors, ValuePtr metadata,
                                       std::string name) {
  auto file = std::make_shared<File>();
  file->path = name;
  file->format = "memory";
  for (auto& [n, t] : tensors) {
    file->tensor_info.push_back({n, t.dtype(), t.shape()});
    file->tensors.push_back(std::move(t));
  }
  file->metadata = metadata_or_empty(std::move(metadata));
  file->used.assign(file->tensor_info.size(), false);
  auto view = std::make_shared<View>();
  view->file = std::move(file);
  return WeightSource(std::move(view)).within("");
}

WeightSource WeightSource::index_only(std::vector<WeightInfo> index, ValuePtr metadata, std::string name) {
  auto file = std::make_shared<File>();
  file->path = name;
  file->format = "index";
  file->tensor_info = std::move(index);
  file->metadata = metadata_or_empty(std::move(metadata));
  file->used.assign(file->tensor_info.size(), false);
  auto view = std::make_shared<View>();
  view->file = std::move(file);
  return WeightSource(std::move(view)).within("");
}

WeightSource::WeightSource() : WeightSource(from_tensors({}, nullptr, "")) {}

WeightSource::WeightSource(std::shared_ptr<View> view) : view_(std::move(view)) {}
WeightSource::WeightSource(WeightSource&&) noexcept = default;
WeightSource& WeightSource::operator=(WeightSource&&) noexcept = default;
WeightSource::WeightSource(const WeightSource&) = default;
WeightSource& WeightSource::operator=(const WeightSource&) = default;
WeightSource::~WeightSource() = default;

const fs::path& WeightSource::path() const { return view_->file->path; }
std::string_view WeightSource::format() const { return view_->file->format; }

void WeightSource::verify_unread_data() const {
  const File& f = *view_->file;
  if (f.bytes && looks_like_zip(f.bytes->bytes())) ZipArchive(f.bytes).verify_stored_entries();
}

const std::string& WeightSource::sha256() const {
  const File& f = *view_->file;
  std::lock_guard lock(f.sha_mutex);
  if (f.verify_pending.valid()) f.verify_pending.get();
  if (!f.sha_done) {
    if (f.sha_pending.valid()) f.sha = f.sha_pending.get();
    else if (f.bytes) f.sha = f.bytes->sha256();
    f.sha_done = true;
  }
  return f.sha;
}

const std::vector<WeightInfo>& WeightSource::index() const { return view_->index; }
bool WeightSource::contains(const std::string& name) const { return view_->by_name.count(name) != 0; }

const WeightInfo* WeightSource::info(const std::string& name) const {
  const auto it = view_->by_name.find(name);
  return it == view_->by_name.end() ? nullptr : &view_->index[it->second];
}

WeightSource WeightSource::within(std::string_view prefix) const {
  auto view = std::make_shared<View>();
  view->file = view_->file;
  std::string p(prefix);
  if (!p.empty() && p.back() != '.') p += '.';
  view->prefix = view_->prefix + p;
  const auto& all = view->file->tensor_info;
  for (std::size_t i = 0; i < all.size(); ++i) {
    const std::string& full = all[i].name;
    if (full.rfind(view->prefix, 0) != 0) continue;
    std::string rel = relative_name(full, view->prefix);
    if (rel.empty() || view->by_name.count(rel)) continue;  // first of two keys that print alike
    view->by_name.emplace(rel, view->index.size());
    view->index.push_back({std::move(rel), all[i].dtype, all[i].shape});
    view->position.push_back(i);
  }
  return WeightSource(std::move(view));
}

const std::string& WeightSource::root_prefix() const { return view_->prefix; }

namespace {

[[noreturn]] void missing(const fs::path& path, const std::string& name) {
  throw InputError(path.string(), "tensor '" + name + "' is missing");
}

}  // namespace

Tensor WeightSource::raw(const std::string& name) const {
  const auto it = view_->by_name.find(name);
  if (it == view_->by_name.end()) missing(path(), view_->prefix + name);
  const File& file = *view_->file;
  if (!file.has_data()) throw std::logic_error("WeightSource::raw on an index-only source");
  const std::size_t pos = view_->position[it->second];
  const Tensor& t = file.tensors[pos];
  if (t.numel() > 0) t.storage()->data();  // reads (checks, inflates) the record: errors surface here
  std::lock_guard lock(file.used_mutex);
  file.used[pos] = true;
  return t;
}

Tensor WeightSource::require(const std::string& name) const {
  const Tensor t = raw(name);
  if (!dtype_is_floating(t.dtype()))
    throw InputError(path().string(), "tensor '" + view_->prefix + name + "' holds " + std::string(dtype_name(t.dtype())) +
                                          ", expected floating-point weights");
  return t.dtype() == DType::F32 ? t.contiguous() : t.to(DType::F32);
}

Tensor WeightSource::require(const std::string& name, const Shape& shape) const {
  const WeightInfo* w = info(name);
  if (!w) missing(path(), view_->prefix + name);
  if (w->shape != shape)
    throw InputError(path().string(), "tensor '" + view_->prefix + name + "' has shape " + shape_string(w->shape) +
                                          ", expected " + shape_string(shape));
  return require(name);
}

std::optional<Tensor> WeightSource::optional(const std::string& name, const Shape& shape) const {
  if (!contains(name)) return std::nullopt;
  return require(name, shape);
}

std::optional<Tensor> WeightSource::optional(const std::string& name) const {
  if (!contains(name)) return std::nullopt;
  return require(name);
}

void WeightSource::mark_used(const std::string& name) const {
  const auto it = view_->by_name.find(name);
  if (it == view_->by_name.end()) missing(path(), view_->prefix + name);
  std::lock_guard lock(view_->file->used_mutex);
  view_->file->used[view_->position[it->second]] = true;
}

std::vector<std::string> WeightSource::unused() const {
  std::vector<std::string> out;
  std::lock_guard lock(view_->file->used_mutex);
  for (std::size_t i = 0; i < view_->index.size(); ++i)
    if (!view_->file->used[view_->position[i]]) out.push_back(view_->index[i].name);
  return out;
}

std::size_t WeightSource::used_count() const { return view_->index.size() - unused().size(); }

void WeightSource::check_all_used(std::string_view family) const {
  const auto left = unused();
  if (left.empty()) return;
  std::string names;
  for (std::size_t i = 0; i < left.size() && i < 5; ++i) names += (i ? ", " : "") + left[i];
  if (left.size() > 5) names += ", ... (" + std::to_string(left.size() - 5) + " more)";
  throw InputError(path().string(), std::to_string(left.size()) + " tensor(s) are not part of the " + std::string(family) +
                                        " network this checkpoint was detected as: " + names);
}

bool WeightSource::same_data(const std::string& a, const std::string& b) const {
  const auto ia = view_->by_name.find(a), ib = view_->by_name.find(b);
  if (ia == view_->by_name.end() || ib == view_->by_name.end() || !view_->file->has_data()) return false;
  const Tensor& ta = view_->file->tensors[view_->position[ia->second]];
  const Tensor& tb = view_->file->tensors[view_->position[ib->second]];
  return ta.storage() == tb.storage() && ta.offset() == tb.offset() && ta.shape() == tb.shape() &&
         ta.strides() == tb.strides();
}

std::int64_t WeightSource::parameter_count() const {
  if (!view_->file->has_data()) return 0;
  std::set<std::tuple<const Storage*, std::int64_t, Shape>> seen;
  std::int64_t total = 0;
  for (const std::size_t pos : view_->position) {
    const Tensor& t = view_->file->tensors[pos];
    if (!dtype_is_floating(t.dtype())) continue;
    if (seen.insert({t.storage().get(), t.offset(), t.shape()}).second) total += t.numel();
  }
  return total;
}

ValuePtr WeightSource::metadata() const { return view_->file->metadata; }

}  // namespace medport::ckpt
