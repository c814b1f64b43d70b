#pragma once
// Sharded batches: N workers (Kubernetes indexed Jobs, array jobs, ...) process one input set
// together, each with `--shard I/N` (I = 0..N-1, as JOB_COMPLETION_INDEX counts).
//
// A case belongs to shard FNV-1a-64(case name) mod N: the split depends on the case name only,
// not on the order, the number of other cases or the machine, so every case lands in exactly one
// shard, the union of the N shard runs is the full run, and a shard re-run (resume) selects the
// same cases again.
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace medport::pipelines::batch {

struct Shard {
  std::uint64_t index = 0;  // 0..count-1
  std::uint64_t count = 1;
};

// "I/N" with 0 <= I < N; UsageError otherwise.
Shard parse_shard(const std::string& text);

// 64-bit FNV-1a of the name's bytes.
std::uint64_t stable_name_hash(const std::string& name);
bool in_shard(const std::string& case_name, const Shard& shard);

// The items whose name (name_of(item)) falls in the shard, in their original order.
template <class T, class NameOf>
std::vector<T> select_shard(const std::vector<T>& items, const Shard& shard, NameOf name_of) {
  std::vector<T> out;
  for (const auto& item : items)
    if (in_shard(name_of(item), shard)) out.push_back(item);
  return out;
}

// select_shard of `text` ("I/N", parse_shard), saying on `stream` how many items it kept:
// "shard I/N: K of M case(s)".
template <class T, class NameOf>
std::vector<T> take_shard(const std::vector<T>& items, const std::string& text, NameOf name_of, std::FILE* stream = stderr) {
  auto kept = select_shard(items, parse_shard(text), name_of);
  std::fprintf(stream, "shard %s: %zu of %zu case(s)\n", text.c_str(), kept.size(), items.size());
  return kept;
}

}  // namespace medport::pipelines::batch
