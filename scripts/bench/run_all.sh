#!/bin/sh
# run_all.sh: every benchmark of issue 5, W5 (issue 25), W8 and W9 (issue 26), side by side
# with PyTorch, in one command; each is recorded as a run in
# results/bench.db and prints its figures. W2 and W3 run at 1 and 2 threads, each beside its limit lines
# measured in the same run (blas_floor: the FMA peak, oneDNN's and
# OpenBLAS's products of the workload) and PyTorch in its best
# configuration, and say the machine's load.
#
#   scripts/bench/run_all.sh            (from the repository's root)
#
# Builds build/ in Release first (the figures mean nothing in Debug or under
# sanitizers) and installs Debian's python3-torch if /usr/bin/python3 lacks
# it. REPS (default 5) repetitions per figure; BUILD (default build) is the
# build directory. W5_N (default 60000) is W5's images an epoch: a whole
# epoch of the CNN takes half a minute or more a repetition on each side,
# W5_N=6400 a tenth of that. The machine should be otherwise idle: the
# figures are medians, but a busy machine still moves them.
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
REPS=${REPS:-5}
DB=results/bench.db

if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    apt-get install -y python3-torch
fi
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j2 --target backprop w1_floor blas_floor graph_overhead w5_parts w8_lstm >/dev/null
mkdir -p results

run() {
    w=$1
    shift
    "$BUILD/backprop" run --db "$DB" --name "bench-$w" "scripts/bench/$w.lua" \
        build="$BUILD" reps="$REPS" "$@"
    echo
}
run w1
run w4
run w2 threads=1
run w2 threads=2
run w3 threads=1
run w3 threads=2
run w5 threads=1 n="${W5_N:-60000}"
run w5 threads=2 n="${W5_N:-60000}"
run w8 threads=1
run w8 threads=2
echo "w8_lstm (issue 26): W8's two LSTM layers, the engine's loop beside oneDNN's LSTM primitives"
"$BUILD/w8_lstm" 10 "$REPS"
echo "w5_parts (issue 25): a W5 step by parts, oneDNN's primitives beside the engine's kernels"
"$BUILD/w5_parts" 20 "$REPS"
run w9 threads=1
run lua_module
echo "graph_overhead (issue 13): a graph's ns per module per step, 20 modules"
"$BUILD/graph_overhead" 200000 "$REPS"
