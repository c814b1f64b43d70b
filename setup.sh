#!/usr/bin/env bash
# medport one-command setup. Idempotent: every step checks whether it is already done.
#
#   ./setup.sh          install Debian packages, fetch ONNX Runtime, configure and build
#   ./setup.sh demo     ... then run the demo on the embedded default model
#   ./setup.sh test     ... then run every test (ctest)
#   ./setup.sh gpu      ... with ONNX Runtime's CUDA execution provider added (only when asked for:
#                       about 230 MB; needs CUDA 13 and cuDNN 9 libraries at run time, docs/GPU.md)
#
# Environment:
#   MEDPORT_BUILD_DIR   build folder (default: build)
#   ONNXRUNTIME_ROOT    use an ONNX Runtime you already have (folder with include/ and lib/)
#   MEDPORT_JOBS        parallel build jobs (default: nproc)
#   MEDPORT_TEST_VENV   Python venv for test/benchmark tooling (default: .venv; `test` only)
#   MEDPORT_GPU=1       add the CUDA execution provider (as `gpu`) before demo/test/build
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
build_dir="${MEDPORT_BUILD_DIR:-build}"
jobs="${MEDPORT_JOBS:-$(nproc)}"

ORT_NPM_PACKAGE="com.github.asus4.onnxruntime@0.4.9"
ORT_NPM_SHA256="e59788788818fdde1b2e522e766a21ba0f7d8391de55737abf81e32cc801785d"
ORT_DEFAULT_ROOT="$here/third_party/onnxruntime"
# GPU execution, only when asked for: the CUDA execution provider of the same release (Microsoft's
# linux-x64-gpu provider library, CUDA 13) and a core library built with CUDA support. The core in
# the package above is Microsoft's CPU-only build ("CUDA execution provider is not enabled in this
# build"), so the GPU set-up takes the core of Microsoft's onnxruntime-node 1.29.0 package (the
# same release, built with the CUDA provider bridge; same C API, same SONAME, no rebuild needed).
ORT_GPU_NPM_PACKAGE="com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9"
ORT_GPU_NPM_SHA256="2b459e0c17f340c92970c10ed86de4f37a3009f93c14053e6ad4334cbb6be412"
ORT_GPU_CORE_NPM_PACKAGE="onnxruntime-node@1.29.0"
ORT_GPU_CORE_NPM_SHA256="cfdfb45ec4044b1fdca43e5d2e180fb6817e649ff8ad1e0dfc90e18e51b67037"

log() { printf '[setup] %s\n' "$*"; }

# Debian 12 packages the build, the tests and the reference tooling need.
APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libopencv-dev libjpeg-dev libtiff-dev libonnx-dev libprotobuf-dev protobuf-compiler libzip-dev zlib1g-dev libssl-dev
  libniftiio-dev libnifti2-dev libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev
  libyaml-cpp-dev libgtest-dev libgmock-dev libbenchmark-dev clang libclang-rt-14-dev strace
  libdcmtk-dev dicom3tools libpq-dev postgresql default-jdk-headless maven
  python3 python3-numpy python3-onnx python3-torch python3-torchvision python3-scipy ffmpeg python3-skimage python3-venv python3-pip
  libcpp-httplib-dev libbrotli-dev prometheus-cpp-dev openssl wrk chromium curl
)

install_packages() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
  # npm fetches ONNX Runtime; a machine with Node.js from elsewhere already has it.
  command -v npm >/dev/null || missing+=(npm)
  if [ ${#missing[@]} -eq 0 ]; then
    log "Debian packages: already installed"
    return
  fi
  log "Debian packages: installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

fetch_onnxruntime() {
  if [ -n "${ONNXRUNTIME_ROOT:-}" ]; then
    log "ONNX Runtime: using ONNXRUNTIME_ROOT=$ONNXRUNTIME_ROOT"
    return
  fi
  local root="$ORT_DEFAULT_ROOT"
  if [ -f "$root/.complete" ] && [ "$(cat "$root/.complete")" = "$ORT_NPM_SHA256" ]; then
    log "ONNX Runtime: already in $root"
    return
  fi
  log "ONNX Runtime: fetching $ORT_NPM_PACKAGE"
  local tmp
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' RETURN
  (cd "$tmp" && npm pack --silent "$ORT_NPM_PACKAGE" >/dev/null 2>"$tmp/npm.err") || {
    cat "$tmp/npm.err" >&2; log "npm pack failed"; exit 1; }
  local tgz
  tgz="$(ls "$tmp"/*.tgz)"
  local got
  got="$(sha256sum "$tgz" | cut -d' ' -f1)"
  if [ "$got" != "$ORT_NPM_SHA256" ]; then
    log "ONNX Runtime: checksum mismatch for $tgz (got $got, want $ORT_NPM_SHA256)"
    exit 1
  fi
  local hdr="package/Plugins/iOS~/onnxruntime.xcframework/ios-arm64/onnxruntime.framework/Headers"
  local lib="package/Plugins/Linux/x64"
  tar -xzf "$tgz" -C "$tmp" "$hdr" "$lib/libonnxruntime.so" "$lib/libonnxruntime_providers_shared.so" package/LICENSE package/ThirdPartyNotices.txt
  rm -rf "$root.partial"
  mkdir -p "$root.partial/include" "$root.partial/lib"
  cp "$tmp/$hdr"/*.h "$root.partial/include/"
  cp "$tmp/$lib"/*.so "$root.partial/lib/"
  cp "$tmp/package/LICENSE" "$tmp/package/ThirdPartyNotices.txt" "$root.partial/"
  ln -sf libonnxruntime.so "$root.partial/lib/libonnxruntime.so.1"
  echo "1.29.0" > "$root.partial/VERSION_NUMBER"
  echo "$ORT_NPM_SHA256" > "$root.partial/.complete"
  rm -rf "$root"
  mv "$root.partial" "$root"
  log "ONNX Runtime: installed into $root"
}

# npm pack PACKAGE into DIR and check its sha256; prints the tarball's path.
npm_fetch_checked() {
  local package="$1" want="$2" dir="$3"
  (cd "$dir" && npm pack --silent "$package" >/dev/null 2>"$dir/npm.err") || {
    cat "$dir/npm.err" >&2; log "npm pack $package failed" >&2; exit 1; }
  local tgz got
  tgz="$(ls -t "$dir"/*.tgz | head -1)"
  got="$(sha256sum "$tgz" | cut -d' ' -f1)"
  if [ "$got" != "$want" ]; then
    log "checksum mismatch for $tgz (got $got, want $want)" >&2
    exit 1
  fi
  echo "$tgz"
}

# The CUDA provider (libonnxruntime_providers_cuda.so, the GPU build's providers_shared) and the
# CUDA-enabled core into the ONNX Runtime folder; the core loads the provider from its own folder
# when a session asks for CUDA. The CPU-only core is kept as libonnxruntime.so.cpu.
fetch_onnxruntime_gpu() {
  if [ -n "${ONNXRUNTIME_ROOT:-}" ]; then
    log "CUDA provider: ONNXRUNTIME_ROOT is set; use a GPU build of ONNX Runtime there yourself"
    return
  fi
  local root="$ORT_DEFAULT_ROOT" stamp="$ORT_GPU_NPM_SHA256 $ORT_GPU_CORE_NPM_SHA256"
  if [ -f "$root/.complete-gpu" ] && [ "$(cat "$root/.complete-gpu")" = "$stamp" ]; then
    log "CUDA provider: already in $root"
    return
  fi
  log "CUDA provider: fetching $ORT_GPU_NPM_PACKAGE and $ORT_GPU_CORE_NPM_PACKAGE"
  local tmp
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' RETURN
  mkdir -p "$tmp/provider" "$tmp/core"
  local provider_tgz core_tgz
  provider_tgz="$(npm_fetch_checked "$ORT_GPU_NPM_PACKAGE" "$ORT_GPU_NPM_SHA256" "$tmp/provider")"
  core_tgz="$(npm_fetch_checked "$ORT_GPU_CORE_NPM_PACKAGE" "$ORT_GPU_CORE_NPM_SHA256" "$tmp/core")"
  local lib="package/Plugins/Linux/x64" core="package/bin/napi-v6/linux/x64/libonnxruntime.so.1"
  tar -xzf "$provider_tgz" -C "$tmp" "$lib/libonnxruntime_providers_cuda.so" "$lib/libonnxruntime_providers_shared.so"
  tar -xzf "$core_tgz" -C "$tmp" "$core"
  [ -f "$root/lib/libonnxruntime.so.cpu" ] || cp "$root/lib/libonnxruntime.so" "$root/lib/libonnxruntime.so.cpu"
  local f
  for f in "$lib/libonnxruntime_providers_cuda.so" "$lib/libonnxruntime_providers_shared.so"; do
    cp "$tmp/$f" "$root/lib/$(basename "$f").partial"
    mv "$root/lib/$(basename "$f").partial" "$root/lib/$(basename "$f")"
  done
  cp "$tmp/$core" "$root/lib/libonnxruntime.so.partial"
  mv "$root/lib/libonnxruntime.so.partial" "$root/lib/libonnxruntime.so"
  echo "$stamp" > "$root/.complete-gpu"
  log "CUDA provider: installed into $root/lib (at run time it needs the NVIDIA driver, libcudart.so.13," \
      "libcublas(Lt).so.13, libcurand.so.10 and cuDNN 9 on the library path; see docs/GPU.md)"
}

# Test and benchmark tooling from PyPI (tools/requirements-test.txt, every version pinned) in a
# venv that still sees Debian's torch/numpy/onnx. Nothing from it is in the product path.
test_venv="${MEDPORT_TEST_VENV:-$here/.venv}"
setup_test_venv() {
  if [ ! -x "$test_venv/bin/python" ]; then
    log "test tooling: creating $test_venv"
    /usr/bin/python3 -m venv --system-site-packages "$test_venv"
  fi
  local want stamp="$test_venv/.requirements.sha256"
  want="$(sha256sum "$here/tools/requirements-test.txt" | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    log "test tooling: up to date"
    return
  fi
  log "test tooling: installing tools/requirements-test.txt"
  "$test_venv/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$here/tools/requirements-test.txt"
  echo "$want" > "$stamp"
}

# The viewer's end-to-end test drives Debian's chromium with playwright-core (pinned in
# tools/serve/package.json; no browser download).
setup_viewer_test() {
  local pkg="$here/tools/serve/package.json" stamp="$here/tools/serve/node_modules/.package.sha256" want
  want="$(sha256sum "$pkg" | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    log "viewer test tooling: up to date"
    return
  fi
  log "viewer test tooling: npm install in tools/serve"
  (cd "$here/tools/serve" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --silent --no-audit --no-fund --no-package-lock)
  echo "$want" > "$stamp"
}

configure_and_build() {
  local ort_root="${ONNXRUNTIME_ROOT:-$ORT_DEFAULT_ROOT}"
  local generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  if [ -f "$build_dir/CMakeCache.txt" ]; then
    generator=()  # keep the generator the folder was configured with
  fi
  log "configuring $build_dir"
  local python=()
  [ -x "$test_venv/bin/python" ] && python=(-DMEDPORT_PYTHON="$test_venv/bin/python")
  cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DONNXRUNTIME_ROOT="$ort_root" "${python[@]}" >/dev/null
  log "building $build_dir"
  cmake --build "$build_dir" -j "$jobs"
}

command="${1:-}"
if [ "$command" = "gpu" ]; then
  MEDPORT_GPU=1
  command=""
fi
install_packages
fetch_onnxruntime
# The HL7 FHIR validator (HAPI FhirInstanceValidator, pinned in tools/fhir-validator/pom.xml)
# from Maven Central into third_party/fhir-validator, for the FHIR bundle tests.
setup_fhir_validator() {
  log "test tooling: HL7 FHIR validator (tools/fhir-validator)"
  "$here/tools/fhir-validator/fetch.sh" "$here/third_party/fhir-validator" ||
    log "WARNING: could not fetch the FHIR validator from Maven Central; the FHIR validation tests will skip"
}
[ "${MEDPORT_GPU:-0}" = "1" ] && fetch_onnxruntime_gpu
[ "$command" = "test" ] && setup_test_venv && setup_fhir_validator && setup_viewer_test
configure_and_build

case "$command" in
  "") ;;
  demo) exec "$here/tools/demo.sh" "$build_dir" ;;
  test)
    cd "$build_dir"
    exec ctest --output-on-failure -j "$jobs" ;;
  *) log "unknown command '$1' (use: demo, test, gpu)"; exit 2 ;;
esac
