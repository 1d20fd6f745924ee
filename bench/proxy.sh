#!/usr/bin/env bash
# The front proxy beside nginx and haproxy (and the backend called directly), without
# containers: hello_http runs on the host. Many short rounds in rotating order; medians.
# Runs as any user.
#
# Usage: bench/proxy.sh        (ROUNDS=6 WRK_SECONDS=3 WORK_US=0,50,200 to change)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
work=$PWD/bench/out/proxy
rm -rf "$work" && mkdir -p "$work"
"$build/bench/proxy_bench" "$build/tests/support/hello_http" "$work" "${ROUNDS:-6}" \
  "${WRK_SECONDS:-3}" "${WORK_US:-0,50,200}"
