#include "export/coreml/ml_program.hpp"

#include "export/coreml/mil_translator.hpp"
#include "export/coreml/model_spec.hpp"
#include "export/coreml/precision.hpp"

namespace medport::coreml {

namespace {

MilDType io_dtype(DType dtype, bool fp16_io) {
  if (dtype_is_floating(dtype)) return fp16_io ? mil::FLOAT16 : mil::FLOAT32;
  return mil::INT32;
}

}  // namespace

std::map<std::string, std::size_t> build_ml_program(const PreparedGraph& graph, const WriteOptions& options,
                                                    const std::string& source, spec::Model* model, BlobPlan* blobs) {
  model->set_specificationversion(options.target.specification_version);
  describe_interface(graph, options, source, model);
  auto* program = model->mutable_mlprogram();
  program->set_version(1);
  auto& function = (*program->mutable_functions())["main"];
  const std::string opset = options.target.opset();
  function.set_opset(opset);
  auto& block = (*function.mutable_block_specializations())[opset];

  MilBuilder builder(&block, blobs);
  const std::set<std::string> fp32 = options.fp16 ? fp32_nodes(graph) : std::set<std::string>{};
  MilTranslator translator(graph, builder, fp32, options.fp16, options.target.ios, source);
  for (const auto& input : graph.graph.inputs) {
    const MilDType dtype = io_dtype(input.dtype, options.fp16_io);
    const auto shape = graph.shape(input.name).value_or(std::vector<std::int64_t>{});
    auto* named = function.add_inputs();
    named->set_name(input.name);
    set_tensor_type(named->mutable_type(), dtype, shape);
    translator.declare_input(input, dtype, shape);
  }
  for (const auto& output : graph.graph.outputs)
    translator.expect_output(output.name, io_dtype(graph.dtype(output.name), options.fp16_io));
  translator.translate_all();
  for (const auto& output : graph.graph.outputs) {
    translator.finish_output(output.name, io_dtype(graph.dtype(output.name), options.fp16_io));
    block.add_outputs(output.name);
  }
  return builder.op_counts();
}

}  // namespace medport::coreml
