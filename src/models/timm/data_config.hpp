#pragma once
// Resolves the evaluation data configuration of a converted classifier the way timm's
// resolve_data_config does for a training run: the user's options first, then the run's args,
// then timm's registry defaults for the architecture, then timm's global defaults.
#include <array>
#include <optional>

#include "medport/models/timm/arch.hpp"
#include "medport/models/timm/classifier_config.hpp"
#include "models/timm/checkpoint_facts.hpp"

namespace medport::models::timm {

struct UserChoices {
  std::optional<std::array<double, 3>> mean;
  std::optional<std::array<double, 3>> std;
};

// Fills input size, interpolation, crop, mean/std and their provenance in `config`.
// `fixed_size`: the only size the weights allow (ViT position embeddings), if any.
void resolve_data_config(ClassifierConfig& config, const Arch& arch, const CheckpointFacts& facts,
                         const UserChoices& user, std::optional<std::pair<std::int64_t, std::int64_t>> fixed_size);

}  // namespace medport::models::timm
