#pragma once
// safetensors dtype names and the reference writer's layout order.
#include <optional>
#include <string_view>

#include "medport/dtype.hpp"

namespace medport::ckpt::safetensors {

struct DTypeName {
  DType dtype;
  std::string_view name;
  int alignment_rank;  // position in the reference's Dtype enum (increasing alignment)
};

inline constexpr DTypeName kDTypeNames[] = {
    {DType::Bool, "BOOL", 0}, {DType::U8, "U8", 1},     {DType::I8, "I8", 2},    {DType::I16, "I16", 5},
    {DType::F16, "F16", 7},   {DType::BF16, "BF16", 8}, {DType::I32, "I32", 9},  {DType::F32, "F32", 11},
    {DType::F64, "F64", 12},  {DType::I64, "I64", 13},  {DType::U16, "U16", 6},
};

inline const DTypeName& entry_of(DType dtype) {
  for (const auto& e : kDTypeNames)
    if (e.dtype == dtype) return e;
  return kDTypeNames[0];  // unreachable: every DType is listed
}

inline std::optional<DType> dtype_from_safetensors_name(std::string_view name) {
  for (const auto& e : kDTypeNames)
    if (e.name == name) return e.dtype;
  return std::nullopt;
}

}  // namespace medport::ckpt::safetensors
