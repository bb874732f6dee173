#!/usr/bin/env bash
# Side-by-side benchmarks, one run, written to bench/results.md.
#   bench/run.sh            everything
#   REPEAT=5 bench/run.sh   more repetitions (the median is reported)
#   BENCH_ONLY=incremental bench/run.sh   incremental backups alone (bench/incremental.sh)
# Needs: a release build (make bench does it), pigz, zstd, GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."
REPEAT=${REPEAT:-3}
WORK=${BENCH_DIR:-$HOME/.cache/s3pipe/bench}
CORPUS=$WORK/corpus
BIN=$PWD/target/release
ONLY=${BENCH_ONLY:-all}
OUT=bench/results.md
[ "$ONLY" = all ] || OUT=bench/results-$ONLY.md
# unpack writes into tmpfs: on this kind of machine the virtual disk's
# writeback swung the same run from 4 s to 13 s, which measured the disk.
UNPACK_DIR=${UNPACK_DIR:-/dev/shm/s3pipe-bench-out}
mkdir -p "$WORK"

cargo build --release --bins --examples -q
if [ "$ONLY" = incremental ]; then
  bench/incremental.sh > "$OUT"
  echo "bench: wrote $OUT" >&2
  cat "$OUT"
  exit 0
fi
if [ ! -f "$CORPUS/.complete" ]; then
  echo "bench: generating the corpus in $CORPUS" >&2
  rm -rf "$CORPUS"
  "$BIN/examples/gen_corpus" "$CORPUS"
fi
CORPUS_BYTES=$(du -sb --apparent-size "$CORPUS" | cut -f1)
CORPUS_MB=$(awk -v b="$CORPUS_BYTES" 'BEGIN{printf "%.0f", b/1e6}')
tar -C "$WORK" -cf - corpus | cat > /dev/null   # warm the page cache

# group NAME COMMAND [NAME COMMAND …]: run each COMMAND (bash, cwd $WORK)
# REPEAT times, round-robin so every contender meets the same disk and
# cache state; record the median wall time with its user/sys CPU, the peak
# RSS of the largest process, and the bytes printed on stdout (the
# archive's size). $BEFORE, if set, runs untimed before each run.
declare -A WALL CPU RSS SIZE SRV
SERVER_PID=
# CPU ticks (user+sys) the S3 server has used so far; 0 without one.
server_ticks() {
  if [ -n "$SERVER_PID" ]; then awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; else echo 0; fi
}
group() {
  local -a names=() cmds=()
  while [ $# -gt 0 ]; do names+=("$1"); cmds+=("$2"); shift 2; done
  local -A runs=()
  local i j t
  for ((i = 0; i < REPEAT; i++)); do
    for j in "${!names[@]}"; do
      [ -n "${BEFORE:-}" ] && (cd "$WORK" && eval "$BEFORE")
      sync
      t=$(mktemp)
      local srv0; srv0=$(server_ticks)
      (cd "$WORK" && /usr/bin/time -f '%e %U %S %M' -o "$t" bash -o pipefail -c "${cmds[$j]}" | wc -c > "$t.size")
      runs[$j]+="$(cat "$t") $(cat "$t.size") $(( $(server_ticks) - srv0 ))"$'\n'
      rm -f "$t" "$t.size"
    done
  done
  for j in "${!names[@]}"; do
    local name=${names[$j]} median
    median=$(printf '%s' "${runs[$j]}" | sort -n | sed -n "$(( (REPEAT + 1) / 2 ))p")
    read -r w u s m z k <<< "$median"
    WALL[$name]=$w; CPU[$name]=$(awk -v u="$u" -v s="$s" 'BEGIN{print u+s}')
    RSS[$name]=$((m / 1024)); SIZE[$name]=$z
    SRV[$name]=$(awk -v k="$k" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f", k/hz}')
    printf 'bench: %-34s %6.2f s\n' "$name" "$w" >&2
  done
}

# row NAME BASELINE: a table row, speed as a ratio to BASELINE's wall time.
row() {
  local n=$1 base=$2
  awk -v n="$n" -v w="${WALL[$n]}" -v c="${CPU[$n]}" -v r="${RSS[$n]}" -v z="${SIZE[$n]}" \
      -v bw="${WALL[$base]}" -v mb="${ROW_MB:-$CORPUS_MB}" -v cb="${ROW_BYTES:-$CORPUS_BYTES}" 'BEGIN{
    size = (z > 0) ? sprintf("%.1f MB (%.3f)", z/1e6, cb/z) : "-";
    gsub(/\|/, "\\|", n);
    printf "| %s | %.2f | %.0f | %.0f%% | %d | %s | %.2f× |\n", n, w, mb/w, 100*c/w, r, size, bw/w }'
}
header() {
  echo "| command | wall s | input MB/s | CPU | peak RSS MiB | output (ratio) | speed vs ${1//|/\\|} |"
  echo "|---|---|---|---|---|---|---|"
}

# BENCH_ONLY=s3 skips the pack, cold-cache and unpack sections (and
# writes bench/results-s3.md instead): the S3 sections alone, ~15 min.
T="tar -cf - corpus"
if [ "$ONLY" = all ]; then
group "pack (gzip -6, 2 threads)"     "$BIN/pack corpus" \
      "tar | pigz -p 2 -6"            "$T | pigz -p 2 -6" \
      "tar -czf"                      "tar -czf - corpus"
group "pack -1"                       "$BIN/pack -1 corpus" \
      "tar | pigz -p 2 -1"            "$T | pigz -p 2 -1" \
      "tar | gzip -1"                 "$T | gzip -1"
group "pack --zstd (-3, 2 threads)"   "$BIN/pack --zstd corpus" \
      "tar | zstd -3 -T2"             "$T | zstd -q -3 -T2"
group "pack -p 1 (libdeflate, 1 thread)" "$BIN/pack -p 1 corpus" \
      "tar | flate2/zlib-rs, 1 thread" "$T | $BIN/examples/gzip_flate2 6"

# --- pack on a cold page cache (what a nightly job meets) ----------------
# Caches dropped before every run: needs root (these machines have it).
COLD=
if [ -w /proc/sys/vm/drop_caches ]; then
  COLD=1
  BEFORE="sync; echo 3 > /proc/sys/vm/drop_caches"
  CAT64="find corpus -type f -print0 | xargs -0 -P 64 -n 64 cat"
  group "cold: pack --none"           "$BIN/pack --none corpus" \
        "cold: tar -cf | cat"         "$T | cat" \
        "cold: 64 parallel cat (ceiling)" "$CAT64" \
        "cold: pack -1"               "$BIN/pack -1 corpus" \
        "cold: tar | pigz -p 2 -1"    "$T | pigz -p 2 -1" \
        "cold: pack -6"               "$BIN/pack corpus" \
        "cold: tar | pigz -p 2 -6"    "$T | pigz -p 2 -6" \
        "cold: pack --zstd"           "$BIN/pack --zstd corpus" \
        "cold: tar | zstd -3 -T2"     "$T | zstd -q -3 -T2"
  BEFORE=

  # A network volume (NFS, CephFS, a PVC over the network), emulated: a FUSE
  # passthrough (bench/slowfs.py) that answers each lookup, stat, open and
  # read after 1 ms, on many threads. 2,000 files of the corpus (24 MB).
  SLOW_SRC=$WORK/slow-src SLOW=$WORK/slow-mnt
  rm -rf "$SLOW_SRC" && mkdir -p "$SLOW_SRC/data" "$SLOW"
  for d in 000 001 002 003; do cp -r "$CORPUS/app/data/$d" "$SLOW_SRC/data/"; done
  SLOW_BYTES=$(du -sb --apparent-size "$SLOW_SRC" | cut -f1)
  python3 bench/slowfs.py "$SLOW_SRC" "$SLOW" 1 2> "$WORK/slowfs.log" &
  SLOWFS_PID=$!
  for _ in $(seq 1 100); do mountpoint -q "$SLOW" && break; sleep 0.1; done
  mountpoint -q "$SLOW" || { echo "bench: slowfs did not mount" >&2; exit 1; }
  BEFORE="sync; echo 3 > /proc/sys/vm/drop_caches"
  group "1 ms volume: pack --none"      "$BIN/pack --none -C $SLOW ." \
        "1 ms volume: tar -cf | cat"    "tar -C $SLOW -cf - . | cat" \
        "1 ms volume: pack -6"          "$BIN/pack -C $SLOW ." \
        "1 ms volume: tar | pigz -p 2 -6" "tar -C $SLOW -cf - . | pigz -p 2 -6"
  BEFORE=
  [ "$("$BIN/pack" --none -C "$SLOW" . | md5sum)" = "$("$BIN/pack" --none -C "$SLOW_SRC" . | md5sum)" ] \
    || { echo "bench: pack through slowfs differs" >&2; exit 1; }
  fusermount -u "$SLOW"; wait "$SLOWFS_PID" || true
  rm -rf "$SLOW_SRC" "$SLOW"
  tar -C "$WORK" -cf - corpus | cat > /dev/null   # warm again for the rest
fi

"$BIN/pack" -C "$WORK" corpus > "$WORK/corpus.tar.gz"
O=$UNPACK_DIR
BEFORE="rm -rf $O && mkdir -p $O"
group "unpack"               "$BIN/unpack -C $O -f corpus.tar.gz" \
      "tar -xzf"             "tar -C $O -xzf corpus.tar.gz" \
      "pigz -dc | tar -x"    "pigz -dc corpus.tar.gz | tar -C $O -x"
BEFORE=
rm -rf "$O" && mkdir -p "$O" && "$BIN/unpack" -C "$O" -f "$WORK/corpus.tar.gz"
diff -r "$CORPUS" "$O/corpus" > /dev/null || { echo "bench: unpack output differs from the corpus" >&2; exit 1; }
rm -rf "$O" "$WORK/corpus.tar.gz"
fi

# --- S3: the same Garage for every client, its data on tmpfs -------------
GDIR=/dev/shm/s3pipe-bench-garage
rm -rf "$GDIR"
PATH="$BIN:$PATH"
# shellcheck source=scripts/local-s3.sh
. scripts/local-s3.sh
start_local_s3 "$GDIR" bench
SERVER_PID=$LOCAL_S3_PID
trap 'kill $SERVER_PID 2>/dev/null || true; rm -rf "$GDIR" "$UNPACK_DIR"' EXIT
export RCLONE_CONFIG_G_TYPE=s3 RCLONE_CONFIG_G_PROVIDER=Other RCLONE_CONFIG_G_ENV_AUTH=true \
  RCLONE_CONFIG_G_ENDPOINT=$AWS_ENDPOINT_URL RCLONE_CONFIG_G_REGION=us-east-1
[ -f "$WORK/random-1g" ] || head -c 1073741824 /dev/urandom > "$WORK/random-1g"
cat "$WORK/random-1g" > /dev/null
S3_MB=$(awk 'BEGIN{printf "%.0f", 1073741824/1e6}')
AWS="aws --endpoint-url $AWS_ENDPOINT_URL"
RCLONE="env -u AWS_CA_BUNDLE rclone -q"
group "s3put (crc32c)"          "$BIN/s3put s3://bench/s3pipe < random-1g" \
      "s3put --checksum md5"    "$BIN/s3put --checksum md5 s3://bench/s3pipe-md5 < random-1g" \
      "aws s3 cp -"             "$AWS s3 cp --only-show-errors - s3://bench/aws < random-1g" \
      "rclone rcat"             "$RCLONE rcat g:bench/rclone < random-1g"
group "s3get"                   "$BIN/s3get s3://bench/s3pipe" \
      "aws s3 cp s3://… -"      "$AWS s3 cp --only-show-errors s3://bench/s3pipe -" \
      "rclone cat"              "$RCLONE cat g:bench/s3pipe"
[ "$("$BIN/s3get" s3://bench/s3pipe | cmp - "$WORK/random-1g" && echo same)" = same ] \
  || { echo "bench: s3get returned different bytes" >&2; exit 1; }


# --- A distant store: the same Garage behind examples/distant_store -------
# tests/support/distant.rs: half the round trip each way (pipelined), one
# round trip to open a connection, each connection capped per direction
# (MB/s = 10^6 B/s). 512 MiB; DISTANT_REPEAT runs each (default 1).
head -c 536870912 "$WORK/random-1g" > "$WORK/random-512m"
D_MB=$(awk 'BEGIN{printf "%.0f", 536870912/1e6}')
DISTANT_PROFILES="40:40 80:20"
declare -A LEVEL
SAVED_REPEAT=$REPEAT
REPEAT=${DISTANT_REPEAT:-1}
for profile in $DISTANT_PROFILES; do
  rtt=${profile%%:*} conn=${profile##*:}
  rm -f "$WORK/distant.ep.tmp"
  "$BIN/examples/distant_store" "$AWS_ENDPOINT_URL" "$rtt" "$conn" > "$WORK/distant.ep.tmp" &
  PROXY_PID=$!
  until [ -s "$WORK/distant.ep.tmp" ]; do sleep 0.1; done
  EP=$(cat "$WORK/distant.ep.tmp")
  P="$rtt ms, $conn MB/s"
  E="--endpoint-url $EP"
  CRT="AWS_ENDPOINT_URL=$EP python3 $PWD/bench/crt_cp.py"
  RC="env RCLONE_CONFIG_G_ENDPOINT=$EP $RCLONE"
  group "$P: s3put"               "$BIN/s3put $E s3://bench/d-s3pipe < random-512m" \
        "$P: aws s3 cp -"         "aws $E s3 cp --only-show-errors - s3://bench/d-aws < random-512m" \
        "$P: s5cmd pipe"          "s5cmd $E pipe s3://bench/d-s5cmd < random-512m" \
        "$P: rclone rcat"         "$RC rcat g:bench/d-rclone < random-512m" \
        "$P: CRT upload (stdin)"  "$CRT put bench d-crt < random-512m"
  group "$P: s3get"               "$BIN/s3get $E s3://bench/d-s3pipe" \
        "$P: aws s3 cp s3://… -"  "aws $E s3 cp --only-show-errors s3://bench/d-s3pipe -" \
        "$P: s5cmd cat"           "s5cmd $E cat s3://bench/d-s3pipe" \
        "$P: rclone cat"          "$RC cat g:bench/d-s3pipe" \
        "$P: CRT download (stdout)" "$CRT get bench d-s3pipe"
  for got in "$BIN/s3get $E s3://bench/d-s3pipe" "$CRT get bench d-crt"; do
    [ "$(bash -c "$got" | cmp - "$WORK/random-512m" && echo same)" = same ] \
      || { echo "bench: $got returned different bytes" >&2; exit 1; }
  done
  # Where the controller settled (one more run each, untimed).
  LEVEL[$P put]=$("$BIN/s3put" --endpoint-url "$EP" --json s3://bench/d-level < "$WORK/random-512m" \
    | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["peak_concurrency"], "→", d["concurrency"])')
  LEVEL[$P get]=$("$BIN/s3get" --endpoint-url "$EP" --json -q s3://bench/d-level 2>&1 > /dev/null \
    | python3 -c 'import json,sys; d=json.loads(sys.stdin.read().splitlines()[-1]); print(d["peak_concurrency"], "→", d["concurrency"])')
  kill "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null || true
done
REPEAT=$SAVED_REPEAT
LEVEL[loopback put]=$("$BIN/s3put" --json s3://bench/d-level < "$WORK/random-512m" \
  | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["peak_concurrency"], "→", d["concurrency"])')
LEVEL[loopback get]=$("$BIN/s3get" --json -q s3://bench/d-level 2>&1 > /dev/null \
  | python3 -c 'import json,sys; d=json.loads(sys.stdin.read().splitlines()[-1]); print(d["peak_concurrency"], "→", d["concurrency"])')
rm -f "$WORK/random-512m" "$WORK/distant.ep.tmp"

# --- The backup job: the bench corpus into S3 and back ---------------------
# On a fresh Garage: after the uploads above, s3get | unpack took 4.2 s
# here against 2.4 s on a fresh server (likely Garage deleting the
# overwritten objects' blocks, which it does ten minutes later).
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
rm -rf "$GDIR"
start_local_s3 "$GDIR" bench
SERVER_PID=$LOCAL_S3_PID
AWS="aws --endpoint-url $AWS_ENDPOINT_URL"
# Uploads one run each (Python's gzip -9 alone takes over a minute).
SAVED_REPEAT=$REPEAT
REPEAT=1
PYTAR='import sys, tarfile
with tarfile.open(fileobj=sys.stdout.buffer, mode="w:gz") as t:
    t.add("corpus")'
group "pack | s3put"                    "$BIN/pack corpus | $BIN/s3put s3://bench/job-s3pipe.tar.gz" \
      "tar -czf - | aws s3 cp -"        "tar -czf - corpus | $AWS s3 cp --only-show-errors - s3://bench/job-tar.tar.gz" \
      "python tarfile w:gz | aws s3 cp -" "python3 -c '$PYTAR' | $AWS s3 cp --only-show-errors - s3://bench/job-py.tar.gz"
REPEAT=$SAVED_REPEAT
O=$UNPACK_DIR
BEFORE="rm -rf $O && mkdir -p $O"
group "s3get | unpack"                  "$BIN/s3get s3://bench/job-s3pipe.tar.gz | $BIN/unpack -C $O" \
      "aws s3 cp - | tar -xz"           "$AWS s3 cp --only-show-errors s3://bench/job-s3pipe.tar.gz - | tar -C $O -xz"
BEFORE=
rm -rf "$O" && mkdir -p "$O" && "$BIN/s3get" s3://bench/job-s3pipe.tar.gz | "$BIN/unpack" -C "$O"
diff -r "$CORPUS" "$O/corpus" > /dev/null || { echo "bench: the restored corpus differs" >&2; exit 1; }
rm -rf "$O"

# --- Encryption (age): the same job with and without, alternately --------
KEY=$WORK/bench-age.key
[ -f "$KEY" ] || age-keygen -o "$KEY" 2> /dev/null
RECIPIENT=$(age-keygen -y "$KEY")
group "job: pack | s3put"               "$BIN/pack corpus | $BIN/s3put s3://bench/plain.tar.gz" \
      "job: pack | s3put --recipient"   "$BIN/pack corpus | $BIN/s3put --recipient $RECIPIENT s3://bench/age.tar.gz"
BEFORE="rm -rf $O && mkdir -p $O"
group "job: s3get | unpack"             "$BIN/s3get s3://bench/plain.tar.gz | $BIN/unpack -C $O" \
      "job: s3get --identity | unpack"  "$BIN/s3get --identity $KEY s3://bench/age.tar.gz | $BIN/unpack -C $O"
BEFORE=
rm -rf "$O" && mkdir -p "$O" && "$BIN/s3get" --identity "$KEY" s3://bench/age.tar.gz | "$BIN/unpack" -C "$O"
diff -r "$CORPUS" "$O/corpus" > /dev/null || { echo "bench: the decrypted corpus differs" >&2; exit 1; }
rm -rf "$O"

# --- The defaults (8MiB x 4): part size x concurrency, both tools ----------
# Last: its 18 GiB of overwritten uploads leave Garage deleting old blocks.
SIZES="8MiB 16MiB"
WIDTHS="2 4 8"
PUTS=() GETS=()
for ps in $SIZES; do
  for c in $WIDTHS; do
    PUTS+=("s3put $ps x $c" "$BIN/s3put --part-size $ps --concurrency $c s3://bench/sweep < random-1g")
    GETS+=("s3get $ps x $c" "$BIN/s3get --part-size $ps --concurrency $c s3://bench/sweep")
  done
done
group "${PUTS[@]}"
group "${GETS[@]}"

# --- The job against a 3-node Garage cluster (replication factor 3) ------
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
rm -rf "$GDIR"
CDIR=/dev/shm/s3pipe-bench-cluster
rm -rf "$CDIR"
# shellcheck source=bench/garage-cluster.sh
. bench/garage-cluster.sh
start_garage_cluster "$CDIR" bench
SERVER_PID=${CLUSTER_PIDS[0]}
trap 'kill "${CLUSTER_PIDS[@]}" 2>/dev/null || true; rm -rf "$CDIR" "$UNPACK_DIR"' EXIT
SAVED_REPEAT=$REPEAT
REPEAT=1
group "cluster: pack | s3put"   "$BIN/pack corpus | $BIN/s3put s3://bench/job.tar.gz"
BEFORE="rm -rf $O && mkdir -p $O"
group "cluster: s3get | unpack" "$BIN/s3get s3://bench/job.tar.gz | $BIN/unpack -C $O"
BEFORE=
REPEAT=$SAVED_REPEAT
diff -r "$CORPUS" "$O/corpus" > /dev/null || { echo "bench: the corpus restored from the cluster differs" >&2; exit 1; }
rm -rf "$O"
kill "${CLUSTER_PIDS[@]}"; wait "${CLUSTER_PIDS[@]}" 2>/dev/null || true
rm -rf "$CDIR"

# --- Memory flat to the end: 256 MiB, 1 GiB, 10 GiB (Garage on disk) -----
RDIR=$WORK/rss-garage
rm -rf "$RDIR"
start_local_s3 "$RDIR" bench
SERVER_PID=$LOCAL_S3_PID
trap 'kill $SERVER_PID 2>/dev/null || true; rm -rf "$RDIR" "$UNPACK_DIR" "$WORK/rss-tree"' EXIT
declare -A FLAT
peak() { /usr/bin/time -f %M -o "$WORK/rss" "$@"; }
mib() { echo $(( $(cat "$WORK/rss") / 1024 )); }
for size in 256MiB 1GiB 10GiB; do
  bytes=$(numfmt --from=iec-i "${size%B}")
  head -c "$bytes" /dev/zero | peak "$BIN/s3put" --verify none s3://bench/flat
  FLAT[$size put]=$(mib)
  peak "$BIN/s3get" s3://bench/flat > /dev/null
  FLAT[$size get]=$(mib)
  rm -rf "$WORK/rss-tree" && mkdir -p "$WORK/rss-tree" && truncate -s "$bytes" "$WORK/rss-tree/f"
  "$BIN/pack" --none -C "$WORK/rss-tree" f | peak "$BIN/s3put" s3://bench/flat.tar
  FLAT[$size pack]=$(mib)
  "$BIN/s3rm" -q s3://bench/flat s3://bench/flat.tar
done
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
rm -rf "$RDIR" "$WORK/rss-tree" "$WORK/rss"

# s3row NAME BASELINE [MB]: MB/s, client CPU-s per GiB, RSS, server CPU.
s3row() {
  local n=$1 base=$2
  awk -v n="$n" -v w="${WALL[$n]}" -v c="${CPU[$n]}" -v r="${RSS[$n]}" -v k="${SRV[$n]}" \
      -v bw="${WALL[$base]}" -v mb="${3:-$S3_MB}" 'BEGIN{
    gsub(/\|/, "\\|", n);
    printf "| %s | %.2f | %.0f | %.2f | %d | %.2f | %.2f× |\n", n, w, mb/w, c, r, k, bw/w }'
}
# extra NAME BASELINE: what NAME adds to BASELINE: wall %, client CPU-s
# per GiB of corpus.
extra() {
  awk -v n="$1" -v wa="${WALL[$1]}" -v wb="${WALL[$2]}" -v ca="${CPU[$1]}" -v cb="${CPU[$2]}" \
      -v bytes="$CORPUS_BYTES" 'BEGIN{ gsub(/\|/, "\\|", n);
    printf "- %s: %+.1f%% wall, %+.2f client CPU-s/GiB\n", n, 100*(wa/wb-1), (ca-cb)/(bytes/1073741824) }'
}
s3header() {
  echo "| command | wall s | MB/s | client CPU-s/GiB | peak RSS MiB | server CPU-s | speed vs $1 |"
  echo "|---|---|---|---|---|---|---|"
}

{
  echo "# Benchmarks"
  echo
  echo "Written by \`make bench\` ($(date -u +%Y-%m-%d), $(nproc) cores, $(free -g | awk '/Mem/{print $2}') GiB;"
  echo "corpus: $CORPUS_MB MB in $(find "$CORPUS" -type f | wc -l) files from examples/gen_corpus.rs;"
  echo "median of $REPEAT runs, warm page cache). Peak RSS is that of the largest process in a pipeline."
  echo
  if [ "$ONLY" = all ]; then
  echo "## pack (gzip level 6)"
  echo; header "pigz"
  row "pack (gzip -6, 2 threads)" "tar | pigz -p 2 -6"
  row "tar | pigz -p 2 -6" "tar | pigz -p 2 -6"
  row "tar -czf" "tar | pigz -p 2 -6"
  echo; echo "pack vs \`tar -czf\`: $(awk -v a="${WALL[tar -czf]}" -v b="${WALL[pack (gzip -6, 2 threads)]}" 'BEGIN{printf "%.2f×", a/b}') faster."
  echo
  echo "## pack (gzip level 1)"
  echo; header "pigz -1"
  row "pack -1" "tar | pigz -p 2 -1"
  row "tar | pigz -p 2 -1" "tar | pigz -p 2 -1"
  row "tar | gzip -1" "tar | pigz -p 2 -1"
  echo
  echo "## pack --zstd"
  echo; header "zstd -T2"
  row "pack --zstd (-3, 2 threads)" "tar | zstd -3 -T2"
  row "tar | zstd -3 -T2" "tar | zstd -3 -T2"
  echo
  if [ -n "$COLD" ]; then
    echo "## pack on a cold page cache (caches dropped before every run)"
    echo
    echo "What a nightly job meets: the files are not in memory. pack reads ahead"
    echo "(64 readers, 16 MiB); tar reads one file at a time. The parallel \`cat\`"
    echo "is the disk's ceiling (64 reads in flight, as many as pack's readers; no archive)."
    echo; header "tar -cf"
    row "cold: pack --none" "cold: tar -cf | cat"
    row "cold: tar -cf | cat" "cold: tar -cf | cat"
    row "cold: 64 parallel cat (ceiling)" "cold: tar -cf | cat"
    echo; header "its peer, cold"
    row "cold: pack -1" "cold: tar | pigz -p 2 -1"
    row "cold: tar | pigz -p 2 -1" "cold: tar | pigz -p 2 -1"
    row "cold: pack -6" "cold: tar | pigz -p 2 -6"
    row "cold: tar | pigz -p 2 -6" "cold: tar | pigz -p 2 -6"
    row "cold: pack --zstd" "cold: tar | zstd -3 -T2"
    row "cold: tar | zstd -3 -T2" "cold: tar | zstd -3 -T2"
    echo
    echo "On an emulated network volume (bench/slowfs.py: FUSE, 1 ms per lookup, stat,"
    echo "open and read; 2,000 files, 24 MB; caches dropped):"
    echo; header "tar, same volume"
    # Rows measure the volume's bytes, not the corpus's.
    export ROW_BYTES=$SLOW_BYTES
    ROW_MB=$(awk -v b="$SLOW_BYTES" 'BEGIN{printf "%.0f", b/1e6}')
    export ROW_MB
    row "1 ms volume: pack --none" "1 ms volume: tar -cf | cat"
    row "1 ms volume: tar -cf | cat" "1 ms volume: tar -cf | cat"
    row "1 ms volume: pack -6" "1 ms volume: tar | pigz -p 2 -6"
    row "1 ms volume: tar | pigz -p 2 -6" "1 ms volume: tar | pigz -p 2 -6"
    unset ROW_BYTES ROW_MB
    echo
    echo "Cold vs warm: pack -6 $(awk -v c="${WALL[cold: pack -6]}" -v w="${WALL[pack (gzip -6, 2 threads)]}" 'BEGIN{printf "%.2f s vs %.2f s (+%.0f%%)", c, w, 100*(c/w-1)}');" \
      "pack --zstd $(awk -v c="${WALL[cold: pack --zstd]}" -v w="${WALL[pack --zstd (-3, 2 threads)]}" 'BEGIN{printf "%.2f s vs %.2f s (+%.0f%%)", c, w, 100*(c/w-1)}')."
    echo
  fi
  echo "## gzip backends, one thread (why libdeflate)"
  echo; header "flate2"
  row "pack -p 1 (libdeflate, 1 thread)" "tar | flate2/zlib-rs, 1 thread"
  row "tar | flate2/zlib-rs, 1 thread" "tar | flate2/zlib-rs, 1 thread"
  echo
  echo "## unpack (into tmpfs, $UNPACK_DIR)"
  echo; header "tar -xzf"
  row "unpack" "tar -xzf"
  row "tar -xzf" "tar -xzf"
  row "pigz -dc | tar -x" "tar -xzf"
  echo
  fi
  echo "## S3 upload: 1 GiB of random data from stdin (Garage 2.5 on the same 2 cores, data on tmpfs)"
  echo; s3header "aws s3 cp"
  s3row "s3put (crc32c)" "aws s3 cp -"
  s3row "s3put --checksum md5" "aws s3 cp -"
  s3row "aws s3 cp -" "aws s3 cp -"
  s3row "rclone rcat" "aws s3 cp -"
  echo; echo "s3put vs rclone rcat: $(awk -v a="${WALL[rclone rcat]}" -v b="${WALL[s3put (crc32c)]}" 'BEGIN{printf "%.2f×", a/b}') faster."
  echo
  echo "## S3 download: the same object to stdout"
  echo; s3header "aws s3 cp"
  s3row "s3get" "aws s3 cp s3://… -"
  s3row "aws s3 cp s3://… -" "aws s3 cp s3://… -"
  s3row "rclone cat" "aws s3 cp s3://… -"
  echo; echo "s3get vs rclone cat: $(awk -v a="${WALL[rclone cat]}" -v b="${WALL[s3get]}" 'BEGIN{printf "%.2f×", a/b}') faster."
  echo
  echo "## A distant store: the same Garage behind a proxy adding a round trip and capping each connection (512 MiB, one run each)"
  echo
  echo "bench/crt_cp.py streams stdin and stdout through the CRT (awscrt via s3transfer's CRT transfer manager)."
  echo "Server CPU-s is Garage's; the proxy's is not counted."
  for profile in $DISTANT_PROFILES; do
    rtt=${profile%%:*} conn=${profile##*:}; P="$rtt ms, $conn MB/s"
    echo; echo "### $rtt ms round trip, $conn MB/s per connection"
    for dir in put get; do
      case $dir in
        put) names=("$P: s3put" "$P: aws s3 cp -" "$P: s5cmd pipe" "$P: rclone rcat" "$P: CRT upload (stdin)") ;;
        get) names=("$P: s3get" "$P: aws s3 cp s3://… -" "$P: s5cmd cat" "$P: rclone cat" "$P: CRT download (stdout)") ;;
      esac
      echo; s3header "${names[1]#"$P: "}"
      for n in "${names[@]}"; do s3row "$n" "${names[1]}" "$D_MB"; done
      best=$(for n in "${names[@]:1:3}"; do echo "${WALL[$n]}"; done | sort -n | head -1)
      echo; echo "${names[0]#"$P: "} vs the best of aws, s5cmd and rclone: $(awk -v a="$best" -v b="${WALL[${names[0]}]}" 'BEGIN{printf "%.2f×", a/b}');" \
        "vs the CRT: $(awk -v a="${WALL[${names[4]}]}" -v b="${WALL[${names[0]}]}" 'BEGIN{printf "%.2f×", a/b}');" \
        "in flight (peak → end): ${LEVEL[$P $dir]}."
    done
  done
  echo
  echo "On loopback the same 512 MiB settled at (peak → end): s3put ${LEVEL[loopback put]}, s3get ${LEVEL[loopback get]}."
  echo
  echo "## The job against a 3-node Garage cluster (replication factor 3, data on tmpfs; one run)"
  echo; header "itself"
  row "cluster: pack | s3put" "cluster: pack | s3put"
  row "cluster: s3get | unpack" "cluster: s3get | unpack"
  echo
  echo "## Memory flat to the end: peak RSS (MiB) at the defaults (--max-memory: s3put 112MiB, s3get 64MiB; Garage on disk)"
  echo
  echo "| stream | s3put (zeros, --verify none) | s3get | pack --none \\| s3put |"
  echo "|---|---|---|---|"
  for size in 256MiB 1GiB 10GiB; do
    echo "| $size | ${FLAT[$size put]} | ${FLAT[$size get]} | ${FLAT[$size pack]} |"
  done
  echo
  echo "## Choosing the defaults: --part-size x --concurrency (1 GiB, same Garage)"
  echo; s3header "the default 8MiB x 4"
  for tool in s3put s3get; do
    for ps in $SIZES; do
      for c in $WIDTHS; do s3row "$tool $ps x $c" "$tool 8MiB x 4"; done
    done
  done
  echo
  echo "## The backup job: the $CORPUS_MB MB corpus into S3 and back (fresh Garage; uploads one run each, restores median of $REPEAT; 0 B scratch disk for all)"
  echo; header "tar -czf | aws"
  row "pack | s3put" "tar -czf - | aws s3 cp -"
  row "tar -czf - | aws s3 cp -" "tar -czf - | aws s3 cp -"
  row "python tarfile w:gz | aws s3 cp -" "tar -czf - | aws s3 cp -"
  echo; echo "pack | s3put vs the Python tarfile pipeline: $(awk -v a="${WALL[python tarfile w:gz | aws s3 cp -]}" -v b="${WALL[pack | s3put]}" 'BEGIN{printf "%.2f×", a/b}') faster."
  echo; header "aws | tar -xz"
  row "s3get | unpack" "aws s3 cp - | tar -xz"
  row "aws s3 cp - | tar -xz" "aws s3 cp - | tar -xz"
  echo
  echo "## Encryption (age, one recipient): the job with and without, median of $REPEAT"
  echo
  echo "Extra client CPU is per GiB of corpus (the bytes backed up)."
  echo; header "unencrypted"
  row "job: pack | s3put --recipient" "job: pack | s3put"
  row "job: pack | s3put" "job: pack | s3put"
  row "job: s3get --identity | unpack" "job: s3get | unpack"
  row "job: s3get | unpack" "job: s3get | unpack"
  echo
  extra "job: pack | s3put --recipient" "job: pack | s3put"
  extra "job: s3get --identity | unpack" "job: s3get | unpack"
} > "$OUT"
[ "$ONLY" != all ] || { echo; bench/incremental.sh; } >> "$OUT"
echo "bench: wrote $OUT" >&2
cat "$OUT"
