#!/usr/bin/env bash
# Local runtime benchmark (needs root: runc, overlay mounts, cgroups).
#
# - invoke: a function (busybox true) invoked through the local target, beside a bare
#   `runc run` of the same bundle (the physical floor), interleaved, RUNS times.
# - switch / cutover: routing a service to a new healthy instance, switching back to the
#   still-running old one (a rollback), and from the switch to the old instance stopped.
# - proxy: wrk -t2 -c64 against the front proxy and against the service directly.
# The image (busybox + a small static keep-alive HTTP server) is packed by lockstep and
# served by lockstep's registry. Medians and ratios are printed.
#
# Usage: bench/runtime.sh            (RUNS=50 WRK_SECONDS=10 to change)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-30}
WRK_SECONDS=${WRK_SECONDS:-10}
scripts/setup
build=$(scripts/build release)
lockstep="$PWD/$build/src/app/lockstep"
work=$PWD/bench/out/runtime
rm -rf "$work"
mkdir -p "$work/tree/bin"
cp "$(readlink -f /bin/busybox)" "$work/tree/bin/busybox"
ln -s busybox "$work/tree/bin/sh"
cp "$build/tests/support/hello_http" "$work/tree/bin/hello_http"

data=$work/registry
mkdir -p "$data"
printf '[runtime]\nenabled = false\n' > "$data/config.toml"  # the benchmark runs its own target
"$lockstep" serve --listen 127.0.0.1:0 --data "$data" --dev > "$work/registry.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
port=""
for _ in $(seq 1 200); do
  port=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/registry.log" 2>/dev/null | head -1 | cut -d: -f3 || true)
  [ -n "$port" ] && break
  sleep 0.05
done
digest=$("$lockstep" pack "$work/tree" --repo "127.0.0.1:$port/bench/runtime" --version 1.0.0 \
  --push --insecure --quiet)
echo "image 127.0.0.1:$port/bench/runtime@$digest; $(nproc) cores; runc $(runc --version | head -1 | cut -d' ' -f3)"
"$build/bench/runtime_bench" "127.0.0.1:$port/bench/runtime@$digest" "$work" "$RUNS" "$WRK_SECONDS"
