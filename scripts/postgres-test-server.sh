#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests, from Debian's `postgresql` package.
#
#   scripts/postgres-test-server.sh start DIR   initdb in DIR, start on 127.0.0.1 and a
#                                               free port, create a database; prints its
#                                               postgres:// URL (also kept in DIR/url)
#   scripts/postgres-test-server.sh stop DIR    stops that server by its pid (DIR/pid)
#   scripts/postgres-test-server.sh run -- CMD [ARGS…]
#                                               start in a temp dir, run CMD with
#                                               QUERN_TEST_POSTGRES_URL set, stop (also on
#                                               failure or interrupt), exit with CMD's status
#
# The server runs as an unprivileged user: the `postgres` system user when this runs as
# root (initdb refuses root), else the caller. It listens on 127.0.0.1 only (unix
# sockets in DIR), trusts local connections, and keeps fsync on (the durability being
# tested is real). It is never stopped by name, only by the pid it wrote. Under
# scripts/test-hosts.sh (QUERN_TEST_BRIDGE_ADDRESS set) it also listens on the hosts'
# bridge and trusts their subnet, so processes in those namespaces reach it.
set -euo pipefail

readonly kDatabase=quern_test
readonly kUser=quern

die() {
  echo "postgres-test-server: $*" >&2
  exit 1
}

usage() {
  echo "usage: $0 start DIR | stop DIR | run -- CMD [ARGS...]" >&2
  exit 2
}

# The newest installed server's bin directory (/usr/lib/postgresql/<version>/bin).
server_bindir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] ||
    die "no PostgreSQL server found under /usr/lib/postgresql (apt-get install postgresql)"
  echo "$dir"
}

# Runs a command as the server's user.
as_server_user() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start_server() {
  local dir=$1
  local bindir
  bindir=$(server_bindir)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [ ! -e "$dir/data" ] || die "$dir/data already exists (stop and remove the old server first)"
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "the postgres system user is missing (apt-get install postgresql)"
    chown postgres: "$dir"
  fi
  as_server_user mkdir -p "$dir/data" "$dir/socket"
  as_server_user chmod 700 "$dir/data"
  as_server_user "$bindir/initdb" -D "$dir/data" -U "$kUser" --auth=trust -E UTF8 --locale=C \
    --no-instructions --no-sync >"$dir/initdb.log" 2>&1 || die "initdb failed: $(tail -n 5 "$dir/initdb.log")"

  local listen="127.0.0.1"
  if [ -n "${QUERN_TEST_BRIDGE_ADDRESS:-}" ]; then
    listen="127.0.0.1,$QUERN_TEST_BRIDGE_ADDRESS"
    echo "host all all $QUERN_TEST_BRIDGE_ADDRESS/24 trust" | as_server_user tee -a "$dir/data/pg_hba.conf" >/dev/null
  fi

  # A free port can be taken between picking and binding it: try a few.
  local port="" attempt
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    as_server_user tee -a "$dir/data/postgresql.conf" >/dev/null <<EOF
# Added by postgres-test-server.sh (attempt $attempt)
listen_addresses = '$listen'
port = $port
unix_socket_directories = '$dir/socket'
max_connections = 300
fsync = on
synchronous_commit = on
log_min_messages = warning
EOF
    if as_server_user "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null 2>&1; then
      break
    fi
    port=""
  done
  [ -n "$port" ] || die "the server did not start: $(tail -n 5 "$dir/server.log" 2>/dev/null)"

  local pid
  pid=$(head -n 1 "$dir/data/postmaster.pid")
  echo "$pid" >"$dir/pid"
  "$bindir/createdb" -h 127.0.0.1 -p "$port" -U "$kUser" "$kDatabase" ||
    { stop_server "$dir"; die "createdb failed"; }
  local url="postgres://$kUser@127.0.0.1:$port/$kDatabase?sslmode=disable"
  echo "$url" >"$dir/url"
  echo "$url"
}

stop_server() {
  local dir=$1
  [ -f "$dir/pid" ] || die "no server pid in $dir/pid"
  local pid
  pid=$(cat "$dir/pid")
  [[ "$pid" =~ ^[0-9]+$ ]] || die "bad pid '$pid' in $dir/pid"
  # SIGINT: fast shutdown (ends the sessions left, e.g. of a test's cut-off host, which
  # a smart shutdown would wait for); after 20 s SIGQUIT (immediate).
  kill -INT "$pid" 2>/dev/null || { rm -f "$dir/pid"; return 0; }
  local waited=0
  while kill -0 "$pid" 2>/dev/null; do
    case $waited in
      200) kill -QUIT "$pid" 2>/dev/null || true ;;
      300) die "server $pid did not stop" ;;
    esac
    sleep 0.1
    waited=$((waited + 1))
  done
  rm -f "$dir/pid"
}

run_dir=""

cleanup_run_dir() {
  [ -n "$run_dir" ] || return 0
  if [ -f "$run_dir/pid" ]; then stop_server "$run_dir" || true; fi
  rm -rf "$run_dir"
}

run_with_server() {
  run_dir=$(mktemp -d "${TMPDIR:-/tmp}/quern-postgres-XXXXXX")
  trap cleanup_run_dir EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  local url
  url=$(start_server "$run_dir")
  echo "postgres-test-server: $url (pid $(cat "$run_dir/pid"))" >&2
  local status=0
  QUERN_TEST_POSTGRES_URL=$url "$@" || status=$?
  return $status
}

[ $# -ge 1 ] || usage
case $1 in
  start)
    [ $# -eq 2 ] || usage
    start_server "$2"
    ;;
  stop)
    [ $# -eq 2 ] || usage
    stop_server "$2"
    ;;
  run)
    shift
    [ "${1:-}" = "--" ] && shift
    [ $# -ge 1 ] || usage
    run_with_server "$@"
    ;;
  *) usage ;;
esac
