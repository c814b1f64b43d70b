#pragma once
// Pieces of protobuf's wire format for writers that stream a message whose big fields never sit in
// memory at once (the ONNX writer's initializers, the Core ML NeuralNetwork writer's layers). Not a
// public header.
#include <google/protobuf/message.h>

#include <climits>
#include <cstddef>
#include <span>
#include <string>

namespace medport::graph::detail {

// The largest message protobuf serializes or parses (its sizes are int).
inline constexpr std::size_t kProtobufLimit = static_cast<std::size_t>(INT_MAX);

// Protobuf's deterministic serialization of `message` (map entries sorted).
std::string serialized(const google::protobuf::Message& message);
// Protobuf writes a message's fields in field-number order, so the message is the fields below
// `split` (`below`), then field `split`, then the fields above it (`above`).
void serialized_around(const google::protobuf::Message& message, int split, std::string& below, std::string& above);
// Tag and length of a length-delimited field.
std::string field_prefix(int field_number, std::size_t length);

inline std::span<const std::byte> bytes_of(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }

}  // namespace medport::graph::detail
