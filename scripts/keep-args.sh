#!/usr/bin/env bash
# Sourced by backup.sh and entrypoint.sh: keep_args fills the array `keep`
# with s3prune flags from KEEP_LAST, KEEP_DAILY, KEEP_WEEKLY, KEEP_MONTHLY
# and KEEP_YEARLY (the ones that are set).
keep_args() {
  keep=()
  if [ -n "${KEEP_LAST:-}" ]; then keep+=(--keep-last "$KEEP_LAST"); fi
  if [ -n "${KEEP_DAILY:-}" ]; then keep+=(--keep-daily "$KEEP_DAILY"); fi
  if [ -n "${KEEP_WEEKLY:-}" ]; then keep+=(--keep-weekly "$KEEP_WEEKLY"); fi
  if [ -n "${KEEP_MONTHLY:-}" ]; then keep+=(--keep-monthly "$KEEP_MONTHLY"); fi
  if [ -n "${KEEP_YEARLY:-}" ]; then keep+=(--keep-yearly "$KEEP_YEARLY"); fi
}
