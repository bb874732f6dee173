#!/usr/bin/env bash
# Sourced by backup.sh, restore.sh and entrypoint.sh: what the job's
# scripts share, one definition each.
#   role=NAME; . lib.sh    NAME prefixes every log line (backup, restore, …)
#   log MESSAGE            a timestamped line on stderr
#   misconfigured MESSAGE  a setting that cannot work: logged, exit 2 (a Job
#                          does not retry it); a script may define
#                          on_misconfigured MESSAGE to report it first
#   need VAR...            each must be set and not empty, else misconfigured
#   series                 the series' key prefix: BACKUP_URL/BACKUP_NAME-
#   env_lines ARRAY VALUE  VALUE's lines into ARRAY, leading blanks trimmed,
#                          empty and '#' lines dropped (BACKUP_STREAMS,
#                          BACKUP_RECIPIENTS, RESTORE_ROUTES)
#   keep_args              the array `keep`: s3prune flags from KEEP_LAST,
#                          KEEP_DAILY, KEEP_WEEKLY, KEEP_MONTHLY,
#                          KEEP_MONTHLY_FIRST, KEEP_YEARLY, KEEP_WITHIN (e.g.
#                          7d) and KEEP_SERIES (a regex: every key it matches
#                          is one series); `policy`: how many KEEP_* are set

log() { printf '%s %s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "${role:-s3pipe}" "$*" >&2; }

misconfigured() {
  log "$*"
  if declare -F on_misconfigured > /dev/null; then on_misconfigured "$*"; fi
  exit 2
}

need() {
  local name
  for name in "$@"; do
    [ -n "${!name:-}" ] || misconfigured "${need_context:+$need_context: }set $name"
  done
}

series() { printf '%s/%s-' "${BACKUP_URL%/}" "$BACKUP_NAME"; }

env_lines() {
  local -n into=$1
  local line
  into=()
  while IFS= read -r line; do
    line=${line#"${line%%[![:space:]]*}"}
    case $line in '' | '#'*) continue ;; esac
    into+=("$line")
  done <<<"$2"
}

keep_args() {
  keep=()
  if [ -n "${KEEP_LAST:-}" ]; then keep+=(--keep-last "$KEEP_LAST"); fi
  if [ -n "${KEEP_DAILY:-}" ]; then keep+=(--keep-daily "$KEEP_DAILY"); fi
  if [ -n "${KEEP_WEEKLY:-}" ]; then keep+=(--keep-weekly "$KEEP_WEEKLY"); fi
  if [ -n "${KEEP_MONTHLY:-}" ]; then keep+=(--keep-monthly "$KEEP_MONTHLY"); fi
  if [ -n "${KEEP_MONTHLY_FIRST:-}" ]; then keep+=(--keep-monthly-first "$KEEP_MONTHLY_FIRST"); fi
  if [ -n "${KEEP_YEARLY:-}" ]; then keep+=(--keep-yearly "$KEEP_YEARLY"); fi
  if [ -n "${KEEP_WITHIN:-}" ]; then keep+=(--keep-within "$KEEP_WITHIN"); fi
  # shellcheck disable=SC2034 # read by the scripts that source this
  policy=${#keep[@]}
  if [ -n "${KEEP_SERIES:-}" ]; then keep+=(--series "$KEEP_SERIES"); fi
}
