#pragma once
// `medport export --format triton SOURCE... -o DIR`: converted models (X.onnx with X.medport.json,
// or a converted multi-graph folder) copied into a Triton model repository (repository.hpp) with
// a config.pbtxt each. A multi-graph model (IRIS) is NAME (its whole folder as version 1, Triton
// serving the main graph through default_model_filename) plus NAME__GRAPH for each further graph
// as a plain one-graph model, so Triton clients can call every graph.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "medport/triton/model_config.hpp"

namespace medport::triton {

struct ExportRequest {
  std::vector<std::filesystem::path> sources;
  std::vector<std::string> names;  // one per source, or empty: from the file / folder name
  std::filesystem::path output;    // the repository folder (created; existing models are kept)
  std::int64_t version = 1;
  bool overwrite = false;          // replace a model of the same name (else UsageError)
  ConfigOptions config;
};

struct ExportedModel {
  std::string name;
  std::string family;
  std::filesystem::path dir;
  std::vector<std::filesystem::path> files;  // relative to dir
};

// Each model is written into a temporary folder inside `output` and renamed into place, so a
// failure leaves no half-written model. InputError for a bad source, UsageError for a name clash.
std::vector<ExportedModel> export_repository(const ExportRequest& request);

// "Phantom 2D.v1" -> "Phantom_2D.v1": a valid model name from a file or folder name.
std::string model_name_from(const std::filesystem::path& source);

}  // namespace medport::triton
