# Shared by the benchmark scripts: set-up, the build, and a lockstep registry to use.
# Sourced after `cd` to the repository root; sets $build and $lockstep.
scripts/setup --bench
build=$(scripts/build release)
lockstep="$PWD/$build/src/app/lockstep"

# start_lockstep_registry DATA_DIR: starts `lockstep serve` (dev mode, a free port) on
# DATA_DIR and sets $server (its PID) and $reg (127.0.0.1:PORT).
start_lockstep_registry() {
  local data=$1
  (umask 077 && mkdir -p "$data")  # lockstep refuses a data directory others can read
  "$lockstep" serve --listen 127.0.0.1:0 --data "$data" --dev > "$data.log" 2>&1 &
  server=$!
  local port=""
  for _ in $(seq 1 200); do
    port=$(grep -o 'http://127.0.0.1:[0-9]*' "$data.log" 2>/dev/null | head -1 | cut -d: -f3 || true)
    [ -n "$port" ] && break
    sleep 0.05
  done
  reg=127.0.0.1:$port
}

# The engine benchmarks (apply.sh, rollback.sh) on $work:
# engine_bench_clean removes what a run left (containers, root filesystem mounts);
# engine_bench_start makes the image tree (busybox and hello_http) in $work/tree, a bare deploy
# repository $work/deploy.git, starts `lockstep serve` on $work/data mirroring it, packs
# the tree into its registry as bench/apply:1.0.0 and sets $digest; the server and what it
# ran are stopped and removed when the script exits.
engine_bench_clean() {
  for root in "$work/data/runtime/runc" "$work/floor/runtime/runc"; do
    [ -d "$root" ] || continue
    for id in $(runc --root "$root" list -q 2>/dev/null); do runc --root "$root" delete -f "$id" || true; done
  done
  { grep " $work/" /proc/self/mountinfo || true; } | awk '{print $5}' | sort -r | xargs -r umount -l
}
engine_bench_start() {
  engine_bench_clean
  rm -rf "$work"
  mkdir -p "$work/tree/bin"
  cp "$(readlink -f /bin/busybox)" "$work/tree/bin/busybox"
  ln -s busybox "$work/tree/bin/sh"
  cp "$build/tests/support/hello_http" "$work/tree/bin/hello_http"
  git init -q --bare -b main "$work/deploy.git"
  (umask 077 && mkdir -p "$work/data")
  printf '[deploy]\nrepo = "%s"\nfetch_interval = "1h"\nhealth_timeout = "30s"\n' \
    "$work/deploy.git" > "$work/data/config.toml"
  start_lockstep_registry "$work/data"
  trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; engine_bench_clean' EXIT
  digest=$("$lockstep" pack "$work/tree" --repo "$reg/bench/apply" --version 1.0.0 --push \
    --insecure --quiet)
  echo "image $reg/bench/apply@$digest; $(nproc) cores; runc $(runc --version | head -1 | cut -d' ' -f3)"
}
