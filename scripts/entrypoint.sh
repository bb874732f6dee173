#!/usr/bin/env bash
# Container entrypoint for a Kubernetes Job/CronJob. Subcommands:
#   backup               scripts/backup.sh (env as documented there); with
#                        BACKUP_RETRIES=N a failed run (exit 1, already
#                        cleaned up) is tried again up to N times, after
#                        BACKUP_RETRY_DELAY seconds (default 60), doubling;
#                        a misconfiguration (exit 2) or a signal is not
#   restore [--clean] [TS|latest|s3://bucket/key]
#                        scripts/restore.sh: verified first, then restored
#   verify [TS|latest|s3://bucket/key]
#                        the restore's first pass alone: every object read
#                        and checked whole, nothing written; one JSON line,
#                        metrics (restore.sh --verify-only)
#   list                 complete backups (those with a manifest), oldest first:
#                        STAMP<TAB>URL<TAB>SUFFIXES (s3ls --backups)
#   prune                s3prune with KEEP_* (at least one required)
#   cleanup-uploads      abort multipart uploads older than UPLOAD_MAX_AGE
#                        (default 1d) under BACKUP_URL: what a SIGKILL or OOM
#                        left behind
# Log lines are timestamped on stderr. Exit 0 success, 1 failure, 2 usage,
# so a Job's backoffLimit retries only real failures.
set -euo pipefail

role=entrypoint
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"
# One backup.sh run as a child (not exec: the loop goes on after it); a
# SIGTERM, SIGINT or SIGHUP is passed on to it, so it cleans up as when it
# runs alone, and ends the retries.
stopping=0
run_backup() {
  local child status=0
  "$here/backup.sh" "$@" &
  child=$!
  trap 'stopping=1; kill -TERM "$child" 2>/dev/null || true' TERM INT HUP
  wait "$child" || status=$?
  while [ "$stopping" = 1 ] && kill -0 "$child" 2>/dev/null; do
    status=0
    wait "$child" || status=$?
  done
  return "$status"
}
usage() {
  misconfigured "usage: entrypoint.sh backup | restore [--clean] [TS|latest|s3://bucket/key] | verify [TS|latest|s3://bucket/key] | list | prune | cleanup-uploads"
}

[ $# -ge 1 ] || usage
command=$1
need_context=$command
shift
case "$command" in
  backup)
    retries=${BACKUP_RETRIES:-0} delay=${BACKUP_RETRY_DELAY:-60}
    [[ $retries =~ ^[0-9]+$ && $delay =~ ^[0-9]+$ ]] ||
      misconfigured "backup: BACKUP_RETRIES and BACKUP_RETRY_DELAY must be whole numbers"
    [ "$retries" -gt 0 ] || exec "$here/backup.sh" "$@"
    attempt=1
    while :; do
      status=0
      run_backup "$@" || status=$?
      [ "$status" = 1 ] && [ "$attempt" -le "$retries" ] && [ "$stopping" = 0 ] || exit "$status"
      log "backup: attempt $attempt of $((retries + 1)) failed; trying again in ${delay}s"
      sleep "$delay" &
      wait $! || true
      [ "$stopping" = 0 ] || exit "$status"
      attempt=$((attempt + 1)) delay=$((delay * 2))
    done
    ;;
  restore)
    exec "$here/restore.sh" "$@"
    ;;
  verify)
    exec "$here/restore.sh" --verify-only "$@"
    ;;
  list)
    need BACKUP_URL BACKUP_NAME
    # STAMP<TAB>URL<TAB>SUFFIXES per complete backup, oldest first.
    exec s3ls --backups "$(series)"
    ;;
  prune)
    need BACKUP_URL BACKUP_NAME
    keep_args
    [ "$policy" -gt 0 ] || misconfigured "prune: set at least one of KEEP_LAST, KEEP_DAILY, KEEP_WITHIN, …"
    log "pruning $(series) (${keep[*]})"
    exec s3prune "${keep[@]}" "$@" "$(series)"
    ;;
  cleanup-uploads)
    need BACKUP_URL
    log "aborting uploads older than ${UPLOAD_MAX_AGE:-1d} under ${BACKUP_URL%/}/"
    exec s3rm --uploads --older-than "${UPLOAD_MAX_AGE:-1d}" "${BACKUP_URL%/}/"
    ;;
  *)
    usage
    ;;
esac
