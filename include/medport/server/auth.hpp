#pragma once
// Bearer tokens. The token file holds one token per line as `ID sha256:HEX` (HEX = SHA-256 of the
// token), blank lines and `#` comments allowed; the server never sees or stores a token in clear
// beyond the request that carries it. A presented token is hashed and compared with every stored
// hash in constant time (CRYPTO_memcmp, no early exit), and the matching ID is what logs and the
// audit trail record. Without a token file the server answers loopback peers only.
#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace medport::server {

using TokenHash = std::array<std::uint8_t, 32>;

// "sha256:<64 hex>" of a token (what `medport serve --hash-token` prints).
std::string hash_token_line(std::string_view token);

class TokenStore {
 public:
  TokenStore() = default;
  // InputError naming the file and line for a malformed entry, a duplicate ID, or an empty file;
  // also when the file is readable by other users (it should be mode 0600 or 0640).
  static TokenStore load(const std::filesystem::path& file);
  bool empty() const { return entries_.empty(); }
  std::size_t size() const { return entries_.size(); }
  // The ID of the token, or nullopt. Compares against every entry whatever matches.
  std::optional<std::string> identify(std::string_view token) const;
  // From an Authorization header value: "Bearer <token>" (scheme case-insensitive).
  std::optional<std::string> identify_header(std::string_view authorization) const;

 private:
  struct Entry {
    std::string id;
    TokenHash hash;
  };
  std::vector<Entry> entries_;
};

// 127.0.0.0/8, ::1 and IPv4-mapped loopback (::ffff:127.x.y.z).
bool is_loopback_address(std::string_view address);

}  // namespace medport::server
