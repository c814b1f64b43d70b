#pragma once
// Cross-checks a network_weights state dict against the architecture the plans describe:
// every expected key (including the `.all_modules.N` and `decoder.encoder.*` aliases) must be
// present with the right shape, aliases must hold the same data as their canonical key, and no
// tensor may be left over. All problems are reported together in one InputError.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "medport/checkpoint/weight_source.hpp"
#include "medport/models/nnunet/architecture.hpp"
#include "medport/tensor.hpp"

namespace medport::models::nnunet {

struct ExpectedTensor {
  std::string key;  // canonical name, e.g. "encoder.stages.0.0.convs.0.conv.weight"
  Shape shape;
  std::vector<std::string> aliases;  // same tensor under other names
  bool floating = true;              // false for BatchNorm's num_batches_tracked (int64)
  bool parameter = true;             // false for BatchNorm running statistics (buffers)
};

std::vector<ExpectedTensor> expected_tensors(const Architecture& arch);

// Canonical key -> tensor.
using Weights = std::map<std::string, Tensor>;

struct WeightCheck {
  Weights weights;
  std::size_t state_dict_tensors = 0;   // keys in the state dict
  std::size_t used_tensors = 0;         // keys matched (canonical + aliases)
  std::int64_t parameters = 0;          // elements of the learnable tensors, each storage once
};

// `network` is the network_weights sub-tree (names without "network_weights." / "module.").
// Weights come back as float32 (integer buffers as stored); every name is marked used.
WeightCheck check_weights(const Architecture& arch, const ckpt::WeightSource& network, const std::string& source);
// The same for an in-memory state dict (tests, tools).
WeightCheck check_weights(const Architecture& arch, const std::map<std::string, Tensor>& state_dict,
                          const std::string& source);

}  // namespace medport::models::nnunet
