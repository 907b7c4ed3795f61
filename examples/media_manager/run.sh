#!/usr/bin/env bash
# A media manager's job pipeline (DESIGN scenario 3), end to end: `quern serve` gives
# the HTTP API (no workers of its own); the media_manager program (main.cpp) runs typed
# handlers, each phase enqueueing the next (scan → enrich → publish → notify) with
# named priorities. The enrich phase reads a setting at every run: changed over the
# API between two libraries, it applies to the second without a restart. Completed jobs
# need not be kept: the queue's retention deletes them at once (failed ones a week).
#
#   examples/media_manager/run.sh QUERN_BINARY MEDIA_MANAGER_BINARY
#
# Everything lives in a temp dir, removed at the end; processes are stopped by pid.
set -euo pipefail
quern=$1
manager=$2
work=$(mktemp -d)
pids=()
cleanup() {
  status=$?
  if [ "$status" -ne 0 ]; then  # what went wrong, before it is removed
    "$quern" ls >&2 || true
    tail -n 20 "$work"/*.log >&2 || true
  fi
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
export QUERN_DB="$work/quern.db"
fail() { echo "$*" >&2; exit 1; }
# Waits up to 30 s for a command to succeed.
until_true() { for _ in $(seq 300); do "$@" && return 0; sleep 0.1; done; return 1; }

# Finished jobs need not be kept: completed ones go at once, failed ones after a week.
"$quern" retain media --completed 0s --failed 7d

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
api() {  # METHOD PATH [JSON]: prints the answer's body; fails on an HTTP error
  python3 -c '
import sys, urllib.request
data = sys.argv[3].encode() if len(sys.argv) > 3 else None
request = urllib.request.Request(sys.argv[2], data=data, method=sys.argv[1],
                                 headers={"Content-Type": "application/json"})
print(urllib.request.urlopen(request, timeout=10).read().decode())
' "$1" "http://127.0.0.1:$port$2" "${@:3}"
}
"$quern" serve --listen "127.0.0.1:$port" --concurrency 0 2> "$work/serve.log" &
pids+=($!)
until_true api GET /healthz > /dev/null || fail "quern serve did not start"
api PUT /api/v1/settings/enrich.language '{"value":"en"}' > /dev/null

catalog="$work/catalog.tsv"
"$manager" "$QUERN_DB" "$catalog" 2> "$work/manager.log" &
pids+=($!)
lines() { [ -f "$catalog" ] && [ "$(wc -l < "$catalog")" -ge "$1" ]; }

mkdir -p "$work/films" "$work/series"
for film in arrival heat vertigo; do echo "$film" > "$work/films/$film.mkv"; done
"$quern" add --queue media --type scan --priority high --payload "{\"dir\":\"$work/films\"}" > /dev/null
until_true lines 3 || fail "the films were not published"

# The enrich phase's setting changes at run time, over the API: the next scan sees it.
api PUT /api/v1/settings/enrich.language '{"value":"fr"}' > /dev/null
for episode in pilot finale; do echo "$episode" > "$work/series/$episode.mkv"; done
"$quern" add --queue media --type scan --priority high --payload "{\"dir\":\"$work/series\"}" > /dev/null
until_true lines 5 || fail "the series were not published"
cat "$catalog"
for film in arrival heat vertigo; do
  grep -qx "$work/films/$film.mkv	en" "$catalog" || fail "$film was not published in en"
done
for episode in pilot finale; do
  grep -qx "$work/series/$episode.mkv	fr" "$catalog" || fail "$episode was not published in fr"
done

# Every phase ran (17 jobs: 2 scans, then 5 enrich, 5 publish and 5 notify jobs) and
# none is kept: the throughput counts say what completed.
completed() {
  api GET '/api/v1/throughput?minutes=60' | python3 -c '
import json, sys
print(sum(bucket["completed"] for bucket in json.load(sys.stdin)["buckets"]))'
}
all_completed() { [ "$(completed)" -eq 17 ]; }
none_kept() { [ "$("$quern" ls --queue media --json)" = "[]" ]; }
until_true all_completed || fail "expected 17 completed jobs, saw $(completed)"
until_true none_kept || fail "completed jobs were kept: $("$quern" ls --queue media)"
echo "media manager example: OK"
