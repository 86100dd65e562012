#!/usr/bin/env bash
# Memory per element: Concord next to redis-server, in one run, for the same data.
#
# For each shape, starts a fresh redis-server (no persistence) and a fresh Concord, loads the
# same N elements into each with `redis-cli --pipe`, and prints the growth of each process's
# resident set per element and the ratio. Concord is measured twice: right after the load,
# when its log still holds the entries that wrote the data (up to the log cache's bound), and
# after SAVE, when a snapshot has replaced that log; Redis is measured after the load (SAVE
# changes nothing there).
#
# Shapes: `strings` (N keys `key:<i>` with VALUE_BYTES-byte values), and one key holding N
# elements as a `hash` (fields with VALUE_BYTES-byte values), `set` (members `m:<i>`), `zset`
# (members `m:<i>`, score i) or `list` (VALUE_BYTES-byte elements).
#
# This is a benchmark, not a test: it asserts nothing.
#
# Usage: bench/memory-compare.sh
# Environment: SHAPES ("strings hash set zset list"), ELEMENTS (1000000), VALUE_BYTES (100),
#   CONCORD_BIN (binary; CONCORD is its older name; default: target/release/concord, built
#   first), CONCORD_ARGS (extra flags for Concord, default `--fsync every-second`: the fsync
#   mode does not change memory, and it loads faster).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$bench_repo_root"
SHAPES=${SHAPES:-"strings hash set zset list"}
ELEMENTS=${ELEMENTS:-1000000}
VALUE_BYTES=${VALUE_BYTES:-100}
CONCORD_ARGS=${CONCORD_ARGS:---fsync every-second}

require_tools redis-server redis-cli python3
CONCORD=$(concord_binary)

work_dir=$(mktemp -d "${TMPDIR:-/tmp}/concord-memory.XXXXXX")
pids=()
cleanup() {
    stop_processes "${pids[@]}"
    rm -rf "$work_dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rss_bytes() {
    awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$1/status"
}

# The RESP commands that load one shape, written once and sent to both servers.
generate() {
    python3 - "$1" "$ELEMENTS" "$VALUE_BYTES" <<'EOF'
import sys

shape, count, value_bytes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = sys.stdout.buffer
value = b"v" * value_bytes
batch = 1000


def command(*args):
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)


for start in range(0, count, batch):
    indexes = range(start, min(start + batch, count))
    if shape == "strings":
        out.write(b"".join(command(b"SET", b"key:%012d" % i, value) for i in indexes))
    elif shape == "hash":
        args = [a for i in indexes for a in (b"f:%012d" % i, value)]
        out.write(command(b"HSET", b"hash", *args))
    elif shape == "set":
        out.write(command(b"SADD", b"set", *[b"m:%012d" % i for i in indexes]))
    elif shape == "zset":
        args = [a for i in indexes for a in (b"%d" % i, b"m:%012d" % i)]
        out.write(command(b"ZADD", b"zset", *args))
    elif shape == "list":
        out.write(command(b"RPUSH", b"list", *[value for _ in indexes]))
    else:
        sys.exit(f"unknown shape {shape}")
EOF
}

# measure_load PID PORT DATA LOG: once the server PID answers on PORT, loads the RESP
# commands in DATA into it; sets rss_before to its resident set before the load and grown to
# how much that grew.
measure_load() {
    local pid=$1 port=$2 data=$3 log=$4
    wait_ready "$port" "$pid" "$log"
    rss_before=$(rss_bytes "$pid")
    redis-cli -p "$port" --pipe <"$data" >"$work_dir/pipe.log" 2>&1 ||
        fail "loading into port $port failed: $(tail -n 3 "$work_dir/pipe.log")"
    grown=$(($(rss_bytes "$pid") - rss_before))
}

per_element() {
    awk -v grown="$1" -v n="$ELEMENTS" 'BEGIN { printf "%.0f", grown / n }'
}

echo "redis $(redis-server --version | awk '{sub("v=", "", $3); print $3}'); elements: $ELEMENTS;" \
    "value bytes: $VALUE_BYTES; concord flags: $CONCORD_ARGS; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s | %12s | %14s | %14s | %13s | %s\n' shape "redis B/elem" "concord B/elem" \
    "after SAVE" "ratio (load)" "ratio (SAVE)"
printf '%-8s-|-%12s-|-%14s-|-%14s-|-%13s-|-%s\n' -------- ------------ -------------- \
    -------------- ------------- ------------
for shape in $SHAPES; do
    data="$work_dir/$shape.resp"
    generate "$shape" >"$data"

    port=$(free_port)
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
        --dir "$work_dir" --logfile "$work_dir/redis.log" &
    redis_pid=$!
    pids+=("$redis_pid")
    measure_load "$redis_pid" "$port" "$data" "$work_dir/redis.log"
    redis_grown=$grown
    stop_processes "$redis_pid"

    port=$(free_port)
    rm -rf "$work_dir/concord-data"
    # shellcheck disable=SC2086 # CONCORD_ARGS is a list of flags, split on purpose.
    "$CONCORD" serve --bind 127.0.0.1 --port "$port" --data-dir "$work_dir/concord-data" \
        --log-level warn $CONCORD_ARGS >"$work_dir/concord.log" 2>&1 &
    concord_pid=$!
    pids+=("$concord_pid")
    measure_load "$concord_pid" "$port" "$data" "$work_dir/concord.log"
    concord_grown=$grown
    redis-cli -p "$port" SAVE >/dev/null
    saved_grown=$(($(rss_bytes "$concord_pid") - rss_before))
    stop_processes "$concord_pid"
    rm -f "$data"

    printf '%-8s | %12s | %14s | %14s | %13s | %s\n' "$shape" \
        "$(per_element "$redis_grown")" "$(per_element "$concord_grown")" \
        "$(per_element "$saved_grown")" \
        "$(awk -v a="$concord_grown" -v b="$redis_grown" 'BEGIN { printf "%.2f", a / b }')" \
        "$(awk -v a="$saved_grown" -v b="$redis_grown" 'BEGIN { printf "%.2f", a / b }')"
done
