#!/usr/bin/env bash
# Single-client write latency on the leader against the same write forwarded by a follower,
# in one run: a local three-node cluster (`concord cluster --nodes 3`), then ROUNDS rounds of
# `redis-benchmark -n REQUESTS -c 1 -t sadd` alternately against the leader and a follower.
# Prints each round's p50 (ms) and the median of the rounds' p50s for both, with their ratio
# and the load average. A benchmark, not a test: it asserts nothing.
#
# Usage: bench/forward-latency.sh
# Environment (defaults in brackets):
#   ROUNDS        rounds per member [5]
#   REQUESTS      requests per round [2000]
#   CONCORD_BIN   the binary [target/release/concord, built if missing]
#   CONCORD_ARGS  extra flags for every member, e.g. `--fsync every-second` to take the disk
#                 out of the comparison
#   PORT_BASE     first client port (peers at PORT_BASE + 100) [27301]
set -euo pipefail

ROUNDS=${ROUNDS:-5}
REQUESTS=${REQUESTS:-2000}
PORT_BASE=${PORT_BASE:-27301}
cd "$(dirname "$0")/.."
BIN=${CONCORD_BIN:-target/release/concord}
[ -x "$BIN" ] || cargo build --release
DIR=$(mktemp -d)
# shellcheck disable=SC2086
setsid "$BIN" cluster --nodes 3 --port "$PORT_BASE" --peer-port $((PORT_BASE + 100)) \
    --dir "$DIR" -- ${CONCORD_ARGS:-} >"$DIR/cluster.log" 2>&1 &
CLUSTER=$!
trap 'kill -- -$CLUSTER 2>/dev/null; wait $CLUSTER 2>/dev/null; rm -rf "$DIR"' EXIT

# CONCORD.STATUS is a flat list of key, value pairs per member; the first member's `name`.
field() {
    redis-cli -p "$1" concord.status 2>/dev/null |
        awk -v name="$2" 'NR % 2 == 1 { key = $0; next } key == name { print; exit }'
}
LEADER=""
for _ in $(seq 100); do
    LEADER=$(field "$PORT_BASE" leader || true)
    [ -n "$LEADER" ] && [ "$LEADER" != "0" ] && break
    sleep 0.1
done
[ -n "$LEADER" ] || { echo "no leader"; exit 1; }
LEADER_PORT=$((PORT_BASE + LEADER - 1))
FOLLOWER_PORT=$((PORT_BASE + (LEADER % 3)))

p50() { redis-benchmark -n "$REQUESTS" -c 1 -t sadd -p "$1" --csv | tail -1 | cut -d, -f5 | tr -d '"'; }
median() { sort -g | awk '{ value[NR] = $1 } END { print value[int((NR + 1) / 2)] }'; }
leader=(); follower=()
for round in $(seq "$ROUNDS"); do
    leader+=("$(p50 "$LEADER_PORT")")
    follower+=("$(p50 "$FOLLOWER_PORT")")
    echo "round $round: leader p50 ${leader[-1]} ms, follower p50 ${follower[-1]} ms"
done
L=$(printf '%s\n' "${leader[@]}" | median)
F=$(printf '%s\n' "${follower[@]}" | median)
echo "median p50: leader $L ms (port $LEADER_PORT), follower $F ms (port $FOLLOWER_PORT)," \
    "follower/leader $(awk -v f="$F" -v l="$L" 'BEGIN { printf "%.2f", f / l }')"
echo "load: $(uptime)"
