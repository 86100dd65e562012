#!/usr/bin/env bash
# A three-node Concord cluster next to a three-node etcd cluster, on this machine's loopback:
# throughput and latency of writes and linearizable reads, time to fail over after the
# leader is killed, and (Concord only) time for a fourth node to catch up and become a voter.
#
# Both clusters fsync before acknowledging (etcd always does; Concord's default is
# `--fsync always`), keep their data in a temporary directory on the same disk, and are
# driven by the same closed-loop generator, examples/cluster_load.rs: one request in flight
# per client, clients spread round-robin over the three nodes (ROUTE=leader sends every client
# to the leader instead). Concord is spoken to over RESP (SET/GET), etcd over its v3 JSON
# gateway (POST /v3/kv/put, /v3/kv/range with the default, linearizable, range).
#
# This is a benchmark, not a test: it asserts nothing about speed. All six servers and the
# generator share this machine's cores, so read the ratios rather than the absolute numbers.
# etcd's gateway turns each HTTP request into a gRPC call inside the etcd process, a cost
# etcd's own gRPC benchmark tool would not pay; Concord's RESP has no such layer.
#
# Usage: bench/cluster-compare.sh
#
# Environment (defaults in brackets):
#   DURATION_SECONDS     length of each throughput run [10]
#   CLIENT_COUNTS        client counts to run at [1 16 64 256]
#   OPERATIONS           `write`, `read`, or both [write read]
#   VALUE_BYTES          bytes per value, both systems [256]
#   KEYSPACE             distinct keys; reads use keys loaded beforehand [100000]
#   ROUTE                `spread` (round-robin over the nodes) or `leader` [spread]
#   TRIALS               failover trials per system; 0 skips the failover part [10]
#   FAILOVER_CLIENTS     clients writing while the leader is killed [16]
#   FAILOVER_KILL_AFTER_MS  how long the load runs before the kill [1000]
#   FAILOVER_REQUEST_TIMEOUT_MS  a client gives up on a request after this long and retries
#                        on the next node [15000, longer than either server's own timeout].
#                        etcd holds a proposal sent to a dead leader until its 7 s request
#                        timeout; a shorter client timeout measures how fast a retrying client
#                        gets through instead
#   CATCHUP_KEYS         keys loaded before a fourth Concord node is added; 0 skips [1000000]
#   CATCHUP_VALUE_BYTES  bytes per value for the catch-up load [VALUE_BYTES]
#   CATCHUP_TIMEOUT_SECONDS  give up on CONCORD.ADDNODE after this long [900]
#   SKIP_ETCD            1: run Concord only, no etcd [0]
#   SKIP_THROUGHPUT      1: skip the throughput table [0]
#   CONCORD_BIN          a Concord binary to use instead of building one
#   CONCORD_ARGS         extra flags for every `concord serve`
#   ETCD_ARGS            extra flags for every `etcd`, e.g. `--heartbeat-interval 50
#                        --election-timeout 300` to match Concord's Raft timeouts (etcd's
#                        defaults are 100 ms and 1000 ms, Concord's 100 ms and 300-600 ms)
#   KEEP_DIR             1: keep the temporary directory (logs, data) on exit [0]
#   CARGO_TARGET_DIR     where cargo builds [<repo>/target]
set -euo pipefail

DURATION_SECONDS=${DURATION_SECONDS:-10}
CLIENT_COUNTS=${CLIENT_COUNTS:-"1 16 64 256"}
OPERATIONS=${OPERATIONS:-"write read"}
VALUE_BYTES=${VALUE_BYTES:-256}
KEYSPACE=${KEYSPACE:-100000}
ROUTE=${ROUTE:-spread}
TRIALS=${TRIALS:-10}
FAILOVER_CLIENTS=${FAILOVER_CLIENTS:-16}
FAILOVER_KILL_AFTER_MS=${FAILOVER_KILL_AFTER_MS:-1000}
FAILOVER_REQUEST_TIMEOUT_MS=${FAILOVER_REQUEST_TIMEOUT_MS:-15000}
CATCHUP_KEYS=${CATCHUP_KEYS:-1000000}
CATCHUP_VALUE_BYTES=${CATCHUP_VALUE_BYTES:-$VALUE_BYTES}
CATCHUP_TIMEOUT_SECONDS=${CATCHUP_TIMEOUT_SECONDS:-900}
SKIP_ETCD=${SKIP_ETCD:-0}
SKIP_THROUGHPUT=${SKIP_THROUGHPUT:-0}
KEEP_DIR=${KEEP_DIR:-0}

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
repo_root=$bench_repo_root
target_dir=${CARGO_TARGET_DIR:-$repo_root/target}
work_dir=$(mktemp -d "${TMPDIR:-/tmp}/concord-cluster-bench.XXXXXX")

# Live server processes, by name (concord1, etcd2, ...), and each one's start command, so
# that a killed node can be started again just as it was.
declare -A server_pids server_commands

cleanup() {
    stop_processes "${server_pids[@]}"
    if [[ $KEEP_DIR == 1 ]]; then
        echo "cluster-compare: logs and data kept in $work_dir" >&2
    else
        rm -rf "$work_dir"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() {
    echo "$*" >&2
}

# json_field NAME: the value of a top-level number or string field of the JSON line on stdin.
json_field() {
    sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"}]*\).*/\1/p"
}

# ---- tools and builds ----------------------------------------------------------------------

require_tools redis-cli
if [[ $SKIP_ETCD != 1 ]] && ! command -v etcd >/dev/null; then
    log "installing etcd (Debian: etcd-server, etcd-client)..."
    apt-get install -y etcd-server etcd-client >"$work_dir/apt.log" 2>&1 ||
        fail "could not install etcd: $(tail -n 5 "$work_dir/apt.log")"
fi

log "building concord and the load generator (release)..."
concord_bin=$(concord_binary)
(cd "$repo_root" && cargo build --release --example cluster_load >&2)
load_bin=$target_dir/release/examples/cluster_load

# ---- servers -------------------------------------------------------------------------------

# start NAME: runs server_commands[NAME] in the background, logging to NAME.log.
start() {
    local name=$1
    # shellcheck disable=SC2086 # the stored command is a list of words, split on purpose.
    ${server_commands[$name]} >>"$work_dir/$name.log" 2>&1 &
    server_pids[$name]=$!
}

# stop NAME: ends a server the script started and reaps it (it may already be dead).
stop() {
    local name=$1
    kill "${server_pids[$name]}" 2>/dev/null || true
    wait "${server_pids[$name]}" 2>/dev/null || true
    unset "server_pids[$name]"
}

# reap NAME: the generator killed this server; collect its exit status (quietly: bash would
# otherwise report the job as Killed).
reap() {
    { wait "${server_pids[$1]}"; } 2>/dev/null || true
    unset "server_pids[$1]"
}

# until_true SECONDS WHAT COMMAND...: retries COMMAND every 0.1 s, or fails naming WHAT.
until_true() {
    local seconds=$1 what=$2
    shift 2
    for _ in $(seq 1 $((seconds * 10))); do
        if "$@" >/dev/null 2>&1; then
            return
        fi
        sleep 0.1
    done
    fail "$what within $seconds s; logs in $work_dir (KEEP_DIR=1 keeps them)"
}

concord_writable() {
    [[ $(redis-cli -h 127.0.0.1 -p "$1" SET cluster-compare:ready 1 2>&1) == OK ]]
}

etcd_writable() {
    etcdctl --endpoints="127.0.0.1:$1" --command-timeout=2s put cluster-compare-ready 1
}

declare -a concord_ports concord_peer_ports etcd_ports etcd_peer_ports

# start_concord_cluster TAG: three fresh Concord nodes, named concordTAG1..3.
start_concord_cluster() {
    local tag=$1 node peers=""
    for node in 1 2 3; do
        concord_ports[node]=$(free_port)
        concord_peer_ports[node]=$(free_port)
        peers+="${peers:+,}$node=127.0.0.1:${concord_peer_ports[node]}"
    done
    for node in 1 2 3; do
        server_commands[concord$tag$node]="$concord_bin serve --node-id $node --bind 127.0.0.1
            --port ${concord_ports[node]} --peer-port ${concord_peer_ports[node]}
            --data-dir $work_dir/concord$tag$node-data --peers $peers --log-level warn
            ${CONCORD_ARGS:-}"
        start "concord$tag$node"
    done
    for node in 1 2 3; do
        until_true 60 "concord node $node did not take a write" concord_writable "${concord_ports[node]}"
    done
}

start_etcd_cluster() {
    local node cluster=""
    for node in 1 2 3; do
        etcd_ports[node]=$(free_port)
        etcd_peer_ports[node]=$(free_port)
        cluster+="${cluster:+,}etcd$node=http://127.0.0.1:${etcd_peer_ports[node]}"
    done
    for node in 1 2 3; do
        server_commands[etcd$node]="etcd --name etcd$node --data-dir $work_dir/etcd$node-data
            --listen-client-urls http://127.0.0.1:${etcd_ports[node]}
            --advertise-client-urls http://127.0.0.1:${etcd_ports[node]}
            --listen-peer-urls http://127.0.0.1:${etcd_peer_ports[node]}
            --initial-advertise-peer-urls http://127.0.0.1:${etcd_peer_ports[node]}
            --initial-cluster $cluster --initial-cluster-state new
            --initial-cluster-token cluster-compare --logger zap --log-level warn
            ${ETCD_ARGS:-}"
        start "etcd$node"
    done
    for node in 1 2 3; do
        until_true 60 "etcd node $node did not take a write" etcd_writable "${etcd_ports[node]}"
    done
}

# targets SYSTEM: the three client addresses, comma-separated.
targets() {
    local ports
    if [[ $1 == concord ]]; then ports=("${concord_ports[@]}"); else ports=("${etcd_ports[@]}"); fi
    printf '127.0.0.1:%s,127.0.0.1:%s,127.0.0.1:%s' "${ports[@]}"
}

# generate SYSTEM ARGS...: one generator run; prints its JSON line.
generate() {
    local system=$1 protocol=resp
    shift
    [[ $system == etcd ]] && protocol=etcd
    "$load_bin" --protocol "$protocol" --targets "$(targets "$system")" \
        --value-bytes "$VALUE_BYTES" --keyspace "$KEYSPACE" "$@" 2>>"$work_dir/generator.log" ||
        fail "the generator failed against $system: $(tail -n 5 "$work_dir/generator.log")"
}

# ---- throughput ----------------------------------------------------------------------------

systems="concord"
[[ $SKIP_ETCD != 1 ]] && systems="concord etcd"

log "work directory: $work_dir; cpus: $(nproc)"
start_concord_cluster ""
log "concord on ports ${concord_ports[*]} (peers ${concord_peer_ports[*]})"
if [[ $SKIP_ETCD != 1 ]]; then
    start_etcd_cluster
    log "$(etcd --version | head -n 1) on ports ${etcd_ports[*]} (peers ${etcd_peer_ports[*]})"
fi

results=$work_dir/results.txt
: >"$results"
if [[ $SKIP_THROUGHPUT != 1 ]]; then
    if [[ $OPERATIONS == *read* ]]; then
        for system in $systems; do
            log "loading $KEYSPACE keys into $system for the reads..."
            line=$(generate "$system" --operation load --clients 32 --pipeline 16)
            [[ $(json_field errors <<<"$line") == 0 ]] || log "  load errors: $line"
        done
    fi
    round=0
    for operation in $OPERATIONS; do
        for clients in $CLIENT_COUNTS; do
            # Which system goes first alternates, so that an order effect (a compaction, a
            # neighbour's build) does not always land on the same one.
            ordered=$systems
            ((round++ % 2)) && ordered=$(echo "$systems" | tr ' ' '\n' | tac | tr '\n' ' ')
            for system in $ordered; do
                line=$(generate "$system" --operation "$operation" --clients "$clients" \
                    --route "$ROUTE" --duration-seconds "$DURATION_SECONDS")
                echo "$system $operation $clients $line" >>"$results"
                log "  $system $operation c=$clients: $line"
            done
        done
    done
fi

# ---- failover ------------------------------------------------------------------------------

# failover_trials SYSTEM: TRIALS kills of the leader; appends the failover times in ms to
# failover-SYSTEM.txt. It runs in this shell, not a subshell, since it restarts servers.
failover_trials() {
    local system=$1 trial line killed node name="" ports
    for trial in $(seq 1 "$TRIALS"); do
        local pids=()
        for node in 1 2 3; do
            if [[ $system == concord ]]; then
                pids+=("127.0.0.1:${concord_ports[node]}=${server_pids[concord$node]}")
            else
                pids+=("127.0.0.1:${etcd_ports[node]}=${server_pids[etcd$node]}")
            fi
        done
        line=$(generate "$system" --operation write --clients "$FAILOVER_CLIENTS" \
            --duration-seconds 60 --kill-leader-after-ms "$FAILOVER_KILL_AFTER_MS" \
            --request-timeout-ms "$FAILOVER_REQUEST_TIMEOUT_MS" \
            --pids "$(IFS=,; echo "${pids[*]}")")
        log "  $system failover trial $trial: $line"
        killed=$(json_field killed <<<"$line")
        [[ -n $killed && $killed != null ]] || fail "the generator killed no leader: $line"
        json_field failover_ms <<<"$line" >>"$work_dir/failover-$system.txt"
        for node in 1 2 3; do
            if [[ $system == concord ]]; then ports=("${concord_ports[@]}"); else ports=("${etcd_ports[@]}"); fi
            [[ $killed == "127.0.0.1:${ports[node - 1]}" ]] && name=$system$node
        done
        reap "$name"
        start "$name"
        for node in 1 2 3; do
            if [[ $system == concord ]]; then
                until_true 60 "concord node $node did not take a write after $name restarted" \
                    concord_writable "${concord_ports[node]}"
            else
                until_true 60 "etcd node $node did not take a write after $name restarted" \
                    etcd_writable "${etcd_ports[node]}"
            fi
        done
        # Let the restarted node catch up before its next trial.
        sleep 1
    done
}

if ((TRIALS > 0)); then
    for system in $systems; do
        log "failover: $TRIALS trials of killing the $system leader under $FAILOVER_CLIENTS writing clients..."
        : >"$work_dir/failover-$system.txt"
        failover_trials "$system"
    done
fi

# ---- catch-up ------------------------------------------------------------------------------

catchup_report=""
if ((CATCHUP_KEYS > 0)); then
    for name in "${!server_pids[@]}"; do
        stop "$name"
    done
    start_concord_cluster catchup
    log "catch-up: loading $CATCHUP_KEYS keys of $CATCHUP_VALUE_BYTES bytes into a fresh Concord cluster..."
    load_started=$(date +%s.%N)
    line=$("$load_bin" --protocol resp --targets "$(targets concord)" --operation load \
        --clients 16 --pipeline 64 --keyspace "$CATCHUP_KEYS" --value-bytes "$CATCHUP_VALUE_BYTES" \
        2>>"$work_dir/generator.log") || fail "the bulk load failed: $(tail -n 5 "$work_dir/generator.log")"
    log "  load: $line"
    load_seconds=$(awk -v s="$load_started" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
    peers4=""
    for node in 1 2 3; do peers4+="$node=127.0.0.1:${concord_peer_ports[node]},"; done
    port4=$(free_port)
    peer_port4=$(free_port)
    peers4+="4=127.0.0.1:$peer_port4"
    server_commands[concordcatchup4]="$concord_bin serve --node-id 4 --bind 127.0.0.1
        --port $port4 --peer-port $peer_port4 --data-dir $work_dir/concordcatchup4-data
        --peers $peers4 --join --log-level warn ${CONCORD_ARGS:-}"
    start concordcatchup4
    until_true 30 "the fourth node did not answer PING" redis-cli -p "$port4" PING
    log "  adding node 4 (CONCORD.ADDNODE 4 127.0.0.1:$peer_port4)..."
    add_started=$(date +%s.%N)
    reply=$(timeout "$CATCHUP_TIMEOUT_SECONDS" redis-cli -h 127.0.0.1 -p "${concord_ports[1]}" \
        CONCORD.ADDNODE 4 "127.0.0.1:$peer_port4" 2>&1) || reply="timed out or failed: $reply"
    add_seconds=$(awk -v s="$add_started" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }')
    # ADDNODE returns once node 4 holds the log (openraft's "caught up"), which is not yet
    # once it applied it: time also until node 4 answers a linearizable DBSIZE with every key.
    expected_keys=$((CATCHUP_KEYS + 1)) # the readiness key too
    keys4=""
    # Created before the first poll: when node 4 has every key at once, no poll is logged, and
    # the report below must still read the file (under `set -e`, an assignment whose last
    # command substitution fails, as `head` of a missing file does, ends the script).
    : >"$work_dir/catchup-polls.log"
    for _ in $(seq 1 $((CATCHUP_TIMEOUT_SECONDS * 5))); do
        keys4=$(timeout 10 redis-cli -h 127.0.0.1 -p "$port4" DBSIZE 2>&1 || echo "no answer")
        [[ $keys4 == "$expected_keys" ]] && break
        echo "$(date +%T.%N) DBSIZE on node 4: $keys4" >>"$work_dir/catchup-polls.log"
        sleep 0.2
    done
    serve_seconds=$(awk -v s="$add_started" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }')
    redis-cli -h 127.0.0.1 -p "$port4" CONCORD.STATUS >"$work_dir/catchup-status.txt" 2>&1 || true
    catchup_report="loaded $CATCHUP_KEYS keys x $CATCHUP_VALUE_BYTES B in ${load_seconds} s ($(json_field ops_per_second <<<"$line") keys/s, $(json_field errors <<<"$line") errors);
  CONCORD.ADDNODE returned after ${add_seconds} s (reply: $reply);
  node 4 answered DBSIZE = $keys4 (want $expected_keys) ${serve_seconds} s after ADDNODE was sent;
  polls that came short: $(wc -l <"$work_dir/catchup-polls.log"), first: $(head -n 1 "$work_dir/catchup-polls.log")"
fi

# ---- report --------------------------------------------------------------------------------

# field SYSTEM OPERATION CLIENTS NAME: one number from the results file.
field() {
    awk -v s="$1" -v o="$2" -v c="$3" '$1 == s && $2 == o && $3 == c { $1 = $2 = $3 = ""; print }' \
        "$results" | json_field "$4"
}

ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.2f", a / b }'
}

ms() {
    awk -v us="$1" 'BEGIN { if (us == "") print "-"; else printf "%.2f", us / 1000 }'
}

echo
echo "Concord vs etcd, 3 nodes each on loopback, fsync on; value $VALUE_BYTES B, keyspace $KEYSPACE," \
    "$DURATION_SECONDS s per run, route $ROUTE, $(nproc) cpus"
if [[ -s $results ]]; then
    printf '%-6s %7s | %10s %8s %8s %6s | %10s %8s %8s %6s | %6s %6s %6s\n' \
        op clients "concord/s" "p50 ms" "p99 ms" errors "etcd/s" "p50 ms" "p99 ms" errors \
        "ops x" "p50 x" "p99 x"
    for operation in $OPERATIONS; do
        for clients in $CLIENT_COUNTS; do
            c_ops=$(field concord "$operation" "$clients" ops_per_second)
            c_p50=$(field concord "$operation" "$clients" p50_us)
            c_p99=$(field concord "$operation" "$clients" p99_us)
            c_errors=$(field concord "$operation" "$clients" errors)
            e_ops=$(field etcd "$operation" "$clients" ops_per_second)
            e_p50=$(field etcd "$operation" "$clients" p50_us)
            e_p99=$(field etcd "$operation" "$clients" p99_us)
            e_errors=$(field etcd "$operation" "$clients" errors)
            printf '%-6s %7s | %10s %8s %8s %6s | %10s %8s %8s %6s | %6s %6s %6s\n' \
                "$operation" "$clients" "$c_ops" "$(ms "$c_p50")" "$(ms "$c_p99")" "$c_errors" \
                "${e_ops:--}" "$(ms "$e_p50")" "$(ms "$e_p99")" "${e_errors:--}" \
                "$(ratio "$c_ops" "$e_ops")" "$(ratio "$c_p50" "$e_p50")" "$(ratio "$c_p99" "$e_p99")"
        done
    done
    echo "(ratios are Concord / etcd: above 1 is better for throughput, worse for latency)"
fi

if ((TRIALS > 0)); then
    echo
    echo "Failover: SIGKILL the leader under $FAILOVER_CLIENTS writing clients; time until the first" \
        "write sent after the kill succeeds ($TRIALS trials, client timeout $FAILOVER_REQUEST_TIMEOUT_MS ms)"
    for system in $systems; do
        values=$(tr '\n' ' ' <"$work_dir/failover-$system.txt")
        summary=$(echo "$values" | tr ' ' '\n' | grep -v '^$' | sort -g | awk '
            { v[NR] = $1 }
            END { if (NR == 0) { print "no data"; exit }
                  p50 = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
                  printf "p50 %.0f ms, max %.0f ms", p50, v[NR] }')
        printf '  %-8s %s   (all, ms: %s)\n' "$system" "$summary" "$values"
    done
fi

if [[ -n $catchup_report ]]; then
    echo
    echo "Catch-up (Concord): $catchup_report"
fi
