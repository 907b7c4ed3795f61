#!/usr/bin/env bash
# The dashboard's browser tests: starts a real `quern serve` from BUILD_DIR on a free
# loopback port with a fresh SQLite database (and a second one that requires a token),
# drives the dashboard in headless Chromium (dashboard_test.mjs), stops the servers by
# their pids. Exit status: the tests' (0 when all pass). Screenshots: BUILD_DIR/dashboard*.png.
#
#   tests/browser/run.sh BUILD_DIR
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: tests/browser/run.sh BUILD_DIR}" && pwd) || exit 2
quern=$build/quern
chromium=${QUERN_CHROMIUM:-/usr/bin/chromium}

if [ ! -x "$quern" ]; then
  echo "run.sh: $quern is missing: build the quern target first" >&2
  exit 2
fi
if [ ! -x "$chromium" ]; then
  echo "run.sh: $chromium is missing: scripts/install-deps.sh installs it" >&2
  exit 2
fi
if [ ! -f "$here/node_modules/playwright-core/package.json" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) || { echo "run.sh: npm ci failed" >&2; exit 2; }
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/quern-browser.XXXXXX")
server_pids=()

stop_servers() {
  for pid in "${server_pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || continue
    # A graceful stop lets running jobs end; past 20 s it is killed.
    for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  server_pids=()
}
trap 'stop_servers; rm -rf "$work"' EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# start_server NAME PORT [ARGS…]: quern serve with its own database and log in $work.
start_server() {
  local name=$1 port=$2
  shift 2
  "$quern" serve --db "$work/$name.db" --listen "127.0.0.1:$port" --concurrency 2 "$@" >"$work/$name.log" 2>&1 &
  server_pids+=("$!")
}

port=$(free_port)
start_server main "$port"
main_pid=${server_pids[-1]}
token_port=$(free_port)
token="browser-test-$RANDOM$RANDOM"
start_server token "$token_port" --token "$token"
token_pid=${server_pids[-1]}

QUERN_URL="http://127.0.0.1:$port" QUERN_SERVER_PID="$main_pid" \
QUERN_TOKEN_URL="http://127.0.0.1:$token_port" QUERN_TOKEN_SERVER_PID="$token_pid" QUERN_TOKEN="$token" \
QUERN_WORK_DIR="$work" QUERN_SCREENSHOT_DIR="$build" QUERN_CHROMIUM="$chromium" \
  node "$here/dashboard_test.mjs"
status=$?

if [ "$status" -ne 0 ]; then
  for log in "$work"/*.log; do
    echo "---- $(basename "$log") (last 40 lines)"
    tail -n 40 "$log"
  done
fi
exit "$status"
