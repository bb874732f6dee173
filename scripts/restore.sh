#!/usr/bin/env bash
# Restore one complete backup (one with a manifest) made by backup.sh,
# streaming: s3get | unpack, s3get | DB_RESTORE_CMD. No scratch disk.
#
#   scripts/restore.sh [TIMESTAMP|latest]      (default latest)
#   BACKUP_URL, BACKUP_NAME  as for backup.sh               (required)
#   RESTORE_DIR              where the files go (created)   (if the backup has files)
#   DB_RESTORE_CMD           reads the dump on stdin, e.g.
#                            "mongorestore --archive --gzip --drop" or
#                            "pg_restore --clean --if-exists -d app" (if it has a dump)
#   RESTORE_IDENTITY_FILE    age identity file for encrypted backups (a
#                            Secret mounted as a file; s3get --identity)
set -euo pipefail

log() { printf '%s restore: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() { log "$*"; exit 1; }

: "${BACKUP_URL:?set BACKUP_URL=s3://bucket/prefix}"
: "${BACKUP_NAME:?set BACKUP_NAME}"
which=${1:-latest}
# s3get reads its identity file from here.
[ -z "${RESTORE_IDENTITY_FILE:-}" ] || export S3PIPE_IDENTITY_FILE=$RESTORE_IDENTITY_FILE
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
  : "${RESTORE_DIR:?set RESTORE_DIR: this backup has files}"
  log "s3get $base.files.tar.gz | unpack -C $RESTORE_DIR"
  s3get -q "$base.files.tar.gz" | unpack -q --mkdir -C "$RESTORE_DIR" || die "restoring the files failed"
  restored=$((restored + 1))
fi
# Single-archive backups: one NAME-TS.tar.gz with dump/ beside the files.
if has .tar.gz; then
  : "${RESTORE_DIR:?set RESTORE_DIR}"
  log "s3get $base.tar.gz | unpack -C $RESTORE_DIR"
  s3get -q "$base.tar.gz" | unpack -q --mkdir -C "$RESTORE_DIR" || die "restoring the archive failed"
  restored=$((restored + 1))
fi
dump=""
for suffix in $suffixes; do
  case $suffix in .db.*) dump=$suffix; break ;; esac
done
if [ -n "$dump" ]; then
  : "${DB_RESTORE_CMD:?set DB_RESTORE_CMD: this backup has a database dump}"
  log "s3get $base$dump | $DB_RESTORE_CMD"
  s3get -q "$base$dump" | bash -c "$DB_RESTORE_CMD" || die "restoring the database failed"
  restored=$((restored + 1))
fi
[ "$restored" -gt 0 ] || die "the backup at $base has no objects to restore"
log "restored $base"
