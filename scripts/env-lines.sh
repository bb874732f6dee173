#!/usr/bin/env bash
# Sourced by backup.sh and restore.sh: multi-line settings (BACKUP_STREAMS,
# BACKUP_RECIPIENTS, RESTORE_ROUTES) hold one item per line.
#   env_lines ARRAY "$VALUE"   fills ARRAY with VALUE's lines, leading
#                              blanks trimmed, empty and '#' lines dropped
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
