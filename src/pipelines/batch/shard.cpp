#include "medport/pipelines/batch/shard.hpp"

#include "medport/error.hpp"

namespace medport::pipelines::batch {

Shard parse_shard(const std::string& text) {
  const auto slash = text.find('/');
  auto number = [&](const std::string& part, std::uint64_t& out) {
    if (part.empty() || part.size() > 9 || part.find_first_not_of("0123456789") != std::string::npos) return false;
    out = std::stoull(part);
    return true;
  };
  Shard s;
  if (slash == std::string::npos || !number(text.substr(0, slash), s.index) || !number(text.substr(slash + 1), s.count) ||
      s.count == 0 || s.index >= s.count)
    throw UsageError("--shard '" + text + "': expected I/N with 0 <= I < N, e.g. 0/3");
  return s;
}

std::uint64_t stable_name_hash(const std::string& name) {
  std::uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : name) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

bool in_shard(const std::string& case_name, const Shard& shard) {
  return stable_name_hash(case_name) % shard.count == shard.index;
}

}  // namespace medport::pipelines::batch
