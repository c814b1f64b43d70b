#!/usr/bin/env bash
# medport one-command setup. Idempotent: every step checks whether it is already done.
#
#   ./setup.sh          install Debian packages, fetch ONNX Runtime, configure and build
#   ./setup.sh demo     ... then run the demo on the embedded default model
#   ./setup.sh test     ... then run every test (ctest)
#
# Environment:
#   MEDPORT_BUILD_DIR   build folder (default: build)
#   ONNXRUNTIME_ROOT    use an ONNX Runtime you already have (folder with include/ and lib/)
#   MEDPORT_JOBS        parallel build jobs (default: nproc)
#   MEDPORT_TEST_VENV   Python venv for test/benchmark tooling (default: .venv; `test` only)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
build_dir="${MEDPORT_BUILD_DIR:-build}"
jobs="${MEDPORT_JOBS:-$(nproc)}"

ORT_NPM_PACKAGE="com.github.asus4.onnxruntime@0.4.9"
ORT_NPM_SHA256="e59788788818fdde1b2e522e766a21ba0f7d8391de55737abf81e32cc801785d"
ORT_DEFAULT_ROOT="$here/third_party/onnxruntime"

log() { printf '[setup] %s\n' "$*"; }

# Debian 12 packages the build, the tests and the reference tooling need.
APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libopencv-dev libonnx-dev libprotobuf-dev protobuf-compiler libzip-dev zlib1g-dev libssl-dev
  libniftiio-dev libnifti2-dev libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev
  libyaml-cpp-dev libgtest-dev libgmock-dev libbenchmark-dev clang
  python3 python3-numpy python3-onnx python3-torch python3-torchvision python3-scipy ffmpeg python3-skimage python3-venv python3-pip
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

install_packages
fetch_onnxruntime
[ "${1:-}" = "test" ] && setup_test_venv
configure_and_build

case "${1:-}" in
  "") ;;
  demo) exec "$here/tools/demo.sh" "$build_dir" ;;
  test)
    cd "$build_dir"
    exec ctest --output-on-failure -j "$jobs" ;;
  *) log "unknown command '$1' (use: demo, test)"; exit 2 ;;
esac
