#!/usr/bin/env bash
# make fuzz: run every cargo-fuzz target for FUZZ_SECONDS (default 180) on
# seed corpora made here by the real tools, and report executions and
# findings per target. A crash stops with its input under
# fuzz/artifacts/TARGET/: copy it into tests/fuzz-regressions/ (replayed by
# `make test`) and fix the bug.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-180}
targets=${FUZZ_TARGETS:-"unpack unpack_gzip list verify stamp flags snapshot"}
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
# Stable toolchain: RUSTC_BOOTSTRAP unlocks the nightly flags cargo-fuzz
# passes; "-s none" where the sanitizer runtime is missing.
export RUSTC_BOOTSTRAP=1
sanitizer=(-s none)

cargo fuzz build "${sanitizer[@]}" --fuzz-dir fuzz >/dev/null 2>fuzz-build.log \
  || { echo "fuzz: the targets do not build (see fuzz-build.log)"; exit 1; }
rm -f fuzz-build.log

seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
(
  cd "$seeds"
  mkdir -p src/d && echo hello > src/d/f && ln -s f src/d/l && truncate -s 64K src/sparse
  printf 'x' | dd of=src/sparse bs=1 seek=30000 conv=notrunc status=none
  tar --format=gnu -cf gnu.tar -C src . && tar --format=posix -cf posix.tar -C src .
  tar --format=v7 -cf v7.tar -C src d/f && tar --sparse -cf sparse.tar -C src sparse
  bsdtar -cf bsd.tar -C src . && gzip -c gnu.tar > gnu.tar.gz && zstd -q -c posix.tar > posix.tar.zst
  python3 -c 'import tarfile; t = tarfile.open("py.tar", "w"); t.add("src", "."); t.close()'
  printf 'backups/host-2026-11-24-03-15-00.tar.gz\nbackups/host-20261124T031500Z.db.gz\n' > keys.txt
  printf 's3://bucket/key\n64MiB\n7d\n2026-01-01 00:00:00\n@-1\n' > flags.txt
)
for target in $targets; do
  corpus=fuzz/corpus/$target
  mkdir -p "$corpus"
  case $target in
    stamp) cp "$seeds/keys.txt" "$corpus/" ;;
    flags) cp "$seeds/flags.txt" "$corpus/" ;;
    unpack_gzip) cp "$seeds"/*.tar "$corpus/" ;;
    *) cp "$seeds"/*.tar* "$corpus/"; cp tests/fuzz-regressions/* "$corpus/" ;;
  esac
  log=fuzz/artifacts/$target.log
  mkdir -p "fuzz/artifacts/$target"
  if ! cargo fuzz run "${sanitizer[@]}" --fuzz-dir fuzz "$target" "$corpus" -- \
      -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=30 -print_final_stats=1 \
      -artifact_prefix="fuzz/artifacts/$target/" >"$log" 2>&1; then
    if grep -q 'Failing input' "$log"; then
      echo "fuzz: $target: FINDING (see $log and fuzz/artifacts/$target/)"
    else
      echo "fuzz: $target: the fuzzer failed to run (see $log)"
    fi
    exit 1
  fi
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  [ -n "$execs" ] || execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
  echo "fuzz: $target: ${execs:-?} executions in ${seconds}s, no finding"
done
