#!/usr/bin/env bash
# Server CPU per SET (or per GET, with TEST=get), on fresh servers, for `--sync
# always` against Redis with `appendfsync always` (or interval:1000 against
# everysec with SYNC=interval:1000).
#
#   scripts/cpu-per-set.sh                                   # Redis, target/release/ccbitcask
#   SERVERS='old=/tmp/ccbitcask-old new=target/release/ccbitcask' scripts/cpu-per-set.sh
#
# Each server is started on an empty directory and given ROUNDS runs of
# `redis-benchmark -t TEST -n N -r 1000000 -d 100 -c 50 -P P`, in turn with the
# others. For every run it prints ops/s, the server's CPU per SET (utime + stime
# from /proc/PID/stat) and the whole machine's busy CPU per SET (/proc/stat, which
# includes redis-benchmark and the kernel's journal thread): at `-P 1` on two cores
# the machine is close to saturated, so CPU per SET is what decides throughput.
# Knobs: N (100000), ROUNDS (3), P (1), SYNC (always), TEST (set; get needs PRELOAD
#   for its reads to find values), SERVERS (NAME=BINARY[,ARGS]),
#   PRELOAD (0: SETs of the same key space, at -P 16, before the first round, so that
#   the measured SETs replace existing keys as in scripts/ab-server.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/servers.sh

N=${N:-100000}
TEST=${TEST:-set}
ROUNDS=${ROUNDS:-3}
P=${P:-1}
SYNC=${SYNC:-always}
SERVERS=${SERVERS:-ccbitcask=target/release/ccbitcask}
FSYNC=everysec
[[ "$SYNC" == always ]] && FSYNC=always
BASE_PORT=${BASE_PORT:-16800}
HZ=$(getconf CLK_TCK)

start_all "$BASE_PORT" "$FSYNC" "$SYNC" "$SERVERS"
if [[ ${PRELOAD:-0} -gt 0 ]]; then
    preload_all "$PRELOAD"
fi

proc_cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
busy_cpu() { awk 'NR == 1 {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
switches() { cat /proc/"$1"/task/*/status | awk '/ctxt_switches/ {s += $2} END {print s}'; }
per_request() { awk -v d="$1" -v hz="$HZ" -v n="$N" 'BEGIN {printf "%.2f", d * 1e6 / hz / n}'; }

echo "# SYNC=$SYNC (Redis appendfsync $FSYNC); -t $TEST -n $N -r 1000000 -d 100 -c 50 -P $P; preloaded with ${PRELOAD:-0} SETs"
echo "# server: ops/s, server µs CPU per request, machine µs busy per request, server context switches per request"
for round in $(seq 1 "$ROUNDS"); do
    for i in "${!names[@]}"; do
        c0=$(proc_cpu "${pids[$i]}"); b0=$(busy_cpu); s0=$(switches "${pids[$i]}")
        ops=$(redis-benchmark -p "${ports[$i]}" -t "$TEST" -n "$N" -r 1000000 -d 100 -c 50 -P "$P" --csv |
            awk -F'"' 'NR == 2 {print int($4)}')
        c1=$(proc_cpu "${pids[$i]}"); b1=$(busy_cpu); s1=$(switches "${pids[$i]}")
        sw=$(awk -v d=$((s1 - s0)) -v n="$N" 'BEGIN {printf "%.2f", d / n}')
        echo "round $round ${names[$i]}: $ops ops/s, $(per_request $((c1 - c0))) µs CPU, $(per_request $((b1 - b0))) µs busy, $sw switches"
    done
done
