#!/usr/bin/env python3
"""Checks config.pbtxt files against Triton's own ModelConfig schema (inference.ModelConfig).

The schema comes from the official client library's bundled, generated model_config_pb2.py
(`tritonclient`, pinned in tools/requirements-test.txt): its serialized FileDescriptorProto is
read out of the file (without importing it, so any protobuf runtime works) and loaded into a
descriptor pool; each config.pbtxt is then parsed with protobuf's text format, which refuses
unknown fields, wrong types and bad enum values. On top of the schema, the rules Triton applies
when it loads a model: a platform or backend, named inputs/outputs with a data type and dims,
dims >= -1, dynamic batching only with max_batch_size > 0, and - for the onnxruntime platform - the
version folders holding the model file.

usage: check_triton_config.py REPOSITORY_DIR   (exit 0: all valid, 1: a fault, 3: tooling missing)
"""
import ast
import pathlib
import sys


def load_model_config_class():
    try:
        import tritonclient
        from google.protobuf import descriptor_pb2, descriptor_pool, text_format  # noqa: F401
    except ImportError as e:
        print(f"SKIP: {e} (pip install -r tools/requirements-test.txt)")
        sys.exit(3)
    pb2 = pathlib.Path(tritonclient.__file__).parent / "grpc" / "model_config_pb2.py"
    if not pb2.exists():
        print(f"SKIP: {pb2} not in this tritonclient")
        sys.exit(3)
    serialized = None
    for node in ast.walk(ast.parse(pb2.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "AddSerializedFile":
            serialized = ast.literal_eval(node.args[0])
    if serialized is None:
        print(f"SKIP: no serialized descriptor found in {pb2}")
        sys.exit(3)
    from google.protobuf import descriptor_pb2, descriptor_pool
    pool = descriptor_pool.DescriptorPool()
    pool.Add(descriptor_pb2.FileDescriptorProto.FromString(serialized))
    desc = pool.FindMessageTypeByName("inference.ModelConfig")
    try:
        from google.protobuf.message_factory import GetMessageClass
        return GetMessageClass(desc)
    except ImportError:
        from google.protobuf import message_factory
        return message_factory.MessageFactory(pool).GetPrototype(desc)


def check(repo: pathlib.Path, ModelConfig) -> list:
    from google.protobuf import text_format
    faults = []
    configs = sorted(repo.glob("*/config.pbtxt"))
    if not configs:
        return [f"{repo}: no NAME/config.pbtxt"]
    for path in configs:
        name = path.parent.name
        try:
            cfg = text_format.Parse(path.read_text(), ModelConfig())
        except text_format.ParseError as e:
            faults.append(f"{path}: {e}")
            continue
        where = str(path)
        if cfg.name and cfg.name != name:
            faults.append(f"{where}: name '{cfg.name}' differs from the folder '{name}'")
        if not cfg.platform and not cfg.backend:
            faults.append(f"{where}: neither platform nor backend")
        for kind, tensors in (("input", cfg.input), ("output", cfg.output)):
            if not tensors:
                faults.append(f"{where}: no {kind}")
            for t in tensors:
                if not t.name:
                    faults.append(f"{where}: an {kind} without a name")
                if t.data_type == 0:
                    faults.append(f"{where}: {kind} {t.name} has TYPE_INVALID")
                if not t.dims or any(d < -1 for d in t.dims):
                    faults.append(f"{where}: {kind} {t.name} has bad dims {list(t.dims)}")
        if cfg.HasField("dynamic_batching") and cfg.max_batch_size <= 0:
            faults.append(f"{where}: dynamic_batching needs max_batch_size > 0")
        if not cfg.instance_group:
            faults.append(f"{where}: no instance_group")
        model_file = cfg.default_model_filename or "model.onnx"
        versions = [p for p in path.parent.iterdir() if p.is_dir() and p.name.isdigit()]
        if not versions:
            faults.append(f"{where}: no version folder")
        for v in versions:
            if cfg.platform == "onnxruntime_onnx" and not (v / model_file).is_file():
                faults.append(f"{v}: {model_file} missing")
        print(f"ok {name}: platform {cfg.platform}, max_batch_size {cfg.max_batch_size}, "
              f"{len(cfg.input)} input(s), {len(cfg.output)} output(s), versions {sorted(int(v.name) for v in versions)}")
    return faults


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    ModelConfig = load_model_config_class()
    faults = check(pathlib.Path(sys.argv[1]), ModelConfig)
    for f in faults:
        print("FAULT", f)
    return 1 if faults else 0


if __name__ == "__main__":
    sys.exit(main())
