#!/bin/sh
# w1_instructions.sh: instructions per step of W1 (a), W1 (b) and the floor,
# counted by callgrind. A time depends on what else the machine is doing;
# an instruction count does not, so this is the figure to compare across
# changes on a shared machine (the time is still the one that counts: the
# step is a chain of dependent operations, and two versions with the same
# count can differ in time). Each loop runs N and 2N steps; the difference
# over N is the cost of a step, without the start-up's.
#
#   scripts/bench/w1_instructions.sh        (from the repository's root)
#
# BUILD (default build) is a Release build directory; N (default 10000).
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
N=${N:-10000}

# the instructions a command executes, as callgrind counts them
count() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 |
        sed -n 's/.*Collected : //p'
}
loop() { count "$BUILD/backprop" lua scripts/bench/w1_loop.lua "$1" "$2"; }
floor() { count "$BUILD/w1_floor" "$1" 1; }

for k in a b; do
    echo "w1${k}_instructions_per_step $((($(loop $k $((2 * N))) - $(loop $k $N)) / N))"
done
echo "floor_instructions_per_step $((($(floor $((2 * N))) - $(floor $N)) / N))"
