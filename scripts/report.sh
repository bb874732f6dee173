#!/usr/bin/env bash
# Sourced by backup.sh and restore.sh: what a run reports when it ends,
# for CronJobs.
#   report_run success|failure DETAIL_JSON      (a backup)
#   report_verify success|failure DETAIL_JSON   (restore.sh --verify-only)
# prints one JSON line on stdout (the run's summary: logs are on stderr)
# and, when configured, writes Prometheus metrics:
#   METRICS_TEXTFILE  a file for node_exporter's textfile collector,
#                     replaced whole (written beside it, then renamed)
#   PUSHGATEWAY_URL   http(s)://[user:password@]host:port of a Prometheus
#                     Pushgateway; the metrics are POSTed to the group
#                     job=s3pipe_backup/instance=BACKUP_NAME
# and pings NOTIFY_URL, healthchecks.io-style, for backups: notify /start
# when a run starts, then URL (success) or URL/fail, with the summary line
# as the body. Both are sent by `s3pipe post` (TLS, basic auth, a deadline
# of NOTIFY_TIMEOUT, default 10s; NOTIFY_CA_BUNDLE trusts a private CA's
# PEM), and neither ever fails or holds up the run: a failure is one line.
# Metrics: s3pipe_backup_last_success_timestamp_seconds (kept from the
# last success on a failed run), s3pipe_backup_last_run_timestamp_seconds,
# s3pipe_backup_last_run_failed (0 or 1), s3pipe_backup_duration_seconds,
# s3pipe_backup_bytes (stored by the last successful run); a verify run:
# s3pipe_backup_last_verify_success_timestamp_seconds (kept on a failed
# one), s3pipe_backup_last_verify_timestamp_seconds,
# s3pipe_backup_last_verify_failed. Each kind of run replaces only its own
# metrics, in the textfile as in the Pushgateway.

# A JSON string of $1.
json_string() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\t'/\\t}
  s=${s//$'\r'/\\r}
  printf '"%s"' "$s"
}

# The string a JSON string literal $1 holds (\" and \\ are all that s3pipe's
# reports escape in URLs and ETags).
json_unstring() {
  local s=${1#\"}
  s=${s%\"}
  s=${s//\\\"/\"}
  s=${s//\\\\/\\}
  printf '%s' "$s"
}

# The total of every "size": N in $1 (s3put's JSON reports).
sum_sizes() {
  local total=0 n
  for n in $(printf '%s' "$1" | grep -o '"size":[0-9]*' | cut -d: -f2); do
    total=$((total + n))
  done
  echo "$total"
}

# gauge NAME VALUE: one gauge in Prometheus' text format.
gauge() { printf '# TYPE %s gauge\n%s %s\n' "$1" "$1" "$2"; }

# success_time FAILED NOW METRIC: now after a success; after a failure the
# last success's time as METRICS_TEXTFILE kept it (empty if none).
success_time() {
  if [ "$1" = 0 ]; then
    echo "$2"
  elif [ -n "${METRICS_TEXTFILE:-}" ] && [ -r "$METRICS_TEXTFILE" ]; then
    awk -v m="$3" '$1 == m {print $2}' "$METRICS_TEXTFILE"
  fi
}

# summary_line RESULT SECONDS DETAIL: the run's one JSON line.
summary_line() {
  # shellcheck disable=SC2154 # ts: the run's timestamp, set by the script
  printf '{"result":"%s","name":%s,"timestamp":"%s","seconds":%s,%s}' \
    "$1" "$(json_string "${BACKUP_NAME:-}")" "${ts:-}" "$2" "$3"
}

report_run() {
  local result=$1 detail=$2 now seconds failed=0 line last metrics
  now=$(date +%s)
  seconds=$((now - ${run_started:-now}))
  [ "$result" = success ] || failed=1
  line=$(summary_line "$result" "$seconds" "$detail")
  printf '%s\n' "$line"
  if [ "$failed" = 0 ]; then notify "" "$line"; else notify /fail "$line"; fi
  [ -n "${METRICS_TEXTFILE:-}${PUSHGATEWAY_URL:-}" ] || return 0
  last=$(success_time "$failed" "$now" s3pipe_backup_last_success_timestamp_seconds)
  metrics=$(
    gauge s3pipe_backup_last_run_timestamp_seconds "$now"
    gauge s3pipe_backup_last_run_failed "$failed"
    gauge s3pipe_backup_duration_seconds "$seconds"
    [ -z "$last" ] || gauge s3pipe_backup_last_success_timestamp_seconds "$last"
    [ "$failed" = 1 ] || gauge s3pipe_backup_bytes "$(sum_sizes "$detail")"
  )
  write_metrics "$metrics"
}

# One verify run's summary line and metrics (restore.sh --verify-only).
report_verify() {
  local result=$1 detail=$2 now seconds failed=0 last metrics
  now=$(date +%s)
  seconds=$((now - ${run_started:-now}))
  [ "$result" = success ] || failed=1
  printf '%s\n' "$(summary_line "$result" "$seconds" "$detail")"
  [ -n "${METRICS_TEXTFILE:-}${PUSHGATEWAY_URL:-}" ] || return 0
  last=$(success_time "$failed" "$now" s3pipe_backup_last_verify_success_timestamp_seconds)
  metrics=$(
    gauge s3pipe_backup_last_verify_timestamp_seconds "$now"
    gauge s3pipe_backup_last_verify_failed "$failed"
    [ -z "$last" ] || gauge s3pipe_backup_last_verify_success_timestamp_seconds "$last"
  )
  write_metrics "$metrics"
}

# Write metrics $1 to METRICS_TEXTFILE (the file's other metrics kept:
# backups and verify runs share it; written beside it, then renamed) and
# to PUSHGATEWAY_URL; a failure is logged, never fails the run.
write_metrics() {
  local metrics=$1 names
  if [ -n "${METRICS_TEXTFILE:-}" ]; then
    names=$(printf '%s\n' "$metrics" | awk '$1 != "#" {print $1}')
    if ! {
      {
        [ ! -r "$METRICS_TEXTFILE" ] ||
          awk -v names="$names" 'BEGIN { n = split(names, a, "\n"); for (i = 1; i <= n; i++) mine[a[i]] = 1 }
            !(($1 == "#" && mine[$3]) || mine[$1])' "$METRICS_TEXTFILE"
        printf '%s\n' "$metrics"
      } > "$METRICS_TEXTFILE.$$" && mv -f "$METRICS_TEXTFILE.$$" "$METRICS_TEXTFILE"
    }; then
      log "writing $METRICS_TEXTFILE failed"
    fi
  fi
  if [ -n "${PUSHGATEWAY_URL:-}" ]; then
    push_metrics "$metrics" || log "pushing metrics to $PUSHGATEWAY_URL failed"
  fi
}

# post URL BODY: s3pipe post with the job's deadline and CA.
post() {
  local args=(--timeout "${NOTIFY_TIMEOUT:-10s}")
  [ -z "${NOTIFY_CA_BUNDLE:-}" ] || args+=(--ca-bundle "$NOTIFY_CA_BUNDLE")
  [ -z "${3:-}" ] || args+=(--content-type "$3")
  printf '%s' "$2" | s3pipe post "${args[@]}" "$1"
}

# notify SUFFIX BODY: ping NOTIFY_URL+SUFFIX ("", /start, /fail).
notify() {
  [ -n "${NOTIFY_URL:-}" ] || return 0
  post "${NOTIFY_URL%/}$1" "$2" || log "notifying${1:+ $1} failed; the run goes on"
}

# POST the metrics to the Pushgateway: POST replaces only the metrics it
# names, so a failed run keeps the last success's timestamp and bytes.
# The instance label goes base64url-encoded (any BACKUP_NAME is a path).
push_metrics() {
  local instance
  instance=$(printf '%s' "${BACKUP_NAME:-unnamed}" | base64 -w0 | tr '+/' '-_' | tr -d '=')
  post "${PUSHGATEWAY_URL%/}/metrics/job/s3pipe_backup/instance@base64/$instance" "$1"$'\n' \
    'text/plain; version=0.0.4'
}
