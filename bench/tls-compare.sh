#!/usr/bin/env bash
# TLS and ACL cost: SET and GET over TLS against redis-server 7.0 over TLS, each beside its own
# plaintext port, and Concord with ACL checks (a user limited by a key pattern) against Concord
# as the default user, in one run, with redis-benchmark as the client for all.
#
# Both servers persist the same way, so that the ratio is about TLS and not about fsync:
# Concord with `--fsync every-second`, Redis with `appendonly yes` and `appendfsync everysec`.
# Certificates: a throwaway CA and a server certificate for 127.0.0.1 made with openssl; clients
# present none (`tls-auth-clients no`), as most applications do.
#
# Beside throughput it prints each server's CPU time per request (user + system, microseconds).
#
# Usage: bench/tls-compare.sh            (builds target/release/concord first)
# Environment: CONCORD_BIN (binary), CLIENTS (default 50), PIPELINES ("1 16"), REQUESTS (per
# run, default 50000), TESTS ("set,get"), KEYSPACE (-r, default 100000).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$bench_repo_root"
CLIENTS=${CLIENTS:-50}
PIPELINES=${PIPELINES:-"1 16"}
REQUESTS=${REQUESTS:-50000}
TESTS=${TESTS:-set,get}
KEYSPACE=${KEYSPACE:-100000}

require_tools redis-server redis-benchmark redis-cli openssl
CONCORD=$(concord_binary)
ROOT=$(mktemp -d)

pids=()
cleanup() {
    stop_processes "${pids[@]}"
    rm -rf "$ROOT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A CA and a server certificate signed by it, for 127.0.0.1.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=concord bench CA" \
    -keyout "$ROOT/ca.key" -out "$ROOT/ca.crt" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$ROOT/server.key" -out "$ROOT/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$ROOT/san.ext"
openssl x509 -req -in "$ROOT/server.csr" -CA "$ROOT/ca.crt" -CAkey "$ROOT/ca.key" \
    -CAcreateserial -days 2 -extfile "$ROOT/san.ext" -out "$ROOT/server.crt" 2>/dev/null
tls_files=(--tls-cert-file "$ROOT/server.crt" --tls-key-file "$ROOT/server.key"
    --tls-ca-cert-file "$ROOT/ca.crt" --tls-auth-clients no)

P_CONCORD=$(free_port); T_CONCORD=$(free_port); P_REDIS=$(free_port); T_REDIS=$(free_port)
mkdir -p "$ROOT"/{concord,redis}
"$CONCORD" --port "$P_CONCORD" --tls-port "$T_CONCORD" "${tls_files[@]}" \
    --data-dir "$ROOT/concord" --fsync every-second --log-level warn >"$ROOT/concord.log" 2>&1 &
pids+=($!); CONCORD_PID=$!
redis-server --port "$P_REDIS" --tls-port "$T_REDIS" "${tls_files[@]}" --dir "$ROOT/redis" \
    --appendonly yes --appendfsync everysec --save "" --logfile "$ROOT/redis.log" &
pids+=($!); REDIS_PID=$!
wait_ready "$P_CONCORD" "$CONCORD_PID" "$ROOT/concord.log"
wait_ready "$P_REDIS" "$REDIS_PID" "$ROOT/redis.log"

# The ACL user: every command, but only the keys redis-benchmark writes (`key:...`), so that
# every command is checked against a pattern.
redis-cli -p "$P_CONCORD" ACL SETUSER bench on '>bench-password' '~key:*' '+@all' >/dev/null
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"

results="$ROOT/results.csv"
: >"$results"
# run NAME PID PORT ARGS...: each test and pipeline depth against one server, one at a time,
# so that the server's CPU time over the run is that test's.
run() {
    local name=$1 pid=$2 port=$3
    shift 3
    local pipeline test row ticks_before cpu rps
    for pipeline in $PIPELINES; do
        for test in ${TESTS//,/ }; do
            ticks_before=$(cpu_ticks "$pid")
            row=$(redis-benchmark -p "$port" "$@" -t "$test" -c "$CLIENTS" -P "$pipeline" \
                -n "$REQUESTS" -r "$KEYSPACE" --csv | tail -n +2 | tr -d '"')
            cpu=$(cpu_micros_per_request "$(($(cpu_ticks "$pid") - ticks_before))" "$REQUESTS")
            IFS=, read -r test rps _ <<<"$row"
            echo "$name,$pipeline,$test,$rps,$cpu" >>"$results"
        done
    done
}
tls_client=(--tls --cacert "$ROOT/ca.crt")
run concord-tls "$CONCORD_PID" "$T_CONCORD" "${tls_client[@]}"
run redis-tls "$REDIS_PID" "$T_REDIS" "${tls_client[@]}"
run concord "$CONCORD_PID" "$P_CONCORD"
run redis "$REDIS_PID" "$P_REDIS"
run concord-acl "$CONCORD_PID" "$P_CONCORD" --user bench -a bench-password

printf '\n%-12s %9s %-5s %12s %11s\n' server pipeline test "requests/s" "cpu us/req"
sort -t, -k3,3 -k2,2n -k1,1 "$results" | while IFS=, read -r name pipeline test rps cpu; do
    printf '%-12s %9s %-5s %12s %11s\n' "$name" "$pipeline" "$test" "$rps" "$cpu"
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

# ratio A B: A / B to two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
# field SERVER COLUMN: that column of the row of this test and pipeline depth.
field() {
    awk -F, -v s="$1" -v p="$pipeline" -v t="$test" -v f="$2" \
        '$1==s && $2==p && $3==t {print $f}' "$results"
}
echo
echo "Ratios at $CLIENTS clients (throughput, and CPU per request where named):"
printf '%-5s %9s %24s %20s %22s %20s\n' test pipeline "concord-tls / redis-tls" "cpu/req same" \
    "concord-acl / concord" "tls / plain, concord"
for test in $(cut -d, -f3 "$results" | sort -u); do
    for pipeline in $PIPELINES; do
        printf '%-5s %9s %23sx %19sx %21sx %19sx\n' "$test" "$pipeline" \
            "$(ratio "$(field concord-tls 4)" "$(field redis-tls 4)")" \
            "$(ratio "$(field concord-tls 5)" "$(field redis-tls 5)")" \
            "$(ratio "$(field concord-acl 4)" "$(field concord 4)")" \
            "$(ratio "$(field concord-tls 4)" "$(field concord 4)")"
    done
done
