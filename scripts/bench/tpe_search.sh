#!/bin/sh
# tpe_search.sh: issue 16's search benchmark: Branin (2 parameters) and
# Hartmann6 (6), each a script that computes the function and logs it as
# the objective (branin.lua, hartmann6.lua: their spaces declared with
# bp.suggest, so the sweeps take no parameters), TRIALS trials (default 40)
# for each sweep seed 1..SEEDS (default 20): the best value found, for
# backprop's random, tpe and tpe:multivariate samplers and, in the same run,
# Optuna's RandomSampler and TPESampler (and its multivariate form) on the
# same functions (tpe_search.py; Debian's python3-optuna, installed here
# when missing). Prints the median and quartiles per function and sampler,
# and the median distance to the minimum against Optuna's TPE's. Then the
# cost of one TPE proposal after 1,000 finished trials (build/tpe_overhead).
#
#   scripts/bench/tpe_search.sh [TRIALS [SEEDS]]   (from the repository's root)
set -eu
cd "$(dirname "$0")/../.."
TRIALS=${1:-40}
SEEDS=${2:-20}
BUILD=${BUILD:-build}
BP=$BUILD/backprop
PY=${PYTHON:-/usr/bin/python3} # Debian's, which python3-optuna installs into
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
cmake --build "$BUILD" -j2 --target backprop tpe_overhead >/dev/null
if ! "$PY" -c "import optuna" 2>/dev/null; then
    apt-get install -y python3-optuna >/dev/null || echo "no python3-optuna: backprop's side only" >&2
fi
echo "load: $(uptime)"
for fn in branin hartmann6; do
    for sampler in random tpe tpe:multivariate; do
        seed=1
        while [ "$seed" -le "$SEEDS" ]; do
            db=$OUT/$fn-$seed.db
            "$BP" sweep --db "$db" -j 1 --trials "$TRIALS" --seed "$seed" \
                --sampler "$sampler" "scripts/bench/$fn.lua" >/dev/null 2>&1
            best=$("$BP" query --db "$db" --csv \
                   "SELECT printf('%.17g', min(objective)) FROM sweep_trials" | tail -1)
            echo "$fn,$sampler,$seed,$best" >>"$OUT/backprop.csv"
            rm -f "$db" "$db-wal" "$db-shm" "$db-lock"
            seed=$((seed + 1))
        done
    done
done
if "$PY" -c "import optuna" 2>/dev/null; then
    "$PY" scripts/bench/tpe_search.py optuna "$TRIALS" "$SEEDS" "$OUT/optuna.csv"
fi
"$PY" scripts/bench/tpe_search.py table "$OUT"/*.csv
"$BUILD/tpe_overhead" 1000 21
