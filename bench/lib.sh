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
