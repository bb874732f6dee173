#!/usr/bin/env bash
# Incremental backups (pack -g) against a local Garage: a media tree like
# The Combine's (incompressible files, a few changing each night), a full
# night and six incremental nights — bytes uploaded and wall time per
# night — then the restore of full + 6 incrementals (unpack -G) against
# the restore of one full backup of the same final tree.
#   bench/incremental.sh            (run.sh calls it; BENCH_ONLY=incremental alone)
# Writes its section to stdout; progress on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
REPEAT=${REPEAT:-3}
WORK=${BENCH_DIR:-$HOME/.cache/s3pipe/bench}
BIN=$PWD/target/release
MEDIA=$WORK/media
O=${UNPACK_DIR:-/dev/shm/s3pipe-bench-out}
GDIR=/dev/shm/s3pipe-bench-incr-s3
FILES=200 FILE_MB=5      # 1000 MiB of media
CHANGED=2 ADDED=1 DELETED=1   # per night: 2 files rewritten (1 %), 1 added, 1 deleted
export PATH=$BIN:$PATH
# shellcheck source=scripts/local-s3.sh
. scripts/local-s3.sh

rm -rf "$MEDIA" "$GDIR" && mkdir -p "$MEDIA/audio" "$MEDIA/images"
for ((i = 0; i < FILES; i++)); do
  dir=audio; [ $((i % 3)) = 0 ] && dir=images
  head -c $((FILE_MB << 20)) /dev/urandom > "$MEDIA/$dir/f$i.bin"
done
start_local_s3 "$GDIR" bench
trap 'kill "$LOCAL_S3_PID" 2>/dev/null || true; rm -rf "$GDIR" "$O" "$WORK/incr.snar"' EXIT

# night N: time and upload `pack -g | s3put`; prints "wall bytes".
night() {
  local t0 t1 size
  t0=$(date +%s.%N)
  pack -q -g "$WORK/incr.snar" -C "$WORK" media | s3put -q "s3://bench/incr-$1.tar.gz"
  t1=$(date +%s.%N)
  size=$(s3ls --json "s3://bench/incr-$1.tar.gz" | grep -oE '"size":[0-9]+' | cut -d: -f2)
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}') $size"
}

# The nightly changes: CHANGED files rewritten, ADDED new, DELETED removed.
change() {
  local n=$1 i
  for ((i = 0; i < CHANGED; i++)); do
    head -c $((FILE_MB << 20)) /dev/urandom > "$MEDIA/audio/f$((n * 7 + i * 3 + 1)).bin"
  done
  for ((i = 0; i < ADDED; i++)); do
    head -c $((FILE_MB << 20)) /dev/urandom > "$MEDIA/audio/new-$n-$i.bin"
  done
  for ((i = 0; i < DELETED; i++)); do rm -f "$MEDIA/images/f$((n * 9 + i * 3)).bin"; done
}

rm -f "$WORK/incr.snar"
declare -a walls sizes
read -r 'walls[0]' 'sizes[0]' < <(night 0)
echo "bench: full night: ${walls[0]} s, ${sizes[0]} B" >&2
changed_bytes=$(((CHANGED + ADDED) * FILE_MB << 20))
for n in 1 2 3 4 5 6; do
  change "$n"
  read -r "walls[n]" "sizes[n]" < <(night "$n")
  echo "bench: night $n: ${walls[n]} s, ${sizes[n]} B" >&2
done
# A full backup of the final tree, for the restore comparison.
pack -q -C "$WORK" media | s3put -q s3://bench/full.tar.gz

# Restores, alternating, median of REPEAT: the chain vs one full.
declare -A commands
commands[chain]="for n in 0 1 2 3 4 5 6; do s3get -q s3://bench/incr-\$n.tar.gz | unpack -q -G -C $O || exit 1; done"
commands[full]="s3get -q s3://bench/full.tar.gz | unpack -q -C $O"
declare -a chain_runs full_runs
for ((r = 0; r < REPEAT; r++)); do
  for which in chain full; do
    rm -rf "$O" && mkdir -p "$O"
    t0=$(date +%s.%N)
    bash -o pipefail -c "${commands[$which]}"
    t1=$(date +%s.%N)
    t=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')
    if [ "$which" = chain ]; then chain_runs+=("$t"); else full_runs+=("$t"); fi
    if [ "$which" = chain ]; then
      diff -r "$MEDIA" "$O/media" > /dev/null || { echo "bench: the restored chain differs from the tree" >&2; exit 1; }
    fi
  done
done
median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }
chain_s=$(median "${chain_runs[@]}")
full_s=$(median "${full_runs[@]}")

mb() { awk -v b="$1" 'BEGIN{printf "%.1f", b/1048576}'; }
echo "## Incremental backups (pack -g): a $((FILES * FILE_MB)) MiB media tree, one full night and six incremental nights (Garage on tmpfs)"
echo
echo "Each night $CHANGED files are rewritten and $ADDED added ($(mb "$changed_bytes") MiB changed, $(awk -v c="$changed_bytes" -v t="$((FILES * FILE_MB << 20))" 'BEGIN{printf "%.1f", 100*c/t}') % of the tree), $DELETED deleted. Nights one run each (pack -g | s3put at the defaults); restores alternate, median of $REPEAT."
echo
echo "| night | uploaded MiB | changed MiB | uploaded / changed | wall s | vs the full night |"
echo "|---|---|---|---|---|---|"
echo "| 0 (full) | $(mb "${sizes[0]}") | - | - | ${walls[0]} | 1.00× |"
for n in 1 2 3 4 5 6; do
  awk -v n="$n" -v z="${sizes[n]}" -v c="$changed_bytes" -v w="${walls[n]}" -v fw="${walls[0]}" \
    'BEGIN{printf "| %d | %.1f | %.1f | %.2f× | %s | %.2f× faster |\n", n, z/1048576, c/1048576, z/c, w, fw/w}'
done
echo
echo "| restore | wall s | vs one full |"
echo "|---|---|---|"
echo "| one full backup (s3get \| unpack) | $full_s | 1.00× |"
awk -v c="$chain_s" -v f="$full_s" 'BEGIN{printf "| full + 6 incrementals (s3get \\| unpack -G, in order) | %s | %.2f× the time |\n", c, c/f}'
