#!/bin/sh
# ui.sh: `backprop ui` on the run log of a busy year (issue 17): how long
# it takes from the command to its first answer, and what each page's
# request costs, on a database of 10,000 runs.
#
#   cmake --build build --target w7 backprop
#   scripts/bench/ui.sh [DB]           (default build-ui/ui.db, made once)
#
# The database is W7's generator at a smaller size (build/w7 make DB 10000
# 100 1000000: 10,000 runs of 100 steps and ten parameters each, in sweeps
# of 1,000, and one run of 1,000,000 steps, id 10001), written through the
# run log's own API, summaries included; about a minute here.
#
# start: from starting `backprop ui --port 0` to the first answer of
# /api/runs (the table's first page), REPS times, median, min and max in
# ms. Each request: curl's total time over REPS requests on loopback (each
# with an argument of its own, bench=I, so that none comes from the
# server's cache of a second),
# median, min and max in ms. The issue's targets: start well under a
# second; a metric of 1,000,000 steps under 100 ms. Then the load: a run
# logging at every step with 50 clients polling it (below).
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
DB=${1:-build-ui/ui.db}
REPS=${REPS:-11}
if [ ! -e "$DB" ]; then
    mkdir -p "$(dirname "$DB")"
    echo "ui.sh: making $DB (10,000 runs, and one of 1,000,000 steps)"
    "$BUILD/w7" make "$DB" 10000 100 1000000
fi

# stats: "median M min A max B" of the numbers on stdin (ms).
stats() { sort -n | awk '{v[NR]=$1} END {printf "median %.1f min %.1f max %.1f", v[int((NR+1)/2)], v[1], v[NR]}'; }
now_ms() { date +%s%N | awk '{printf "%.3f\n", $1 / 1e6}'; }

OUT=$(mktemp)
PID=""
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; rm -f "$OUT"' EXIT
echo "ui.sh: $DB, $(nproc) cores, $(uname -r)"
if [ "${LOAD_ONLY:-0}" = 0 ]; then # LOAD_ONLY=1: the load alone
for i in $(seq "$REPS"); do
    t0=$(now_ms)
    "$BUILD/backprop" ui --db "$DB" --port 0 > "$OUT" 2>&1 &
    PID=$!
    url=""
    while [ -z "$url" ]; do url=$(sed -n 's|.*\(http://127.0.0.1:[0-9]*\)/.*|\1|p' "$OUT"); done
    until curl -sf -o /dev/null "$url/api/runs"; do :; done
    t1=$(now_ms)
    echo "$t0 $t1" | awk '{print $2 - $1}'
    kill $PID; wait $PID 2>/dev/null || true; PID=""
done | stats | sed 's/^/start_ms (to the first page of runs) /'; echo

"$BUILD/backprop" ui --db "$DB" --port 0 > "$OUT" 2>&1 &
PID=$!
url=""
while [ -z "$url" ]; do url=$(sed -n 's|.*\(http://127.0.0.1:[0-9]*\)/.*|\1|p' "$OUT"); done
until curl -sf -o /dev/null "$url/api/runs"; do :; done
for path in / /chart.min.js "/api/runs" "/api/runs?offset=5000" "/api/runs?sort=final_loss&desc=0" \
    "/api/runs?sort=param:lr&filter=lr%3C0.05,hidden=4" "/api/runs?name=xor&status=completed" \
    /api/run/5000 "/api/run/5000/metric?name=loss" "/api/run/10001/metric?name=loss&points=2000" \
    /api/sweeps /api/sweep/5 "/api/sql?q=SELECT%20count(*)%20FROM%20runs"; do
    bytes=$(curl -s "$url$path" | wc -c)
    case $path in *\?*) sep="&" ;; *) sep="?" ;; esac
    for i in $(seq "$REPS"); do # an argument of its own: never from the cache
        curl -s -o /dev/null -w '%{time_total}\n' "$url$path${sep}bench=$i" | awk '{print $1 * 1000}'
    done | stats | awk -v p="$path" -v b="$bytes" '{print p ": " $0 " (" b " bytes)"}'
done
kill $PID; wait $PID 2>/dev/null || true; PID=""
fi

# Load: a run logging `loss` at every step for 10 s (ui_writer.lua), alone,
# then with `backprop ui` open and 50 clients polling it every 2 s (its
# record, its curve, the first page of runs: what the page of a running
# run asks) from the moment it exists, in turns (alone first in odd
# rounds, last in even ones), ROUNDS times, with the CPU the server used. Every request must be answered 200,
# the writer never see "database is locked", and its steps per second stay
# within 5% of the run alone.
ROUNDS=${ROUNDS:-3}
LDB=$(mktemp -d)/load.db
"$BUILD/backprop" run --quiet --db "$LDB" scripts/bench/ui_writer.lua seconds=0.1 >/dev/null
writer() { "$BUILD/backprop" run --quiet --db "$LDB" scripts/bench/ui_writer.lua 2>&1; }
# poll URL RUN: until $LDB.stop exists, every 2 s, 50 clients' requests
# at once (one curl, 50 connections in parallel, so that starting clients
# costs the machine nothing much), each client's 3; the status codes out.
poll() {
    for c in $(seq 50); do
        for p in "run/$2" "run/$2/metric?name=loss" runs; do
            printf 'url = "%s/api/%s"\noutput = /dev/null\n' "$1" "$p"
        done
    done > "$LDB.curl"
    while [ ! -e "$LDB.stop" ]; do
        curl -s --no-progress-meter --parallel --parallel-max 50 -w '%{http_code}\n' --config "$LDB.curl"
        sleep 2
    done
}
# cpu_ms PID: the CPU time (user + system) a live process has used, in ms,
# from /proc (clock ticks): what the server takes from the writer's cores,
# a figure the machine's other load moves far less than steps per second.
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) * 1000 / hz}' "/proc/$1/stat"; }
for r in $(seq "$ROUNDS"); do
    # alone first in odd rounds, last in even ones, so that a drift of the
    # machine's load falls on both sides
    if [ $((r % 2)) = 1 ]; then alone=$(writer); echo "alone: $alone"; fi
    "$BUILD/backprop" ui --db "$LDB" --port 0 > "$OUT" 2>&1 &
    PID=$!
    url=""
    while [ -z "$url" ]; do url=$(sed -n 's|.*\(http://127.0.0.1:[0-9]*\)/.*|\1|p' "$OUT"); done
    run=$(( $("$BUILD/backprop" query --db "$LDB" --csv "SELECT max(id) FROM runs" | tail -1) + 1 ))
    rm -f "$LDB.stop"
    writer > "$LDB.out" &
    WPID=$!
    until curl -sf -o /dev/null "$url/api/run/$run"; do sleep 0.05; done
    poll "$url" "$run" > "$LDB.codes" &
    POLL=$!
    wait $WPID
    touch "$LDB.stop"
    wait $POLL
    server=$(cpu_ms $PID)
    kill $PID; wait $PID 2>/dev/null || true; PID=""
    echo "with 50 clients: $(cat "$LDB.out")"
    echo "  the server's CPU over the run: $server ms"
    cat "$LDB".codes* | sort | uniq -c | awk '{printf "  HTTP %s: %s requests\n", $2, $1}'
    grep -q "locked" "$LDB.out" && echo "  the writer saw: database is locked"
    rm -f "$LDB".codes*
    if [ $((r % 2)) = 0 ]; then alone=$(writer); echo "alone: $alone"; fi
done
rm -rf "$(dirname "$LDB")"
