#!/usr/bin/env bash
# make demo: the main job end to end on an embedded local S3 server
# (Garage, started here in a temp dir and stopped at the end), narrated
# one line per step. Usage: scripts/demo.sh BINDIR (make passes target/release)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BIN=$(cd "${1:-target/release}" && pwd)
export PATH="$BIN:$PATH"
work=$(mktemp -d)
pg_data=""
say() { printf 'demo: %s\n' "$*" >&2; }
stop() {
  if [ -n "$pg_data" ]; then
    runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$pg_data" -m immediate stop > /dev/null 2>&1 || true
  fi
  if [ -n "${LOCAL_S3_PID:-}" ]; then
    kill "$LOCAL_S3_PID" 2> /dev/null || true
  fi
  rm -rf "$work"
}
trap stop EXIT

say "starting a local S3 server (Garage) in $work/s3"
# shellcheck source=scripts/local-s3.sh
. "$here/local-s3.sh"
start_local_s3 "$work/s3" demo

say "making sample files in $work/data (JSON, a log, a binary, a symlink, a hard link, a long name)"
mkdir -p "$work/data/app/logs" "$work/data/app/uploads"
for i in $(seq 1 200); do printf '{"id":%d,"msg":"record %d"}\n' "$i" "$i" > "$work/data/app/uploads/doc-$i.json"; done
seq 1 200000 | sed 's/^/log line /' > "$work/data/app/logs/app.log"
head -c 3000000 /dev/urandom > "$work/data/app/uploads/photo.bin"
ln -s logs/app.log "$work/data/app/current.log"
ln "$work/data/app/uploads/doc-1.json" "$work/data/app/uploads/doc-1-again.json"
touch "$work/data/app/$(printf 'n%.0s' $(seq 1 150)).txt"

export BACKUP_URL=s3://demo/backups BACKUP_NAME=demo-host BACKUP_BASE="$work/data" BACKUP_PATHS=app
pgbin=/usr/lib/postgresql/15/bin
if [ -x "$pgbin/initdb" ] && id postgres > /dev/null 2>&1 && command -v runuser > /dev/null; then
  say "starting PostgreSQL in $work/pg and filling a table"
  chmod 755 "$work" # the server runs as postgres and must reach its dir
  mkdir -p "$work/pg" && chown postgres "$work/pg"
  pg_data="$work/pg/data"
  runuser -u postgres -- "$pgbin/initdb" -D "$pg_data" -A trust -U postgres --no-sync > /dev/null
  runuser -u postgres -- "$pgbin/pg_ctl" -D "$pg_data" -w -l "$work/pg/log" \
    -o "-p 5499 -k $work/pg -c listen_addresses=''" start > /dev/null
  psql() { command psql -h "$work/pg" -p 5499 -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
  psql -c "create database app" > /dev/null
  psql -d app -c "create table t as select i, md5(i::text) as v from generate_series(1, 50000) i" > /dev/null
  export DB_DUMP_CMD="$pgbin/pg_dump -Fc -h $work/pg -p 5499 -U postgres app"
  export DB_RESTORE_CMD="$pgbin/pg_restore -h $work/pg -p 5499 -U postgres --create -d postgres"
  before=$(psql -d app -c "select md5(string_agg(v, ',' order by i)) from t")
else
  say "PostgreSQL (initdb) not available: backing up files only"
fi

say "backup 1 (yesterday's timestamp): scripts/backup.sh"
BACKUP_TS=$(date -u -d '1 day ago' +%Y-%m-%d-%H-%M-%S) "$here/backup.sh" 2>&1 | sed 's/^/  /' >&2
say "backup 2 (now): scripts/backup.sh"
"$here/backup.sh" 2>&1 | sed 's/^/  /' >&2

say "complete backups (scripts/entrypoint.sh list):"
"$here/entrypoint.sh" list | sed 's/^/  /' >&2
say "s3prune --keep-last 1 --dry-run: what retention would do"
s3prune --keep-last 1 --dry-run "s3://demo/backups/demo-host-" | sed 's/^/  /' >&2

if [ -n "$pg_data" ]; then
  say "dropping the database, then restoring the latest backup"
  psql -c "drop database app" > /dev/null
fi
RESTORE_DIR="$work/restore" "$here/restore.sh" latest 2>&1 | sed 's/^/  /' >&2

say "diff -r data restore"
diff -r --no-dereference "$work/data" "$work/restore"
if [ -n "$pg_data" ]; then
  after=$(psql -d app -c "select md5(string_agg(v, ',' order by i)) from t")
  [ "$before" = "$after" ] || { say "ERROR: the restored table differs"; exit 1; }
  say "table t restored identical (md5 $after)"
fi

say "a truncated archive is never stored: head -c 100000 of a pack | s3put"
if pack -q -C "$work/data" app | head -c 100000 | s3put -q s3://demo/truncated.tar.gz 2>&1 | sed 's/^/  /' >&2; then :; fi
if s3ls -r s3://demo/truncated > /dev/null && [ -z "$(s3ls -r s3://demo/truncated)" ]; then
  say "nothing stored, as it should be"
else
  say "ERROR: a truncated stream was stored"; exit 1
fi
say "done: backed up twice, listed, pruned (dry run), restored, verified; stopping the server"
