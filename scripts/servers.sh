# Shared by the server benchmark scripts (sourced, not run): checks for Redis's
# tools, makes a scratch directory $WORK, kills every pid in PIDS and removes
# $WORK on exit, starts Redis the one way every script compares against
# (start_redis_aof) and the servers an A/B compares (start_all), loads them alike
# (preload_all), and waits for a server to answer PING.

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

# Starts Redis on BASE_PORT (appendfsync FSYNC, data in $WORK/redis) and each
# server of SERVERS (space-separated NAME=BINARY[,EXTRA-ARGS], commas becoming
# spaces, started as `BINARY --db $WORK/NAME serve --sync SYNC EXTRA-ARGS`) on
# the ports after it, and waits for all of them. Sets the arrays names, ports
# and pids (Redis first).
start_all() { # base_port appendfsync sync servers
    names=(redis)
    ports=("$1")
    pids=()
    mkdir -p "$WORK/redis"
    start_redis_aof "$1" "$2" "$WORK/redis"
    pids+=("${PIDS[-1]}")
    local port=$1 spec name cmd
    for spec in $4; do
        port=$((port + 1))
        name=${spec%%=*}
        IFS=, read -r -a cmd <<<"${spec#*=}"
        "${cmd[0]}" --db "$WORK/$name" serve --bind "127.0.0.1:$port" --sync "$3" \
            "${cmd[@]:1}" 2>"$WORK/$name.log" &
        PIDS+=($!)
        pids+=($!)
        names+=("$name")
        ports+=("$port")
    done
    for port in "${ports[@]}"; do wait_port "$port"; done
}

# Gives every server start_all started the same N SETs of the 1M-key space, at
# -P 16, so that measured writes replace existing keys and reads find values.
preload_all() { # n
    local port
    for port in "${ports[@]}"; do
        redis-benchmark -p "$port" -t set -n "$1" -r 1000000 -d 100 -c 50 -P 16 -q >/dev/null
    done
}
