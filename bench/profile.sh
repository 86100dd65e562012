#!/usr/bin/env bash
# A CPU profile of Concord under one redis-benchmark case, with callers, as a report and a
# flame graph.
#
# Builds Concord with the `profiling` profile (release code generation, full debug info) and
# frame pointers, starts it on a free loopback port with a fresh data directory, runs the case
# while `perf record` samples the server with the software `cpu-clock` event (the hardware
# counters are not available in every virtual machine), and writes to OUT_DIR:
#   perf.data        the samples
#   report.txt       `perf report --no-children`, the hottest functions with their callers
#   flamegraph.svg   when inferno is installed (`cargo install inferno`)
#
# Usage: bench/profile.sh [CASE] [PIPELINE]        e.g. bench/profile.sh set 16
# Environment: CLIENTS (50), REQUESTS (1000000 at -P>1, 200000 at -P 1), KEYSPACE (100000),
#   CONCORD_ARGS (extra `concord serve` flags, e.g. `--fsync every-second`), OUT_DIR
#   (target/profile-<case>-P<pipeline>), FREQUENCY (perf samples per second, 999),
#   CONCORD_BIN (profile this binary instead of building one; without frame pointers, pass
#   CALL_GRAPH=dwarf), CALL_GRAPH (fp).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$bench_repo_root"
CASE=${1:-set}
PIPELINE=${2:-16}
CLIENTS=${CLIENTS:-50}
KEYSPACE=${KEYSPACE:-100000}
FREQUENCY=${FREQUENCY:-999}
CALL_GRAPH=${CALL_GRAPH:-fp}
OUT_DIR=${OUT_DIR:-target/profile-$CASE-P$PIPELINE}
if ((PIPELINE > 1)); then
    REQUESTS=${REQUESTS:-1000000}
else
    REQUESTS=${REQUESTS:-200000}
fi

command -v perf >/dev/null || fail "perf is not installed: apt-get install linux-perf"
require_tools redis-benchmark redis-cli

if [[ -n ${CONCORD_BIN:-} ]]; then
    binary=$CONCORD_BIN
else
    echo "building concord (profiling profile, frame pointers)..." >&2
    RUSTFLAGS="${RUSTFLAGS:-} -C force-frame-pointers=yes" \
        cargo build --profile profiling --bin concord >&2
    binary=${CARGO_TARGET_DIR:-target}/profiling/concord
fi

mkdir -p "$OUT_DIR"
work_dir=$(mktemp -d "${TMPDIR:-/tmp}/concord-profile.XXXXXX")
server_pid=""
cleanup() {
    [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$work_dir"
}
trap cleanup EXIT

port=$(free_port)
# shellcheck disable=SC2086 # CONCORD_ARGS is a list of flags, split on purpose.
"$binary" serve --bind 127.0.0.1 --port "$port" --data-dir "$work_dir/data" --log-level warn \
    ${CONCORD_ARGS:-} >"$work_dir/concord.log" 2>&1 &
server_pid=$!
wait_ready "$port" "$server_pid" "$work_dir/concord.log"

perf record -e cpu-clock -F "$FREQUENCY" --call-graph "$CALL_GRAPH" -p "$server_pid" \
    -o "$OUT_DIR/perf.data" 2>"$work_dir/perf.log" &
perf_pid=$!
sleep 0.5
echo "redis-benchmark -t $CASE -P $PIPELINE -c $CLIENTS -n $REQUESTS -r $KEYSPACE against :$port" >&2
redis-benchmark -p "$port" -t "$CASE" -P "$PIPELINE" -c "$CLIENTS" -n "$REQUESTS" \
    -r "$KEYSPACE" --csv
kill -INT "$perf_pid"
wait "$perf_pid" 2>/dev/null || true

perf report -i "$OUT_DIR/perf.data" --no-children --stdio --percent-limit 1 \
    >"$OUT_DIR/report.txt" 2>/dev/null
echo "report: $OUT_DIR/report.txt"
if command -v inferno-collapse-perf >/dev/null && command -v inferno-flamegraph >/dev/null; then
    perf script -i "$OUT_DIR/perf.data" 2>/dev/null | inferno-collapse-perf |
        inferno-flamegraph --title "concord $CASE -P $PIPELINE" >"$OUT_DIR/flamegraph.svg"
    echo "flame graph: $OUT_DIR/flamegraph.svg"
else
    echo "no flame graph: inferno is not installed (cargo install inferno)"
fi
