#!/usr/bin/python3
"""Dice of the embedded demo IRIS model (models/iris_phantom) per strategy over several unseen
phantom patients: for each seed, patient 1's frames are the labelled example and patient 2's four
frames are segmented, exactly as tools/demo_iris.sh and tests/test_cli_fewshot_demo.cpp do (one
support: 4CH_ED; ensemble: all four frames; memory: the checkpoint's bank; tune: one support,
20 steps). Prints, per strategy and class, the mean, the lowest and the highest of the per-patient
mean Dice; these figures are in docs/IRIS.md#the-demo-model and set the test's bounds.

  /usr/bin/python3 tools/measure_iris_demo.py BUILD/medport [--seeds 7 2026 2027 ...] [--threads 1]

Training used seeds 301-303 (validation 401); do not measure on those.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DEMO = os.path.join(HERE, "..", "models", "iris_phantom")
FRAMES = ["2CH_ED", "2CH_ES", "4CH_ED", "4CH_ES"]
CLASSES = {"1": "LV", "2": "MYO", "3": "LA"}
SEEN = {301, 302, 303, 401}


def run(cmd):
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr}")


def strategies(example):
    def pair(f):
        return ["--support", f"{example}/phantom0001_{f}.npy", "--support-mask", f"{example}/phantom0001_{f}_gt.npy"]
    one = pair("4CH_ED")
    return {"one-shot": one, "ensemble": sum((pair(f) for f in FRAMES), ["--strategy", "ensemble"]),
            "memory": ["--strategy", "memory"], "tune": one + ["--strategy", "tune", "--tune-steps", "20"]}


def measure(medport, tmp, model, seed, threads):
    """{strategy: [mean Dice of LV, MYO, LA over patient 2's four frames]} for one seed."""
    root = os.path.join(tmp, f"seed{seed}")
    run([medport, "phantom", "-o", os.path.join(root, "phantoms"), "--patients", "2", "--seed", str(seed)])
    example, patient = os.path.join(root, "phantoms", "phantom0001"), os.path.join(root, "phantoms", "phantom0002")
    queries = sum((["--query", f"{patient}/phantom0002_{f}.npy"] for f in FRAMES), [])
    result = {}
    for name, extra in strategies(example).items():
        out = os.path.join(root, name)
        run([medport, "fewshot", model, *queries, "-o", out, "--config", os.path.join(DEMO, "inference.yaml"),
             "--threads", str(threads), *extra])
        seg = out + "_seg"
        os.makedirs(seg)
        for f in FRAMES:
            shutil.copy(f"{out}/phantom0002_{f}_labels.png", f"{seg}/phantom0002_{f}_seg.png")
        run([medport, "evaluate", seg, patient, "-o", out + "_eval"])
        with open(os.path.join(out + "_eval", "metrics.json")) as fh:
            summary = json.load(fh)["summary"]
        result[name] = [summary[k]["dice"]["mean"] for k in CLASSES]
    return result


def main():
    p = argparse.ArgumentParser()
    p.add_argument("medport")
    p.add_argument("--seeds", type=int, nargs="+", default=[7, 2026, 2027, 11, 12, 13, 14, 15])
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    if SEEN & set(a.seeds):
        p.error(f"seeds {sorted(SEEN & set(a.seeds))} were used in training")
    medport = os.path.abspath(a.medport)
    per_seed = {}
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "model")
        run([medport, "convert", os.path.join(DEMO, "iris_phantom.pt"), "-o", model])
        for seed in a.seeds:
            per_seed[seed] = measure(medport, tmp, model, seed, a.threads)
            print(f"seed {seed}: " + "  ".join(f"{n} " + "/".join(f"{d:.3f}" for d in v)
                                                for n, v in per_seed[seed].items()), flush=True)
    print(f"\nper-patient mean Dice over {len(a.seeds)} unseen patients (seeds {' '.join(map(str, a.seeds))}):")
    print(f"{'strategy':<10} " + " ".join(f"{c + ' mean [min, max]':>24}" for c in CLASSES.values()))
    for name in strategies(""):
        dice = np.array([per_seed[s][name] for s in a.seeds])  # (seeds, classes)
        cells = [f"{dice[:, k].mean():.3f} [{dice[:, k].min():.3f}, {dice[:, k].max():.3f}]" for k in range(3)]
        print(f"{name:<10} " + " ".join(f"{c:>24}" for c in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
