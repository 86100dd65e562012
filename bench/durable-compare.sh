#!/usr/bin/env bash
# Durable write throughput and latency: Concord (fsync before every acknowledgement, the
# default) against redis-server with `appendonly yes` and `appendfsync always` (just as
# durable) and with `appendfsync everysec` (may lose the last second), in one run, on the same
# disk, with redis-benchmark as the client for all three.
#
# Beside throughput and latency it prints each server's CPU time per request (user + system,
# from the process's own accounting over the run, in microseconds).
#
# Usage: bench/durable-compare.sh            (builds target/release/concord first)
# Environment: CONCORD_BIN (binary; CONCORD is its older name), CLIENTS ("1 16 50 200"),
# REQUESTS (per run at >1 client, default 20000), REQUESTS_SINGLE (at 1 client, default
# 2000), TESTS ("set,incr"), KEYSPACE (-r, default 1000000), DATA_ROOT (where the data
# directories go; default a temporary directory — put it on the disk you want to measure).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$bench_repo_root"
CLIENTS=${CLIENTS:-"1 16 50 200"}
REQUESTS=${REQUESTS:-20000}
REQUESTS_SINGLE=${REQUESTS_SINGLE:-2000}
TESTS=${TESTS:-set,incr}
KEYSPACE=${KEYSPACE:-1000000}
DATA_ROOT=${DATA_ROOT:-$(mktemp -d)}

require_tools redis-server redis-benchmark redis-cli
CONCORD=$(concord_binary)

pids=()
cleanup() {
    stop_processes "${pids[@]}"
    rm -rf "$DATA_ROOT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

P_CONCORD=$(free_port); P_ALWAYS=$(free_port); P_EVERYSEC=$(free_port)
declare -A port_pids

mkdir -p "$DATA_ROOT"/{concord,always,everysec}
"$CONCORD" --port "$P_CONCORD" --data-dir "$DATA_ROOT/concord" --log-level warn \
    >"$DATA_ROOT/concord.log" 2>&1 &
pids+=($!) port_pids[$P_CONCORD]=$!
redis-server --port "$P_ALWAYS" --dir "$DATA_ROOT/always" --appendonly yes --appendfsync always \
    --save "" --logfile "$DATA_ROOT/always.log" &
pids+=($!) port_pids[$P_ALWAYS]=$!
redis-server --port "$P_EVERYSEC" --dir "$DATA_ROOT/everysec" --appendonly yes --appendfsync everysec \
    --save "" --logfile "$DATA_ROOT/everysec.log" &
pids+=($!) port_pids[$P_EVERYSEC]=$!
wait_ready "$P_CONCORD" "${port_pids[$P_CONCORD]}" "$DATA_ROOT/concord.log"
wait_ready "$P_ALWAYS" "${port_pids[$P_ALWAYS]}" "$DATA_ROOT/always.log"
wait_ready "$P_EVERYSEC" "${port_pids[$P_EVERYSEC]}" "$DATA_ROOT/everysec.log"
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"

results="$DATA_ROOT/results.csv"
: >"$results"
for clients in $CLIENTS; do
    requests=$REQUESTS
    [[ "$clients" == 1 ]] && requests=$REQUESTS_SINGLE
    for system in "concord:$P_CONCORD" "always:$P_ALWAYS" "everysec:$P_EVERYSEC"; do
        name=${system%%:*}
        port=${system##*:}
        # One test at a time, so that the server's CPU time over the run is that test's.
        for test in ${TESTS//,/ }; do
            ticks_before=$(cpu_ticks "${port_pids[$port]}")
            # -r: random keys, so SET does not hit one key only; --csv prints rps and percentiles.
            row=$(redis-benchmark -p "$port" -t "$test" -c "$clients" -n "$requests" -r "$KEYSPACE" \
                --csv | tail -n +2 | tr -d '"')
            cpu=$(cpu_micros_per_request "$(($(cpu_ticks "${port_pids[$port]}") - ticks_before))" \
                "$requests")
            IFS=, read -r test rps _avg _min p50 _p95 p99 _max <<<"$row"
            echo "$name,$clients,$test,$rps,$p50,$p99,$cpu" >>"$results"
        done
    done
done

printf '\n%-9s %7s %-5s %12s %9s %9s %14s\n' system clients test "requests/s" "p50 ms" "p99 ms" \
    "cpu us/req"
sort -t, -k3,3 -k2,2n "$results" | while IFS=, read -r name clients test rps p50 p99 cpu; do
    printf '%-9s %7s %-5s %12s %9s %9s %14s\n' "$name" "$clients" "$test" "$rps" "$p50" "$p99" "$cpu"
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "Throughput ratios (Concord / Redis):"
printf '%-5s %7s %22s %22s %22s\n' test clients "vs appendfsync always" "vs appendfsync everysec" \
    "cpu/req vs always"
# ratio A B: A / B to two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
# field SYSTEM COLUMN: that column of the row of this test and client count.
field() { awk -F, -v s="$1" -v c="$clients" -v t="$test" -v f="$2" '$1==s && $2==c && $3==t {print $f}' "$results"; }
for test in $(cut -d, -f3 "$results" | sort -u); do
    for clients in $CLIENTS; do
        printf '%-5s %7s %21sx %21sx %21sx\n' "$test" "$clients" \
            "$(ratio "$(field concord 4)" "$(field always 4)")" \
            "$(ratio "$(field concord 4)" "$(field everysec 4)")" \
            "$(ratio "$(field concord 7)" "$(field always 7)")"
    done
done
