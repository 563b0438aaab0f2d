#!/usr/bin/env bash
# A/B of server builds or settings, with Redis alongside, on idle servers.
#
#   scripts/ab-server.sh                 # Redis, --threads 2, --threads 1
#   SERVERS='old=/tmp/ccbitcask-old new=target/release/ccbitcask' scripts/ab-server.sh
#
# Unlike scripts/bench-server.sh (the issue's benchmark: each GET run follows a
# million SETs on a fresh server), every server here is started once, loaded
# with the same 1M keys, and then every measurement is taken on each server in
# turn, ROUNDS times, so slow drifts of a shared machine hit all of them alike.
# Prints one line per round (ops/s per server, Redis first) and, at the end,
# the median of each column and its ratio to Redis.
#
# SERVERS: space-separated NAME=BINARY[,EXTRA-ARGS] (commas become spaces), e.g.
#   'two=target/release/ccbitcask,--threads,2 one=target/release/ccbitcask,--threads,1'
# Knobs: N (requests per run, 300000), ROUNDS (5), TESTS ("set get"), PS ("1 16"),
#   SYNC (interval:1000; Redis gets appendfsync everysec, or always for always).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/servers.sh

N=${N:-300000}
ROUNDS=${ROUNDS:-5}
TESTS=${TESTS:-set get}
PS=${PS:-1 16}
SYNC=${SYNC:-interval:1000}
BIN=target/release/ccbitcask
SERVERS=${SERVERS:-two=$BIN,--threads,2 one=$BIN,--threads,1}
FSYNC=everysec
[[ "$SYNC" == always ]] && FSYNC=always
BASE_PORT=${BASE_PORT:-16700}

start_all "$BASE_PORT" "$FSYNC" "$SYNC" "$SERVERS"
preload_all 1000000
sleep 3

echo "# N=$N ROUNDS=$ROUNDS SYNC=$SYNC (Redis appendfsync $FSYNC); -r 1000000 -d 100 -c 50"
echo "# columns: ${names[*]}"
results="$WORK/results"
for t in $TESTS; do
    for P in $PS; do
        for r in $(seq 1 "$ROUNDS"); do
            line="$t P$P"
            for p in "${ports[@]}"; do
                v=$(redis-benchmark -p "$p" -t "$t" -n "$N" -r 1000000 -d 100 -c 50 -P "$P" -q --csv \
                    | tail -1 | cut -d, -f2 | tr -d '"')
                line="$line ${v%.*}"
            done
            echo "$line" | tee -a "$results"
        done
    done
done

echo "# medians (ratio to redis)"
awk -v names="${names[*]}" '
    { key = $1 " " $2; if (!(key in seen)) { seen[key] = 1; order[++k] = key }
      for (i = 3; i <= NF; i++) v[key, i - 2, ++n[key, i - 2]] = $i; cols = NF - 2 }
    function median(key, c,   m, i, j, t, a) {
        m = n[key, c]; for (i = 1; i <= m; i++) a[i] = v[key, c, i]
        for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
        return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2 }
    END { split(names, nm, " ")
      for (x = 1; x <= k; x++) { key = order[x]; base = median(key, 1); line = key
        for (c = 1; c <= cols; c++) { m = median(key, c); line = line sprintf("  %s %d (%.2fx)", nm[c], m, m / base) }
        print line } }' "$results"
