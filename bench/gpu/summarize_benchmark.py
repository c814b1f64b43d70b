#!/usr/bin/env python3
"""One line of JSON from a Google Benchmark --benchmark_out file: per benchmark, the median real
time in ms over the repetitions (or the single run) and images per second (1000 / ms)."""
import json
import statistics
import sys

runs = {}
for b in json.load(open(sys.argv[1]))["benchmarks"]:
    if b.get("run_type") == "aggregate":
        continue
    unit = {"ms": 1.0, "us": 1e-3, "ns": 1e-6, "s": 1e3}[b.get("time_unit", "ns")]
    runs.setdefault(b["run_name"], []).append(b["real_time"] * unit)
print(json.dumps({name: {"ms_median": round(statistics.median(t), 3), "images_per_s": round(1000 / statistics.median(t), 2),
                         "repetitions": len(t)} for name, t in runs.items()}))
