#pragma once
// zlib and gzip streams decompressed to a size known in advance, so that a damaged stream, one
// that ends early or one that holds more than promised is an InputError, and a small file can
// never make the reader allocate more than the header announced.
#include <cstddef>
#include <span>
#include <string>
#include <vector>

namespace medport::imaging::detail {

enum class Wrapper { Zlib, Gzip };

// Exactly `expected` bytes: the stream (every member, for gzip) must end with its checksum right
// after them. `what` names the data in messages ("compressed MetaImage data").
std::vector<std::byte> inflate_exact(std::span<const std::byte> in, std::size_t expected, Wrapper wrapper,
                                     const std::string& source, const std::string& what);
// At most the first `count` bytes, for reading a header before the size of the rest is known;
// fewer when the stream holds fewer. Only damage within those bytes is detected.
std::vector<std::byte> inflate_prefix(std::span<const std::byte> in, std::size_t count, Wrapper wrapper,
                                      const std::string& source, const std::string& what);
// deflate can expand at most about 1032:1; a size claim beyond this bound cannot be true.
bool exceeds_deflate_ratio(std::size_t claimed, std::size_t compressed);

}  // namespace medport::imaging::detail
