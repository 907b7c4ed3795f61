#!/usr/bin/env bash
# Simulated hosts for multi-host tests: Linux network namespaces (iproute2), each with
# one veth link to a bridge in this namespace. A process started in a host's namespace
# (`ip netns exec NS CMD`) reaches this namespace only over its link, so taking the
# link down cuts that host off the network, as a pulled cable would.
#
#   scripts/test-hosts.sh run N -- CMD [ARGS…]
#       creates N hosts, runs CMD with
#         QUERN_TEST_BRIDGE_ADDRESS  this namespace's address on the bridge
#         QUERN_TEST_HOSTS           the hosts' namespace names, space-separated
#         QUERN_TEST_HOST_LINKS      their links' ends in this namespace (`ip link set
#                                    LINK down` cuts host i off, `up` restores it)
#       removes them (also on failure or interrupt) and exits with CMD's status.
#       Where namespaces cannot be made (no root, no kernel support), says why, sets
#       QUERN_TEST_HOSTS_UNAVAILABLE to the reason and runs CMD anyway: tests then fall
#       back to plain processes.
#
# Names carry this script's pid, so two runs never share a bridge or a namespace.
set -euo pipefail

usage() {
  echo "usage: $0 run N -- CMD [ARGS...]" >&2
  exit 2
}

readonly tag=$$
readonly bridge="qb$tag"
readonly subnet="10.213.$((tag % 250)).0/24"
readonly prefix="10.213.$((tag % 250))"
namespaces=()
links=()

teardown() {
  local ns
  for ns in "${namespaces[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  ip link del "$bridge" 2>/dev/null || true
}

# Makes the bridge and N hosts; prints why not and returns 1 if it cannot.
setup() {
  local n=$1 i ns link
  command -v ip >/dev/null || { echo "the ip command (iproute2) is missing"; return 1; }
  ip link add "$bridge" type bridge 2>&1 || return 1
  ip addr add "$prefix.1/24" dev "$bridge" && ip link set "$bridge" up || return 1
  for ((i = 1; i <= n; i++)); do
    ns="quern-$tag-h$i"
    link="qv${tag}h$i"
    ip netns add "$ns" 2>&1 || return 1
    namespaces+=("$ns")
    ip link add "$link" type veth peer name eth0 netns "$ns" 2>&1 || return 1
    links+=("$link")
    ip link set "$link" master "$bridge" up || return 1
    ip netns exec "$ns" ip addr add "$prefix.$((10 + i))/24" dev eth0 || return 1
    ip netns exec "$ns" ip link set eth0 up || return 1
    ip netns exec "$ns" ip link set lo up || return 1
  done
}

run_with_hosts() {
  local n=$1
  shift
  trap teardown EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  local why errors
  errors=$(mktemp)
  if setup "$n" >"$errors" 2>&1; then
    rm -f "$errors"
    echo "test-hosts: $n hosts (${namespaces[*]}) on bridge $bridge, $subnet" >&2
    QUERN_TEST_BRIDGE_ADDRESS="$prefix.1" QUERN_TEST_HOSTS="${namespaces[*]}" QUERN_TEST_HOST_LINKS="${links[*]}" \
      "$@"
  else
    why=$(tr '\n' ' ' <"$errors")
    rm -f "$errors"
    teardown
    namespaces=()
    echo "test-hosts: network namespaces unavailable (${why:-unknown reason}); tests run as plain processes" >&2
    QUERN_TEST_HOSTS_UNAVAILABLE="${why:-unknown reason}" "$@"
  fi
}

[ $# -ge 3 ] || usage
[ "$1" = run ] || usage
count=$2
[[ "$count" =~ ^[1-9][0-9]?$ ]] || usage
shift 2
[ "${1:-}" = "--" ] && shift
[ $# -ge 1 ] || usage
status=0
run_with_hosts "$count" "$@" || status=$?
exit $status
