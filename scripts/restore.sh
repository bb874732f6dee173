#!/usr/bin/env bash
# Restore a backup, streaming and verified first: every object is read and
# checked in full before anything is changed (a first pass that writes
# nothing), then restored pinned to the objects that were checked:
# s3get | unpack (into RESTORE_DIR and/or through routes into other
# places), s3get | DB_RESTORE_CMD. No scratch disk.
#
#   scripts/restore.sh [--clean] [--verify-only] [TIMESTAMP|latest|s3://bucket/key]   (default latest)
#     TIMESTAMP, latest   a complete backup (one with a manifest) made by
#                         backup.sh under BACKUP_URL/BACKUP_NAME-; an
#                         incremental one (BACKUP_INCREMENTAL) is restored
#                         with its chain: the full backup and every
#                         incremental up to it, in order, all verified
#                         first, each archive with unpack -G (what a later
#                         backup no longer holds is deleted), into one
#                         staging directory; the database from the newest
#     s3://bucket/key     any archive (tar, gzip or zstd), with or without a
#                         manifest: e.g. one an older job made
#     --clean             RESTORE_DIR ends up holding exactly the backup: what
#                         else it held is removed (after the new tree is in
#                         place); route commands and DB_RESTORE_CMD clean
#                         their own targets (mongorestore --drop, pg_restore
#                         --clean)
#     --verify-only       the first pass alone (entrypoint.sh verify): one
#                         JSON line on stdout, metrics, nothing written
#   BACKUP_URL, BACKUP_NAME  as for backup.sh          (required for TIMESTAMP/latest)
#   RESTORE_DIR              where the files go (created)
#   RESTORE_ROUTES           entries under PREFIX go to COMMAND's stdin as a
#                            tar stream with PREFIX stripped, one per line:
#                            PREFIX=COMMAND (unpack --route), e.g.
#                            .CombineFiles=kubectl exec -i deploy/backend -- tar xf - -C /home/app/.CombineFiles
#                            With routes and no RESTORE_DIR, entries outside
#                            every route are not extracted.
#   DB_RESTORE_CMD           restores the database: split backups pipe the
#                            dump object into it (e.g. "mongorestore --archive
#                            --gzip --drop", "pg_restore --clean --if-exists
#                            -d app"); in an archive (single-archive backups,
#                            URLs) it receives the dump/ directory as a tar
#                            stream (a route dump=DB_RESTORE_CMD), e.g.
#                            "kubectl exec -i deploy/db -- sh -c 'rm -rf /dump && mkdir /dump && tar xf - -C /dump && mongorestore --drop --gzip --dir=/dump'"
#   RESTORE_IDENTITY_FILE    age identity file for encrypted backups (a
#                            Secret mounted as a file; s3get --identity)
#   RESTORE_REQUIRE_CHECKSUM on (default): an object s3get can verify nothing
#                            of (no stored checksum, no MD5 ETag) is refused
#                            before anything is restored from it; off: it is
#                            restored with one warning line
#   RESTORE_VERIFY           first (default): the first pass reads every
#                            object whole — stored checksums, the manifest's
#                            SHA-256, the compression trailers and the tar to
#                            its end, decrypted when encrypted — and a damaged
#                            or cut backup exits 1 with nothing touched;
#                            skip: restore at once (a damaged backup is then
#                            found half-way, after routes and the database
#                            command started)
#   RESTORE_PRECHECK_CMD     run after the first pass and before anything is
#                            changed; if it fails, nothing is (e.g. "kubectl
#                            wait --for=condition=Available deploy/backend")
#   RESTORE_STAGING          on (default): RESTORE_DIR's new entries are
#                            extracted into RESTORE_DIR/.s3pipe-staging-PID
#                            and swapped in (renames) only once complete, so
#                            a failure half-way leaves the old tree whole; it
#                            needs room for both trees. off: extracted in
#                            place (with --clean, emptied first)
#   METRICS_TEXTFILE, PUSHGATEWAY_URL  --verify-only's metrics (scripts/report.sh)
# Exit 0 success, 1 failure, 2 misconfiguration.
set -euo pipefail

role=restore
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"
# shellcheck source=scripts/report.sh
. "$here/report.sh"
run_started=$(date +%s)
clean=0 which=latest verify_only=0 ts="" reports=""
fail() {
  log "$*"
  [ "$verify_only" = 0 ] || report_verify failure "\"error\":$(json_string "$*")"
  exit 1
}

for arg in "$@"; do
  case $arg in
    --clean) clean=1 ;;
    --verify-only) verify_only=1 ;;
    -*) misconfigured "usage: restore.sh [--clean] [--verify-only] [TIMESTAMP|latest|s3://bucket/key]" ;;
    *) which=$arg ;;
  esac
done
# s3get reads its identity file from here.
[ -z "${RESTORE_IDENTITY_FILE:-}" ] || export S3PIPE_IDENTITY_FILE=$RESTORE_IDENTITY_FILE
case ${RESTORE_REQUIRE_CHECKSUM:-on} in
  on) export S3PIPE_REQUIRE_CHECKSUM=true ;;
  off) ;;
  *) misconfigured "RESTORE_REQUIRE_CHECKSUM must be on or off, not $RESTORE_REQUIRE_CHECKSUM" ;;
esac
case ${RESTORE_VERIFY:-first} in
  first | skip) ;;
  *) misconfigured "RESTORE_VERIFY must be first or skip, not $RESTORE_VERIFY" ;;
esac
[ "$verify_only" = 0 ] || [ "${RESTORE_VERIFY:-first}" = first ] ||
  misconfigured "--verify-only with RESTORE_VERIFY=skip verifies nothing"
case ${RESTORE_STAGING:-on} in
  on | off) ;;
  *) misconfigured "RESTORE_STAGING must be on or off, not $RESTORE_STAGING" ;;
esac

# unpack's routes: RESTORE_ROUTES, one PREFIX=COMMAND per line.
routes=()
lines=()
env_lines lines "${RESTORE_ROUTES:-}"
for line in "${lines[@]}"; do
  routes+=(--route "$line")
done

# The plan: what to restore, in order, one object each: its kind (archive,
# archive-db: an archive whose dump/ goes to DB_RESTORE_CMD, dump: a dump
# object), URL, and the ETag and SHA-256 the manifest recorded (or the
# first pass saw).
# A level of a chain (kind level) also has its step: first, next or last.
kinds=() urls=() etags=() sums=() steps=() get=()
plan() { kinds+=("$1") urls+=("$2") etags+=("${3:-}") sums+=("${4:-}") steps+=("${5:-}"); }

# "ETAG<TAB>SHA256" of the object URL in manifest $1. Each object is one
# s3put --json report, a flat JSON object; its keys may come in any order
# (earlier releases wrote them sorted, this one in the order --help
# lists them), so each object is read whole before its fields are.
manifest_object() {
  local obj token url etag sha want
  want=$(json_string "$2")
  while IFS= read -r obj; do
    url="" etag="" sha=""
    while IFS= read -r token; do
      case $token in
        '"etag":'*) etag=${token#'"etag":'} ;;
        '"sha256":'*) sha=${token#'"sha256":'} ;;
        '"url":'*) url=${token#'"url":'} ;;
      esac
    done < <(printf '%s' "$obj" | grep -oE '"(etag|sha256|url)":"([^"\\]|\\.)*"')
    if [ "$url" = "$want" ]; then
      printf '%s\t%s\n' "$(json_unstring "$etag")" "$(json_unstring "$sha")"
      return 0
    fi
  done < <(printf '%s' "$1" | grep -oE '\{([^{}"]|"([^"\\]|\\.)*")*\}')
  return 1
}

# Fill the plan from the backup $which names.
plan_backup() {
  local prefix backups line base suffixes suffix manifest pinned kind
  need BACKUP_URL BACKUP_NAME
  prefix=$(series)
  # Complete backups (those with a manifest), oldest first, one per line:
  # STAMP<TAB>s3://bucket/BASE<TAB>SUFFIXES (s3ls --backups, made for scripts).
  backups=$(s3ls --backups "$prefix") || fail "no complete backup under $prefix"
  if [ "$which" = latest ]; then
    line=$(printf '%s\n' "$backups" | tail -n 1)
  else
    line=$(printf '%s\n' "$backups" | awk -F '\t' -v ts="$which" '$1 == ts' | tail -n 1)
    [ -n "$line" ] || fail "no complete backup with timestamp $which under $prefix"
  fi
  IFS=$'\t' read -r ts base suffixes _ <<<"$line"
  backup=$base
  # The chain, newest first: each incremental's manifest names its base.
  local -a bases=("$base") sets=("$suffixes") manifests=()
  while :; do
    manifest=$(s3get -q "$base.manifest.json") || fail "reading $base.manifest.json failed"
    manifests+=("$manifest")
    line=$(printf '%s' "$manifest" | grep -oE '"base":"[0-9-]{19}"' | head -n 1 | cut -d'"' -f4) || true
    [ -n "$line" ] || break
    ts=$line
    line=$(printf '%s\n' "$backups" | awk -F '\t' -v ts="$ts" '$1 == ts' | tail -n 1)
    [ -n "$line" ] || fail "$base is an incremental backup on $ts, which is not under $prefix: the chain cannot be restored"
    IFS=$'\t' read -r ts base suffixes _ <<<"$line"
    bases+=("$base") sets+=("$suffixes")
  done
  local n=${#bases[@]} i step
  [ "$n" = 1 ] || log "$backup is incremental: restoring a chain of $n backups from ${bases[n - 1]}"
  for ((i = n - 1; i >= 0; i--)); do
    base=${bases[i]} manifest=${manifests[i]} step=""
    if [ "$n" -gt 1 ]; then
      step=next
      [ "$i" != $((n - 1)) ] || step=first
      [ "$i" != 0 ] || step=last
    fi
    for suffix in ${sets[i]}; do
      case $suffix in
        .files.tar.gz) kind=archive ;;
        .tar.gz) kind=archive-db ;;
        .db.*) kind=dump ;;
        *) continue ;;
      esac
      # A chain's database: the newest dump alone.
      [ "$kind" != dump ] || [ "$i" = 0 ] || continue
      [ -z "$step" ] || [ "$kind" != archive ] || kind=level
      pinned=$(manifest_object "$manifest" "$base$suffix") ||
        fail "$base.manifest.json does not list $base$suffix"
      plan "$kind" "$base$suffix" "${pinned%%$'\t'*}" "${pinned#*$'\t'}" "$step"
    done
  done
  [ ${#urls[@]} -gt 0 ] || fail "the backup at $base has no objects to restore"
  for kind in "${kinds[@]}"; do
    if [ "$kind" = dump ] && [ -z "${DB_RESTORE_CMD:-}" ] && [ "$verify_only" = 0 ]; then
      misconfigured "set DB_RESTORE_CMD: this backup has a database dump"
    fi
  done
}

# s3get's flags for object $1 of the plan: pinned to the ETag, held to the
# SHA-256.
get_args() {
  get=(-q)
  [ -z "${etags[$1]}" ] || get+=(--if-match "${etags[$1]}")
  [ -z "${sums[$1]}" ] || get+=(--expect-sha256 "${sums[$1]}")
}

# The first pass for object $1: read it whole, check it, write nothing;
# keep its ETag (an object given by URL is then pinned to what was checked).
verify_object() {
  local i=$1 url=${urls[$1]} out report
  get_args "$i"
  log "verifying $url"
  if [ "${kinds[$i]}" = dump ]; then
    out=$({ s3get "${get[@]}" --json "$url" > /dev/null; } 2>&1) || fail "verifying $url failed: ${out//$'\n'/; }"
  else
    out=$({ s3get "${get[@]}" --json "$url" | unpack -q -t > /dev/null; } 2>&1) || fail "verifying $url failed: ${out//$'\n'/; }"
  fi
  # What else s3get said (a warning) still reaches the log.
  printf '%s\n' "$out" | grep -v '^{' >&2 || true
  report=$(printf '%s\n' "$out" | grep '^{' | tail -n 1)
  reports="${reports:+$reports,}$report"
  if [ -z "${etags[$i]}" ]; then
    etags[i]=$(json_unstring "$(printf '%s' "$report" | grep -oE '"etag":"([^"\\]|\\.)*"' | head -n 1 | cut -d: -f2-)")
  fi
}

# swap_in STAGE DIR: each of STAGE's entries replaces DIR's entry of that
# name (the old one moved aside first; renames on one filesystem), then
# the old ones are removed; with --clean every other entry of DIR too.
swap_in() {
  local stage=$1 dir=$2 old entry name
  old="$dir/.s3pipe-old-$$"
  mkdir "$old"
  shopt -s dotglob nullglob
  for entry in "$dir"/*; do
    name=${entry##*/}
    case $name in ".s3pipe-staging-$$" | ".s3pipe-old-$$") continue ;; esac
    if [ "$clean" = 1 ] || [ -e "$stage/$name" ] || [ -L "$stage/$name" ]; then
      mv "$entry" "$old/"
    fi
  done
  for entry in "$stage"/*; do
    mv "$entry" "$dir/"
  done
  shopt -u dotglob nullglob
  rmdir "$stage"
  rm -rf "$old"
}

# Restore object $1 (an archive): through unpack, into RESTORE_DIR
# (staged) and/or the routes; archive-db's dump/ to DB_RESTORE_CMD.
restore_archive() {
  local url=${urls[$1]} args=(-q) stage="" step=${steps[$1]}
  args+=("${routes[@]}")
  [ "${kinds[$1]}" != level ] || args+=(-G)
  if [ "${kinds[$1]}" = archive-db ]; then
    if [ -n "${DB_RESTORE_CMD:-}" ]; then
      args+=(--route "dump=$DB_RESTORE_CMD")
    else
      log "DB_RESTORE_CMD is not set: a dump/ in the archive is extracted as files, the database is not restored"
    fi
  fi
  if [ -n "${RESTORE_DIR:-}" ]; then
    mkdir -p "$RESTORE_DIR" || fail "creating $RESTORE_DIR failed"
    if [ "${RESTORE_STAGING:-on}" = on ]; then
      stage="$RESTORE_DIR/.s3pipe-staging-$$"
      # A chain's levels go into one staging directory, swapped in once.
      if [ "$step" = "" ] || [ "$step" = first ]; then
        { rm -rf "$stage" && mkdir "$stage"; } || fail "creating $stage failed"
      fi
      args+=(-C "$stage")
    else
      if [ "$clean" = 1 ] && { [ "$step" = "" ] || [ "$step" = first ]; }; then
        log "--clean: emptying $RESTORE_DIR"
        find "$RESTORE_DIR" -mindepth 1 -delete || fail "emptying $RESTORE_DIR failed"
      fi
      args+=(-C "$RESTORE_DIR")
    fi
  elif [ ${#args[@]} -gt 1 ]; then
    args+=(--routes-only)
  else
    misconfigured "set RESTORE_DIR and/or RESTORE_ROUTES: where should $url go?"
  fi
  get_args "$1"
  log "s3get $url | unpack ${args[*]:1}"
  if ! s3get "${get[@]}" "$url" | unpack "${args[@]}"; then
    [ -z "$stage" ] || { rm -rf "$stage"; log "$RESTORE_DIR is as it was"; }
    fail "restoring $url failed"
  fi
  if [ -n "$stage" ] && { [ "$step" = "" ] || [ "$step" = last ]; }; then
    swap_in "$stage" "$RESTORE_DIR" || fail "swapping the restored tree into $RESTORE_DIR failed"
  fi
}

restore_object() {
  if [ "${kinds[$1]}" = dump ]; then
    get_args "$1"
    log "s3get ${urls[$1]} | $DB_RESTORE_CMD"
    s3get "${get[@]}" "${urls[$1]}" | bash -c "$DB_RESTORE_CMD" || fail "restoring the database failed"
  else
    restore_archive "$1"
  fi
}

backup=""
case $which in
  s3://*) plan archive-db "$which"; backup=$which ;;
  *) plan_backup ;;
esac
# Archives before the dump, as backup.sh lists them: files, then database.
order=()
for i in "${!urls[@]}"; do [ "${kinds[$i]}" = dump ] || order+=("$i"); done
for i in "${!urls[@]}"; do [ "${kinds[$i]}" != dump ] || order+=("$i"); done

if [ "${RESTORE_VERIFY:-first}" = first ]; then
  for i in "${order[@]}"; do verify_object "$i"; done
  log "verified $backup: ${#urls[@]} object(s), nothing changed yet"
else
  log "RESTORE_VERIFY=skip: restoring unverified; a damaged backup fails half-way"
fi
if [ "$verify_only" = 1 ]; then
  report_verify success "\"backup\":$(json_string "$backup"),\"objects\":[$reports]"
  exit 0
fi
if [ -n "${RESTORE_PRECHECK_CMD:-}" ]; then
  log "RESTORE_PRECHECK_CMD: $RESTORE_PRECHECK_CMD"
  bash -c "$RESTORE_PRECHECK_CMD" >&2 || fail "RESTORE_PRECHECK_CMD failed: nothing was changed"
fi
log "restoring $backup"
for i in "${order[@]}"; do restore_object "$i"; done
log "restored $backup"
