// The table of ONNX ops the ML Program backend translates.
#include "export/coreml/mil_ops.hpp"

namespace medport::coreml {

const std::map<std::string, MilHandler>& mil_handlers() {
  using namespace mil_ops;
  static const std::map<std::string, MilHandler> table = [] {
    std::map<std::string, MilHandler> t{
        {"Conv", conv},
        {"ConvTranspose", conv_transpose},
        {"InstanceNormalization", instance_norm},
        {"BatchNormalization", batch_norm},
        {"LayerNormalization", layer_norm},
        {"AveragePool", pool},
        {"MaxPool", pool},
        {"GlobalAveragePool", global_pool},
        {"GlobalMaxPool", global_pool},
        {"Resize", resize},
        {"MatMul", matmul},
        {"Gemm", gemm},
        {"Max", variadic},
        {"Min", variadic},
        {"Sum", variadic},
        {"Clip", clip},
        {"Softmax", softmax},
        {"LogSoftmax", softmax},
        {"ArgMax", argmax},
        {"ArgMin", argmax},
        {"Where", where},
        {"Cast", cast},
        {"Identity", identity},
        {"Reshape", reshape},
        {"Flatten", flatten},
        {"Transpose", transpose},
        {"Concat", concat},
        {"Split", split},
        {"Slice", slice},
        {"Squeeze", squeeze},
        {"Unsqueeze", unsqueeze},
        {"Gather", gather},
        {"Expand", expand},
        {"Tile", tile},
        {"Shape", shape},
        {"Pad", pad},
    };
    for (const char* op : {"Add", "Sub", "Mul", "Div", "Pow", "Equal", "Less", "Greater", "LessOrEqual",
                           "GreaterOrEqual", "And", "Or", "Xor", "Mod"})
      t[op] = binary;
    for (const char* op : {"Relu", "Sigmoid", "Tanh", "Erf", "Exp", "Log", "Sqrt", "Abs", "Neg", "Reciprocal", "Cos",
                           "Sin", "Floor", "Ceil", "Round", "Sign", "Not", "Softplus", "Softsign"})
      t[op] = unary;
    for (const char* op : {"LeakyRelu", "Elu", "HardSigmoid", "HardSwish", "Gelu"}) t[op] = activation;
    for (const char* op : {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2", "ReduceL1",
                           "ReduceSumSquare", "ReduceLogSumExp", "ReduceLogSum"})
      t[op] = reduce;
    return t;
  }();
  return table;
}

}  // namespace medport::coreml
