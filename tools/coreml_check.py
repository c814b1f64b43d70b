#!/usr/bin/env python3
"""Checks a Core ML file with Apple's own tooling (coremltools; test tooling only, never the
product path). Prints one JSON object:
  spec: specification version, model type, inputs/outputs (name, dtype, shape, flexibility), metadata
  program (ML Program): the MIL loader rebuilt the program and re-ran type inference on every op;
           opset, op counts
  blobs (with --weights NPZ): every weight.bin record read back with coremltools' blob reader and
           compared with the source array named like its const (suffix "_to_fp16" dropped): fp32
           records must equal the source bit for bit, fp16 ones its float16 rounding
Exit 1 with a message on stderr when anything fails to load or compare.
usage: coreml_check.py PATH [--weights NPZ]
"""
import argparse
import json
import os
import sys
import warnings

warnings.filterwarnings("ignore")


def feature(f):
    t = f.type.multiArrayType
    from coremltools.proto import FeatureTypes_pb2 as ft
    out = {"name": f.name, "dtype": ft.ArrayFeatureType.ArrayDataType.Name(t.dataType), "shape": list(t.shape)}
    kind = t.WhichOneof("ShapeFlexibility")
    if kind == "shapeRange":
        out["ranges"] = [[r.lowerBound, r.upperBound] for r in t.shapeRange.sizeRanges]
    elif kind == "enumeratedShapes":
        out["enumerated"] = [list(s.shape) for s in t.enumeratedShapes.shapes]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("path")
    ap.add_argument("--weights")
    args = ap.parse_args()
    import numpy as np
    import coremltools as ct

    model = ct.models.MLModel(args.path, skip_model_load=True)
    spec = model.get_spec()
    kind = spec.WhichOneof("Type")
    md = spec.description.metadata
    result = {
        "spec": {
            "version": spec.specificationVersion,
            "type": kind,
            "inputs": [feature(f) for f in spec.description.input],
            "outputs": [feature(f) for f in spec.description.output],
            "metadata": {"description": md.shortDescription, "author": md.author, "license": md.license,
                         "version": md.versionString, "user": dict(md.userDefined)},
        }
    }
    if kind == "neuralNetwork":
        counts = {}
        for layer in spec.neuralNetwork.layers:
            k = layer.WhichOneof("layer")
            counts[k] = counts.get(k, 0) + 1
        result["layers"] = counts
    if kind == "mlProgram":
        from coremltools.converters.mil.frontend.milproto import load as milproto
        prog = milproto.load(spec, specification_version=spec.specificationVersion, file_weights_dir=model.weights_dir)
        counts = {}
        for op in prog.functions["main"].operations:
            counts[op.op_type] = counts.get(op.op_type, 0) + 1
        fn = spec.mlProgram.functions["main"]
        result["program"] = {"opset": fn.opset, "ops": counts}
        if args.weights:
            from coremltools.libmilstoragepython import _BlobStorageReader
            src = np.load(args.weights)
            reader = _BlobStorageReader(os.path.join(model.weights_dir, "weight.bin"))
            block = fn.block_specializations[fn.opset]
            checked, mismatched = 0, []
            for op in block.operations:
                if op.type != "const" or op.attributes["val"].WhichOneof("value") != "blobFileValue":
                    continue
                name = op.outputs[0].name
                key = name[: -len("_to_fp16")] if name.endswith("_to_fp16") else name
                if key not in src.files:
                    continue
                t = op.outputs[0].type.tensorType
                offset = op.attributes["val"].blobFileValue.offset
                ref = src[key].astype(np.float32)
                if t.dataType == 10:  # FLOAT16
                    got = np.asarray(reader.read_fp16_data(offset)).view(np.float16)
                    ok = np.array_equal(got.view(np.uint16), ref.astype(np.float16).reshape(-1).view(np.uint16))
                else:
                    got = np.asarray(reader.read_float_data(offset), dtype=np.float32)
                    ok = np.array_equal(got.view(np.uint32), ref.reshape(-1).view(np.uint32))
                checked += 1
                if not ok:
                    mismatched.append(name)
            result["blobs"] = {"checked": checked, "mismatched": mismatched}
            if mismatched:
                print(json.dumps(result))
                sys.exit("weight.bin records differ from the source: " + ", ".join(mismatched[:5]))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
