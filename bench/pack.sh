#!/usr/bin/env bash
# Pack and transfer benchmark.
#
# pack: a 256 MiB tree of real files (copied from /usr) packed by `lockstep pack` with
#   gzip and with zstd, beside `tar --sort=name ... | gzip` and `umoci repack` (peers).
# push/pull: the packed image pushed to and pulled from lockstep's registry by
#   `lockstep push`/`pull` and by `skopeo copy` (peer), each into a fresh repository.
# Each row runs RUNS times (default 3), interleaved; medians and ratios are printed.
#
# Usage: bench/pack.sh          (RUNS=5 TREE_MIB=256 to change)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
TREE_MIB=${TREE_MIB:-256}
source bench/lib.sh
work=$PWD/bench/out/pack
mkdir -p "$work"
results=$work/results
rm -f "$results"

# --- the tree: real files from /usr, up to TREE_MIB ---------------------------------
tree=$work/tree
if [ ! -f "$work/tree.done-$TREE_MIB" ]; then
  rm -rf "$tree" "$work"/tree.done-*
  mkdir -p "$tree"
  limit=$((TREE_MIB * 1024 * 1024))
  total=0
  while IFS= read -r -d '' f; do
    size=$(stat -c %s "$f")
    [ $((total + size)) -gt "$limit" ] && continue
    rel=${f#/usr/}
    mkdir -p "$tree/$(dirname "$rel")"
    cp -p "$f" "$tree/$rel"
    total=$((total + size))
    [ "$total" -ge $((limit - 65536)) ] && break
  done < <(find /usr/lib /usr/share /usr/bin -type f -print0 2>/dev/null)
  touch "$work/tree.done-$TREE_MIB"
fi
echo "bench: tree of $(du -sm "$tree" | cut -f1) MiB, $(find "$tree" -type f | wc -l) files" >&2

now() { date +%s.%N; }
measure() {  # measure ROW CMD...
  local row=$1; shift
  local t0 t1
  sync
  t0=$(now)
  "$@" >/dev/null 2>"$work/last.err" || { echo "bench: $row failed:" >&2; cat "$work/last.err" >&2; exit 1; }
  t1=$(now)
  echo "$row $(echo "$t1 - $t0" | bc -l)" >> "$results"
}

pack_lockstep() { rm -rf "$work/ls-$1"; "$lockstep" pack "$tree" --repo 127.0.0.1:1/bench/tree --version 1.0.0 --compression "$1" --out "$work/ls-$1"; }
tar_gzip() { tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$tree" -cf - . | gzip > "$work/tree.tar.gz"; }
umoci_repack() {
  rm -rf "$work/umoci" "$work/bundle"
  umoci init --layout "$work/umoci" && umoci new --image "$work/umoci:t" &&
    umoci unpack --rootless --image "$work/umoci:t" "$work/bundle" && cp -a "$tree/." "$work/bundle/rootfs/" &&
    measure umoci_repack umoci repack --image "$work/umoci:t" "$work/bundle"
}

# --- push/pull: a fresh registry for every push, so neither client finds the blobs
# already there (skopeo remembers where blobs live and would mount them) -------------
server=""
reg=""
start_registry() {
  rm -rf "$work/registry-$1"
  start_lockstep_registry "$work/registry-$1"
}
stop_registry() { kill "$server"; wait "$server" 2>/dev/null || true; rm -rf "$work/registry-$1"; }
trap 'kill $server 2>/dev/null || true' EXIT

for r in $(seq 1 "$RUNS"); do
  measure pack_lockstep_zstd pack_lockstep zstd
  measure pack_lockstep_gzip pack_lockstep gzip
  measure tar_sort_gzip tar_gzip
  umoci_repack

  start_registry ls
  measure push_lockstep "$lockstep" push "$work/ls-gzip:1.0.0" "$reg/bench/tree:1.0.0" --insecure -q
  rm -rf "$work/pull-ls"
  measure pull_lockstep "$lockstep" pull "$reg/bench/tree:1.0.0" "$work/pull-ls" --insecure -q
  stop_registry ls

  start_registry sk
  measure push_skopeo skopeo --insecure-policy copy --quiet --dest-tls-verify=false "oci:$work/ls-gzip:1.0.0" "docker://$reg/bench/tree:1.0.0"
  rm -rf "$work/pull-sk"
  measure pull_skopeo skopeo --insecure-policy copy --quiet --src-tls-verify=false "docker://$reg/bench/tree:1.0.0" "oci:$work/pull-sk:1.0.0"
  stop_registry sk
done

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
m() { awk -v row="$1" '$1 == row {print $2}' "$results" | median; }
printf "\n%-22s %9s\n" row "median s"
for row in pack_lockstep_zstd pack_lockstep_gzip tar_sort_gzip umoci_repack push_lockstep push_skopeo pull_lockstep pull_skopeo; do
  printf "%-22s %8.2fs\n" "$row" "$(m "$row")"
done
printf "\npack zstd vs tar|gzip: %.2fx faster; vs umoci repack: %.2fx faster\n" \
  "$(echo "$(m tar_sort_gzip) / $(m pack_lockstep_zstd)" | bc -l)" "$(echo "$(m umoci_repack) / $(m pack_lockstep_zstd)" | bc -l)"
printf "pack gzip vs tar|gzip: %.2fx\n" "$(echo "$(m tar_sort_gzip) / $(m pack_lockstep_gzip)" | bc -l)"
printf "push lockstep/skopeo: %.2f   pull lockstep/skopeo: %.2f   (lower is better)\n" \
  "$(echo "$(m push_lockstep) / $(m push_skopeo)" | bc -l)" "$(echo "$(m pull_lockstep) / $(m pull_skopeo)" | bc -l)"
