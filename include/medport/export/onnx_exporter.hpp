#pragma once
#include "medport/export/exporter.hpp"

namespace medport::exporters {

// ONNX (opset 17, IR 8): one OUT.onnx, or NAME.onnx per graph in the output folder; weights over
// 2 GiB go to external data beside the model (graph/onnx_writer.hpp).
const Exporter& onnx_exporter();

}  // namespace medport::exporters
