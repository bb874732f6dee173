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
set -euo pipefail

log() { printf '%s restore: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() { log "$*"; exit 1; }

: "${BACKUP_URL:?set BACKUP_URL=s3://bucket/prefix}"
: "${BACKUP_NAME:?set BACKUP_NAME}"
which=${1:-latest}
prefix="${BACKUP_URL%/}/${BACKUP_NAME}-"
bucket_url=${BACKUP_URL#s3://}
bucket_url="s3://${bucket_url%%/*}/"

# Keys of complete backups: their manifests, oldest first.
manifests=$(s3ls -r "$prefix" | sed -E 's/^[0-9-]+ [0-9:]+ +[0-9]+  //' | grep '\.manifest\.json$' | sort) \
  || die "no complete backup under $prefix"
if [ "$which" = latest ]; then
  manifest=$(printf '%s\n' "$manifests" | tail -n 1)
else
  manifest=$(printf '%s\n' "$manifests" | grep -F -- "-$which.manifest.json" | tail -n 1) \
    || die "no complete backup with timestamp $which under $prefix"
fi
[ -n "$manifest" ] || die "no complete backup under $prefix"
base="$bucket_url${manifest%.manifest.json}"
log "restoring $base"

restored=0
objects=$(s3ls -r "$base." | sed -E 's/^[0-9-]+ [0-9:]+ +[0-9]+  //')
if printf '%s\n' "$objects" | grep -q '\.files\.tar\.gz$'; then
  : "${RESTORE_DIR:?set RESTORE_DIR: this backup has files}"
  log "s3get $base.files.tar.gz | unpack -C $RESTORE_DIR"
  s3get -q "$base.files.tar.gz" | unpack -q --mkdir -C "$RESTORE_DIR" || die "restoring the files failed"
  restored=$((restored + 1))
fi
# Single-archive backups: one NAME-TS.tar.gz with dump/ beside the files.
if printf '%s\n' "$objects" | grep -q "${manifest%.manifest.json}\.tar\.gz\$"; then
  : "${RESTORE_DIR:?set RESTORE_DIR}"
  log "s3get $base.tar.gz | unpack -C $RESTORE_DIR"
  s3get -q "$base.tar.gz" | unpack -q --mkdir -C "$RESTORE_DIR" || die "restoring the archive failed"
  restored=$((restored + 1))
fi
dump=$(printf '%s\n' "$objects" | grep '\.db\.' | head -n 1 || true)
if [ -n "$dump" ]; then
  : "${DB_RESTORE_CMD:?set DB_RESTORE_CMD: this backup has a database dump}"
  log "s3get $bucket_url$dump | $DB_RESTORE_CMD"
  s3get -q "$bucket_url$dump" | bash -c "$DB_RESTORE_CMD" || die "restoring the database failed"
  restored=$((restored + 1))
fi
[ "$restored" -gt 0 ] || die "the backup at $base has no objects to restore"
log "restored $base"
