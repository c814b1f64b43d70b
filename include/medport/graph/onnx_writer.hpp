#pragma once
// Serializes a graph::Graph to an ONNX ModelProto.
//
// Guarantees: IR version 8 and default-domain opset graph.opset (17 by default; anything above
// 17 is refused unless allow_opset_above_17, because Debian's onnx 1.12 checker stops there),
// producer "medport" + medport::kVersion, initializers as little-endian raw_data, identical bytes
// for identical graphs (no timestamps, deterministic serialization), atomic files, and optional
// external data in "<model file name>.data" with 4096-aligned offsets.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "medport/graph/ir.hpp"

namespace medport::graph {

enum class ExternalData {
  Auto,    // external when the inline model would pass external_threshold_bytes
  Always,  // every initializer of at least external_min_tensor_bytes goes to the data file
  Never,   // fail (UsageError) when the model does not fit in one protobuf (2 GiB)
};

struct WriteOptions {
  std::int64_t ir_version = 8;
  bool allow_opset_above_17 = false;
  ExternalData external_data = ExternalData::Auto;
  // Auto mode: total initializer bytes above which the data goes external (protobuf's hard
  // limit is 2 GiB; the default keeps a margin for the graph itself).
  std::size_t external_threshold_bytes = std::size_t{1900} << 20;
  // Initializers smaller than this stay inline even in an external-data model.
  std::size_t external_min_tensor_bytes = 1024;
  // Run onnx::checker on the written model (path-based for external data); throws on failure.
  bool check = true;
};

struct WriteResult {
  std::filesystem::path model_path;
  std::filesystem::path data_path;  // empty when everything is inline
  std::size_t model_bytes = 0;
  std::size_t data_bytes = 0;
  std::size_t external_tensors = 0;
};

// Writes `path` (and `<path filename>.data` next to it when external data is used), each via a
// temporary file + rename. The data file is written first, so a model never points at a missing
// or half-written data file. A stale data file from an earlier write of `path` is removed when
// the new model is fully inline.
WriteResult write_onnx(const Graph& graph, const std::filesystem::path& path, const WriteOptions& options = {});

// The whole model inline: throws UsageError above 2 GiB or with ExternalData::Always.
std::vector<std::byte> to_model_bytes(const Graph& graph, const WriteOptions& options = {});

// onnx::checker on a model file (resolves external data next to it) or on serialized bytes.
// Throws medport::InputError naming the model with the checker's message.
void check_onnx_file(const std::filesystem::path& path);
void check_onnx_bytes(std::span<const std::byte> bytes, const std::string& source = "model");

}  // namespace medport::graph
