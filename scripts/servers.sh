# Shared by the server benchmark scripts (sourced, not run): checks for Redis's
# tools, makes a scratch directory $WORK, kills every pid in PIDS and removes
# $WORK on exit, starts Redis the one way both scripts compare against, and
# waits for a server to answer PING.

for tool in redis-server redis-benchmark redis-cli; do
    command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y redis-server redis-tools" >&2; exit 2; }
done

WORK=$(mktemp -d "/tmp/$(basename "$0" .sh).XXXXXX")
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

wait_port() { # port
    for _ in $(seq 1 200); do
        redis-cli -p "$1" PING >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "server on port $1 did not start" >&2
    exit 1
}

# Starts redis-server in the background as the reference: AOF on with the given
# appendfsync, no RDB snapshots, data in DIR. Its pid is added to PIDS (and is
# ${PIDS[-1]} right after the call).
start_redis_aof() { # port appendfsync dir
    redis-server --port "$1" --bind 127.0.0.1 --save '' --appendonly yes \
        --appendfsync "$2" --dir "$3" --logfile "$3/redis.log" &
    PIDS+=($!)
}
