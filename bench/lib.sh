# The pieces every bench/ script needs, in one place: sourced, never run.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Messages name the script that sourced this file. Nothing here asserts anything about speed.

bench_name=$(basename "${BASH_SOURCE[1]:-bench}" .sh)
bench_repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# fail MESSAGE...: print it, prefixed with the script's name, and exit 1.
fail() {
    echo "$bench_name: $*" >&2
    exit 1
}

# require_tools TOOL...: fail unless each is on PATH. Every tool the scripts use comes from
# Debian's redis-server and redis-tools packages (which ./scripts/test installs), or etcd.
require_tools() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null ||
            fail "$tool is not installed: apt-get install redis-server redis-tools etcd-server etcd-client (or run ./scripts/test for the redis ones)"
    done
}

# free_port: a loopback port nothing listens on (connecting to it is refused), below the
# ephemeral range (32768 and up), where a client's own end of a connection may hold a port
# that no one listens on and that cannot be bound.
free_port() {
    local port
    for _ in $(seq 1 100); do
        port=$((20000 + RANDOM % 12768))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
    fail "found no free port"
}

# wait_ready PORT PID [LOG]: until PING on PORT answers PONG; fail at once if process PID has
# exited (showing the end of LOG when given), or after 60 s.
wait_ready() {
    local port=$1 pid=$2 log=${3:-}
    for _ in $(seq 1 600); do
        if [[ $(redis-cli -h 127.0.0.1 -p "$port" PING 2>/dev/null) == PONG ]]; then
            return
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            [[ -n $log && -f $log ]] && tail -n 20 "$log" >&2
            fail "the server for port $port exited before answering PING"
        fi
        sleep 0.1
    done
    fail "nothing answered PING on port $port within 60 s"
}

# stop_processes PID...: SIGTERM each, then reap them all.
stop_processes() {
    local pid
    for pid in "$@"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "$@"; do
        wait "$pid" 2>/dev/null || true
    done
}

# concord_binary: the Concord binary to measure, as an absolute path. CONCORD_BIN (or its
# older name CONCORD) picks one; otherwise the release binary is built first, so that a run
# never measures a binary older than the source.
concord_binary() {
    local binary=${CONCORD_BIN:-${CONCORD:-}}
    if [[ -z $binary ]]; then
        (cd "$bench_repo_root" && cargo build --release --bin concord >&2) ||
            fail "cargo build failed"
        binary=${CARGO_TARGET_DIR:-$bench_repo_root/target}/release/concord
    fi
    [[ -x $binary ]] || fail "$binary is not an executable"
    realpath "$binary"
}

# cpu_ticks PID: the CPU time (user + system) process PID has used, in clock ticks
# (getconf CLK_TCK a second).
cpu_ticks() {
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}

bench_clock_ticks=$(getconf CLK_TCK)

# cpu_micros_per_request TICKS REQUESTS: TICKS of CPU time spread over REQUESTS, in
# microseconds a request, to two decimals.
cpu_micros_per_request() {
    awk -v ticks="$1" -v hz="$bench_clock_ticks" -v n="$2" 'BEGIN { printf "%.2f", ticks * 1e6 / hz / n }'
}
