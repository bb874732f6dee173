#!/usr/bin/env bash
# Side-by-side benchmarks, one run, written to bench/results.md.
#   bench/run.sh            everything
#   REPEAT=5 bench/run.sh   more repetitions (the median is reported)
# Needs: a release build (make bench does it), pigz, zstd, GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."
REPEAT=${REPEAT:-3}
WORK=${BENCH_DIR:-$HOME/.cache/s3pipe/bench}
CORPUS=$WORK/corpus
BIN=$PWD/target/release
OUT=bench/results.md
# unpack writes into tmpfs: on this kind of machine the virtual disk's
# writeback swung the same run from 4 s to 13 s, which measured the disk.
UNPACK_DIR=${UNPACK_DIR:-/dev/shm/s3pipe-bench-out}
mkdir -p "$WORK"

cargo build --release --bins --examples -q
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

T="tar -cf - corpus"
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
  CAT16="find corpus -type f -print0 | xargs -0 -P 16 -n 64 cat"
  group "cold: pack --none"           "$BIN/pack --none corpus" \
        "cold: tar -cf | cat"         "$T | cat" \
        "cold: 16 parallel cat (ceiling)" "$CAT16" \
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

# --- S3: the same Garage for every client, its data on tmpfs -------------
GDIR=/dev/shm/s3pipe-bench-garage
rm -rf "$GDIR"
PATH="$BIN:$PATH"
# shellcheck source=scripts/local-s3.sh
. scripts/local-s3.sh
start_local_s3 "$GDIR" bench
SERVER_PID=$LOCAL_S3_PID
trap 'kill $SERVER_PID 2>/dev/null; rm -rf "$GDIR" "$UNPACK_DIR"' EXIT
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

# s3row NAME BASELINE: MB/s, client CPU-s per GiB, RSS, server CPU.
s3row() {
  local n=$1 base=$2
  awk -v n="$n" -v w="${WALL[$n]}" -v c="${CPU[$n]}" -v r="${RSS[$n]}" -v k="${SRV[$n]}" \
      -v bw="${WALL[$base]}" -v mb="$S3_MB" 'BEGIN{
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
    echo "(16 readers, 16 MiB); tar reads one file at a time. The parallel \`cat\`"
    echo "is the disk's ceiling (16 reads in flight, no archive)."
    echo; header "tar -cf"
    row "cold: pack --none" "cold: tar -cf | cat"
    row "cold: tar -cf | cat" "cold: tar -cf | cat"
    row "cold: 16 parallel cat (ceiling)" "cold: tar -cf | cat"
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
echo "bench: wrote $OUT" >&2
cat "$OUT"
