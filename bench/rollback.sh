#!/usr/bin/env bash
# Rollbacks end to end (needs root: runc, overlay mounts, cgroups). `lockstep serve` runs on
# a deploy repository of one service (busybox + a small static HTTP server, packed by
# lockstep into the server's registry); the benchmark times, RUNS times each:
# - `lockstep rollback dev svc-0` inside the rollback window, from the CLI call to the first
#   answer of the earlier release through the front proxy, beside the account's way done
#   with lockstep (the pin edited back in git, pushed, `lockstep apply dev`);
# - the same rollback outside the window (rollback_window = "0s"), beside that release's
#   instance started by a local target of the benchmark's own, to its first healthy answer.
#
# Usage: bench/rollback.sh            (RUNS=20 to change)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-20}
source bench/lib.sh
work=$PWD/bench/out/rollback
engine_bench_start
"$build/bench/rollback_bench" "$lockstep" "http://$reg" "$reg/bench/apply@$digest" \
  "$work/deploy.git" "$work" "$RUNS"
