#!/usr/bin/env bash
# The media transcoder, end to end: a library of films is watched, each new film gets
# one transcode job (never two, however often the library is walked), two workers run
# them with stages and progress, and a corrupt film fails at once without retries.
# Then the worker is killed (kill -9) in the middle of a film: the next worker rescues
# that job at start-up and resumes it after its checkpointed transcode.
#
#   examples/media_transcoder/run.sh [QUERN_BINARY]   (default: quern on the PATH)
#
# Everything lives in a temp dir, removed at the end; the worker is stopped by its pid.
set -euo pipefail
quern=${1:-quern}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
worker_pid=
cleanup() {
  if [ -n "$worker_pid" ]; then kill -TERM "$worker_pid" 2>/dev/null || true; wait "$worker_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
export QUERN_DB="$work/quern.db"
library="$work/library"
out="$work/out"
mkdir -p "$library/season-1" "$out"

# The library: four films, one corrupt, and a download still in progress (hidden).
for film in arrival heat season-1/pilot season-1/finale; do echo "film $film" > "$library/$film.mkv"; done
echo "corrupt film" > "$library/broken.mkv"
echo "half a film" > "$library/.incoming.mkv"
echo "not a film" > "$library/notes.txt"

start_worker() {
  "$quern" worker --queue transcode --concurrency 2 2>> "$work/worker.log" &
  worker_pid=$!
}
start_worker

# The scanner: one job per film; walking again finds nothing new.
watch() { "$quern" watch "$library" --once --settle 0s --glob '*.mkv' --queue transcode --max-attempts 3 \
            --tag library -- "$here/transcode.sh" {} "$out"; }
ids=$(watch | cut -f1)
echo "enqueued $(echo "$ids" | wc -w) transcode jobs"
[ -z "$(watch)" ] || { echo "a second walk enqueued films again" >&2; exit 1; }

# Wait for them all: exit 1 means one did not complete (the corrupt film).
status=0
# shellcheck disable=SC2086  # one argument per id
"$quern" wait $ids --timeout 60s || status=$?
[ "$status" -eq 1 ] || { echo "quern wait exited $status, expected 1 (one film fails)" >&2; exit 1; }

"$quern" ls --queue transcode
"$quern" stats
completed=$("$quern" ls --queue transcode --state completed --json | grep -o '"id":' | wc -l)
failed=$("$quern" ls --queue transcode --state failed --json | grep -o '"id":' | wc -l)
attempts_of_failed=$("$quern" ls --queue transcode --state failed --json | grep -o '"attempt":[0-9]*' | cut -d: -f2)
echo "completed: $completed, failed: $failed (after $attempts_of_failed attempt)"
[ "$completed" -eq 4 ] && [ "$failed" -eq 1 ] && [ "$attempts_of_failed" -eq 1 ]
for film in arrival heat season-1/pilot season-1/finale; do
  output="$out/$(basename "$film").webm"
  [ "$(cat "$output")" = "$(tr 'a-z' 'A-Z' < "$library/$film.mkv")" ] || { echo "wrong $output" >&2; exit 1; }
done
[ -z "$(ls -A "$out" | grep -v '\.webm$')" ] || { echo "partial files left in $out" >&2; exit 1; }

# A new film, and the worker killed while it validates (after its transcode checkpoint).
echo "film epic slow" > "$library/epic.mkv"
epic=$(watch | cut -f1)
for _ in $(seq 300); do
  "$quern" show "$epic" --json | grep -q '"checkpoint":{"transcoded":true}' && break
  sleep 0.1
done
{ kill -KILL "$worker_pid"; wait "$worker_pid"; } 2>/dev/null || true
# Its film's processes are left running: the next worker kills them when it rescues the job.
echo "killed the worker during job $epic"
start_worker  # rescues the dead worker's job at once, then runs it again
"$quern" wait "$epic" --timeout 60s
show=$("$quern" show "$epic" --json)
echo "$show" | grep -q '"attempt":2' || { echo "job $epic did not run a second time: $show" >&2; exit 1; }
"$quern" logs "$epic" | grep -q "resuming after the transcode" || { echo "job $epic did not resume" >&2; exit 1; }
[ "$(cat "$out/epic.webm")" = "FILM EPIC SLOW" ]
first_run=$(cat "$out/.epic.first-run.pid")
state=$(ps -o stat= -p "$first_run" || true)  # gone, or a zombie its new parent has not reaped
case "$state" in ""|Z*) ;; *) echo "the killed run's process $first_run is still running ($state)" >&2; exit 1 ;; esac
rm "$out/.epic.first-run.pid"
[ -z "$(ls -A "$out" | grep -v '\.webm$')" ] || { echo "partial files left in $out" >&2; exit 1; }
echo "media transcoder: ok"
