#!/usr/bin/env bash
# Runs one libFuzzer target for a while with a corpus seeded from the reference fixtures.
#
#   fuzz/run.sh TARGET SECONDS [extra libFuzzer flags...]
#
# One fuzzing process (the equivalent of -jobs=1), so it leaves the other cores alone.
# TARGET is fuzz_npy, fuzz_zip, fuzz_safetensors, fuzz_pickle, fuzz_nifti, fuzz_metaimage or
# fuzz_natural_image, built in $MEDPORT_FUZZ_BUILD
# (default build-fuzz; see fuzz/CMakeLists.txt). The corpus lives in fuzz/corpus-TARGET/ and
# crashes in fuzz/crashes/TARGET/ (both git-ignored). Fixtures come from $MEDPORT_FIXTURES
# (default ../shared/fixtures beside the checkout).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
target="${1:?usage: fuzz/run.sh TARGET SECONDS [libFuzzer flags...]}"
seconds="${2:?usage: fuzz/run.sh TARGET SECONDS [libFuzzer flags...]}"
shift 2
build="${MEDPORT_FUZZ_BUILD:-$root/build-fuzz}"
fixtures="${MEDPORT_FIXTURES:-$root/../shared/fixtures}"
binary="$build/fuzz/$target"
corpus="$here/corpus-$target"
crashes="$here/crashes/$target"

[[ -x "$binary" ]] || { echo "run.sh: $binary is not built (see fuzz/CMakeLists.txt)" >&2; exit 2; }
mkdir -p "$corpus" "$crashes"

# Copies fixture files no larger than max_len into the corpus (named by content hash, so
# re-seeding is idempotent).
seed() {
  local file
  for file in "$@"; do
    [[ -f "$file" ]] || continue
    (( $(stat -c %s "$file") <= max_len )) || continue
    cp "$file" "$corpus/seed-$(sha1sum "$file" | cut -c1-16)"
  done
}

# The .npy members of every fixture .npz, small ones only.
seed_npy_members() {
  local npz member tmp
  tmp="$(mktemp -d)"
  while IFS= read -r npz; do
    while IFS= read -r member; do
      unzip -p "$npz" "$member" > "$tmp/m" 2>/dev/null || continue
      seed "$tmp/m"
    done < <(unzip -Z1 "$npz" 2>/dev/null | grep '\.npy$' | head -20)
  done < <(find "$fixtures" -name '*.npz' 2>/dev/null)
  rm -rf "$tmp"
}

case "$target" in
  fuzz_npy)
    max_len=65536
    seed_npy_members
    seed $(find "$fixtures" -name '*.npz' 2>/dev/null)
    ;;
  fuzz_zip)
    max_len=65536
    seed $(find "$fixtures" \( -name '*.npz' -o -name '*.pt' -o -name '*.pth' \) 2>/dev/null)
    ;;
  fuzz_safetensors)
    max_len=65536
    seed $(find "$fixtures" -name '*.safetensors' 2>/dev/null)
    # Hand-made seeds: an empty file with metadata, and one F32 tensor.
    printf '(\0\0\0\0\0\0\0{"__metadata__":{"format":"pt"}}        ' > "$corpus/seed-empty"
    printf '8\0\0\0\0\0\0\0{"a":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]}}\0\0\200?\0\0\0@' \
      > "$corpus/seed-f32"
    ;;
  fuzz_pickle)
    max_len=262144
    tmp="$(mktemp -d)"
    while IFS= read -r pt; do
      # Every checkpoint whole, and the data.pkl of zip checkpoints on its own.
      seed "$pt"
      if unzip -Z1 "$pt" >/dev/null 2>&1; then
        while IFS= read -r member; do
          unzip -p "$pt" "$member" > "$tmp/p" 2>/dev/null && seed "$tmp/p"
        done < <(unzip -Z1 "$pt" | grep 'data\.pkl$')
      fi
    done < <(find "$fixtures" \( -name '*.pt' -o -name '*.pth' -o -name '*.pkl' \) 2>/dev/null)
    rm -rf "$tmp"
    ;;
  fuzz_nifti)
    max_len=65536
    seed $(find "$fixtures" \( -name '*.nii' -o -name '*.nii.gz' \) 2>/dev/null)
    ;;
  fuzz_metaimage)
    max_len=65536
    seed $(find "$fixtures" \( -name '*.mha' -o -name '*.mhd' \) 2>/dev/null)
    ;;
  fuzz_natural_image)
    max_len=65536
    seed $(find "$fixtures" \( -name '*.png' -o -name '*.jpg' -o -name '*.tif' -o -name '*.tiff' -o -name '*.bmp' \) 2>/dev/null)
    ;;
  *) echo "run.sh: unknown target $target" >&2; exit 2 ;;
esac

# libFuzzer's -detect_leaks=0 leaves LeakSanitizer's exit-time check on; turn that off too.
for flag in "$@"; do
  if [[ "$flag" == -detect_leaks=0 ]]; then
    export ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
  fi
done

# Small hand-made files of each format (fuzz/seeds/TARGET, written by the test generators in
# tests/support/hostile_files.cpp), then inputs that once failed, so every run re-checks them.
seed $(find "$here/seeds/$target" -type f 2>/dev/null)
# Inputs that once failed stay in the corpus so every run re-checks them.
seed $(find "$here/regressions/$target" -type f 2>/dev/null)

echo "run.sh: $target for ${seconds}s, corpus $(ls "$corpus" | wc -l) files, max_len $max_len" >&2
exec "$binary" "$corpus" \
  -max_total_time="$seconds" -rss_limit_mb=2048 -max_len="$max_len" -timeout=10 \
  -print_final_stats=1 -artifact_prefix="$crashes/" "$@"
