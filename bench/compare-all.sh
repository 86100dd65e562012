#!/usr/bin/env bash
# Every single-node comparison with redis-server in one run, and one table of ratios at the
# end: throughput and CPU per request in both fsync modes against in-memory Redis
# (redis-compare.sh), durable writes against Redis with appendfsync always
# (durable-compare.sh), memory per element (memory-compare.sh), and write latency while
# snapshots are written back to back, with restart time (restart-snapshot.sh).
#
# Each part's own output is printed as it finishes and kept in OUT_DIR; the summary repeats the
# ratios, with the load average at the start and at the end of the run (a ratio measured
# while the machine was busy with something else is worth less).
#
# This is a benchmark, not a test: it asserts nothing. A full run takes about an hour on a
# 2-core machine; QUICK=1 runs each part smaller (for checking the script, not for quoting).
#
# Usage: bench/compare-all.sh
# Environment: CONCORD_BIN (binary; CONCORD is its older name; default target/release/concord,
#   built first), OUT_DIR
#   (where the parts' outputs go; default a new directory under /tmp), QUICK (0).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$bench_repo_root"
OUT_DIR=${OUT_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/concord-compare-all.XXXXXX")}
QUICK=${QUICK:-0}
mkdir -p "$OUT_DIR"

CONCORD=$(concord_binary)

if [[ $QUICK == 1 ]]; then
    quick_throughput=(REPETITIONS=1 REQUESTS=20000 REQUESTS_PIPELINED=100000)
    quick_durable=(REQUESTS=2000 REQUESTS_SINGLE=200)
    quick_memory=(ELEMENTS=100000)
    quick_snapshot=(KEYS=100000 REQUESTS=20000)
else
    quick_throughput=() quick_durable=() quick_memory=() quick_snapshot=()
fi

load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date +%s)

part() {
    local name=$1
    shift
    echo
    echo "==> $name ($(date +%T), load average $(cut -d' ' -f1-3 /proc/loadavg))"
    env "$@" 2>"$OUT_DIR/$name.log" | tee "$OUT_DIR/$name.txt"
}

part throughput-every-second "${quick_throughput[@]}" CONCORD_BIN="$CONCORD" \
    CONCORD_ARGS="--fsync every-second" bench/redis-compare.sh
part throughput-always "${quick_throughput[@]}" CONCORD_BIN="$CONCORD" \
    CONCORD_ARGS="--fsync always" bench/redis-compare.sh
part durable "${quick_durable[@]}" CONCORD_BIN="$CONCORD" bench/durable-compare.sh
part memory "${quick_memory[@]}" CONCORD_BIN="$CONCORD" bench/memory-compare.sh
part snapshots "${quick_snapshot[@]}" CONCORD_BIN="$CONCORD" bench/restart-snapshot.sh

# throughput_rows FILE: each case of redis-compare's table as CASE<tab>RATIO<tab>CPU RATIO.
throughput_rows() {
    awk -F' *[|] *' '/^[A-Z_0-9]+ .*-P [0-9]+ *[|]/ { printf "%s\t%s\t%s\n", $1, $4, $7 }' "$1"
}

echo
echo "==> summary: Concord / Redis ($(($(date +%s) - started)) s; load average $load_at_start at" \
    "the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end; outputs in $OUT_DIR)"
printf '%-48s | %10s | %s\n' "case" "throughput" "cpu per request"
printf '%-48s-|-%10s-|-%s\n' "------------------------------------------------" "----------" "---------------"
for mode in every-second always; do
    while IFS=$'\t' read -r case ratio cpu; do
        printf '%-48s | %10s | %s\n' "$case, fsync $mode vs in-memory" "$ratio" "$cpu"
    done < <(throughput_rows "$OUT_DIR/throughput-$mode.txt")
done
awk '/^Throughput ratios/ { on = 1; next }
     on && $2 ~ /^[0-9]+$/ { printf "%-48s | %10s | %s\n", $1 " " $2 " clients, vs appendfsync always", $3, $5 }' \
    "$OUT_DIR/durable.txt"
echo
printf '%-48s | %10s | %s\n' "memory per element" "after load" "after SAVE"
printf '%-48s-|-%10s-|-%s\n' "------------------------------------------------" "----------" "---------------"
awk -F' *[|] *' 'NR > 3 && NF >= 6 { printf "%-48s | %10s | %s\n", $1, $5, $6 }' "$OUT_DIR/memory.txt"
echo
echo "snapshots and restart (Concord only):"
grep -E '^(writes|restart)' "$OUT_DIR/snapshots.txt" | sed 's/^/  /'
