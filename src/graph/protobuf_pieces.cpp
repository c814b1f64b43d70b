#include "graph/protobuf_pieces.hpp"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/wire_format_lite.h>

#include <memory>
#include <stdexcept>
#include <vector>

namespace medport::graph::detail {

using google::protobuf::Message;
using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedOutputStream;

std::string serialized(const Message& message) {
  const std::size_t size = message.ByteSizeLong();
  std::string out(size, '\0');
  google::protobuf::io::ArrayOutputStream array(out.data(), static_cast<int>(size));
  CodedOutputStream coded(&array);
  coded.SetSerializationDeterministic(true);
  message.SerializeWithCachedSizes(&coded);
  if (coded.HadError()) throw std::runtime_error("protobuf serialization failed");
  return out;
}

void serialized_around(const Message& message, int split, std::string& below, std::string& above) {
  std::unique_ptr<Message> low(message.New()), high(message.New());
  low->CopyFrom(message);
  high->CopyFrom(message);
  const auto* reflection = message.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const auto* field : fields) {
    if (field->number() >= split) reflection->ClearField(low.get(), field);
    if (field->number() <= split) reflection->ClearField(high.get(), field);
  }
  below = serialized(*low);
  above = serialized(*high);
}

std::string field_prefix(int field_number, std::size_t length) {
  const auto tag = WireFormatLite::MakeTag(field_number, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
  std::string out(CodedOutputStream::VarintSize32(tag) + CodedOutputStream::VarintSize64(length), '\0');
  auto* p = reinterpret_cast<std::uint8_t*>(out.data());
  p = CodedOutputStream::WriteVarint32ToArray(tag, p);
  CodedOutputStream::WriteVarint64ToArray(length, p);
  return out;
}

}  // namespace medport::graph::detail
