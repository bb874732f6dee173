#!/usr/bin/env bash
# One backup run, configured by the environment; streams everything, no
# scratch disk. A backup counts only when its manifest exists: the manifest
# is written last, and a failed run deletes what it uploaded.
#
#   BACKUP_URL    s3://bucket/prefix                      (required)
#   BACKUP_NAME   name of the series, e.g. the host       (required)
#   BACKUP_PATHS  paths to pack, relative to BACKUP_BASE  (optional)
#   BACKUP_BASE   directory the paths are relative to     (default /)
#   DB_DUMP_CMD   a command writing a dump to stdout      (optional), e.g.
#                 "mongodump --archive --gzip --db=app" or "pg_dump -Fc app"
#   DB_DUMP_EXT   the dump object's extension              (default dump)
#   KEEP_LAST, KEEP_DAILY, KEEP_WEEKLY, KEEP_MONTHLY, KEEP_MONTHLY_FIRST,
#   KEEP_YEARLY, KEEP_WITHIN, KEEP_SERIES (scripts/keep-args.sh)
#                 retention applied after a complete run  (optional)
#   BACKUP_TS     the run's timestamp, YYYY-MM-DD-HH-MM-SS (default: now, UTC)
#   BACKUP_MODE   split (default) or single
#   BACKUP_RECIPIENTS       age public keys, one per line (age1… or
#                           ssh-ed25519/ssh-rsa): every object is encrypted
#                           to them on the way (optional)
#   BACKUP_RECIPIENTS_FILE  a file of recipients, age's format (optional)
#                           The manifest records each object's encryption and
#                           the recipients' public keys, never a secret.
#
# Objects: NAME-TS.db.EXT, NAME-TS.files.tar.gz, NAME-TS.manifest.json.
# Single-archive mode (BACKUP_MODE=single) writes one NAME-TS.tar.gz that
# holds the dump under dump/ beside the files: DB_DUMP_CMD must then write a
# tar stream (e.g. "kubectl exec db -- tar cf - dump"), spliced in by
# pack --splice without staging; a cut stream fails pack's check.
set -euo pipefail

log() { printf '%s backup: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() { log "$*"; exit 1; }

: "${BACKUP_URL:?set BACKUP_URL=s3://bucket/prefix}"
: "${BACKUP_NAME:?set BACKUP_NAME, e.g. the host name}"
[ -n "${BACKUP_PATHS:-}${DB_DUMP_CMD:-}" ] || die "nothing to back up: set BACKUP_PATHS and/or DB_DUMP_CMD"

# Encryption: one --recipient per line of BACKUP_RECIPIENTS.
encrypt=()
while IFS= read -r line; do
  line=${line#"${line%%[![:space:]]*}"}
  case $line in ''|'#'*) continue ;; esac
  encrypt+=(--recipient "$line")
done <<<"${BACKUP_RECIPIENTS:-}"
[ -z "${BACKUP_RECIPIENTS_FILE:-}" ] || encrypt+=(--recipients-file "$BACKUP_RECIPIENTS_FILE")

ts=${BACKUP_TS:-$(date -u +%Y-%m-%d-%H-%M-%S)}
base="${BACKUP_URL%/}/${BACKUP_NAME}-${ts}"
uploaded=()
objects=""

# Delete what this run uploaded, then fail.
fail() {
  trap - INT TERM HUP
  log "FAILED: $*"
  for url in "${uploaded[@]}"; do
    s3rm -q "$url" 2>/dev/null || s3rm -q --uploads "$url" 2>/dev/null || true
  done
  exit 1
}
trap 'fail "interrupted"' INT TERM HUP

# put URL COMMAND...: stream COMMAND's output into URL. Recorded before the
# upload: s3put may complete an object whose producer then fails.
put() {
  local url=$1 report
  shift
  uploaded+=("$url")
  log "streaming $* -> $url"
  report=$("$@" | s3put -q --sha256 --json "${encrypt[@]}" "$url") || fail "$url: the producer or the upload failed"
  objects="${objects:+$objects,}$report"
}

# One archive: the dump's tar stream spliced in from a pipe, then the files.
single_archive() {
  if [ -n "${DB_DUMP_CMD:-}" ]; then
    # shellcheck disable=SC2086
    bash -c "$DB_DUMP_CMD" | pack -q --prefix dump --splice - -C "${BACKUP_BASE:-/}" $BACKUP_PATHS
  else
    # shellcheck disable=SC2086
    pack -q -C "${BACKUP_BASE:-/}" $BACKUP_PATHS
  fi
}

if [ "${BACKUP_MODE:-split}" = single ]; then
  put "$base.tar.gz" single_archive
elif [ "${BACKUP_MODE:-split}" != split ]; then
  die "BACKUP_MODE must be split or single, not $BACKUP_MODE"
fi
if [ "${BACKUP_MODE:-split}" = split ] && [ -n "${DB_DUMP_CMD:-}" ]; then
  put "$base.db.${DB_DUMP_EXT:-dump}" bash -c "$DB_DUMP_CMD"
fi
if [ "${BACKUP_MODE:-split}" = split ] && [ -n "${BACKUP_PATHS:-}" ]; then
  # Word splitting is the interface: BACKUP_PATHS is a list of paths.
  # shellcheck disable=SC2086
  put "$base.files.tar.gz" pack -q -C "${BACKUP_BASE:-/}" $BACKUP_PATHS
fi

version=$(s3put --version | awk '{print $2}')
manifest=$(printf '{"name":"%s","timestamp":"%s","tool":"s3pipe %s","objects":[%s]}' \
  "$BACKUP_NAME" "$ts" "$version" "$objects")
uploaded+=("$base.manifest.json")
printf '%s\n' "$manifest" | s3put -q "$base.manifest.json" || fail "writing the manifest"
uploaded=()
trap - INT TERM HUP
log "complete: $base.manifest.json"

# shellcheck source=scripts/keep-args.sh
. "$(dirname "$0")/keep-args.sh"
keep_args
if [ "$policy" -gt 0 ]; then
  log "pruning ${BACKUP_URL%/}/${BACKUP_NAME}- (${keep[*]})"
  s3prune -q "${keep[@]}" "${BACKUP_URL%/}/${BACKUP_NAME}-" || die "pruning failed"
fi
