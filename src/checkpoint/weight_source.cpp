// WeightSource over the existing readers: the torch loader (zip / legacy) and the safetensors
// reader. Views share one File; the used-set is per file, keyed by full name.
#include "medport/checkpoint/weight_source.hpp"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <set>
#include <unordered_map>

#include "medport/checkpoint/safetensors.hpp"
#include "medport/checkpoint/torch_checkpoint.hpp"
#include "medport/error.hpp"
#include "medport/util/file_io.hpp"

namespace medport::ckpt {

namespace fs = std::filesystem;

struct WeightSource::File {
  fs::path path;
  std::string format;
  std::vector<std::pair<std::string, Tensor>> tensors;  // full dotted names, file order
  std::vector<WeightInfo> index_only;                   // "index" sources: names without data
  std::unordered_map<std::string, std::size_t> by_name;
  ValuePtr metadata;
  mutable std::once_flag sha_once;
  mutable std::string sha;
  mutable std::mutex used_mutex;
  mutable std::set<std::string> used;  // full names
};

struct WeightSource::View {
  std::shared_ptr<File> file;
  std::string prefix;  // "" or "network_weights." (full-name prefix of this view)
  std::vector<WeightInfo> index;
  std::unordered_map<std::string, std::string> full_name;  // relative -> full
};

namespace {

bool looks_like_safetensors(const fs::path& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  unsigned char head[9] = {};
  const std::size_t n = std::fread(head, 1, sizeof head, f);
  std::fclose(f);
  if (n < 9 || head[8] != '{') return false;
  std::uint64_t len = 0;
  std::memcpy(&len, head, 8);
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  return !ec && len >= 2 && len <= size - 8;
}

std::string relative_name(const std::string& full, const std::string& prefix) {
  std::string rel = full.substr(prefix.size());
  if (rel.rfind("module.", 0) == 0) rel = rel.substr(7);
  return rel;
}

}  // namespace

WeightSource WeightSource::open(const fs::path& path) {
  auto file = std::make_shared<File>();
  file->path = path;
  if (looks_like_safetensors(path)) {
    auto st = read_safetensors_file(path);
    file->format = "safetensors";
    file->tensors = std::move(st.tensors);
    file->metadata = Value::dict();
    for (const auto& [k, v] : st.metadata) file->metadata->set_item(Value::str(k), Value::str(v));
  } else {
    auto ck = load_torch_checkpoint(path);
    if (ck.format == "pickle") throw InputError(path.string(), "a plain pickle holds no tensor storages (not a checkpoint with weights)");
    file->format = ck.format;
    file->metadata = ck.root;
    for (auto& e : ck.tensors) file->tensors.emplace_back(e.path, std::move(e.tensor));
  }
  for (std::size_t i = 0; i < file->tensors.size(); ++i) file->by_name.emplace(file->tensors[i].first, i);
  auto view = std::make_shared<View>();
  view->file = std::move(file);
  WeightSource root(std::move(view));
  return root.within("");
}

namespace {

ValuePtr metadata_or_empty(ValuePtr metadata) { return metadata ? metadata : Value::dict(); }

}  // namespace

WeightSource WeightSource::from_tensors(std::vector<std::pair<std::string, Tensor>> tensors, ValuePtr metadata,
                                       std::string name) {
  auto file = std::make_shared<File>();
  file->path = name;
  file->format = "memory";
  file->tensors = std::move(tensors);
  file->metadata = metadata_or_empty(std::move(metadata));
  for (std::size_t i = 0; i < file->tensors.size(); ++i) file->by_name.emplace(file->tensors[i].first, i);
  auto view = std::make_shared<View>();
  view->file = std::move(file);
  return WeightSource(std::move(view)).within("");
}

WeightSource WeightSource::index_only(std::vector<WeightInfo> index, ValuePtr metadata, std::string name) {
  auto file = std::make_shared<File>();
  file->path = name;
  file->format = "index";
  file->index_only = std::move(index);
  file->metadata = metadata_or_empty(std::move(metadata));
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

const std::string& WeightSource::sha256() const {
  const File& f = *view_->file;
  std::call_once(f.sha_once, [&] {
    if (f.format != "memory" && f.format != "index") f.sha = sha256_hex(read_file(f.path));
  });
  return f.sha;
}

const std::vector<WeightInfo>& WeightSource::index() const { return view_->index; }
bool WeightSource::contains(const std::string& name) const { return view_->full_name.count(name) != 0; }

const WeightInfo* WeightSource::info(const std::string& name) const {
  const auto it = view_->full_name.find(name);
  if (it == view_->full_name.end()) return nullptr;
  for (const auto& w : view_->index)
    if (w.name == name) return &w;
  return nullptr;
}

WeightSource WeightSource::within(std::string_view prefix) const {
  auto view = std::make_shared<View>();
  view->file = view_->file;
  std::string p(prefix);
  if (!p.empty() && p.back() != '.') p += '.';
  view->prefix = view_->prefix + p;
  auto add = [&](const std::string& full, DType dtype, const Shape& shape) {
    if (full.rfind(view->prefix, 0) != 0) return;
    std::string rel = relative_name(full, view->prefix);
    if (rel.empty() || view->full_name.count(rel)) return;  // first of two keys that print alike
    view->full_name.emplace(rel, full);
    view->index.push_back({rel, dtype, shape});
  };
  for (const auto& [full, tensor] : view->file->tensors) add(full, tensor.dtype(), tensor.shape());
  for (const auto& w : view->file->index_only) add(w.name, w.dtype, w.shape);
  return WeightSource(std::move(view));
}

const std::string& WeightSource::root_prefix() const { return view_->prefix; }

namespace {

[[noreturn]] void missing(const fs::path& path, const std::string& name) {
  throw InputError(path.string(), "tensor '" + name + "' is missing");
}

}  // namespace

Tensor WeightSource::raw(const std::string& name) const {
  const auto it = view_->full_name.find(name);
  if (it == view_->full_name.end()) missing(path(), view_->prefix + name);
  if (view_->file->format == "index") throw std::logic_error("WeightSource::raw on an index-only source");
  {
    std::lock_guard lock(view_->file->used_mutex);
    view_->file->used.insert(it->second);
  }
  return view_->file->tensors[view_->file->by_name.at(it->second)].second;
}

Tensor WeightSource::require(const std::string& name) const {
  const Tensor t = raw(name);
  if (!dtype_is_floating(t.dtype()))
    throw InputError(path().string(), "tensor '" + view_->prefix + name + "' holds " + std::string(dtype_name(t.dtype())) +
                                          ", expected floating-point weights");
  return t.dtype() == DType::F32 ? t : t.to(DType::F32);
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
  const auto it = view_->full_name.find(name);
  if (it == view_->full_name.end()) missing(path(), view_->prefix + name);
  std::lock_guard lock(view_->file->used_mutex);
  view_->file->used.insert(it->second);
}

std::vector<std::string> WeightSource::unused() const {
  std::vector<std::string> out;
  std::lock_guard lock(view_->file->used_mutex);
  for (const auto& w : view_->index)
    if (!view_->file->used.count(view_->full_name.at(w.name))) out.push_back(w.name);
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
  const auto ia = view_->full_name.find(a), ib = view_->full_name.find(b);
  if (ia == view_->full_name.end() || ib == view_->full_name.end() || view_->file->format == "index") return false;
  const Tensor& ta = view_->file->tensors[view_->file->by_name.at(ia->second)].second;
  const Tensor& tb = view_->file->tensors[view_->file->by_name.at(ib->second)].second;
  return ta.storage() == tb.storage() && ta.offset() == tb.offset() && ta.shape() == tb.shape() &&
         ta.strides() == tb.strides();
}

std::int64_t WeightSource::parameter_count() const {
  std::set<std::tuple<const Storage*, std::int64_t, Shape>> seen;
  std::int64_t total = 0;
  if (view_->file->format == "index") return 0;
  for (const auto& w : view_->index) {
    const Tensor& t = view_->file->tensors[view_->file->by_name.at(view_->full_name.at(w.name))].second;
    if (!dtype_is_floating(t.dtype())) continue;
    if (seen.insert({t.storage().get(), t.offset(), t.shape()}).second) total += t.numel();
  }
  return total;
}

ValuePtr WeightSource::metadata() const { return view_->file->metadata; }

}  // namespace medport::ckpt
