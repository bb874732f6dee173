#!/usr/bin/env bash
# One backup run, configured by the environment; streams everything, no
# scratch disk. A backup counts only when its manifest exists: the manifest
# is written last, and a failed run deletes what it uploaded.
#
#   BACKUP_URL    s3://bucket/prefix                      (required)
#   BACKUP_NAME   name of the series, e.g. the host       (required)
#   BACKUP_PATHS  paths to pack, relative to BACKUP_BASE  (optional)
#   BACKUP_BASE   directory the paths are relative to     (default /)
#   BACKUP_STREAMS  tar streams made by commands, one per line:
#                 PREFIX=COMMAND puts the entries COMMAND writes under
#                 PREFIX/ (pack --prefix PREFIX --splice-exec COMMAND), e.g.
#                 .CombineFiles=kubectl exec deploy/backend -- tar cf - -C /home/app/.CombineFiles .
#   DB_DUMP_CMD   a command writing a dump to stdout      (optional), e.g.
#                 "mongodump --archive --gzip --db=app" or "pg_dump -Fc app"
#   DB_DUMP_EXT   the dump object's extension              (default dump)
#   KEEP_LAST, KEEP_DAILY, KEEP_WEEKLY, KEEP_MONTHLY, KEEP_MONTHLY_FIRST,
#   KEEP_YEARLY, KEEP_WITHIN, KEEP_SERIES (scripts/lib.sh, keep_args)
#                 retention applied after a complete run  (optional)
#   BACKUP_TS     the run's timestamp, YYYY-MM-DD-HH-MM-SS (default: now, UTC)
#   BACKUP_MODE   split (default) or single
#   BACKUP_RECIPIENTS       age public keys, one per line (age1… or
#                           ssh-ed25519/ssh-rsa): every object is encrypted
#                           to them on the way (optional)
#   BACKUP_RECIPIENTS_FILE  a file of recipients, age's format (optional)
#                           The manifest records each object's encryption and
#                           the recipients' public keys, never a secret.
#   BACKUP_LOCK_MODE, BACKUP_LOCK_DAYS  S3 Object Lock: every object of the
#                 backup, its manifest included, is locked (GOVERNANCE or
#                 COMPLIANCE) until the run's start + DAYS; the manifest
#                 records the lock. Both or neither; the bucket must have
#                 Object Lock (else the run fails before anything is read)
#   METRICS_TEXTFILE, PUSHGATEWAY_URL  Prometheus metrics (scripts/report.sh)
#   NOTIFY_URL    healthchecks.io-style pings: NOTIFY_URL/start, then
#                 NOTIFY_URL or NOTIFY_URL/fail with the summary line
#                 (scripts/report.sh; NOTIFY_TIMEOUT, NOTIFY_CA_BUNDLE)
#   BACKUP_IDLE_TIMEOUT  a producer (DB_DUMP_CMD, a BACKUP_STREAMS command)
#                 that writes nothing on stdout or stderr for this long is
#                 killed and the run fails (default 10m; off for none):
#                 mongodump and pg_dump talk on stderr while they work, a
#                 stalled `kubectl exec` says nothing (TheCombine#4322)
#
# Objects: NAME-TS.db.EXT, NAME-TS.files.tar.gz, NAME-TS.manifest.json.
# Single-archive mode (BACKUP_MODE=single) writes one NAME-TS.tar.gz that
# holds the dump under dump/ beside the files: DB_DUMP_CMD must then write a
# tar stream of the dump directory's contents (e.g. "kubectl exec db -- tar
# cf - -C /dump ."), spliced in by pack --splice-exec without staging.
# Every producer's exit status counts: s3put --exec and pack --splice-exec
# complete nothing unless it exits 0.
# Stdout: one JSON line when the run ends, what was stored or why it failed.
set -euo pipefail

role=backup
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"
# shellcheck source=scripts/report.sh
. "$here/report.sh"
run_started=$(date +%s)
notify /start ""
ts=${BACKUP_TS:-$(date -u +%Y-%m-%d-%H-%M-%S)}
ts_given=${BACKUP_TS:-}
# A configuration that cannot work is a failed run too: its summary line.
on_misconfigured() { report_run failure "\"error\":$(json_string "$1")"; }

need BACKUP_URL
[[ -z $ts_given || $ts_given =~ ^[0-9]{4}(-[0-9]{2}){5}$ ]] ||
  misconfigured "BACKUP_TS must be YYYY-MM-DD-HH-MM-SS, not $ts_given"
# The idle limit, in seconds: pack watches the streams it splices with it,
# and s3put watches its producer with a minute more, so that a stalled
# splice is named by pack (the innermost watcher) rather than by s3put.
idle=${BACKUP_IDLE_TIMEOUT:-10m}
case $idle in
  off) unset S3PIPE_IDLE_TIMEOUT; put_idle=() ;;
  *[1-9]*)
    [[ $idle =~ ^([0-9]+)([smhd]?)$ ]] || misconfigured "BACKUP_IDLE_TIMEOUT must be a duration (90s, 10m, 1h) or off, not $idle"
    case ${BASH_REMATCH[2]} in m) unit=60 ;; h) unit=3600 ;; d) unit=86400 ;; *) unit=1 ;; esac
    idle=$((10#${BASH_REMATCH[1]} * unit))
    export S3PIPE_IDLE_TIMEOUT=$idle
    put_idle=(--idle-timeout "$((idle + 60))")
    ;;
  *) misconfigured "BACKUP_IDLE_TIMEOUT must be a duration (90s, 10m, 1h) or off, not $idle" ;;
esac
need BACKUP_NAME
[ -n "${BACKUP_PATHS:-}${BACKUP_STREAMS:-}${DB_DUMP_CMD:-}" ] ||
  misconfigured "nothing to back up: set BACKUP_PATHS, BACKUP_STREAMS and/or DB_DUMP_CMD"
case ${BACKUP_MODE:-split} in
  split | single) ;;
  *) misconfigured "BACKUP_MODE must be split or single, not $BACKUP_MODE" ;;
esac

# pack's arguments for the streams: --prefix P --splice-exec CMD per line.
streams=()
lines=()
env_lines lines "${BACKUP_STREAMS:-}"
for line in "${lines[@]}"; do
  if [ -z "${line%%=*}" ] || [ "${line#*=}" = "$line" ] || [ -z "${line#*=}" ]; then
    misconfigured "BACKUP_STREAMS: \"$line\" is not PREFIX=COMMAND"
  fi
  streams+=(--prefix "${line%%=*}" --splice-exec "${line#*=}")
done

# Encryption: one --recipient per line of BACKUP_RECIPIENTS.
encrypt=()
env_lines lines "${BACKUP_RECIPIENTS:-}"
for line in "${lines[@]}"; do
  encrypt+=(--recipient "$line")
done
[ -z "${BACKUP_RECIPIENTS_FILE:-}" ] || encrypt+=(--recipients-file "$BACKUP_RECIPIENTS_FILE")

# Object Lock: one retain-until date for every object of the run.
lock=()
lock_json=""
if [ -n "${BACKUP_LOCK_MODE:-}${BACKUP_LOCK_DAYS:-}" ]; then
  case ${BACKUP_LOCK_MODE:-} in
    GOVERNANCE | COMPLIANCE) ;;
    *) misconfigured "BACKUP_LOCK_MODE must be GOVERNANCE or COMPLIANCE, not ${BACKUP_LOCK_MODE:-nothing} (BACKUP_LOCK_DAYS is set)" ;;
  esac
  [[ ${BACKUP_LOCK_DAYS:-} =~ ^[1-9][0-9]{0,4}$ ]] ||
    misconfigured "BACKUP_LOCK_DAYS must be a number of days (1 or more), not ${BACKUP_LOCK_DAYS:-nothing}"
  lock_until=$((run_started + 10#$BACKUP_LOCK_DAYS * 86400))
  lock=(--object-lock-mode "$BACKUP_LOCK_MODE" --object-lock-retain-until "@$lock_until")
  lock_json=$(printf ',"lock":{"mode":"%s","retain_until":"%s"}' \
    "$BACKUP_LOCK_MODE" "$(date -u -d "@$lock_until" +%Y-%m-%dT%H:%M:%SZ)")
fi

base="$(series)${ts}"
uploaded=()
objects=""

# Delete what this run uploaded, then fail.
fail() {
  trap - INT TERM HUP
  log "FAILED: $*"
  local url why
  for url in "${uploaded[@]}"; do
    # Completed objects are deleted, uploads in progress aborted; what
    # stays behind is said, with why.
    if why=$(s3rm -q "$url" 2>&1); then
      log "removed $url"
    elif ! why="$why; $(s3rm -q --uploads "$url" 2>&1)"; then
      log "could not remove $url, left behind: $why"
    fi
  done
  report_run failure "\"error\":$(json_string "$*")"
  exit 1
}
trap 'fail "interrupted"' INT TERM HUP

# put URL COMMAND...: s3put runs COMMAND and completes URL only if it
# exits 0. Recorded before the upload, so a failed run deletes it.
put() {
  local url=$1 report
  shift
  uploaded+=("$url")
  log "streaming $* -> $url"
  report=$(s3put -q --sha256 --json "${put_idle[@]}" "${encrypt[@]}" "${lock[@]}" --exec "$url" -- "$@") ||
    fail "$url: the producer or the upload failed"
  objects="${objects:+$objects,}$report"
}

# Word splitting is the interface: BACKUP_PATHS is a list of paths.
# shellcheck disable=SC2206
paths=(${BACKUP_PATHS:-})
files=()
[ ${#paths[@]} -eq 0 ] || files=(-C "${BACKUP_BASE:-/}" "${paths[@]}")
if [ "${BACKUP_MODE:-split}" = single ]; then
  dump=()
  [ -z "${DB_DUMP_CMD:-}" ] || dump=(--prefix dump --splice-exec "$DB_DUMP_CMD")
  put "$base.tar.gz" pack -q "${dump[@]}" "${streams[@]}" "${files[@]}"
else
  if [ -n "${DB_DUMP_CMD:-}" ]; then
    put "$base.db.${DB_DUMP_EXT:-dump}" bash -c "$DB_DUMP_CMD"
  fi
  if [ ${#streams[@]} -gt 0 ] || [ ${#files[@]} -gt 0 ]; then
    put "$base.files.tar.gz" pack -q "${streams[@]}" "${files[@]}"
  fi
fi

version=$(s3put --version | awk '{print $2}')
manifest=$(printf '{"name":%s,"timestamp":"%s","tool":"s3pipe %s","objects":[%s]%s}' \
  "$(json_string "$BACKUP_NAME")" "$ts" "$version" "$objects" "$lock_json")
uploaded+=("$base.manifest.json")
printf '%s\n' "$manifest" | s3put -q "${lock[@]}" "$base.manifest.json" || fail "writing the manifest"
uploaded=()
trap - INT TERM HUP
log "complete: $base.manifest.json"

keep_args
if [ "$policy" -gt 0 ]; then
  log "pruning $(series) (${keep[*]})"
  if ! s3prune -q "${keep[@]}" "$(series)"; then
    # The backup is stored; the run still failed: one summary, exit 1.
    log "pruning failed"
    report_run failure "\"manifest\":$(json_string "$base.manifest.json"),\"objects\":[$objects],\"error\":\"pruning failed\""
    exit 1
  fi
fi
report_run success "\"manifest\":$(json_string "$base.manifest.json"),\"bytes\":$(sum_sizes "$objects"),\"objects\":[$objects]"
