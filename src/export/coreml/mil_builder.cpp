#include "export/coreml/mil_builder.hpp"

#include <cctype>
#include <cstring>
#include <limits>

#include "medport/error.hpp"

namespace medport::coreml {

std::string mil_identifier(const std::string& text) {
  std::string out;
  for (char c : text) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) out = "v_" + out;
  return out;
}

std::string mil_dtype_name(MilDType dtype) {
  switch (dtype) {
    case mil::FLOAT16: return "fp16";
    case mil::FLOAT32: return "fp32";
    case mil::INT32: return "int32";
    case mil::BOOL: return "bool";
    default: return "unsupported";
  }
}

bool is_float(MilDType dtype) { return dtype == mil::FLOAT16 || dtype == mil::FLOAT32; }

void set_tensor_type(mil::ValueType* type, MilDType dtype, const std::vector<std::int64_t>& shape) {
  auto* t = type->mutable_tensortype();
  t->set_datatype(dtype);
  t->set_rank(static_cast<std::int64_t>(shape.size()));
  for (auto d : shape) {
    auto* dim = t->add_dimensions();
    if (d >= 0) {
      dim->mutable_constant()->set_size(static_cast<std::uint64_t>(d));
    } else {
      dim->mutable_unknown()->set_variadic(false);
    }
  }
}

MilBuilder::MilBuilder(mil::Block* block, BlobPlan* blobs) : block_(block), blobs_(blobs) {}

void MilBuilder::reserve(const std::string& name) { used_[name] = std::max(used_[name], 1); }

std::string MilBuilder::fresh(const std::string& hint) {
  const std::string base = mil_identifier(hint);
  int& n = used_[base];
  if (n == 0) {
    n = 1;
    return base;
  }
  while (true) {
    std::string candidate = base + "_" + std::to_string(n++);
    if (!used_.count(candidate)) {
      used_[candidate] = 1;
      return candidate;
    }
  }
}

MilVar MilBuilder::const_op(mil::Value value, MilDType dtype, const std::vector<std::int64_t>& shape,
                            const std::string& hint) {
  MilVar v{fresh(hint), dtype, shape};
  set_tensor_type(value.mutable_type(), dtype, shape);
  auto* op = block_->add_operations();
  op->set_type("const");
  auto& attrs = *op->mutable_attributes();
  set_tensor_type(attrs["name"].mutable_type(), mil::STRING, {});
  attrs["name"].mutable_immediatevalue()->mutable_tensor()->mutable_strings()->add_values(v.name);
  attrs["val"] = std::move(value);
  auto* out = op->add_outputs();
  out->set_name(v.name);
  set_tensor_type(out->mutable_type(), dtype, shape);
  ++op_counts_["const"];
  return v;
}

MilVar MilBuilder::constant(const Tensor& value, MilDType dtype, const std::string& hint) {
  const Shape& shape = value.shape();
  mil::Value v;
  if (is_float(dtype)) {
    if (!dtype_is_floating(value.dtype())) throw std::logic_error("float constant from an integer tensor");
    if (value.numel() >= kMinBlobElements) {
      auto* blob = v.mutable_blobfilevalue();
      blob->set_filename(kWeightFile);
      blob->set_offset(blobs_->add(value, dtype == mil::FLOAT16 ? BlobDType::Float16 : BlobDType::Float32));
      return const_op(std::move(v), dtype, shape, hint);
    }
    const std::vector<float> f = value.to_f32();
    auto* tensor = v.mutable_immediatevalue()->mutable_tensor();
    if (dtype == mil::FLOAT32) {
      for (float x : f) tensor->mutable_floats()->add_values(x);
      inline_bytes_ += 4 * f.size();
    } else {
      std::string bytes(2 * f.size(), '\0');
      const Tensor half = value.dtype() == DType::F16 ? value.contiguous() : Tensor();
      for (std::size_t i = 0; i < f.size(); ++i) {
        const std::uint16_t h = half.defined() ? half.data<std::uint16_t>()[i] : float_to_half(f[i]);
        std::memcpy(bytes.data() + 2 * i, &h, 2);
      }
      inline_bytes_ += bytes.size();
      tensor->mutable_bytes()->set_values(std::move(bytes));
    }
    return const_op(std::move(v), dtype, shape, hint);
  }
  if (dtype == mil::BOOL) {
    const std::vector<float> f = value.to_f32();
    auto* tensor = v.mutable_immediatevalue()->mutable_tensor();
    for (float x : f) tensor->mutable_bools()->add_values(x != 0.0f);
    return const_op(std::move(v), dtype, shape, hint);
  }
  // Integers: int32 (Core ML has no int64 tensors).
  const Tensor t = value.to(DType::I64);
  auto* tensor = v.mutable_immediatevalue()->mutable_tensor();
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    std::int64_t x = t.data<std::int64_t>()[i];
    if (x > std::numeric_limits<std::int32_t>::max()) x = std::numeric_limits<std::int32_t>::max();
    if (x < std::numeric_limits<std::int32_t>::min()) x = std::numeric_limits<std::int32_t>::min();
    tensor->mutable_ints()->add_values(static_cast<std::int32_t>(x));
  }
  inline_bytes_ += 4 * static_cast<std::size_t>(t.numel());
  return const_op(std::move(v), mil::INT32, shape, hint);
}

MilVar MilBuilder::scalar_f(double value, MilDType dtype, const std::string& hint) {
  const float f = static_cast<float>(value);
  return constant(Tensor::from_f32({}, std::span(&f, 1)), dtype, hint);
}

MilVar MilBuilder::scalar_i(std::int64_t value, const std::string& hint) {
  mil::Value v;
  v.mutable_immediatevalue()->mutable_tensor()->mutable_ints()->add_values(static_cast<std::int32_t>(value));
  return const_op(std::move(v), mil::INT32, {}, hint);
}

MilVar MilBuilder::scalar_b(bool value, const std::string& hint) {
  mil::Value v;
  v.mutable_immediatevalue()->mutable_tensor()->mutable_bools()->add_values(value);
  return const_op(std::move(v), mil::BOOL, {}, hint);
}

MilVar MilBuilder::ints(const std::vector<std::int64_t>& values, const std::string& hint) {
  mil::Value v;
  auto* t = v.mutable_immediatevalue()->mutable_tensor()->mutable_ints();
  for (auto x : values) t->add_values(static_cast<std::int32_t>(x));
  return const_op(std::move(v), mil::INT32, {static_cast<std::int64_t>(values.size())}, hint);
}

MilVar MilBuilder::bools(const std::vector<bool>& values, const std::string& hint) {
  mil::Value v;
  auto* t = v.mutable_immediatevalue()->mutable_tensor()->mutable_bools();
  for (bool x : values) t->add_values(x);
  return const_op(std::move(v), mil::BOOL, {static_cast<std::int64_t>(values.size())}, hint);
}

MilVar MilBuilder::text(const std::string& value, const std::string& hint) {
  mil::Value v;
  v.mutable_immediatevalue()->mutable_tensor()->mutable_strings()->add_values(value);
  return const_op(std::move(v), mil::STRING, {}, hint);
}

MilVar MilBuilder::floats(const std::vector<float>& values, const Shape& shape, MilDType dtype,
                          const std::string& hint) {
  return constant(Tensor::from_f32(shape, values), dtype, hint);
}

std::vector<MilVar> MilBuilder::op_n(const std::string& type, const std::vector<std::pair<std::string, MilArg>>& inputs,
                                     const std::vector<MilVar>& outputs) {
  auto* op = block_->add_operations();
  op->set_type(type);
  auto& in = *op->mutable_inputs();
  for (const auto& [param, arg] : inputs) {
    auto& argument = in[param];
    if (const auto* one = std::get_if<MilVar>(&arg)) {
      argument.add_arguments()->set_name(one->name);
    } else {
      for (const auto& v : std::get<std::vector<MilVar>>(arg)) argument.add_arguments()->set_name(v.name);
    }
  }
  auto& name = (*op->mutable_attributes())["name"];
  set_tensor_type(name.mutable_type(), mil::STRING, {});
  name.mutable_immediatevalue()->mutable_tensor()->mutable_strings()->add_values(outputs.front().name);
  for (const auto& o : outputs) {
    auto* out = op->add_outputs();
    out->set_name(o.name);
    set_tensor_type(out->mutable_type(), o.dtype, o.shape);
  }
  ++op_counts_[type];
  return outputs;
}

MilVar MilBuilder::op(const std::string& type, const std::vector<std::pair<std::string, MilArg>>& inputs,
                      const std::string& name, MilDType dtype, const std::vector<std::int64_t>& shape) {
  return op_n(type, inputs, {MilVar{name, dtype, shape}}).front();
}

MilVar MilBuilder::cast(const MilVar& x, MilDType to, const std::string& name) {
  const MilVar dtype = text(mil_dtype_name(to), name + "_dtype");
  return op("cast", {{"x", x}, {"dtype", dtype}}, name, to, x.shape);
}

}  // namespace medport::coreml
