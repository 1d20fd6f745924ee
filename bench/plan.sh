#!/usr/bin/env bash
# `plan` of a deploy repository of 1,000 services in 3 environments beside its floor
# (libgit2 + toml++ reading the same tree), nothing changed and 100 services changed.
#
# Usage: bench/plan.sh        (RUNS=20 SERVICES=1000 to change)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
work=$PWD/bench/out/plan
rm -rf "$work" && mkdir -p "$work"
"$build/bench/plan_bench" "$work" "${RUNS:-20}" "${SERVICES:-1000}"
