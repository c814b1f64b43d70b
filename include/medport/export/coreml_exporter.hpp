#pragma once
// `medport convert --format coreml`: each graph as an ML Program package (OUT.mlpackage, the
// default) or a NeuralNetwork model (OUT.mlmodel, --backend neuralnetwork). Options (by name in
// ExportOptions::options, all optional):
//   backend            mlprogram | neuralnetwork (default: from the output's extension, else mlprogram)
//   precision          fp16 | fp32 (default: fp16 when --fp16, else fp32; the CLI asks for fp16 with
//                      ML Programs unless --fp32)
//   fp16_io            true: float inputs/outputs declared float16 (ML Program, iOS16+)
//   deployment_target  iOS13..iOS18, macOS10.15..macOS15 (default iOS15, iOS14 for neuralnetwork)
//   input_shape        "NAME=1,1,256,256;..." fixed shapes (default: from the family's sidecar
//                      section - nnU-Net patch size, diffusion image size - with batch 1)
//   shape_range        "NAME=1,1,64:512,64:512" flexible ranges (ML Program)
//   enumerated_shapes  "NAME=1,1,128,128|1,1,256,256" allowed shapes (ML Program)
//   description, author, license, version: model metadata
// User-defined metadata always holds the medport version, family, variant, graph name, source
// checkpoint SHA-256, class labels and the family's preprocessing (its sidecar section as JSON).
#include "medport/export/coreml.hpp"
#include "medport/export/exporter.hpp"

namespace medport::exporters {

const Exporter& coreml_exporter();

// The Core ML options for one graph of a built model (exposed for tests and front ends).
coreml::WriteOptions coreml_write_options(const models::BuiltModel& model, const models::NamedGraph& graph,
                                          const std::filesystem::path& output, const ExportOptions& options);

}  // namespace medport::exporters
