"""Wraps an ONNX model so that ONNX Runtime fails while running it whenever the input named
INPUT holds a value above LIMIT, and runs it unchanged otherwise: the input goes through
Reshape(x, shape(x) + [0, ..., 0, flag]) with flag = max(x) > LIMIT, an element count that
cannot match. The Reshape kernel then fails inside Run() and ONNX Runtime returns ORT_FAIL, as
for other failures inside a running kernel (an allocation that fails, a provider error), which
medport maps to EngineError: tests make a batch meet an engine failure in the middle.

    python engine_failure_trap.py IN.onnx OUT.onnx INPUT LIMIT
"""
import sys

import onnx
from onnx import TensorProto, helper, numpy_helper
import numpy as np


def main(src, dst, input_name, limit):
    model = onnx.load(src)
    graph = model.graph
    inputs = {i.name: i for i in graph.input}
    if input_name not in inputs:
        raise SystemExit(f"{src} has no input {input_name}")
    rank = len(inputs[input_name].type.tensor_type.shape.dim)
    trapped = input_name + "__trapped"
    for node in graph.node:
        node.input[:] = [trapped if n == input_name else n for n in node.input]
    last_axis = np.zeros(rank, dtype=np.int64)
    last_axis[-1] = 1
    graph.initializer.extend([
        numpy_helper.from_array(np.array(limit, dtype=np.float32), "trap__limit"),
        numpy_helper.from_array(last_axis, "trap__last_axis"),
    ])
    trap = [
        helper.make_node("Shape", [input_name], ["trap__shape"]),
        helper.make_node("ReduceMax", [input_name], ["trap__max"], keepdims=0),
        helper.make_node("Greater", ["trap__max", "trap__limit"], ["trap__hit"]),
        helper.make_node("Cast", ["trap__hit"], ["trap__flag"], to=TensorProto.INT64),
        helper.make_node("Mul", ["trap__last_axis", "trap__flag"], ["trap__extra"]),
        helper.make_node("Add", ["trap__shape", "trap__extra"], ["trap__target"]),
        helper.make_node("Reshape", [input_name, "trap__target"], [trapped]),
    ]
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(trap + nodes)
    onnx.checker.check_model(model)
    onnx.save(model, dst)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]))
