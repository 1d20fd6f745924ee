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
# A run that was interrupted may have left containers running and root filesystems mounted.
for root in "$work/data/runtime/runc" "$work/floor/runtime/runc"; do
  [ -d "$root" ] || continue
  for id in $(runc --root "$root" list -q 2>/dev/null); do runc --root "$root" delete -f "$id" || true; done
done
{ grep " $work/" /proc/self/mountinfo || true; } | awk '{print $5}' | sort -r | xargs -r umount -l
rm -rf "$work"
mkdir -p "$work/tree/bin"
cp "$(readlink -f /bin/busybox)" "$work/tree/bin/busybox"
ln -s busybox "$work/tree/bin/sh"
cp "$build/tests/support/hello_http" "$work/tree/bin/hello_http"
git init -q --bare -b main "$work/deploy.git"

(umask 077 && mkdir -p "$work/data")
printf '[deploy]\nrepo = "%s"\nfetch_interval = "1h"\nhealth_timeout = "30s"\n' "$work/deploy.git" \
  > "$work/data/config.toml"
start_lockstep_registry "$work/data"
stop() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  for id in $(runc --root "$work/data/runtime/runc" list -q 2>/dev/null); do
    runc --root "$work/data/runtime/runc" delete -f "$id" || true
  done
  { grep " $work/" /proc/self/mountinfo || true; } | awk '{print $5}' | sort -r | xargs -r umount -l
}
trap stop EXIT
digest=$("$lockstep" pack "$work/tree" --repo "$reg/bench/apply" --version 1.0.0 --push \
  --insecure --quiet)
echo "image $reg/bench/apply@$digest; $(nproc) cores; runc $(runc --version | head -1 | cut -d' ' -f3)"
"$build/bench/apply_bench" "$lockstep" "http://$reg" "$server" "$reg/bench/apply@$digest" \
  "$work/deploy.git" "$work" "$RUNS"
