#pragma once
// Private state of graph::Builder, shared by builder.cpp (naming, constants, generic nodes)
// and builder_ops.cpp (one method per op family).
#include <map>
#include <set>
#include <string>
#include <vector>

#include "medport/graph/builder.hpp"

namespace medport::graph {

struct Builder::State {
  Graph graph;
  std::vector<std::string> scopes;
  int fp32_depth = 0;
  std::set<std::string> value_names;
  std::set<std::string> node_names;
  std::map<std::string, DType> dtypes;
  std::map<std::string, std::size_t> initializer_index;
  // Internal values renamed to free their name for a graph output: old name -> new name.
  std::map<std::string, std::string> renamed;
  // Graph outputs made by an Identity: output name -> the value it copies.
  std::map<std::string, std::string> output_sources;

  std::string resolve(const std::string& name) const;
  bool is_internal_value(const std::string& name) const;
  void rename_internal_value(const std::string& name);

  std::string prefixed(std::string_view hint) const;
  // `base` if free, otherwise base_1, base_2, ...; reserves the result.
  static std::string claim(std::set<std::string>& used, const std::string& base);
  std::string claim_node(std::string_view hint) { return claim(node_names, prefixed(hint)); }
  const Tensor* initializer_tensor(const std::string& name) const;
};

// Tensor helpers used by the builder and the fp16 pass.
Tensor scalar_tensor(double value, DType dtype);
Tensor i64_tensor(const std::vector<std::int64_t>& values);

}  // namespace medport::graph
