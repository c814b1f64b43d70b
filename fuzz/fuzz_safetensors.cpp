// read_safetensors over arbitrary bytes. A successful read must survive
// write_safetensors -> read_safetensors unchanged.
#include "fuzz_support.hpp"
#include "medport/checkpoint/safetensors.hpp"
#include "medport/error.hpp"

using namespace medport;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ckpt::SafetensorsFile file;
  try {
    file = ckpt::read_safetensors(fuzz::as_bytes(data, size), "fuzz.safetensors");
  } catch (const InputError&) {
    return 0;
  }
  for (const auto& [name, t] : file.tensors) (void)fuzz::checksum(t);
  std::vector<std::byte> again;
  try {
    again = ckpt::write_safetensors(file.tensors, file.metadata);
  } catch (const InputError&) {
    return 0;  // names the writer refuses (empty) may still be read
  }
  const auto back = ckpt::read_safetensors(again, "round trip");
  fuzz::require(back.metadata == file.metadata && back.tensors.size() == file.tensors.size());
  return 0;
}
