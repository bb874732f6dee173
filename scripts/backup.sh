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
#   BACKUP_INCREMENTAL  on: the files archive's BACKUP_PATHS are incremental
#                 (pack -g, GNU tar's listed-incremental): a full backup
#                 (level 0), then each run only what changed since the one
#                 before, with the directories' listings so a restore deletes
#                 what is gone. The snapshot is stored beside the backup
#                 (NAME-TS.snar, read from the last backup at the start and
#                 written at the end; held during the run in TMPDIR, else
#                 /dev/shm, else /tmp);
#                 the manifest records level, base (the backup it extends)
#                 and full. BACKUP_STREAMS and DB_DUMP_CMD are whole every
#                 run: a command's stream is not incremental. Split mode only.
#                 With BACKUP_RECIPIENTS the snapshot is encrypted too, and
#                 reading it needs BACKUP_IDENTITY_FILE. off (default).
#   BACKUP_FULL_EVERY  with BACKUP_INCREMENTAL: a full backup once the last
#                 full is this old (7d, 36h: default 7d), or every N runs (a
#                 number: 7 is a full and six incrementals)
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
# Objects: NAME-TS.db.EXT, NAME-TS.files.tar.gz, NAME-TS.manifest.json
# (and NAME-TS.snar with BACKUP_INCREMENTAL).
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
chain_json=""
incremental=()
scratch=""

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

# BACKUP_INCREMENTAL=on: which level this run is, from the newest complete
# backup's manifest, and its snapshot fetched into a scratch directory
# (removed when the run ends). A full when there is no earlier snapshot,
# or BACKUP_FULL_EVERY says so.
plan_incremental() {
  local every runs=0 secs=0 line prev_ts prev_base suffixes manifest prev_level full_ts
  [ "${BACKUP_INCREMENTAL}" = on ] || misconfigured "BACKUP_INCREMENTAL must be on or off, not $BACKUP_INCREMENTAL"
  [ "${BACKUP_MODE:-split}" = split ] || misconfigured "BACKUP_INCREMENTAL=on needs BACKUP_MODE=split: a single archive holds the database dump, restored once per level"
  [ ${#paths[@]} -gt 0 ] || misconfigured "BACKUP_INCREMENTAL=on needs BACKUP_PATHS: only local paths are incremental"
  [ ${#encrypt[@]} -eq 0 ] || [ -n "${BACKUP_IDENTITY_FILE:-}" ] ||
    misconfigured "BACKUP_INCREMENTAL=on with BACKUP_RECIPIENTS needs BACKUP_IDENTITY_FILE to read the last (encrypted) snapshot"
  [ -z "${BACKUP_IDENTITY_FILE:-}" ] || export S3PIPE_IDENTITY_FILE=$BACKUP_IDENTITY_FILE
  every=${BACKUP_FULL_EVERY:-7d}
  if [[ $every =~ ^[1-9][0-9]*$ ]]; then
    runs=$every
  elif [[ $every =~ ^([1-9][0-9]*)([hd])$ ]]; then
    secs=$((10#${BASH_REMATCH[1]} * $([ "${BASH_REMATCH[2]}" = d ] && echo 86400 || echo 3600)))
  else
    misconfigured "BACKUP_FULL_EVERY must be a number of runs (7) or a duration (7d, 36h), not $every"
  fi
  # In memory where there is /dev/shm: a pod's root filesystem is read-only
  # and has no emptyDir; the snapshot is small (one record per directory).
  local tmp=${TMPDIR:-/dev/shm}
  [ -d "$tmp" ] && [ -w "$tmp" ] || tmp=/tmp
  scratch=$(mktemp -d "$tmp/s3pipe-snapshot.XXXXXX") || fail "no room for the snapshot in $tmp (set TMPDIR)"
  trap 'rm -rf "$scratch"' EXIT
  incremental=(-g "$scratch/snar")
  level=0 full_ts=$ts
  line=$(s3ls --backups "$(series)" 2>/dev/null | tail -n 1) || line=""
  IFS=$'\t' read -r prev_ts prev_base suffixes _ <<<"$line"
  if [[ " ${suffixes:-} " == *" .snar "* ]]; then
    manifest=$(s3get -q "$prev_base.manifest.json") || fail "reading $prev_base.manifest.json failed"
    prev_level=$(printf '%s' "$manifest" | grep -oE '"level":[0-9]+' | head -n 1 | cut -d: -f2) || true
    full_ts=$(printf '%s' "$manifest" | grep -oE '"full":"[0-9-]{19}"' | head -n 1 | cut -d'"' -f4) || true
    if [ -z "$prev_level" ] || [ -z "$full_ts" ]; then
      log "$prev_base.manifest.json has no level or full: this run is a full backup"
      full_ts=$ts
    elif { [ "$runs" -gt 0 ] && [ $((prev_level + 1)) -ge "$runs" ]; } ||
      { [ "$secs" -gt 0 ] && [ $(($(stamp_seconds "$ts") - $(stamp_seconds "$full_ts"))) -ge "$secs" ]; }; then
      log "BACKUP_FULL_EVERY=$every: this run is a full backup"
      full_ts=$ts
    else
      level=$((prev_level + 1))
      s3get -q "$prev_base.snar" > "$scratch/snar" || fail "reading $prev_base.snar failed"
      log "incremental level $level on $prev_ts (full $full_ts)"
      chain_json=",\"base\":\"$prev_ts\""
    fi
  fi
  chain_json=",\"level\":$level$chain_json,\"full\":\"$full_ts\""
}

# Seconds since the epoch of a YYYY-MM-DD-HH-MM-SS stamp (UTC).
stamp_seconds() {
  local s=$1
  date -u -d "${s:0:10} ${s:11:2}:${s:14:2}:${s:17:2}" +%s
}

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
[ "${BACKUP_INCREMENTAL:-off}" = off ] || plan_incremental
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
    put "$base.files.tar.gz" pack -q "${incremental[@]}" "${streams[@]}" "${files[@]}"
  fi
  # pack replaced the snapshot only once its archive was whole.
  [ -z "$scratch" ] || put "$base.snar" cat "$scratch/snar"
fi

version=$(s3put --version | awk '{print $2}')
manifest=$(printf '{"name":%s,"timestamp":"%s","tool":"s3pipe %s"%s,"objects":[%s]%s}' \
  "$(json_string "$BACKUP_NAME")" "$ts" "$version" "$chain_json" "$objects" "$lock_json")
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
