#include "medport/server/auth.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <sys/stat.h>

#include <cctype>
#include <fstream>
#include <set>

#include "medport/error.hpp"

namespace medport::server {

namespace {

TokenHash sha256_of(std::string_view text) {
  TokenHash h{};
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), h.data());
  return h;
}

std::string hex(const TokenHash& h) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (auto b : h) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

std::optional<TokenHash> parse_hex(std::string_view text) {
  if (text.size() != 64) return std::nullopt;
  TokenHash h{};
  for (std::size_t i = 0; i < 32; ++i) {
    int v = 0;
    for (int k = 0; k < 2; ++k) {
      const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(text[2 * i + k])));
      if (c >= '0' && c <= '9') v = v * 16 + (c - '0');
      else if (c >= 'a' && c <= 'f') v = v * 16 + (c - 'a' + 10);
      else return std::nullopt;
    }
    h[i] = static_cast<std::uint8_t>(v);
  }
  return h;
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

}  // namespace

std::string hash_token_line(std::string_view token) { return "sha256:" + hex(sha256_of(token)); }

TokenStore TokenStore::load(const std::filesystem::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) throw InputError(file.string(), "token file not found");
  if (st.st_mode & S_IROTH)
    throw InputError(file.string(), "token file is readable by every user; chmod 600 it (or 640 for a group)");
  std::ifstream in(file);
  if (!in) throw InputError(file.string(), "cannot read the token file");
  TokenStore store;
  std::set<std::string> ids;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    line = trim(line);
    if (line.empty() || line.front() == '#') continue;
    const auto space = line.find_first_of(" \t");
    const std::string where = "line " + std::to_string(number);
    if (space == std::string::npos) throw InputError(file.string(), where + ": expected `ID sha256:HEX`");
    const std::string id = line.substr(0, space);
    const std::string value = trim(line.substr(space));
    if (value.rfind("sha256:", 0) != 0)
      throw InputError(file.string(), where + ": the token must be stored hashed as sha256:HEX (medport serve --hash-token)");
    const auto hash = parse_hex(std::string_view(value).substr(7));
    if (!hash) throw InputError(file.string(), where + ": sha256: needs 64 hex digits");
    for (char c : id)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.')
        throw InputError(file.string(), where + ": token IDs use A-Z a-z 0-9 _ - .");
    if (!ids.insert(id).second) throw InputError(file.string(), where + ": token ID '" + id + "' appears twice");
    store.entries_.push_back({id, *hash});
  }
  if (store.entries_.empty()) throw InputError(file.string(), "the token file holds no token");
  return store;
}

std::optional<std::string> TokenStore::identify(std::string_view token) const {
  const TokenHash presented = sha256_of(token);
  const Entry* match = nullptr;
  for (const auto& e : entries_)  // every entry is compared: the time does not depend on which matches
    if (CRYPTO_memcmp(presented.data(), e.hash.data(), presented.size()) == 0) match = &e;
  if (!match || token.empty()) return std::nullopt;
  return match->id;
}

std::optional<std::string> TokenStore::identify_header(std::string_view authorization) const {
  if (authorization.size() < 7) return std::nullopt;
  std::string scheme(authorization.substr(0, 7));
  for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "bearer ") return std::nullopt;
  std::string_view token = authorization.substr(7);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return identify(token);
}

bool is_loopback_address(std::string_view a) {
  if (a == "::1") return true;
  if (a.rfind("::ffff:", 0) == 0) a.remove_prefix(7);
  return a.rfind("127.", 0) == 0;
}

}  // namespace medport::server
