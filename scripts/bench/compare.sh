#!/bin/sh
# compare.sh: backprop's own side of W1 to W4 at another commit and at the
# working tree, in one run, taking turns, with the ratio of each figure.
#
#   scripts/bench/compare.sh REV [ROUNDS]      (from the repository's root)
#
# For a change that must not slow anything down (a refactoring, a new fast
# path beside an old one): REV's sources are exported into build-base/src
# and built in Release into build-base/build, the working tree into
# build/ (BUILD); then each round runs every workload once with each build,
# base first, with reps=3 and peers=false (no PyTorch, no C floors), so
# that a change of the machine's load falls on both. Prints, per figure,
# the median over ROUNDS (default 3) rounds of each build's median, and
# new/base: above 1 means the working tree is slower for a time per step,
# faster for a rate. The scripts of the working tree run on both builds,
# each build into a database of its own (an older build refuses a newer
# schema).
set -eu
cd "$(dirname "$0")/../.."
[ $# -ge 1 ] || { echo "usage: scripts/bench/compare.sh REV [ROUNDS]" >&2; exit 2; }
REV=$1
ROUNDS=${2:-3}
BUILD=${BUILD:-build}
BASE=build-base
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

rm -rf "$BASE/src"
mkdir -p "$BASE/src"
git archive "$(git rev-parse --verify "$REV^{commit}")" | tar -x -C "$BASE/src"
cmake -S "$BASE/src" -B "$BASE/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BASE/build" -j2 --target backprop >/dev/null
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j2 --target backprop >/dev/null

one() { # side exe workload args...
    side=$1 exe=$2 w=$3
    shift 3
    "$exe" run --quiet --db "$OUT/$side.db" "scripts/bench/$w.lua" reps=3 peers=false "$@" |
        awk -v side="$side" -v tag="$w${*:+:}$(echo "$*" | tr " " ",")" '/^w[0-9a-z_]+ +[0-9.e+-]+ /{print side, tag, $1, $2}' \
            >>"$OUT/figures"
}
r=1
while [ "$r" -le "$ROUNDS" ]; do
    echo "round $r of $ROUNDS" >&2
    for side in base new; do
        exe=$BUILD/backprop
        [ "$side" = base ] && exe=$BASE/build/backprop
        one "$side" "$exe" w1
        one "$side" "$exe" w4
        one "$side" "$exe" w2 threads=1
        one "$side" "$exe" w2 threads=2
        one "$side" "$exe" w3 threads=1
        one "$side" "$exe" w3 threads=2
    done
    r=$((r + 1))
done
"$BUILD/backprop" lua scripts/bench/compare_summary.lua "$REV" "$OUT/figures"
