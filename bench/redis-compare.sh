#!/usr/bin/env bash
# Throughput of Concord next to redis-server, in one run, on this machine.
#
# Builds Concord in release mode, starts redis-server (no persistence) and Concord (fresh data
# directory) on free loopback ports, runs redis-benchmark against each for every case at every
# pipeline depth, several times, and prints the median requests/second of each with their
# ratio. Runs alternate between the two servers, and which goes first alternates between
# repetitions, so that drift in the machine (thermal, noisy neighbours) hits both alike.
#
# Beside requests/second it prints each server's CPU time per request (user + system, from the
# server process's own accounting over the run, in microseconds): throughput ratios drift on a
# shared machine, CPU per request much less.
#
# This is a benchmark, not a test: it asserts nothing about speed. Read the ratio, not the
# absolute numbers, which depend on the machine.
#
# Usage: bench/redis-compare.sh
#
# Environment (defaults in brackets):
#   CASES                redis-benchmark test names, in run order [set get incr mset lpush
#                        lpop rpop sadd spop hset zadd zpopmin lrange_100]. Any name
#                        `redis-benchmark -t` accepts works. Order matters where a case reads
#                        what an earlier one wrote (get after set, lpop after lpush, spop after
#                        sadd, zpopmin after zadd); lrange_100 fills its own list first. A pop
#                        that finds its value empty answers nil, on both servers alike.
#   PIPELINES            pipeline depths (-P) [1 16]
#   CLIENTS              parallel connections (-c) [50]
#   REPETITIONS          runs per case, server and depth; the median is reported [3]
#   REQUESTS             requests per run at -P 1 (-n) [200000]
#   REQUESTS_PIPELINED   requests per run at depths above 1 [1000000]
#   KEYSPACE             random keys per case (-r) [100000]
#   BENCH_TARGET         `concord` [default], or `redis` to put a second redis-server in
#                        Concord's place (checks this script without a Concord build)
#   CONCORD_BIN          a Concord binary to use instead of building one
#   CONCORD_ARGS         extra flags for `concord serve`, e.g. `--fsync every-second` to
#                        compare with Redis without persistence on equal terms (the default,
#                        `always`, fsyncs every batch before replying; Redis here does not)
#   CARGO_TARGET_DIR     where cargo builds [<repo>/target]
set -euo pipefail

CASES=${CASES:-"set get incr mset lpush lpop rpop sadd spop hset zadd zpopmin lrange_100"}
PIPELINES=${PIPELINES:-"1 16"}
CLIENTS=${CLIENTS:-50}
REPETITIONS=${REPETITIONS:-3}
REQUESTS=${REQUESTS:-200000}
REQUESTS_PIPELINED=${REQUESTS_PIPELINED:-1000000}
KEYSPACE=${KEYSPACE:-100000}
BENCH_TARGET=${BENCH_TARGET:-concord}

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

work_dir=$(mktemp -d "${TMPDIR:-/tmp}/concord-bench.XXXXXX")
server_pids=()
# The process serving each port, whose CPU time a run is charged to.
declare -A port_pids

cleanup() {
    stop_processes "${server_pids[@]}"
    rm -rf "$work_dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

require_tools redis-server redis-cli redis-benchmark

start_redis() {
    local name=$1 port=$2
    mkdir -p "$work_dir/$name"
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
        --daemonize no --dir "$work_dir/$name" >"$work_dir/$name.log" 2>&1 &
    server_pids+=($!)
    port_pids[$port]=$!
    wait_ready "$port" "$!" "$work_dir/$name.log"
}

start_concord() {
    local name=$1 port=$2 binary=$3
    # shellcheck disable=SC2086 # CONCORD_ARGS is a list of flags, split on purpose.
    "$binary" serve --bind 127.0.0.1 --port "$port" --data-dir "$work_dir/$name-data" \
        --log-level warn ${CONCORD_ARGS:-} >"$work_dir/$name.log" 2>&1 &
    server_pids+=($!)
    port_pids[$port]=$!
    wait_ready "$port" "$!" "$work_dir/$name.log"
}

# One redis-benchmark run, as "REQUESTS/SECOND CPU_MICROSECONDS/REQUEST" of the server:
# run_case PORT CASE PIPELINE
run_case() {
    local port=$1 case=$2 pipeline=$3 requests=$REQUESTS output name rps ticks_before
    local pid=${port_pids[$port]}
    if ((pipeline > 1)); then
        requests=$REQUESTS_PIPELINED
    fi
    ticks_before=$(cpu_ticks "$pid")
    output=$(redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -n "$requests" \
        -P "$pipeline" -r "$KEYSPACE" -t "$case" --csv 2>>"$work_dir/benchmark.log") ||
        fail "redis-benchmark failed for $case on port $port: $(tail -n 5 "$work_dir/benchmark.log")"
    # -t lrange_100 also prints its LPUSH fill step, so pick the row named after the case:
    # `"SET",...`, `"MSET (10 keys)",...`, `"LRANGE_100 (first 100 elements)",...`.
    name=$(echo "$case" | tr '[:lower:]' '[:upper:]')
    rps=$(echo "$output" | awk -F'"' -v name="$name" '
        $2 == name || index($2, name " ") == 1 { print $4; found = 1; exit }
        END { if (!found) exit 1 }') ||
        fail "no $name row in redis-benchmark output: $output"
    # lrange_100's fill step is charged too, alike on both servers.
    echo "$rps $(cpu_micros_per_request "$(($(cpu_ticks "$pid") - ticks_before))" "$requests")"
}

median() {
    tr ' ' '\n' | grep -v '^$' | sort -g | awk '
        { values[NR] = $1 }
        END {
            if (NR % 2) print values[(NR + 1) / 2]
            else printf "%.2f\n", (values[NR / 2] + values[NR / 2 + 1]) / 2
        }'
}

redis_port=$(free_port)
start_redis redis "$redis_port"
case $BENCH_TARGET in
concord)
    target_label=concord
    binary=$(concord_binary)
    target_port=$(free_port)
    start_concord concord "$target_port" "$binary"
    ;;
redis)
    target_label=redis2
    target_port=$(free_port)
    start_redis redis2 "$target_port"
    ;;
*) fail "BENCH_TARGET must be concord or redis, not $BENCH_TARGET" ;;
esac

echo "redis $(redis-server --version | awk '{sub("v=", "", $3); print $3}') on :$redis_port, $target_label on :$target_port"
echo "cases: $CASES; pipelines: $PIPELINES; clients: $CLIENTS; repetitions: $REPETITIONS;" \
    "requests: $REQUESTS (-P 1), $REQUESTS_PIPELINED (deeper); keyspace: $KEYSPACE; cpus: $(nproc)"

declare -A redis_results target_results redis_cpus target_cpus
for repetition in $(seq 1 "$REPETITIONS"); do
    for case in $CASES; do
        for pipeline in $PIPELINES; do
            key="$case -P $pipeline"
            # Which server goes first alternates, so an order effect cancels out.
            if ((repetition % 2)); then
                read -r redis_rps redis_cpu < <(run_case "$redis_port" "$case" "$pipeline")
                read -r target_rps target_cpu < <(run_case "$target_port" "$case" "$pipeline")
            else
                read -r target_rps target_cpu < <(run_case "$target_port" "$case" "$pipeline")
                read -r redis_rps redis_cpu < <(run_case "$redis_port" "$case" "$pipeline")
            fi
            [[ -n $redis_rps && -n $target_rps ]] || fail "a run of $key failed"
            redis_results[$key]="${redis_results[$key]:-} $redis_rps"
            target_results[$key]="${target_results[$key]:-} $target_rps"
            redis_cpus[$key]="${redis_cpus[$key]:-} $redis_cpu"
            target_cpus[$key]="${target_cpus[$key]:-} $target_cpu"
            printf '  run %d/%d %-18s redis %12s (%s us/req)  %s %12s (%s us/req)\n' \
                "$repetition" "$REPETITIONS" "$key" "$redis_rps" "$redis_cpu" "$target_label" \
                "$target_rps" "$target_cpu" >&2
        done
    done
done

echo
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-20s | %12s | %12s | %13s | %12s | %14s | %s\n' "case" "redis rps" "$target_label rps" \
    "$target_label/redis" "redis us/req" "$target_label us/req" "cpu $target_label/redis"
printf '%-20s-|-%12s-|-%12s-|-%13s-|-%12s-|-%14s-|-%s\n' "--------------------" "------------" \
    "------------" "-------------" "------------" "--------------" "-------------"
for case in $CASES; do
    for pipeline in $PIPELINES; do
        key="$case -P $pipeline"
        redis_median=$(echo "${redis_results[$key]}" | median)
        target_median=$(echo "${target_results[$key]}" | median)
        ratio=$(awk -v a="$target_median" -v b="$redis_median" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
        redis_cpu=$(echo "${redis_cpus[$key]}" | median)
        target_cpu=$(echo "${target_cpus[$key]}" | median)
        cpu_ratio=$(awk -v a="$target_cpu" -v b="$redis_cpu" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
        label="$(echo "$case" | tr '[:lower:]' '[:upper:]') -P $pipeline"
        printf '%-20s | %12.0f | %12.0f | %13s | %12.2f | %14.2f | %s\n' "$label" "$redis_median" \
            "$target_median" "$ratio" "$redis_cpu" "$target_cpu" "$cpu_ratio"
    done
done
