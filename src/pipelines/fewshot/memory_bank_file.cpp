#include "memory_bank_file.hpp"

#include <charconv>
#include <cmath>
#include <set>

#include <nlohmann/json.hpp>

#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/util/file_io.hpp"

namespace medport::pipelines::fewshot {
namespace {

constexpr const char* kMomentum = "momentum";
constexpr const char* kExampleEmbeddings = "example_embeddings";
constexpr const char* kExampleClassIds = "example_class_ids";
constexpr const char* kExampleSources = "example_sources";

void require(bool ok, const std::string& source, const std::string& what) {
  if (!ok) throw InputError(source, what);
}

void require_finite(const std::vector<float>& values, const std::string& source, const std::string& member) {
  for (float v : values) require(std::isfinite(v), source, member + " holds a non-finite value");
}

Tensor scalar_i64(std::int64_t v) { return Tensor::from_bytes(DType::I64, {1}, std::as_bytes(std::span(&v, 1))); }

}  // namespace

BankContents read_bank_file(const std::filesystem::path& path) {
  const std::string source = path.string();
  auto bytes = std::make_shared<const std::vector<std::byte>>(read_file(path, std::size_t{16} << 30));
  const ckpt::NpzFile npz(bytes, source);
  auto member = [&](const std::string& name) {
    try {
      return npz.read(name);
    } catch (const InputError& e) {
      throw InputError(source, std::string("member ") + name + ": " + e.what());
    }
  };

  require(npz.contains(kMomentum), source, "not a medport memory bank (no 'momentum' member)");
  const Tensor m = member(kMomentum);
  require(m.dtype() == DType::F64 && m.numel() == 1, source, "'momentum' must be one float64");
  const double momentum = m.data<double>()[0];
  require(momentum >= 0.0 && momentum < 1.0, source, "momentum " + std::to_string(momentum) + " outside [0, 1)");

  BankContents out{MemoryBank(momentum), {}, {}};
  Shape entry_shape;
  std::set<std::int64_t> count_ids;
  for (const auto& name : npz.names()) {
    if (name == kMomentum || name == kExampleEmbeddings || name == kExampleClassIds || name == kExampleSources)
      continue;
    if (const auto id = detail::id_after(name, "class_")) {
      const Tensor t = member(name);
      require(*id != 0, source, "class 0 (background) is never stored");
      require(t.dtype() == DType::F32 && t.ndim() == 2 && t.numel() > 0, source,
              name + " must be a non-empty float32 (M,C) array, got " + std::string(dtype_name(t.dtype())) + " " +
                  shape_string(t.shape()));
      require(entry_shape.empty() || t.shape() == entry_shape, source,
              name + " has shape " + shape_string(t.shape()) + ", other classes " + shape_string(entry_shape));
      entry_shape = t.shape();
      require_finite(t.to_f32(), source, name);
      out.bank.update(*id, t);  // first sighting: stored as is
    } else if (const auto cid = detail::id_after(name, "count_")) {
      const Tensor t = member(name);
      require(t.dtype() == DType::I64 && t.numel() == 1 && t.data<std::int64_t>()[0] >= 1, source,
              name + " must be one int64 >= 1");
      out.counts[*cid] = t.data<std::int64_t>()[0];
      count_ids.insert(*cid);
    } else {
      throw InputError(source, "unexpected member '" + name + "' in a memory bank");
    }
  }
  const auto ids = out.bank.class_ids();
  require(std::set<std::int64_t>(ids.begin(), ids.end()) == count_ids, source,
          "every class_<id> needs exactly one count_<id> and vice versa");

  const int example_members =
      npz.contains(kExampleEmbeddings) + npz.contains(kExampleClassIds) + npz.contains(kExampleSources);
  require(example_members == 0 || example_members == 3, source,
          "example_embeddings, example_class_ids and example_sources go together");
  if (example_members == 3) {
    const Tensor e = member(kExampleEmbeddings), c = member(kExampleClassIds), s = member(kExampleSources);
    require(e.dtype() == DType::F32 && e.ndim() == 3 && e.shape()[0] >= 1, source,
            "example_embeddings must be float32 (E,M,C)");
    const Shape per{e.shape()[1], e.shape()[2]};
    require(entry_shape.empty() || per == entry_shape, source,
            "examples of shape " + shape_string(per) + " differ from the prototypes' " + shape_string(entry_shape));
    require(c.dtype() == DType::I64 && c.ndim() == 1 && c.shape()[0] == e.shape()[0], source,
            "example_class_ids must be int64 (E,) matching example_embeddings");
    require(s.dtype() == DType::U8 && s.ndim() == 1, source, "example_sources must be uint8 JSON text");
    const auto names = nlohmann::json::parse(s.data<char>(), s.data<char>() + s.numel(), nullptr, false);
    require(!names.is_discarded() && names.is_array() && names.size() == static_cast<std::size_t>(e.shape()[0]), source,
            "example_sources must be a JSON array of one name per example");
    const auto values = e.to_f32();
    require_finite(values, source, kExampleEmbeddings);
    const std::size_t n = static_cast<std::size_t>(per[0] * per[1]);
    for (std::size_t i = 0; i < names.size(); ++i) {
      require(names[i].is_string(), source, "example_sources must hold strings");
      const std::int64_t id = c.data<std::int64_t>()[i];
      require(id != 0, source, "an example of class 0 (background)");
      out.examples.push_back(
          {id, names[i].get<std::string>(), Tensor::from_f32(per, std::span(values.data() + i * n, n))});
    }
  }
  return out;
}

namespace detail {

std::optional<std::int64_t> id_after(const std::string& name, const std::string& prefix) {
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  std::int64_t id = 0;
  const char* first = name.data() + prefix.size();
  const char* last = name.data() + name.size();
  const auto [end, ec] = std::from_chars(first, last, id);
  if (ec != std::errc() || end != last) return std::nullopt;
  return id;
}

void write_bank_file(const std::filesystem::path& path, const BankContents& contents) {
  ckpt::NamedTensors members;
  const double momentum = contents.bank.momentum();
  members.push_back({kMomentum, Tensor::from_bytes(DType::F64, {1}, std::as_bytes(std::span(&momentum, 1)))});
  for (const auto id : contents.bank.class_ids()) {
    members.push_back({"class_" + std::to_string(id), contents.bank.get(id)});
    const auto it = contents.counts.find(id);
    members.push_back({"count_" + std::to_string(id), scalar_i64(it == contents.counts.end() ? 1 : it->second)});
  }
  if (!contents.examples.empty()) {
    const Shape per = contents.examples[0].embedding.shape();
    std::vector<float> values;
    std::vector<std::int64_t> ids;
    nlohmann::json names = nlohmann::json::array();
    for (const auto& e : contents.examples) {
      const auto v = e.embedding.to_f32();
      values.insert(values.end(), v.begin(), v.end());
      ids.push_back(e.class_id);
      names.push_back(e.source);
    }
    const auto n = static_cast<std::int64_t>(contents.examples.size());
    members.push_back({kExampleEmbeddings, Tensor::from_f32({n, per[0], per[1]}, values)});
    members.push_back({kExampleClassIds, Tensor::from_bytes(DType::I64, {n}, std::as_bytes(std::span(ids)))});
    const std::string text = names.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    members.push_back({kExampleSources, Tensor::from_bytes(DType::U8, {static_cast<std::int64_t>(text.size())},
                                                           std::as_bytes(std::span(text.data(), text.size())))});
  }
  ckpt::write_npz(path, members);
}

}  // namespace detail
}  // namespace medport::pipelines::fewshot
