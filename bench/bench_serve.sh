#!/usr/bin/env bash
# `medport serve` under load (docs/PERFORMANCE.md, docs/SERVE.md): wrk on loopback, CONNS
# connections for SECONDS seconds against
#   - POST /v2/models/phantom2d/infer   a [1,1,256,256] float32 tensor, binary-tensor extension
#   - POST /v1/segment                  a 256x256 phantom PNG (preprocessing, sliding window with
#                                       mirroring, label map, overlay PNG, summary JSON)
# with zero errors required, p50/p99 latency and throughput, against the same work called
# in-process from WORKERS threads (bench_serve_inprocess: the server's overhead); then resident
# memory (VmRSS) after a 1,000-request warm-up and after 10,000+ more small inference requests.
#
#   bench/bench_serve.sh [BUILD_DIR] [SECONDS] [CONNS]
# Needs wrk (Debian). The server runs with --workers 2 --threads 1 (two requests computing at once,
# one ONNX Runtime thread each), the machine's 2 cores.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$here/build}"
seconds="${2:-60}"
conns="${3:-32}"
workers=2
python=/usr/bin/python3
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
[ -x "$build/medport" ] && [ -x "$build/bench/bench_serve_inprocess" ] || { echo "build medport and bench_serve_inprocess in $build" >&2; exit 2; }

work="$(mktemp -d)"
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

"$build/medport" convert "$here/models/phantom2d" -o "$work/phantom2d.onnx" >/dev/null
"$build/medport" export "$work/phantom2d.onnx" -o "$work/repo" >/dev/null
"$build/medport" phantom -o "$work/ph" --patients 1 --seed 2026 >/dev/null
png="$work/ph/phantom0001/phantom0001_2CH_ED.png"
spacing="$("$python" -c 'import json,sys; print(",".join(map(str, json.load(open(sys.argv[1]))["2CH"])))' "$work/ph/phantom0001/spacing.json")"

# Request bodies: binary-tensor inference (256x256 and, for the memory soak, 64x64), the same
# arrays as npz for the in-process baseline, and the multipart form of /v1/segment.
"$python" - "$work" "$png" "$spacing" <<'PY'
import json, sys, numpy as np
work, png, spacing = sys.argv[1:4]
rng = np.random.default_rng(0)
for name, side in (("infer", 256), ("small", 64)):
    x = rng.standard_normal((1, 1, side, side)).astype(np.float32)
    header = json.dumps({"inputs": [{"name": "input", "shape": list(x.shape), "datatype": "FP32",
                                     "parameters": {"binary_data_size": x.nbytes}}],
                         "outputs": [{"name": "logits", "parameters": {"binary_data": True}}]}).encode()
    open(f"{work}/{name}.bin", "wb").write(header + x.tobytes())
    open(f"{work}/{name}.hdrlen", "w").write(str(len(header)))
    np.savez(f"{work}/{name}.npz", input=x)
boundary = "medportbench"
parts = [(b'Content-Disposition: form-data; name="image"; filename="view.png"\r\nContent-Type: image/png', open(png, "rb").read()),
         (b'Content-Disposition: form-data; name="spacing"', spacing.encode())]
body = b"".join(b"--" + boundary.encode() + b"\r\n" + h + b"\r\n\r\n" + v + b"\r\n" for h, v in parts) + b"--" + boundary.encode() + b"--\r\n"
open(f"{work}/segment.form", "wb").write(body)
PY

port=18780
"$build/medport" serve --models "$work/repo" --port "$port" --workers "$workers" --queue 64 --threads 1 \
  --state-dir "$work/state" > "$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/v2/health/ready" >/dev/null 2>&1 && break; sleep 0.1; done
base="http://127.0.0.1:$port"
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$server_pid/status"; }
load() {  # load NAME URL_PATH BODY CONTENT_TYPE [HDRLEN] SECONDS [CONNECTIONS]
  local name="$1" path="$2" body="$3" type="$4" hdr="$5" secs="$6" c="${7:-$conns}"
  wrk -t2 -c"$c" -d"${secs}s" --timeout 120s --latency -s "$here/bench/wrk_post.lua" "$base$path" -- "$body" "$type" $hdr \
    > "$work/$name.wrk" 2>&1
  local line
  line="$(grep '^JSON ' "$work/$name.wrk" | cut -c6-)"
  echo "$line"
}

echo "== wrk: $conns connections, ${seconds}s each, server --workers $workers --threads 1" >&2
infer_json="$(load infer /v2/models/phantom2d/infer "$work/infer.bin" application/octet-stream "$(cat "$work/infer.hdrlen")" "$seconds")"
echo "infer:   $infer_json" >&2
segment_json="$(load segment /v1/segment "$work/segment.form" "multipart/form-data; boundary=medportbench" "" "$seconds")"
echo "segment: $segment_json" >&2
# Latency without queueing: as many connections as workers, so each request computes at once.
echo "== wrk: $workers connections (no queueing), 20s each" >&2
infer_lat="$(load infer_lat /v2/models/phantom2d/infer "$work/infer.bin" application/octet-stream "$(cat "$work/infer.hdrlen")" 20 "$workers")"
segment_lat="$(load segment_lat /v1/segment "$work/segment.form" "multipart/form-data; boundary=medportbench" "" 20 "$workers")"
echo "infer:   $infer_lat" >&2
echo "segment: $segment_lat" >&2

echo "== memory: 1,000-request warm-up, then 10,000+ requests of [1,1,64,64]" >&2
count() { curl -s "$base/metrics" | awk -v r='route="/v2/models/{name}/infer"' 'index($0, "medport_http_requests_total{") == 1 && index($0, r) {s += $2} END {print s + 0}'; }
start_count="$(count)"
while [ $(( $(count) - start_count )) -lt 1000 ]; do load warm /v2/models/phantom2d/infer "$work/small.bin" application/octet-stream "$(cat "$work/small.hdrlen")" 2 >/dev/null; done
rss_warm="$(rss_kb)"
warm_count="$(count)"
soak_json=""
while [ $(( $(count) - warm_count )) -lt 10000 ]; do
  soak_json="$(load soak /v2/models/phantom2d/infer "$work/small.bin" application/octet-stream "$(cat "$work/small.hdrlen")" 20)"
done
rss_end="$(rss_kb)"
soak_requests=$(( $(count) - warm_count ))
errors_5xx="$(curl -s "$base/metrics" | awk 'index($0, "medport_http_requests_total{") == 1 && index($0, "status=\"5") {s += $2} END {print s + 0}')"
kill -TERM "$server_pid"; wait "$server_pid" || true; server_pid=""

echo "== in-process baseline: $workers threads, 1 intra-op thread each, 20 s" >&2
base_infer="$("$build/bench/bench_serve_inprocess" infer "$work/phantom2d.onnx" "$work/infer.npz" "$workers" 20 1)"
base_segment="$("$build/bench/bench_serve_inprocess" segment "$work/phantom2d.onnx" "$png" "$spacing" "$workers" 20 1)"
echo "infer in-process:   $base_infer" >&2
echo "segment in-process: $base_segment" >&2

"$python" - "$infer_json" "$segment_json" "$base_infer" "$base_segment" "$infer_lat" "$segment_lat" "$rss_warm" "$rss_end" "$soak_requests" "$errors_5xx" "$conns" "$seconds" "$workers" <<'PY'
import json, sys
infer, segment, base_infer, base_segment, infer_lat, segment_lat = (json.loads(a) for a in sys.argv[1:7])
rss_warm, rss_end, soak, errors_5xx, conns, seconds, workers = (int(float(a)) for a in sys.argv[7:14])
def errors(w): return w["errors_status"] + w["errors_connect"] + w["errors_read"] + w["errors_write"] + w["errors_timeout"]
print(f"| endpoint | requests | errors | req/s | p50 ms | p99 ms | in-process req/s | in-process p50 ms | server overhead (throughput) |")
print(f"|---|---|---|---|---|---|---|---|---|")
for name, w, b in (("/v2/models/phantom2d/infer [1,1,256,256] binary", infer, base_infer), ("/v1/segment 256x256 PNG", segment, base_segment)):
    rps = w["requests"] / w["duration_s"]
    print(f"| {name} | {w['requests']} | {errors(w)} | {rps:.1f} | {w['p50_ms']:.1f} | {w['p99_ms']:.1f} | "
          f"{b['calls_per_s']:.1f} | {b['p50_ms']:.1f} | {100 * (1 - rps / b['calls_per_s']):.1f} % |")
print(f"\nWithout queueing ({workers} connections = workers): server p50/p99 vs in-process p50/p99")
for name, w, b in (("infer", infer_lat, base_infer), ("segment", segment_lat, base_segment)):
    print(f"| {name} | {w['p50_ms']:.1f} / {w['p99_ms']:.1f} ms | {b['p50_ms']:.1f} / {b['p99_ms']:.1f} ms | "
          f"+{w['p50_ms'] - b['p50_ms']:.1f} ms at p50 | errors {errors(w)} |")
growth = 100.0 * (rss_end - rss_warm) / rss_warm
print(f"\nRSS after 1,000-request warm-up {rss_warm / 1024:.1f} MiB, after {soak} more requests {rss_end / 1024:.1f} MiB: {growth:+.2f} %")
print(f"5xx answers in the whole run: {errors_5xx}; wrk errors: infer {errors(infer)}, segment {errors(segment)}")
ok = errors(infer) == 0 and errors(segment) == 0 and errors(infer_lat) == 0 and errors(segment_lat) == 0 and errors_5xx == 0 and abs(growth) < 5.0 and soak >= 10000
print("RESULT", "PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
PY
