#!/usr/bin/env bash
# A desktop app's background queue (DESIGN scenario 2), end to end with the CLI:
# recordings left over from the last session are found at start-up and transcribed in
# the background, one at a time (`quern limit background 1`), while anything the user
# starts goes first: the background queue is held while the foreground one has work
# (`quern hold background --while foreground`). The user pauses the background queue,
# the app restarts and the pause holds; after resuming, a recording that failed is
# fixed and retried, progress and counts are shown, and finished work is cleared.
#
#   examples/desktop_app/run.sh [QUERN_BINARY]   (default: quern on the PATH)
#
# Everything lives in a temp dir, removed at the end; the worker is stopped by its pid.
set -euo pipefail
quern=${1:-quern}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
worker_pid=
cleanup() {
  status=$?
  if [ "$status" -ne 0 ]; then  # what went wrong, before it is removed
    "$quern" ls >&2 || true
    cat "$work/trace" >&2 || true
    tail -n 20 "$work/worker.log" >&2 || true
  fi
  stop_app
  rm -rf "$work"
}
stop_app() {
  if [ -n "$worker_pid" ]; then kill -TERM "$worker_pid" 2>/dev/null || true; wait "$worker_pid" 2>/dev/null || true; fi
  worker_pid=
}
trap cleanup EXIT
export QUERN_DB="$work/quern.db"
recordings="$work/recordings"
out="$work/transcripts"
trace="$work/trace"
mkdir -p "$recordings/orphaned" "$out"
: > "$trace"
fail() { echo "$*" >&2; exit 1; }
count() { "$quern" ls "$@" --json | grep -o '"id":' | wc -l; }

# The app's queues, set once: they are stored with the jobs.
"$quern" limit background 1
"$quern" hold background --while foreground

# Six recordings left over from a crash, one of them corrupt.
for n in 1 2 3 4 5; do echo "meeting $n" > "$recordings/orphaned/meeting-$n.wav"; done
echo "corrupt" > "$recordings/orphaned/meeting-6.wav"

start_app() {
  "$quern" worker --concurrency 2 2>> "$work/worker.log" &
  worker_pid=$!
}
start_app
# At start-up the app queues every orphaned recording, once.
background=$("$quern" watch "$recordings/orphaned" --once --settle 0s --glob '*.wav' --queue background \
               --env KIND=bg -- "$here/transcribe.sh" {} "$out" "$trace" | cut -f1)
echo "queued $(echo "$background" | wc -w) orphaned recordings in the background"

# The user starts a transcription while the background works: it goes first.
until grep -q "^start bg" "$trace"; do sleep 0.05; done
echo "live interview" > "$recordings/interview.wav"
user_job=$("$quern" add --queue foreground --env KIND=fg -- "$here/transcribe.sh" "$recordings/interview.wav" "$out" "$trace")
"$quern" wait "$user_job" --timeout 60s
left=$(count --queue background --state available)
echo "the user's transcription is done; $left background recordings still wait"
[ "$left" -ge 2 ] || fail "the background was not held back for the user's job"

# The user pauses the background queue and quits; the pause holds across the restart.
"$quern" pause background
stop_app
started_before=$(grep -c "^start bg" "$trace")
start_app
sleep 1.5
[ "$(grep -c "^start bg" "$trace")" -eq "$started_before" ] || fail "a paused queue ran after a restart"
"$quern" stats
echo "paused across a restart: $started_before background recordings started so far"
"$quern" resume background
status=0
# shellcheck disable=SC2086  # one argument per id
"$quern" wait $background --timeout 120s || status=$?
[ "$status" -eq 1 ] || fail "quern wait exited $status, expected 1 (the corrupt recording fails)"

# What ran when: background one at a time, never starting while the user's job ran.
awk '
  $1 == "start" && $2 == "bg" { if (bg > 0) { print "two background runs at once" > "/dev/stderr"; exit 1 }
                                if (fg > 0) { print "background started during the user job" > "/dev/stderr"; exit 1 }
                                bg++ }
  $1 == "end" && $2 == "bg" { bg-- }
  $1 == "start" && $2 == "fg" { fg++ }
  $1 == "end" && $2 == "fg" { fg-- }
' "$trace"

# The corrupt recording failed at once; the user fixes it and retries the failed tasks.
[ "$(count --queue background --state failed)" -eq 1 ] || fail "expected one failed recording"
echo "meeting 6" > "$recordings/orphaned/meeting-6.wav"
"$quern" retry --failed --queue background
# shellcheck disable=SC2086
"$quern" wait $background --timeout 60s
for n in 1 2 3 4 5 6; do
  [ "$(cat "$out/meeting-$n.txt")" = "MEETING $n" ] || fail "wrong transcript of meeting $n"
done
[ "$(cat "$out/interview.txt")" = "LIVE INTERVIEW" ] || fail "wrong transcript of the interview"

# Live progress and counts, as the app shows them; then the finished work is cleared.
last=$(echo "$background" | tail -n 1)
"$quern" show "$last" --json | grep -q '"progress":1' || fail "job $last did not report its progress"
"$quern" show "$last" --json | grep -q '"stage":"transcribe"' || fail "job $last did not report its stage"
"$quern" stats --json | grep -q '"completed":7' || fail "expected 7 completed jobs: $("$quern" stats --json)"
"$quern" clear --completed
[ "$(count)" -eq 0 ] || fail "finished jobs were not cleared"
echo "desktop app example: OK"
