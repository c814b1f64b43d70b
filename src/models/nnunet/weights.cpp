#include "medport/models/nnunet/weights.hpp"

#include <cstring>
#include <sstream>

#include "medport/error.hpp"
#include "medport/models/nnunet/layout.hpp"

namespace medport::models::nnunet {
namespace {

class Collector {
 public:
  explicit Collector(const Architecture& arch) : arch_(arch) {}

  void add(const std::string& key, Shape shape, std::vector<std::string> aliases = {}, bool parameter = true,
           bool floating = true) {
    if (key.rfind("encoder.", 0) == 0) {
      const std::size_t n = aliases.size();
      aliases.push_back("decoder." + key);
      for (std::size_t i = 0; i < n; ++i) aliases.push_back("decoder." + aliases[i]);
    }
    out.push_back({key, std::move(shape), std::move(aliases), floating, parameter});
  }

  void conv_unit(const ConvUnit& u) {
    Shape w{u.out_channels, u.in_channels};
    w.insert(w.end(), u.kernel.begin(), u.kernel.end());
    add(u.prefix + "conv.weight", w, {u.prefix + "all_modules.0.weight"});
    if (u.bias) add(u.prefix + "conv.bias", {u.out_channels}, {u.prefix + "all_modules.0.bias"});
    if (arch_.norm == NormKind::None) return;
    const std::string n = u.prefix + "norm.", m = u.prefix + "all_modules." + std::to_string(u.norm_index(arch_)) + ".";
    if (arch_.norm_affine) {
      add(n + "weight", {u.out_channels}, {m + "weight"});
      add(n + "bias", {u.out_channels}, {m + "bias"});
    }
    if (arch_.norm == NormKind::Batch) {
      add(n + "running_mean", {u.out_channels}, {m + "running_mean"}, false);
      add(n + "running_var", {u.out_channels}, {m + "running_var"}, false);
      add(n + "num_batches_tracked", {}, {m + "num_batches_tracked"}, false, false);
    }
  }

  std::vector<ExpectedTensor> out;

 private:
  const Architecture& arch_;
};

std::string join_shape(const Shape& s) { return shape_string(s); }

bool same_data(const Tensor& a, const Tensor& b) {
  if (a.storage() == b.storage() && a.offset() == b.offset() && a.shape() == b.shape() && a.strides() == b.strides())
    return true;
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  const auto x = a.contiguous_bytes(), y = b.contiguous_bytes();
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size()) == 0;
}

void list_section(std::ostringstream& msg, const char* title, const std::vector<std::string>& items) {
  if (items.empty()) return;
  msg << "\n  " << title << " (" << items.size() << "):";
  const std::size_t shown = std::min<std::size_t>(items.size(), 40);
  for (std::size_t i = 0; i < shown; ++i) msg << "\n    " << items[i];
  if (shown < items.size()) msg << "\n    ... and " << (items.size() - shown) << " more";
}

}  // namespace

std::vector<ExpectedTensor> expected_tensors(const Architecture& arch) {
  const NetworkLayout net = network_layout(arch);
  Collector c(arch);
  if (net.stem) c.conv_unit(*net.stem);
  for (const auto& stage : net.encoder) {
    for (const auto& u : stage.convs) c.conv_unit(u);
    for (const auto& b : stage.blocks) {
      c.conv_unit(b.conv1);
      c.conv_unit(b.conv2);
      if (b.projection) c.conv_unit(*b.projection);
    }
  }
  for (const auto& d : net.decoder) {
    Shape w{d.in_channels, d.out_channels};
    w.insert(w.end(), d.transpconv_stride.begin(), d.transpconv_stride.end());
    c.add(d.transpconv_prefix + "weight", w);
    if (arch.conv_bias) c.add(d.transpconv_prefix + "bias", {d.out_channels});
    for (const auto& u : d.convs) c.conv_unit(u);
    Shape seg{arch.num_classes, d.out_channels};
    seg.insert(seg.end(), static_cast<std::size_t>(arch.dim), 1);
    c.add(d.seg_prefix + "weight", seg);
    c.add(d.seg_prefix + "bias", {arch.num_classes});
  }
  return std::move(c.out);
}

WeightCheck check_weights(const Architecture& arch, const ckpt::WeightSource& network, const std::string& source) {
  WeightCheck result;
  result.state_dict_tensors = network.index().size();
  std::vector<std::string> missing, wrong_shape, wrong_type, alias_mismatch;
  for (const auto& e : expected_tensors(arch)) {
    const ckpt::WeightInfo* info = network.info(e.key);
    bool canonical_ok = false;
    if (!info) {
      missing.push_back(e.key + " " + join_shape(e.shape));
    } else {
      network.mark_used(e.key);
      if (info->shape != e.shape) {
        wrong_shape.push_back(e.key + ": expected " + join_shape(e.shape) + ", found " + join_shape(info->shape));
      } else if (dtype_is_floating(info->dtype) != e.floating) {
        wrong_type.push_back(e.key + ": " + std::string(dtype_name(info->dtype)));
      } else {
        canonical_ok = true;
      }
    }
    for (const auto& alias : e.aliases) {
      if (!network.contains(alias)) {
        missing.push_back(alias + " " + join_shape(e.shape) + " (alias of " + e.key + ")");
        continue;
      }
      network.mark_used(alias);
      if (canonical_ok && !network.same_data(e.key, alias) && !same_data(network.raw(e.key), network.raw(alias)))
        alias_mismatch.push_back(alias + " differs from " + e.key);
    }
    if (!canonical_ok) continue;
    const Tensor t = e.floating ? network.require(e.key) : network.raw(e.key);
    if (e.parameter) result.parameters += t.numel();
    result.weights.emplace(e.key, t);
  }
  std::vector<std::string> unexpected;
  for (const auto& name : network.unused()) unexpected.push_back(name + " " + join_shape(network.info(name)->shape));
  result.used_tensors = network.used_count();
  if (missing.empty() && wrong_shape.empty() && wrong_type.empty() && alias_mismatch.empty() && unexpected.empty())
    return result;
  std::ostringstream msg;
  msg << "network weights do not match the " << arch.class_short_name() << " described by the plans ("
      << arch.n_stages << " stages, " << arch.input_channels << " input channels, " << arch.num_classes
      << " outputs):";
  list_section(msg, "missing", missing);
  list_section(msg, "wrong shape", wrong_shape);
  list_section(msg, "wrong dtype", wrong_type);
  list_section(msg, "alias differs from its canonical tensor", alias_mismatch);
  list_section(msg, "unused (not part of the network)", unexpected);
  throw InputError(source, msg.str());
}

}  // namespace medport::models::nnunet

namespace medport::models::nnunet {

WeightCheck check_weights(const Architecture& arch, const std::map<std::string, Tensor>& state_dict,
                          const std::string& source) {
  std::vector<std::pair<std::string, Tensor>> tensors(state_dict.begin(), state_dict.end());
  return check_weights(arch, ckpt::WeightSource::from_tensors(std::move(tensors), nullptr, source), source);
}

}  // namespace medport::models::nnunet
