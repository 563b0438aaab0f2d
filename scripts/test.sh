#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the tests need, then runs them.
# Debian's redis-tools (redis-cli, redis-benchmark) and redis-server are the reference
# clients and server the compatibility tests talk to.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if ((${#need[@]})); then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing ${need[*]} ..." >&2
  $sudo apt-get update -qq
  # The package's service may fail to start without an init system; the tests start
  # their own servers, so that is harmless.
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" \
    || command -v redis-cli >/dev/null
fi
command -v cargo >/dev/null 2>&1 || { echo "cargo is required: https://rustup.rs" >&2; exit 1; }

cargo test --workspace --exclude ccbitcask-bench "$@"
