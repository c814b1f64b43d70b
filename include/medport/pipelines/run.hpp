#pragma once
// `medport run` and `medport verify`: an exported model fed with named arrays.
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "medport/runtime/session.hpp"
#include "medport/tensor.hpp"

namespace medport::pipelines {

using NamedArrays = std::vector<std::pair<std::string, Tensor>>;

// Runs `model` on `arrays` matched to its inputs by name. Every model input needs an array;
// arrays named like no input are refused unless `ignore_extra` (a reference file also holds the
// expected outputs). `source` names the arrays' file in errors. Returns every output.
std::vector<runtime::NamedTensor> run_on_arrays(const runtime::Session& session, const NamedArrays& arrays,
                                                const std::string& source, bool ignore_extra = false);

// What the graph alone cannot tell but the model's sidecar can: an nnU-Net's spatial axes must be
// multiples of its stride product (the runtime would fail deep inside with mismatched shapes).
// InputError naming `source` (the arrays' file); no sidecar, or one that cannot be read, is no check.
void check_arrays_against_sidecar(const std::filesystem::path& model, const NamedArrays& arrays, const std::string& source);

struct VerifyOptions {
  double rtol = 1e-4;  // element passes when |got - ref| <= atol + rtol * |ref| (numpy.allclose)
  double atol = 1e-4;  // float32 networks differ from PyTorch by accumulation order
  // Reference array name -> model input/output name, for files whose names differ.
  std::map<std::string, std::string> rename;
  runtime::SessionOptions session;
};

struct OutputCheck {
  std::string name;
  Shape shape;
  double max_abs_error = 0.0;
  double max_abs_reference = 0.0;
  double max_rel_error = 0.0;  // max_abs_error / max_abs_reference
  std::size_t elements = 0;
  std::size_t outside_tolerance = 0;
  std::optional<double> argmax_agreement;  // over axis 1 when it has 2+ entries
  bool passed() const { return outside_tolerance == 0; }
};

struct VerifyReport {
  std::vector<std::string> inputs;         // fed from the reference
  std::vector<OutputCheck> outputs;        // compared (model outputs present in the reference)
  std::vector<std::string> not_compared;   // model outputs the reference does not hold
  bool passed() const;
};

// Throws InputError when the reference lacks a model input, holds none of its outputs, or an
// output's shape differs from the reference's.
VerifyReport verify_model(const std::filesystem::path& model, const std::filesystem::path& reference,
                          const VerifyOptions& options);

}  // namespace medport::pipelines
