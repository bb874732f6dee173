#!/usr/bin/env bash
# Size and clean release-build time of the binaries under each release
# profile option (issue 10's measurement; docs/ARCHITECTURE.md has the
# table). Each configuration builds a fresh clone of HEAD in its own target
# dir, so every figure is a cold build. Usage: bench/build-profiles.sh [OUT]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-/dev/stdout}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q "$repo" "$work/src"
seven=(--bin pack --bin unpack --bin s3put --bin s3get --bin s3ls --bin s3rm --bin s3prune)
# name | cargo bin flags | profile env (every setting explicit, so the table
# does not depend on what Cargo.toml says today; stripping is measured
# separately with strip(1))
before="CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=4 CARGO_PROFILE_RELEASE_STRIP=false"
fat="CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 CARGO_PROFILE_RELEASE_STRIP=false"
configs=(
  "seven binaries, codegen-units=4 (the profile before)|${seven[*]}|$before"
  "multicall s3pipe, same profile|--bin s3pipe|$before"
  "multicall, lto=thin|--bin s3pipe|$before CARGO_PROFILE_RELEASE_LTO=thin"
  "multicall, lto=fat codegen-units=1 (chosen, + strip)|--bin s3pipe|$fat"
  "multicall, opt-level=s lto=fat codegen-units=1|--bin s3pipe|$fat CARGO_PROFILE_RELEASE_OPT_LEVEL=s"
)
printf '| configuration | wall s | CPU s | unstripped MB | stripped MB |\n|---|---|---|---|---|\n' > "$out"
for config in "${configs[@]}"; do
  IFS='|' read -r name bins envs <<< "$config"
  rm -rf "$work/target"
  # shellcheck disable=SC2086 # bins and envs are word lists
  /usr/bin/time -f '%e %U %S' -o "$work/time" env $envs CARGO_TARGET_DIR="$work/target" \
    cargo build --quiet --release --manifest-path "$work/src/Cargo.toml" $bins
  read -r wall user sys < "$work/time"
  size=0 stripped=0
  for bin in $bins; do
    [ "$bin" = --bin ] && continue
    f="$work/target/release/$bin"
    size=$((size + $(stat -c %s "$f")))
    strip -o "$f.stripped" "$f"
    stripped=$((stripped + $(stat -c %s "$f.stripped")))
  done
  awk -v n="$name" -v w="$wall" -v c="$(echo "$user + $sys" | bc)" -v s="$size" -v t="$stripped" \
    'BEGIN { printf "| %s | %.0f | %.0f | %.1f | %.1f |\n", n, w, c, s / 1e6, t / 1e6 }' >> "$out"
done
