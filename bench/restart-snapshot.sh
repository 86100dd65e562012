#!/usr/bin/env bash
# Durability measurements the durability issue asks for, on one dataset per run:
#   - snapshot write time (SAVE, and the node's own figure in INFO persistence),
#   - restart time: kill -9, start, until PING answers (recovery is done before it does),
#     once with everything in the snapshot and once with the snapshot plus a log tail,
#   - write latency (redis-benchmark SET, p50/p99) without a snapshot and while snapshots
#     are being written back to back (BGSAVE re-issued every 50 ms).
#
# Usage: bench/restart-snapshot.sh
# Environment: CONCORD_BIN (binary; CONCORD is its older name), KEYS (default 1000000), VALUE_BYTES (default 100),
# TAIL_KEYS (keys rewritten after the snapshot, default KEYS/10), CLIENTS (50), REQUESTS
# (per latency run, 200000), DATA_ROOT (where the data directory goes; default a temporary
# directory; put it on the disk you want to measure).
# The ~1 GiB dataset of docs/decisions.md: KEYS=1000000 VALUE_BYTES=1000.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$bench_repo_root"
KEYS=${KEYS:-1000000}
VALUE_BYTES=${VALUE_BYTES:-100}
TAIL_KEYS=${TAIL_KEYS:-$((KEYS / 10))}
CLIENTS=${CLIENTS:-50}
REQUESTS=${REQUESTS:-200000}
DATA_ROOT=${DATA_ROOT:-$(mktemp -d)}

require_tools redis-benchmark redis-cli python3
CONCORD=$(concord_binary)

pid=
cleanup() {
    [[ -n "$pid" ]] && kill -9 "$pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$DATA_ROOT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT=$(free_port)
DATA="$DATA_ROOT/concord"
mkdir -p "$DATA"

now_ms() { date +%s%3N; }

# Starts the node; sets start_ms to the milliseconds until it answers PING.
start() {
    local started
    started=$(now_ms)
    "$CONCORD" --port "$PORT" --data-dir "$DATA" --log-level warn >/dev/null &
    pid=$!
    until redis-cli -p "$PORT" ping >/dev/null 2>&1; do
        kill -0 "$pid" 2>/dev/null || fail "concord exited during start-up"
        sleep 0.01
    done
    start_ms=$(($(now_ms) - started))
}

crash() { kill -9 "$pid"; wait "$pid" 2>/dev/null || true; pid=; }

# SETs key:FROM..TO-1 with VALUE_BYTES-byte values, pipelined through redis-cli --pipe.
load() {
    python3 - "$1" "$2" "$VALUE_BYTES" <<'EOF' | redis-cli -p "$PORT" --pipe >/dev/null
import sys
start, end, size = map(int, sys.argv[1:4])
out = sys.stdout.buffer
value = b"v" * size
for index in range(start, end):
    key = b"key:%d" % index
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, size, value))
EOF
}

info() { redis-cli -p "$PORT" info persistence | tr -d '\r' | awk -F: -v f="$1" '$1==f {print $2}'; }

latency() {
    redis-benchmark -p "$PORT" -t set -c "$CLIENTS" -n "$REQUESTS" -r "$KEYS" -d "$VALUE_BYTES" \
        --csv | tail -1 | tr -d '"' | awk -F, '{printf "%s requests/s, p50 %s ms, p99 %s ms, max %s ms", $2, $5, $7, $8}'
}

echo "dataset: $KEYS keys of $VALUE_BYTES bytes"
start
loaded_at=$(now_ms)
load 0 "$KEYS"
echo "load: $(($(now_ms) - loaded_at)) ms ($(redis-cli -p "$PORT" dbsize) keys)"
echo "memory: $(redis-cli -p "$PORT" info memory | tr -d '\r' | awk -F: '$1=="used_memory_human" {print $2}')"

saved_at=$(now_ms)
redis-cli -p "$PORT" save >/dev/null
echo "SAVE: $(($(now_ms) - saved_at)) ms ($(info concord_snapshot_bytes) bytes," \
    "$(info concord_snapshot_keys) keys)"

crash
start
echo "restart, snapshot only: $start_ms ms"

load 0 "$TAIL_KEYS"
echo "log tail: $TAIL_KEYS keys rewritten after the snapshot ($(info concord_log_bytes_since_snapshot) bytes)"
crash
start
echo "restart, snapshot + log tail: $start_ms ms"

echo "writes, no snapshot:     $(latency)"
( while :; do redis-cli -p "$PORT" bgsave >/dev/null 2>&1 || true; sleep 0.05; done ) &
saver=$!
saves_before=$(info rdb_saves)
during=$(latency)
kill "$saver"; wait "$saver" 2>/dev/null || true
echo "writes, during snapshots: $during ($(($(info rdb_saves) - saves_before)) snapshots written meanwhile)"
