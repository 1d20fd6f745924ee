#!/usr/bin/env bash
# Registry benchmark: lockstep's embedded registry beside CNCF Distribution (Debian's
# docker-registry, filesystem storage), same images, same client (skopeo), same run.
#
# Rows: one 256 MiB layer pushed and pulled; 200 small images pushed and pulled.
# For each row: wall time, registry CPU seconds (utime+stime from /proc) and registry
# peak RSS (VmHWM, reset before each row through /proc/PID/clear_refs). Each row runs
# RUNS times (default 3) against a fresh registry; medians are reported with
# lockstep/Distribution ratios.
#
# Usage: bench/registry.sh            (RUNS=5 SMALL=200 LARGE_MIB=256 to change)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
SMALL=${SMALL:-200}
LARGE_MIB=${LARGE_MIB:-256}
source bench/lib.sh
work=$PWD/bench/out/registry
mkdir -p "$work"
tick=$(getconf CLK_TCK)

# --- images (made once, kept in bench/out) -------------------------------------------
make_images() {
  local layout=$work/images
  if [ -f "$work/images.done-$LARGE_MIB-$SMALL" ]; then return; fi
  rm -rf "$layout" "$work"/images.done-*
  umoci init --layout "$layout"
  umoci new --image "$layout:large"
  umoci unpack --rootless --image "$layout:large" "$work/bundle" >/dev/null
  head -c $((LARGE_MIB * 1024 * 1024)) /dev/urandom > "$work/bundle/rootfs/large.bin"
  umoci repack --image "$layout:large" "$work/bundle"
  rm -rf "$work/bundle"
  echo "bench: making $SMALL small images" >&2
  for i in $(seq 1 "$SMALL"); do
    umoci new --image "$layout:s$i"
    umoci unpack --rootless --image "$layout:s$i" "$work/bundle" >/dev/null
    head -c 65536 /dev/urandom > "$work/bundle/rootfs/data.bin"
    echo "$i" > "$work/bundle/rootfs/id"
    umoci repack --image "$layout:s$i" "$work/bundle"
    rm -rf "$work/bundle"
  done
  touch "$work/images.done-$LARGE_MIB-$SMALL"
}

# --- registries ---------------------------------------------------------------------
pid=""
port=""
start_lockstep() {
  local data=$1
  "$lockstep" serve --listen 127.0.0.1:0 --data "$data" --dev > "$data.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 200); do
    port=$(grep -o 'http://127.0.0.1:[0-9]*' "$data.log" 2>/dev/null | head -1 | cut -d: -f3 || true)
    [ -n "$port" ] && return
    sleep 0.05
  done
  echo "lockstep did not start" >&2; exit 1
}
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    ss -ltn | awk '{print $4}' | grep -q ":$p\$" || { echo "$p"; return; }
  done
}
start_distribution() {
  local data=$1
  port=$(free_port)
  mkdir -p "$data"
  cat > "$data.yml" <<YML
version: 0.1
log: {level: error}
storage:
  filesystem: {rootdirectory: $data}
  delete: {enabled: true}
http: {addr: 127.0.0.1:$port}
YML
  docker-registry serve "$data.yml" > "$data.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 200); do
    curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && return
    sleep 0.05
  done
  echo "docker-registry did not start" >&2; exit 1
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
reset_peak() { echo 5 > "/proc/$pid/clear_refs"; }
peak_kib() { awk '/VmHWM/ {print $2}' "/proc/$pid/status"; }
now() { date +%s.%N; }

copy() { skopeo --insecure-policy copy --quiet --src-tls-verify=false --dest-tls-verify=false "$@" >/dev/null; }

# measure ROW CMD...: runs CMD, appends "row wall cpu peak" to $results
measure() {
  local row=$1; shift
  reset_peak
  local c0 t0 t1 c1
  c0=$(cpu_ticks); t0=$(now)
  "$@"
  t1=$(now); c1=$(cpu_ticks)
  echo "$row $(echo "$t1 - $t0" | bc -l) $(echo "($c1 - $c0) / $tick" | bc -l) $(peak_kib)" >> "$results"
}

push_large() { copy "oci:$work/images:large" "docker://127.0.0.1:$port/bench/large:1"; }
pull_large() { rm -rf "$work/pulled"; copy "docker://127.0.0.1:$port/bench/large:1" "dir:$work/pulled"; }
push_small() { for i in $(seq 1 "$SMALL"); do copy "oci:$work/images:s$i" "docker://127.0.0.1:$port/bench/small:s$i"; done; }
pull_small() { for i in $(seq 1 "$SMALL"); do rm -rf "$work/pulled"; copy "docker://127.0.0.1:$port/bench/small:s$i" "dir:$work/pulled"; done; }

run_registry() {
  local name=$1 starter=$2
  for r in $(seq 1 "$RUNS"); do
    local data=$work/data-$name-$r
    rm -rf "$data"
    results=$work/results-$name
    $starter "$data"
    measure "push_${LARGE_MIB}MiB" push_large
    measure "pull_${LARGE_MIB}MiB" pull_large
    measure "push_${SMALL}_small" push_small
    measure "pull_${SMALL}_small" pull_small
    stop
    rm -rf "$data"
  done
}

make_images
rm -f "$work"/results-*
RUNS_SAVED=$RUNS
# Interleave the registries run by run so machine noise hits both alike.
for r in $(seq 1 "$RUNS_SAVED"); do
  RUNS=1
  run_registry lockstep start_lockstep
  run_registry distribution start_distribution
done

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
stat_of() { awk -v row="$2" -v col="$3" '$1 == row {print $col}' "$work/results-$1" | median; }

printf "\n%-16s %10s %10s %7s | %9s %9s %7s | %9s %9s %7s\n" row "wall ls" "wall dist" ratio "cpu ls" "cpu dist" ratio "rss ls" "rss dist" ratio
for row in "push_${LARGE_MIB}MiB" "pull_${LARGE_MIB}MiB" "push_${SMALL}_small" "pull_${SMALL}_small"; do
  lw=$(stat_of lockstep "$row" 2); dw=$(stat_of distribution "$row" 2)
  lc=$(stat_of lockstep "$row" 3); dc=$(stat_of distribution "$row" 3)
  lr=$(stat_of lockstep "$row" 4); dr=$(stat_of distribution "$row" 4)
  printf "%-16s %9.2fs %9.2fs %7.2f | %8.3fs %8.3fs %7.2f | %6.1fMiB %6.1fMiB %7.2f\n" "$row" \
    "$lw" "$dw" "$(echo "$lw / $dw" | bc -l)" "$lc" "$dc" "$(echo "$lc / ($dc + 0.000001)" | bc -l)" \
    "$(echo "$lr / 1024" | bc -l)" "$(echo "$dr / 1024" | bc -l)" "$(echo "$lr / $dr" | bc -l)"
done
lc=$(stat_of lockstep "push_${LARGE_MIB}MiB" 3); dc=$(stat_of distribution "push_${LARGE_MIB}MiB" 3)
gib=$(echo "$LARGE_MIB / 1024" | bc -l)
printf "\nregistry CPU per GiB pushed: lockstep %.3f s, Distribution %.3f s, ratio %.2f (median of %d runs)\n" \
  "$(echo "$lc / $gib" | bc -l)" "$(echo "$dc / $gib" | bc -l)" "$(echo "$lc / $dc" | bc -l)" "$RUNS_SAVED"
