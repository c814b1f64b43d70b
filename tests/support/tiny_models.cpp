#include "tiny_models.hpp"

#include <onnx/onnx_pb.h>

#include <fstream>

namespace medport::testing {

std::string tiny_add_one_model() {
  onnx::ModelProto model;
  model.set_ir_version(8);
  model.set_producer_name("medport-test");
  model.add_opset_import()->set_version(17);
  auto* graph = model.mutable_graph();
  graph->set_name("add_one");
  auto* node = graph->add_node();
  node->set_op_type("Add");
  node->add_input("x");
  node->add_input("one");
  node->add_output("y");
  auto* init = graph->add_initializer();
  init->set_name("one");
  init->set_data_type(onnx::TensorProto::FLOAT);
  init->add_float_data(1.0f);
  for (const char* name : {"x", "y"}) {
    auto* vi = std::string(name) == "x" ? graph->add_input() : graph->add_output();
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    tt->mutable_shape()->add_dim()->set_dim_param("n");
  }
  return model.SerializeAsString();
}

void write_tiny_add_one_model(const std::filesystem::path& path) {
  std::ofstream(path, std::ios::binary) << tiny_add_one_model();
}

}  // namespace medport::testing
