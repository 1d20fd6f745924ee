#!/usr/bin/env bash
# Applies end to end (needs root: runc, overlay mounts, cgroups). `lockstep serve` runs on
# a deploy repository of 20 services of one image (busybox + a small static HTTP server,
# packed by lockstep into the server's registry); the benchmark times:
# - `lockstep apply dev` of one changed service, from the CLI call to the first answer of
#   the new release through the front proxy, beside that release's instance started by a
#   local target of the benchmark's own, from Start to its first healthy answer (polled
#   every millisecond), interleaved in alternating order, RUNS times;
# - the same for all 20 services at once, beside the slowest single-service apply;
# - the server's resident memory, idle, after the applies, and with 3,000 releases recorded.
#
# Usage: bench/apply.sh            (RUNS=20 to change)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-20}
source bench/lib.sh
work=$PWD/bench/out/apply
engine_bench_start
"$build/bench/apply_bench" "$lockstep" "http://$reg" "$server" "$reg/bench/apply@$digest" \
  "$work/deploy.git" "$work" "$RUNS"
