"""Writes hostile Core ML files for tests/robustness/test_robustness_coreml.cpp.

usage: coreml_hostile.py GOOD.mlpackage GOOD.mlmodel OUT_DIR
Each case is OUT_DIR/<name>.mlpackage or OUT_DIR/<name>.mlmodel, made from the intact model
medport wrote, with one fault. OUT_DIR/cases.txt lists "<file name>\t<word of the reason>\t<commands that must refuse it>": `medport
inspect` summarizes an ML Program without building its network, so faults inside the operations
are refused by `run` only (inspect must still never crash on them); a wrong blob count in the
weight.bin header matters only to inspect, which lists the blobs.
"""
import os
import shutil
import struct
import sys

from coremltools.proto import Model_pb2, MIL_pb2

good_pkg, good_nn, out = sys.argv[1:4]
SPEC = os.path.join("Data", "com.apple.CoreML", "model.mlmodel")
WEIGHTS = os.path.join("Data", "com.apple.CoreML", "weights", "weight.bin")
cases = []
INSPECT_ONLY = {"blob_count_huge"}
RUN_ONLY = {"blob_overlap", "const_huge_shape", "const_overflowing_shape", "const_negative_dim",
            "const_immediate_overflow", "input_no_shape", "input_rank1", "input_string", "scalar_empty",
            "op_unknown", "op_missing_input", "op_undefined_ref", "op_no_outputs", "op_extra_outputs",
            "op_cycle", "output_undefined", "conv_weight_rank1", "pad_too_many", "slice_short_begin",
            "split_too_many_outputs", "transpose_bad_perm", "conv_stride_zero",
            "blob_size_wraps"}


def add_case(name, suffix, reason):
    mode = "inspect" if name in INSPECT_ONLY else "run" if name in RUN_ONLY else "both"
    cases.append((name + suffix, reason, mode))


def load(path):
    m = Model_pb2.Model()
    with open(path, "rb") as f:
        m.ParseFromString(f.read())
    return m


def block_of(m):
    fn = m.mlProgram.functions["main"]
    return fn.block_specializations[fn.opset]


def first(block, op_type, nth=0):
    return [op for op in block.operations if op.type == op_type][nth]


def package(name, reason, change=None, raw_spec=None, weights=None):
    """A copy of the good package; `change(model, block)` edits the spec, `weights(bytes)` weight.bin."""
    dst = os.path.join(out, name + ".mlpackage")
    shutil.copytree(good_pkg, dst)
    if change or raw_spec is not None:
        data = raw_spec
        if change:
            m = load(os.path.join(dst, SPEC))
            change(m, block_of(m))
            data = m.SerializeToString()
        with open(os.path.join(dst, SPEC), "wb") as f:
            f.write(data)
    if weights:
        path = os.path.join(dst, WEIGHTS)
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(weights(data))
    add_case(name, ".mlpackage", reason)
    return dst


def neural_network(name, reason, change=None, raw=None):
    dst = os.path.join(out, name + ".mlmodel")
    data = raw
    if change:
        m = load(good_nn)
        change(m, m.neuralNetwork.layers)
        data = m.SerializeToString()
    with open(dst, "wb") as f:
        f.write(data)
    add_case(name, ".mlmodel", reason)


def set_dims(value_type, dims):
    del value_type.tensorType.dimensions[:]
    value_type.tensorType.rank = len(dims)
    for d in dims:
        value_type.tensorType.dimensions.add().constant.size = d


def blob_consts(block):
    return [op for op in block.operations
            if op.type == "const" and op.attributes["val"].HasField("blobFileValue")]


def const_named(block, name):
    return next(op for op in block.operations if op.type == "const" and op.outputs[0].name == name)


def arg(op, param):
    return op.inputs[param].arguments[0].name


with open(good_pkg + "/" + SPEC, "rb") as f:
    spec_bytes = f.read()
with open(good_nn, "rb") as f:
    nn_bytes = f.read()

# ---- ML Program: the file layers ------------------------------------------------------------
package("spec_truncated", "protobuf", raw_spec=spec_bytes[: len(spec_bytes) // 2])
package("spec_empty", "empty", raw_spec=b"")
package("weights_truncated", "outside", weights=lambda d: d[: len(d) // 2])
package("weights_header_only", "too short", weights=lambda d: d[:10])
package("weights_version", "version", weights=lambda d: d[:4] + struct.pack("<I", 7) + d[8:])
package("blob_sentinel", "sentinel", weights=lambda d: d[:64] + b"\0\0\0\0" + d[68:])
package("blob_size_huge", "outside", weights=lambda d: d[:72] + struct.pack("<Q", 1 << 63) + d[80:])
package("blob_dtype", "dtype", weights=lambda d: d[:68] + struct.pack("<I", 9) + d[72:])
package("blob_count_huge", "record", weights=lambda d: struct.pack("<I", 0xFFFFFFFF) + d[4:])


def blob_offset(offset):
    def change(m, b):
        blob_consts(b)[0].attributes["val"].blobFileValue.offset = offset
    return change


package("blob_offset_past_end", "inside the file", blob_offset(1 << 40))
package("blob_offset_misaligned", "aligned", blob_offset(65))


def blob_overlap(m, b):  # the second weight read from the first one's record
    consts = blob_consts(b)
    consts[1].attributes["val"].blobFileValue.offset = consts[0].attributes["val"].blobFileValue.offset


package("blob_overlap", "holds", blob_overlap)


def no_weight_bin(name, reason, change=None):
    dst = package(name, reason, change)
    os.remove(os.path.join(dst, WEIGHTS))


no_weight_bin("weights_missing", "weight.bin")

# ---- ML Program: types and shapes -----------------------------------------------------------


def huge_blob_const(m, b):  # 2^62 float16 elements declared for a small blob
    set_dims(blob_consts(b)[0].outputs[0].type, [1 << 31, 1 << 31])
    set_dims(blob_consts(b)[0].attributes["val"].type, [1 << 31, 1 << 31])


def overflowing_const(m, b):  # 2^93 elements: the count overflows 64 bits
    c = blob_consts(b)[0]
    for t in (c.outputs[0].type, c.attributes["val"].type):
        set_dims(t, [1 << 31, 1 << 31, 1 << 31])


def negative_dim_const(m, b):
    c = blob_consts(b)[0]
    for t in (c.outputs[0].type, c.attributes["val"].type):
        set_dims(t, [(1 << 64) - 5, 4])


def immediate_overflow(m, b):  # an immediate const whose shape overflows
    c = const_named(b, arg(first(b, "leaky_relu"), "alpha"))
    set_dims(c.attributes["val"].type, [1 << 40, 1 << 40])


package("const_huge_shape", "declares", huge_blob_const)
package("const_overflowing_shape", "too large", overflowing_const)
package("const_negative_dim", "shape", negative_dim_const)
package("const_immediate_overflow", "too large", immediate_overflow)


def input_rank(dims):
    def change(m, b):
        set_dims(m.mlProgram.functions["main"].inputs[0].type, dims)
    return change


package("input_no_shape", "dimensions", input_rank([]))
package("input_rank1", "dimensions", input_rank([256]))


def input_string(m, b):
    m.mlProgram.functions["main"].inputs[0].type.tensorType.dataType = MIL_pb2.STRING


package("input_string", "unsupported type", input_string)


def empty_scalar(m, b):  # leaky_relu's alpha holds no value
    c = const_named(b, arg(first(b, "leaky_relu"), "alpha"))
    set_dims(c.attributes["val"].type, [0])
    del c.attributes["val"].immediateValue.tensor.floats.values[:]


package("scalar_empty", "alpha", empty_scalar)


def const_without_value(m, b):
    del const_named(b, arg(first(b, "leaky_relu"), "alpha")).attributes["val"]


package("const_without_value", "value", const_without_value)

# ---- ML Program: the operations -------------------------------------------------------------


def op_change(fn):
    def change(m, b):
        fn(b)
    return change


package("op_unknown", "not supported", op_change(lambda b: setattr(first(b, "conv"), "type", "frobnicate")))
package("op_missing_input", "missing input", op_change(lambda b: first(b, "conv").inputs.pop("weight")))
package("op_undefined_ref", "before it is defined",
        op_change(lambda b: setattr(first(b, "conv").inputs["x"].arguments[0], "name", "nowhere")))
package("op_no_outputs", "output", op_change(lambda b: first(b, "conv").ClearField("outputs")))
package("op_extra_outputs", "output", op_change(lambda b: first(b, "leaky_relu").outputs.add().CopyFrom(
    first(b, "leaky_relu").outputs[0])))


def cycle(b):  # the first conv reads what the last op computes
    first(b, "conv").inputs["x"].arguments[0].name = b.outputs[0]


package("op_cycle", "before it is defined", op_change(cycle))
package("output_undefined", "before it is defined", op_change(lambda b: b.outputs.__setitem__(0, "nowhere")))


def weight_rank1(b):  # a conv weight of rank 1
    c = const_named(b, arg(first(b, "conv"), "weight"))
    n = 1
    for d in c.outputs[0].type.tensorType.dimensions:
        n *= d.constant.size
    c.attributes["val"].blobFileValue.offset = c.attributes["val"].blobFileValue.offset
    for t in (c.outputs[0].type, c.attributes["val"].type):
        set_dims(t, [n])


package("conv_weight_rank1", "rank", op_change(weight_rank1))


def conv_stride_zero(b):
    c = const_named(b, arg(first(b, "conv"), "strides"))
    c.attributes["val"].immediateValue.tensor.ints.values[0] = 0


package("conv_stride_zero", "at least 1", op_change(conv_stride_zero))


def blob_size_wraps(name):
    """A float32 blob of 0 bytes declared as 2^62 elements: 4 * 2^62 wraps to 0 in 64 bits."""
    def change(m, b):
        c = blob_consts(b)[0]
        for t in (c.outputs[0].type, c.attributes["val"].type):
            set_dims(t, [1 << 31, 1 << 31])
            t.tensorType.dataType = MIL_pb2.FLOAT32
    package(name, "declares", change,
            weights=lambda d: d[:68] + struct.pack("<IQ", 2, 0) + d[80:])


blob_size_wraps("blob_size_wraps")


def ints_const(name, values):
    op = MIL_pb2.Operation()
    op.type = "const"
    o = op.outputs.add()
    o.name = name
    set_dims(o.type, [len(values)])
    o.type.tensorType.dataType = MIL_pb2.INT32
    v = op.attributes["val"]
    v.type.CopyFrom(o.type)
    v.immediateValue.tensor.ints.values.extend(values)
    return op


def replace_op(b, op_type, params, extra_consts=(), outputs=1):
    """The first leaky_relu becomes `op_type` reading the given int consts (made just before it)."""
    ops = []
    for old in b.operations:
        ops.append(MIL_pb2.Operation())
        ops[-1].CopyFrom(old)
    index = next(i for i, o in enumerate(ops) if o.type == "leaky_relu")
    ops[index:index] = [ints_const(name, values) for name, values in extra_consts]
    del b.operations[:]
    b.operations.extend(ops)
    op = b.operations[index + len(extra_consts)]
    op.type = op_type
    op.inputs.pop("alpha")
    for p, const_name in params.items():
        op.inputs[p].arguments.add().name = const_name
    while len(op.outputs) < outputs:
        op.outputs.add().CopyFrom(op.outputs[0])
        op.outputs[-1].name += "_%d" % len(op.outputs)


package("pad_too_many", "pad", op_change(lambda b: replace_op(b, "pad", {"pad": "hostile_pad"},
                                                              [("hostile_pad", [1] * 10)])))
package("slice_short_begin", "begin", op_change(lambda b: replace_op(
    b, "slice_by_index", {"begin": "hb", "end": "he"}, [("hb", [0]), ("he", [1])])))
package("split_too_many_outputs", "split", op_change(lambda b: replace_op(
    b, "split", {"split_sizes": "hs", "axis": "ha"}, [("hs", [16]), ("ha", [1])], outputs=3)))
package("transpose_bad_perm", "perm", op_change(lambda b: replace_op(b, "transpose", {"perm": "hp"}, [("hp", [0, 9])])))


def nested(b, depth=120):  # an op holding blocks nested 120 deep
    op = first(b, "leaky_relu")
    for _ in range(depth):
        op = op.blocks.add().operations.add()
        op.type = "identity"


package("nested_blocks", "protobuf", op_change(nested))


def no_main(m, b):
    fns = m.mlProgram.functions
    fns["other"].CopyFrom(fns["main"])
    del fns["main"]


package("function_missing", "main", no_main)
package("opset_missing", "opset", lambda m, b: setattr(m.mlProgram.functions["main"], "opset", "CoreML99"))


# ---- package layout -------------------------------------------------------------------------
def manifest(name, reason, text):
    dst = package(name, reason)
    with open(os.path.join(dst, "Manifest.json"), "w") as f:
        f.write(text)


manifest("manifest_malformed", "manifest", "{\"rootModelIdentifier\": ")
manifest("manifest_no_root", "manifest", "{\"itemInfoEntries\": {}}")
manifest("manifest_escapes", "leaves",
         "{\"rootModelIdentifier\": \"a\", \"itemInfoEntries\": {\"a\": {\"path\": \"../../../etc/passwd\"}}}")
manifest("manifest_absolute", "leaves",
         "{\"rootModelIdentifier\": \"a\", \"itemInfoEntries\": {\"a\": {\"path\": \"/etc/passwd\"}}}")
manifest("manifest_to_weights", "protobuf",
         "{\"rootModelIdentifier\": \"a\", \"itemInfoEntries\": {\"a\": {\"path\": \"com.apple.CoreML/weights/weight.bin\"}}}")
manifest("manifest_to_folder", "com.apple.CoreML",
         "{\"rootModelIdentifier\": \"a\", \"itemInfoEntries\": {\"a\": {\"path\": \"com.apple.CoreML\"}}}")
manifest("manifest_to_nothing", "gone.mlmodel",
         "{\"rootModelIdentifier\": \"a\", \"itemInfoEntries\": {\"a\": {\"path\": \"gone.mlmodel\"}}}")
linked = package("weights_symlink", "symbolic link")
os.remove(os.path.join(linked, WEIGHTS))
os.symlink("/etc/hostname", os.path.join(linked, WEIGHTS))

# ---- NeuralNetwork models -------------------------------------------------------------------
neural_network("nn_truncated", "protobuf", raw=nn_bytes[: len(nn_bytes) // 2])
neural_network("nn_empty_layers", "before it is defined", lambda m, ls: m.neuralNetwork.ClearField("layers"))
neural_network("nn_weight_count", "weights hold", lambda m, ls: ls[0].convolution.weights.floatValue.pop())
neural_network("nn_one_kernel_size", "expected 2", lambda m, ls: ls[0].convolution.kernelSize.pop())
neural_network("nn_huge_channels", "too large",
               lambda m, ls: setattr(ls[0].convolution, "outputChannels", 1 << 62))
neural_network("nn_channels_wrap", "negative",
               lambda m, ls: setattr(ls[0].convolution, "outputChannels", (1 << 64) - 1))
neural_network("nn_step_zero", "stride", lambda m, ls: ls[0].convolution.stride.__setitem__(0, 0))
neural_network("nn_step_negative", "stride", lambda m, ls: ls[0].convolution.stride.__setitem__(0, (1 << 64) - 1))
neural_network("nn_dilation_zero", "at least 1", lambda m, ls: ls[0].convolution.dilationFactor.__setitem__(1, 0))
neural_network("nn_kernel_huge", "out of range", lambda m, ls: ls[0].convolution.kernelSize.__setitem__(0, 1 << 40))
neural_network("nn_input_no_shape", "shape", lambda m, ls: m.description.input[0].type.multiArrayType.ClearField("shape"))
neural_network("nn_input_not_array", "multi-array", lambda m, ls: m.description.input[0].type.ClearField("multiArrayType"))
neural_network("nn_missing_input", "missing input", lambda m, ls: ls[0].ClearField("input"))
neural_network("nn_undefined_ref", "before it is defined", lambda m, ls: ls[0].input.__setitem__(0, "nowhere"))
neural_network("nn_unknown_layer", "not supported", lambda m, ls: ls[0].softmax.SetInParent())
neural_network("nn_batchnorm_count", "weights hold", lambda m, ls: ls[1].batchnorm.gamma.floatValue.pop())
neural_network("nn_output_undefined", "before it is defined",
               lambda m, ls: setattr(m.description.output[0], "name", "nowhere"))

with open(os.path.join(out, "cases.txt"), "w") as f:
    for name, reason, mode in cases:
        f.write(f"{name}\t{reason}\t{mode}\n")
