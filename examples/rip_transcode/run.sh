#!/usr/bin/env bash
# A rip-then-transcode pipeline across two programs (DESIGN scenario 4), end to end:
# `quern serve` holds the queue; two worker programs (examples/remote_worker/worker.py,
# each running a script) take different job types from it over HTTP. Each disc gets a
# rip job and a transcode job that waits until the rip has completed and its file
# exists. A scratched disc fails its rip for good; its transcode stays blocked (it chose
# to wait); once the disc is cleaned, the failed rip is listed and resubmitted, and the
# transcode follows.
#
#   examples/rip_transcode/run.sh [QUERN_BINARY]   (default: quern on the PATH)
#
# Everything lives in a temp dir, removed at the end; processes are stopped by pid.
set -euo pipefail
quern=${1:-quern}
here=$(cd "$(dirname "$0")" && pwd)
worker="$here/../remote_worker/worker.py"
work=$(mktemp -d)
pids=()
cleanup() {
  status=$?
  if [ "$status" -ne 0 ]; then  # what went wrong, before it is removed
    "$quern" ls --queue discs >&2 || true
    tail -n 20 "$work"/*.log >&2 || true
  fi
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
export QUERN_DB="$work/quern.db"
drive="$work/drive" rips="$work/rips" films="$work/films"
mkdir -p "$drive" "$rips" "$films"
for disc in alien brazil casablanca; do echo "disc $disc" > "$drive/$disc"; done
touch "$drive/brazil.SCRATCHED"

"$quern" serve --listen 127.0.0.1:0 --concurrency 0 2> "$work/serve.log" &
pids+=($!)
for _ in $(seq 100); do grep -q "listening on" "$work/serve.log" && break; sleep 0.1; done
url=$(sed -n 's/.*listening on \(http:\/\/[0-9.:]*\).*/\1/p' "$work/serve.log" | head -1)
[ -n "$url" ] || { cat "$work/serve.log" >&2; exit 1; }
export QUERN_URL=$url

post() {  # POST the JSON $2 to the API path $1; prints the answer
  python3 -c 'import sys, urllib.request
request = urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), headers={"Content-Type": "application/json"})
print(urllib.request.urlopen(request).read().decode())' "$url$1" "$2"
}
id_of() { python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])'; }
ids_of() { python3 -c 'import json, sys; print(" ".join(str(job["id"]) for job in json.load(sys.stdin)))'; }

# Two programs, one queue: each takes only its type.
python3 "$worker" --type rip --worker ripper -- "$here/rip.sh" 2> "$work/ripper.log" &
pids+=($!)
python3 "$worker" --type transcode --worker transcoder -- "$here/transcode.sh" 2> "$work/transcoder.log" &
pids+=($!)

transcodes=()
for disc in alien brazil casablanca; do
  rip=$(post /api/v1/jobs "{\"type\":\"rip\",\"queue\":\"discs\",\"payload\":{\"disc\":\"$disc\",\"drive\":\"$drive\",\"out\":\"$rips/$disc.iso\"}}" | id_of)
  transcode=$(post /api/v1/jobs "{\"type\":\"transcode\",\"queue\":\"discs\",\"depends_on\":[$rip],\"needs_files\":[\"$rips/$disc.iso\"],\"on_dependency_failure\":\"wait\",\"payload\":{\"in\":\"$rips/$disc.iso\",\"out\":\"$films/$disc.mkv\"}}" | id_of)
  transcodes+=("$transcode")
  echo "disc $disc: rip job $rip, transcode job $transcode"
done

# Two discs go through; the scratched one fails, and its transcode waits.
for _ in $(seq 300); do [ -n "$("$quern" ls --state failed --json | ids_of)" ] && break; sleep 0.1; done
"$quern" wait "${transcodes[0]}" "${transcodes[2]}" --timeout 60s
failed=$("$quern" ls --state failed --json | ids_of)
echo "failed: job $failed"; "$quern" ls --state failed
state=$("$quern" show "${transcodes[1]}" --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["state"])')
[ "$state" = blocked ] || { echo "the scratched disc's transcode is $state, not blocked" >&2; exit 1; }

# The disc is cleaned; the failed rip is resubmitted, and the transcode follows.
rm "$drive/brazil.SCRATCHED"
"$quern" retry "$failed"
"$quern" wait "${transcodes[1]}" --timeout 60s
"$quern" ls --queue discs
for disc in alien brazil casablanca; do
  [ "$(cat "$films/$disc.mkv")" = "DISC $(echo "$disc" | tr 'a-z' 'A-Z')" ] || { echo "wrong $films/$disc.mkv" >&2; exit 1; }
done
echo "rip and transcode: ok"
