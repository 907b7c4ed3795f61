#!/bin/sh
# Transcribes one recording: a stand-in that upper-cases its text, slowly, reporting
# its stage and progress. Appends "start|end KIND NAME" to TRACE, so the example can
# check what ran when. A recording that cannot be decoded fails at once (exit 65).
#
#   transcribe.sh RECORDING OUT_DIR TRACE     (KIND from the job's environment)
set -eu
recording=$1
out=$2
trace=$3
name=$(basename "$recording" .wav)
echo "start $KIND $name" >> "$trace"
if grep -q corrupt "$recording"; then
  echo "end $KIND $name" >> "$trace"
  echo "cannot decode $recording" >&2
  exit 65
fi
echo "::stage transcribe"
for percent in 25 50 75; do
  sleep 0.1
  echo "::progress $percent%"
done
tr '[:lower:]' '[:upper:]' < "$recording" > "$out/$name.txt.part"
mv "$out/$name.txt.part" "$out/$name.txt"
echo "::progress 100%"
echo "end $KIND $name" >> "$trace"
