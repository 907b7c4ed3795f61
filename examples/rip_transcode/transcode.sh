#!/bin/sh
# The transcoder's job (run by the "transcode" worker program for each job of type
# transcode): reads {"in": PATH, "out": PATH} on stdin. Quern starts it only once its
# rip job has completed and PATH exists.
set -eu
payload=$(cat)
field() { printf '%s' "$payload" | python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
in=$(field in)
out=$(field out)
tr 'a-z' 'A-Z' < "$in" > "$out"
printf '{"transcoded":"%s"}' "$out"
