#!/bin/sh
# A stand-in for a media transcoder's job: download → transcode → validate → upload,
# told to Quern with the `::` protocol (stage, progress, checkpoint, result).
#
#   transcode.sh SOURCE OUT_DIR
#
# The download goes to $QUERN_TMPDIR, which Quern removes when the job ends or is
# rescued. The transcode writes OUT_DIR/.NAME.webm.part and checkpoints it, so a run
# after a crash or a kill (QUERN_CHECKPOINT set) starts at validate. A source that
# cannot be decoded fails at once: exit 65, retrying would not help. (A source that says
# "slow" validates slowly on its first attempt, so run.sh can kill -9 the worker then.)
set -eu
source_file=$1
out_dir=$2
name=$(basename "$source_file" .mkv)
part="$out_dir/.$name.webm.part"

if printf '%s' "${QUERN_CHECKPOINT:-}" | grep -q '"transcoded":true' && [ -s "$part" ]; then
  echo "resuming after the transcode of an earlier run"
else
  echo "::stage download"
  cp "$source_file" "$QUERN_TMPDIR/source"
  echo "::progress 25%"

  echo "::stage transcode"
  if grep -q corrupt "$QUERN_TMPDIR/source"; then
    echo "cannot decode $source_file"
    exit 65
  fi
  tr 'a-z' 'A-Z' < "$QUERN_TMPDIR/source" > "$part"
  echo "::progress 60%"
  echo '::checkpoint {"transcoded":true}'
fi

echo "::stage validate"
if grep -q slow "$source_file" && [ "$QUERN_ATTEMPT" -eq 1 ]; then
  echo $$ > "$out_dir/.$name.first-run.pid"
  sleep 60
fi
[ -s "$part" ]
echo "::progress 80%"

echo "::stage upload"
mv "$part" "$out_dir/$name.webm"
echo "::progress 100%"
echo "transcoded $source_file"
echo "::result {\"output\":\"$out_dir/$name.webm\"}"
