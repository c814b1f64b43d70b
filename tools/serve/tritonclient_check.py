#!/usr/bin/env python3
"""Talks to a running `medport serve` with the official Triton HTTP client (tritonclient[http]).

usage: tritonclient_check.py HOST:PORT MODEL INPUTS.npz OUT_PREFIX
Checks liveness, readiness, the repository index and the model's metadata, then infers on the
arrays of INPUTS.npz (named like the model inputs) twice - binary tensors both ways, and JSON
tensors both ways - and writes every output to OUT_PREFIX_binary.npz and OUT_PREFIX_json.npz.
Prints one JSON line with what it saw. Exit 0 on success.
"""
import json
import sys

import numpy as np
import tritonclient.http as httpclient

DTYPES = {"float32": "FP32", "float16": "FP16", "float64": "FP64", "int64": "INT64", "int32": "INT32", "uint8": "UINT8"}


def main():
    url, model, inputs_npz, out_prefix = sys.argv[1:5]
    client = httpclient.InferenceServerClient(url=url)
    seen = {
        "live": client.is_server_live(),
        "ready": client.is_server_ready(),
        "server": client.get_server_metadata(),
        "index": client.get_model_repository_index(),
        "model_ready": client.is_model_ready(model),
        "metadata": client.get_model_metadata(model),
    }
    assert seen["live"] and seen["ready"] and seen["model_ready"], seen
    assert any(m["name"] == model and m["state"] == "READY" for m in seen["index"]), seen["index"]
    arrays = np.load(inputs_npz)
    output_names = [o["name"] for o in seen["metadata"]["outputs"]]
    for binary in (True, False):
        inputs = []
        for spec in seen["metadata"]["inputs"]:
            a = arrays[spec["name"]]
            i = httpclient.InferInput(spec["name"], list(a.shape), DTYPES[str(a.dtype)])
            i.set_data_from_numpy(a, binary_data=binary)
            inputs.append(i)
        outputs = [httpclient.InferRequestedOutput(n, binary_data=binary) for n in output_names]
        result = client.infer(model, inputs, outputs=outputs, request_id="tritonclient-check")
        got = {n: result.as_numpy(n) for n in output_names}
        np.savez(f"{out_prefix}_{'binary' if binary else 'json'}.npz", **got)
        seen["response_id_" + ("binary" if binary else "json")] = result.get_response()["id"]
    # Unknown models are errors the client reports as such.
    try:
        client.get_model_metadata("no_such_model")
        seen["unknown_model_error"] = None
    except Exception as e:  # tritonclient raises InferenceServerException
        seen["unknown_model_error"] = str(e)
    client.close()
    print(json.dumps(seen, default=str))


if __name__ == "__main__":
    main()
