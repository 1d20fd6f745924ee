#!/usr/bin/env bash
# Local runtime benchmark (needs root: runc, overlay mounts, cgroups).
#
# - invoke: a function (busybox true) invoked through the local target, beside a bare
#   `runc run` of the same bundle (the physical floor), interleaved in alternating order,
#   RUNS times.
# - switch / cutover: routing a service to a new healthy instance, switching back to the
#   still-running old one (a rollback), and from the switch to the old instance stopped.
# - proxy: wrk -t2 -c64 against the front proxy and against the service directly, and
#   against Debian's nginx and haproxy set up as reverse proxies to the same service.
# The image (busybox + a small static keep-alive HTTP server) is packed by lockstep and
# served by lockstep's registry. Medians and ratios are printed.
#
# Usage: bench/runtime.sh            (RUNS=100 WRK_SECONDS=10 to change)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-100}
WRK_SECONDS=${WRK_SECONDS:-10}
source bench/lib.sh
work=$PWD/bench/out/runtime
# A run that was interrupted may have left root filesystems mounted.
{ grep " $work/" /proc/self/mountinfo || true; } | awk '{print $5}' | xargs -r umount -l
rm -rf "$work"
mkdir -p "$work/tree/bin"
cp "$(readlink -f /bin/busybox)" "$work/tree/bin/busybox"
ln -s busybox "$work/tree/bin/sh"
cp "$build/tests/support/hello_http" "$work/tree/bin/hello_http"

(umask 077 && mkdir -p "$work/registry")  # a data directory is private to lockstep
printf '[runtime]\nenabled = false\n' > "$work/registry/config.toml"  # the benchmark runs its own target
start_lockstep_registry "$work/registry"
trap 'kill $server 2>/dev/null || true' EXIT
port=${reg##*:}
digest=$("$lockstep" pack "$work/tree" --repo "127.0.0.1:$port/bench/runtime" --version 1.0.0 \
  --push --insecure --quiet)
echo "image 127.0.0.1:$port/bench/runtime@$digest; $(nproc) cores; runc $(runc --version | head -1 | cut -d' ' -f3)"
"$build/bench/runtime_bench" "127.0.0.1:$port/bench/runtime@$digest" "$work" "$RUNS" "$WRK_SECONDS"
