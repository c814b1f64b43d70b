#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace medport {

// Element types a checkpoint, an npy/npz/safetensors file or an ONNX graph may carry.
enum class DType : std::uint8_t { F32, F64, F16, BF16, I64, I32, I16, I8, U8, Bool, U16 };

std::size_t dtype_size(DType dtype);
// Canonical lower-case names ("float32", "bfloat16", "int64", "bool", ...), as PyTorch prints them.
std::string_view dtype_name(DType dtype);
std::optional<DType> dtype_from_name(std::string_view name);
bool dtype_is_floating(DType dtype);

// IEEE half and bfloat16 bit conversions (round to nearest even on the way down).
float half_to_float(std::uint16_t bits);
std::uint16_t float_to_half(float value);
float bfloat16_to_float(std::uint16_t bits);
std::uint16_t float_to_bfloat16(float value);

}  // namespace medport
