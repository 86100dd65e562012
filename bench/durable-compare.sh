#!/usr/bin/env bash
# Durable write throughput and latency: Concord (fsync before every acknowledgement, the
# default) against redis-server with `appendonly yes` and `appendfsync always` (just as
# durable) and with `appendfsync everysec` (may lose the last second), in one run, on the same
# disk, with redis-benchmark as the client for all three.
#
# Usage: bench/durable-compare.sh            (builds target/release/concord if needed)
# Environment: CONCORD (binary), CLIENTS ("1 16 50 200"), REQUESTS (per run at >1 client,
# default 20000), REQUESTS_SINGLE (at 1 client, default 2000), TESTS ("set,incr"),
# KEYSPACE (-r, default 1000000), DATA_ROOT (where the data directories go; default a temporary directory — put it on the
# disk you want to measure).
set -euo pipefail

cd "$(dirname "$0")/.."
CONCORD=${CONCORD:-${CARGO_TARGET_DIR:-target}/release/concord}
CLIENTS=${CLIENTS:-"1 16 50 200"}
REQUESTS=${REQUESTS:-20000}
REQUESTS_SINGLE=${REQUESTS_SINGLE:-2000}
TESTS=${TESTS:-set,incr}
KEYSPACE=${KEYSPACE:-1000000}
DATA_ROOT=${DATA_ROOT:-$(mktemp -d)}

if [[ ! -x "$CONCORD" ]]; then
    cargo build --release
fi
for tool in redis-server redis-benchmark redis-cli; do
    command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install redis-server)"; exit 1; }
done

pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$DATA_ROOT"
}
trap cleanup EXIT

wait_for() {
    for _ in $(seq 200); do
        redis-cli -p "$1" ping >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "nothing answers on port $1"; exit 1
}

# Random high ports, checked free, so that the run never measures someone else's server.
free_port() {
    while :; do
        port=$(shuf -i 20000-32767 -n 1)
        redis-cli -p "$port" ping >/dev/null 2>&1 || { echo "$port"; return; }
    done
}
P_CONCORD=$(free_port); P_ALWAYS=$(free_port); P_EVERYSEC=$(free_port)

mkdir -p "$DATA_ROOT"/{concord,always,everysec}
"$CONCORD" --port "$P_CONCORD" --data-dir "$DATA_ROOT/concord" --log-level warn &
pids+=($!)
redis-server --port "$P_ALWAYS" --dir "$DATA_ROOT/always" --appendonly yes --appendfsync always \
    --save "" --logfile "$DATA_ROOT/always.log" &
pids+=($!)
redis-server --port "$P_EVERYSEC" --dir "$DATA_ROOT/everysec" --appendonly yes --appendfsync everysec \
    --save "" --logfile "$DATA_ROOT/everysec.log" &
pids+=($!)
for port in "$P_CONCORD" "$P_ALWAYS" "$P_EVERYSEC"; do wait_for "$port"; done
for pid in "${pids[@]}"; do kill -0 "$pid" || { echo "a server failed to start"; exit 1; }; done

results="$DATA_ROOT/results.csv"
: >"$results"
for clients in $CLIENTS; do
    requests=$REQUESTS
    [[ "$clients" == 1 ]] && requests=$REQUESTS_SINGLE
    for system in "concord:$P_CONCORD" "always:$P_ALWAYS" "everysec:$P_EVERYSEC"; do
        name=${system%%:*}
        port=${system##*:}
        # -r: random keys, so SET does not hit one key only; --csv prints rps and percentiles.
        redis-benchmark -p "$port" -t "$TESTS" -c "$clients" -n "$requests" -r "$KEYSPACE" --csv \
            | tail -n +2 | tr -d '"' | while IFS=, read -r test rps _avg _min p50 _p95 p99 _max; do
                echo "$name,$clients,$test,$rps,$p50,$p99" >>"$results"
            done
    done
done

printf '\n%-9s %7s %-5s %12s %9s %9s\n' system clients test "requests/s" "p50 ms" "p99 ms"
sort -t, -k3,3 -k2,2n "$results" | while IFS=, read -r name clients test rps p50 p99; do
    printf '%-9s %7s %-5s %12s %9s %9s\n' "$name" "$clients" "$test" "$rps" "$p50" "$p99"
done

echo
echo "Throughput ratios (Concord / Redis):"
printf '%-5s %7s %22s %22s\n' test clients "vs appendfsync always" "vs appendfsync everysec"
for test in $(cut -d, -f3 "$results" | sort -u); do
    for clients in $CLIENTS; do
        rps() { awk -F, -v s="$1" -v c="$clients" -v t="$test" '$1==s && $2==c && $3==t {print $4}' "$results"; }
        concord=$(rps concord); always=$(rps always); everysec=$(rps everysec)
        printf '%-5s %7s %21.2fx %21.2fx\n' "$test" "$clients" \
            "$(echo "$concord / $always" | bc -l)" "$(echo "$concord / $everysec" | bc -l)"
    done
done
