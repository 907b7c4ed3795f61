#!/usr/bin/env bash
# Installs Quern from a build tree into a temp prefix, builds examples/library against
# it with find_package(quern), and runs it: the CMake package works for a user.
set -euo pipefail
build_dir=$1
source_dir=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
cmake -S "$source_dir/examples/library" -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/build" >/dev/null
output=$("$work/build/transcribe_queue" "$work/jobs.db")
echo "$output"
[ "$output" = "completed: 3" ]
