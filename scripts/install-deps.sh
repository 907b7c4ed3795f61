#!/usr/bin/env bash
# Installs the Debian 12 packages Quern needs to build and test: only the missing ones,
# and nothing at all (not even `apt-get update`) when every one is already installed.
set -euo pipefail

packages=(
  build-essential g++ cmake ninja-build pkg-config
  clang libclang-rt-14-dev  # libFuzzer and the sanitizer runtimes for clang
  libsqlite3-dev sqlite3 libpq-dev
  postgresql  # the throwaway server of the PostgreSQL tests (scripts/postgres-test-server.sh)
  nlohmann-json3-dev libfmt-dev libspdlog-dev libcli11-dev libcpp-httplib-dev libtomlplusplus-dev
  libcurl4-openssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  procps python3
  chromium  # the dashboard's browser tests (tests/browser/)
)

is_installed() {
  # `dpkg -s` also succeeds for a removed package whose config files remain, so read its status.
  dpkg -s "$1" 2>/dev/null | grep -qx 'Status: install ok installed'
}

missing=()
for package in "${packages[@]}"; do
  is_installed "$package" || missing+=("$package")
done
# Node.js and npm run the browser tests. Any install of them will do (a newer Node.js
# from elsewhere bundles its own npm and conflicts with Debian's npm package), so they
# are installed from Debian only when the commands are missing.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages are installed"
  exit 0
fi

echo "install-deps: missing: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: run as root: sudo $0" >&2
  echo "install-deps: (or: sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]})" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
echo "install-deps: installed ${missing[*]}"
