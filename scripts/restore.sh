#!/usr/bin/env bash
# Restore a backup, streaming: s3get | unpack (into RESTORE_DIR and/or
# through routes into other places), s3get | DB_RESTORE_CMD. No scratch disk.
#
#   scripts/restore.sh [--clean] [TIMESTAMP|latest|s3://bucket/key]   (default latest)
#     TIMESTAMP, latest   a complete backup (one with a manifest) made by
#                         backup.sh under BACKUP_URL/BACKUP_NAME-
#     s3://bucket/key     any archive (tar, gzip or zstd), with or without a
#                         manifest: e.g. one an older job made
#     --clean             empty RESTORE_DIR first (route commands and
#                         DB_RESTORE_CMD clean their own targets, e.g.
#                         mongorestore --drop, pg_restore --clean)
#   BACKUP_URL, BACKUP_NAME  as for backup.sh          (required for TIMESTAMP/latest)
#   RESTORE_DIR              where the files go (created)
#   RESTORE_ROUTES           entries under PREFIX go to COMMAND's stdin as a
#                            tar stream with PREFIX stripped, one per line:
#                            PREFIX=COMMAND (unpack --route), e.g.
#                            .CombineFiles=kubectl exec -i deploy/backend -- tar xf - -C /home/app/.CombineFiles
#                            With routes and no RESTORE_DIR, entries outside
#                            every route are not extracted.
#   DB_RESTORE_CMD           restores the database: split backups pipe the
#                            dump object into it (e.g. "mongorestore --archive
#                            --gzip --drop", "pg_restore --clean --if-exists
#                            -d app"); in an archive (single-archive backups,
#                            URLs) it receives the dump/ directory as a tar
#                            stream (a route dump=DB_RESTORE_CMD), e.g.
#                            "kubectl exec -i deploy/db -- sh -c 'rm -rf /dump && mkdir /dump && tar xf - -C /dump && mongorestore --drop --gzip --dir=/dump'"
#   RESTORE_IDENTITY_FILE    age identity file for encrypted backups (a
#                            Secret mounted as a file; s3get --identity)
#   RESTORE_REQUIRE_CHECKSUM on (default): an object s3get can verify nothing
#                            of (no stored checksum, no MD5 ETag) is refused
#                            before anything is restored from it; off: it is
#                            restored with one warning line
# Exit 0 success, 1 failure, 2 misconfiguration.
set -euo pipefail

log() { printf '%s restore: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() { log "$*"; exit 1; }
misconfigured() { log "$*"; exit 2; }

clean=0 which=latest
for arg in "$@"; do
  case $arg in
    --clean) clean=1 ;;
    -*) misconfigured "usage: restore.sh [--clean] [TIMESTAMP|latest|s3://bucket/key]" ;;
    *) which=$arg ;;
  esac
done
# s3get reads its identity file from here.
[ -z "${RESTORE_IDENTITY_FILE:-}" ] || export S3PIPE_IDENTITY_FILE=$RESTORE_IDENTITY_FILE
case ${RESTORE_REQUIRE_CHECKSUM:-on} in
  on) export S3PIPE_REQUIRE_CHECKSUM=true ;;
  off) ;;
  *) misconfigured "RESTORE_REQUIRE_CHECKSUM must be on or off, not $RESTORE_REQUIRE_CHECKSUM" ;;
esac

# unpack's routes: RESTORE_ROUTES, one PREFIX=COMMAND per line.
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/env-lines.sh
. "$here/env-lines.sh"
routes=()
lines=()
env_lines lines "${RESTORE_ROUTES:-}"
for line in "${lines[@]}"; do
  routes+=(--route "$line")
done

# restore_archive URL [db]: stream one archive through unpack; with "db",
# its dump/ goes to DB_RESTORE_CMD.
restore_archive() {
  local url=$1 args=(-q)
  args+=("${routes[@]}")
  if [ "${2:-}" = db ]; then
    if [ -n "${DB_RESTORE_CMD:-}" ]; then
      args+=(--route "dump=$DB_RESTORE_CMD")
    else
      log "DB_RESTORE_CMD is not set: a dump/ in the archive is extracted as files, the database is not restored"
    fi
  fi
  if [ -n "${RESTORE_DIR:-}" ]; then
    if [ "$clean" = 1 ] && [ -d "$RESTORE_DIR" ]; then
      log "--clean: emptying $RESTORE_DIR"
      find "$RESTORE_DIR" -mindepth 1 -delete || die "emptying $RESTORE_DIR failed"
    fi
    args+=(--mkdir -C "$RESTORE_DIR")
  elif [ ${#args[@]} -gt 1 ]; then
    args+=(--routes-only)
  else
    misconfigured "set RESTORE_DIR and/or RESTORE_ROUTES: where should $url go?"
  fi
  log "s3get $url | unpack ${args[*]:1}"
  s3get -q "$url" | unpack "${args[@]}" || die "restoring $url failed"
}

case $which in
  s3://*)
    restore_archive "$which" db
    log "restored $which"
    exit 0
    ;;
esac

[ -n "${BACKUP_URL:-}" ] || misconfigured "set BACKUP_URL=s3://bucket/prefix"
[ -n "${BACKUP_NAME:-}" ] || misconfigured "set BACKUP_NAME"
prefix="${BACKUP_URL%/}/${BACKUP_NAME}-"
# Complete backups (those with a manifest), oldest first, one per line:
# STAMP<TAB>s3://bucket/BASE<TAB>SUFFIXES (s3ls --backups, made for scripts).
backups=$(s3ls --backups "$prefix") || die "no complete backup under $prefix"
if [ "$which" = latest ]; then
  line=$(printf '%s\n' "$backups" | tail -n 1)
else
  line=$(printf '%s\n' "$backups" | awk -F '\t' -v ts="$which" '$1 == ts' | tail -n 1)
  [ -n "$line" ] || die "no complete backup with timestamp $which under $prefix"
fi
IFS=$'\t' read -r _ base suffixes <<<"$line"
log "restoring $base"
has() { case " $suffixes " in *" $1 "*) return 0 ;; esac; return 1; }

restored=0
if has .files.tar.gz; then
  restore_archive "$base.files.tar.gz"
  restored=$((restored + 1))
fi
# Single-archive backups: one NAME-TS.tar.gz with dump/ beside the files.
if has .tar.gz; then
  restore_archive "$base.tar.gz" db
  restored=$((restored + 1))
fi
dump=""
for suffix in $suffixes; do
  case $suffix in .db.*) dump=$suffix; break ;; esac
done
if [ -n "$dump" ]; then
  [ -n "${DB_RESTORE_CMD:-}" ] || misconfigured "set DB_RESTORE_CMD: this backup has a database dump"
  log "s3get $base$dump | $DB_RESTORE_CMD"
  s3get -q "$base$dump" | bash -c "$DB_RESTORE_CMD" || die "restoring the database failed"
  restored=$((restored + 1))
fi
[ "$restored" -gt 0 ] || die "the backup at $base has no objects to restore"
log "restored $base"
