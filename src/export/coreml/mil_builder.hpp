#pragma once
// Appends MIL operations to one block the way Core ML expects them: every parameter a named
// `const` op (tensors of 10 or more float elements stored in weight.bin, smaller ones inline),
// every op output typed (dtype, rank, dims; -1 writes an unknown dim), names unique identifiers.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "coreml_mil.pb.h"
#include "export/coreml/blob_storage.hpp"
#include "medport/tensor.hpp"

namespace medport::coreml {

using MilDType = mil::DataType;

struct MilVar {
  std::string name;
  MilDType dtype = mil::FLOAT32;
  std::vector<std::int64_t> shape;  // -1: unknown dim
  bool valid() const { return !name.empty(); }
  std::int64_t rank() const { return static_cast<std::int64_t>(shape.size()); }
};

// An op input: one var or a list (concat's `values`).
using MilArg = std::variant<MilVar, std::vector<MilVar>>;

inline constexpr std::int64_t kMinBlobElements = 10;
inline constexpr const char* kWeightFile = "@model_path/weights/weight.bin";

// "encoder.stages.0/conv" -> "encoder_stages_0_conv": a MIL identifier.
std::string mil_identifier(const std::string& text);
std::string mil_dtype_name(MilDType dtype);  // "fp16", "fp32", "int32", "bool" (cast's dtype strings)
bool is_float(MilDType dtype);

class MilBuilder {
 public:
  MilBuilder(mil::Block* block, BlobPlan* blobs);

  // A fresh identifier based on `hint`; names reserved with reserve() are never handed out.
  std::string fresh(const std::string& hint);
  void reserve(const std::string& name);

  // ---- constants ------------------------------------------------------------------------
  // Any float tensor, stored as `dtype` (fp16/fp32); int tensors become int32, bool stays bool.
  MilVar constant(const Tensor& value, MilDType dtype, const std::string& hint);
  MilVar scalar_f(double value, MilDType dtype, const std::string& hint);
  MilVar scalar_i(std::int64_t value, const std::string& hint);
  MilVar scalar_b(bool value, const std::string& hint);
  MilVar ints(const std::vector<std::int64_t>& values, const std::string& hint);
  MilVar bools(const std::vector<bool>& values, const std::string& hint);
  MilVar text(const std::string& value, const std::string& hint);
  MilVar floats(const std::vector<float>& values, const Shape& shape, MilDType dtype, const std::string& hint);

  // ---- operations -------------------------------------------------------------------------
  // One output named `name` (use fresh() for internal values) of the given type.
  MilVar op(const std::string& type, const std::vector<std::pair<std::string, MilArg>>& inputs, const std::string& name,
            MilDType dtype, const std::vector<std::int64_t>& shape);
  std::vector<MilVar> op_n(const std::string& type, const std::vector<std::pair<std::string, MilArg>>& inputs,
                           const std::vector<MilVar>& outputs);
  MilVar cast(const MilVar& x, MilDType to, const std::string& name);

  const std::map<std::string, std::size_t>& op_counts() const { return op_counts_; }
  std::size_t inline_bytes() const { return inline_bytes_; }

 private:
  MilVar const_op(mil::Value value, MilDType dtype, const std::vector<std::int64_t>& shape, const std::string& hint);

  mil::Block* block_;
  BlobPlan* blobs_;
  std::map<std::string, int> used_;
  std::map<std::string, std::size_t> op_counts_;
  std::size_t inline_bytes_ = 0;
};

void set_tensor_type(mil::ValueType* type, MilDType dtype, const std::vector<std::int64_t>& shape);

}  // namespace medport::coreml
