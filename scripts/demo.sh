#!/usr/bin/env bash
# make demo: the main job end to end, narrated one line per step.
# Usage: scripts/demo.sh BINDIR   (make demo passes target/release)
set -euo pipefail
BIN=$(cd "${1:-target/release}" && pwd)
export PATH="$BIN:$PATH"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
say() { printf 'demo: %s\n' "$*" >&2; }

say "making a sample tree in $work/data (files, a symlink, a hard link, a long name)"
mkdir -p "$work/data/app/logs" "$work/data/app/uploads"
for i in $(seq 1 200); do printf '{"id":%d,"msg":"record %d"}\n' "$i" "$i" > "$work/data/app/uploads/doc-$i.json"; done
seq 1 200000 | sed 's/^/log line /' > "$work/data/app/logs/app.log"
head -c 3000000 /dev/urandom > "$work/data/app/uploads/photo.bin"
ln -s logs/app.log "$work/data/app/current.log"
ln "$work/data/app/uploads/doc-1.json" "$work/data/app/uploads/doc-1-again.json"
touch "$work/data/app/$(printf 'n%.0s' $(seq 1 150)).txt"

say "pack -C data . > backup.tar.gz   (parallel gzip on $(nproc) cores)"
pack -q -C "$work/data" . > "$work/backup.tar.gz"
say "archive: $(stat -c %s "$work/backup.tar.gz") bytes from $(du -sb "$work/data" | cut -f1) bytes"

say "unpack -t lists it like tar -t ($(unpack -t < "$work/backup.tar.gz" | wc -l) entries)"
say "unpack -C restore < backup.tar.gz"
unpack -q --mkdir -C "$work/restore" < "$work/backup.tar.gz"

say "diff -r data restore"
diff -r --no-dereference "$work/data" "$work/restore"
say "GNU tar reads it too: tar -tzf lists $(tar -tzf "$work/backup.tar.gz" | wc -l) entries"

say "a truncated archive is refused, never half-restored:"
head -c 100000 "$work/backup.tar.gz" > "$work/cut.tar.gz"
if unpack --mkdir -C "$work/cut" < "$work/cut.tar.gz"; then
  say "ERROR: the truncated archive was accepted"; exit 1
fi
say "round trip verified"
