#!/usr/bin/env bash
# Sourced by backup.sh and entrypoint.sh: keep_args fills the array `keep`
# with s3prune flags from KEEP_LAST, KEEP_DAILY, KEEP_WEEKLY, KEEP_MONTHLY,
# KEEP_MONTHLY_FIRST, KEEP_YEARLY, KEEP_WITHIN (e.g. 7d) and KEEP_SERIES (a
# regex: every key it matches is one series) — the ones that are set.
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
