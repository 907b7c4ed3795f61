#!/bin/sh
# The ripper's job (run by the "rip" worker program for each job of type rip): reads the
# payload {"disc": NAME, "drive": DIR, "out": PATH} on stdin and copies the disc to
# PATH. A scratched disc (a file SCRATCHED beside it) cannot be read: exit 65, a failure
# retrying would not mend; it is resubmitted by hand once the disc is cleaned.
set -eu
payload=$(cat)
field() { printf '%s' "$payload" | python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
disc=$(field disc)
drive=$(field drive)
out=$(field out)
if [ -e "$drive/$disc.SCRATCHED" ]; then
  echo "cannot read $disc" >&2
  exit 65
fi
cp "$drive/$disc" "$out.part"
mv "$out.part" "$out"  # the file appears whole: the transcode waits for it
printf '{"ripped":"%s"}' "$out"
