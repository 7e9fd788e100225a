#!/bin/sh
# check.sh PREFIX: checks an installed backprop as a user meets it, from a
# scratch folder outside the source tree, with only PREFIX's paths:
#  - the command on the PATH runs the lecture (and iris, reading the data
#    installed beside the scripts) from share/backprop/;
#  - a stock lua5.4 requires the module from PREFIX (with /usr and
#    /usr/local: with no LUA_CPATH at all, from the folder Debian's lua5.4
#    searches);
#  - the stock sqlite3 shell loads bpsql (`.load bpsql` with /usr) and reads
#    the lecture's weight w211 from the run log;
#  - each installed header compiles alone, and a C program (lecture.c)
#    builds through pkg-config against the shared and the static
#    libbackprop, and runs;
#  - man finds backprop(1) and backprop-lua(3), bash-completion loads the
#    completion;
#  - no installed file names the source or build tree.
# .ci/install-check runs it on a temporary prefix, on /usr/local and on the
# Debian package.
set -eu
prefix=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() {
    echo "check.sh: $*" >&2
    exit 1
}
# /usr (the package) and /usr/local (`cmake --install build` as README's
# first line) are where the stock tools look with no setting at all: the
# module in lua5.4's own path, the library in the dynamic linker's cache
# (after ldconfig), man's and bash-completion's own folders. A bare
# `.load bpsql` is /usr's only (dlopen searches the system's folders, not
# the cache, for a name with no "lib").
system=0
case $prefix in /usr | /usr/local) system=1 ;; esac

# Nothing from the environment that would find a build tree.
unset LUA_PATH LUA_CPATH LUA_PATH_5_4 LUA_CPATH_5_4 BACKPROP_DB LD_LIBRARY_PATH
PATH=$prefix/bin:/usr/bin:/bin
export PATH

pc=$(find "$prefix/lib" -maxdepth 3 -name backprop.pc -path '*/pkgconfig/*' | head -n 1)
[ -n "$pc" ] || fail "no backprop.pc under $prefix/lib"
PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH
libdir=$(pkg-config --variable=libdir backprop)
[ -f "$libdir/libbackprop.so" ] || fail "pkg-config's libdir $libdir has no libbackprop.so"
share=$prefix/share/backprop

echo "== the command: $(command -v backprop), $(backprop --version)"
[ "$(command -v backprop)" = "$prefix/bin/backprop" ] || fail "backprop is not $prefix/bin's"
backprop run "$share/scripts/seed_example.lua" >lecture.out || fail "the lecture failed"
grep -q '^new w111        =   0.49958' lecture.out || fail "the lecture's figures: $(cat lecture.out)"
backprop run --quiet "$share/scripts/iris.lua" >iris.out || fail "iris failed: $(cat iris.out)"
grep -q '^test: loss' iris.out || fail "iris: $(cat iris.out)"
[ -f results/runs.db ] || fail "no run log in results/runs.db"
backprop runs | grep -q seed_example || fail "backprop runs does not list the lecture"

echo "== backprop ui (it opens libmicrohttpd by name when it starts)"
backprop ui --port 0 >ui.out 2>&1 &
ui=$!
for _ in $(seq 100); do
    if grep -q 'at http://' ui.out || ! kill -0 $ui 2>/dev/null; then break; fi
    sleep 0.1
done
kill $ui 2>/dev/null || true
wait $ui 2>/dev/null || true
grep -q 'at http://127.0.0.1:' ui.out || fail "backprop ui did not start: $(cat ui.out)"
head -n 1 ui.out

echo "== a stock lua5.4"
code='local bp = require "backprop"
  local net = bp.net(2):add(3, "sigmoid", {weights = {{0.5, 0.3}, {-0.1, 0.1}, {-0.4, 0.6}}, bias = 1})
  net:add(1, "identity", {weights = {{-0.23, 0.3, 0.1}}, bias = 1})
  local out = net:forward({1, 2})[1]
  assert(math.abs(out - 1.106) < 5e-4, "output " .. out)
  print("lua5.4 loaded " .. package.searchpath("backprop", package.cpath))'
if [ $system = 1 ]; then
    lua5.4 -e "$code" >lua.out || fail "lua5.4 could not require backprop"
else
    LUA_CPATH="$libdir/lua/5.4/?.so" lua5.4 -e "$code" >lua.out ||
        fail "lua5.4 could not require backprop"
fi
cat lua.out
grep -qx "lua5.4 loaded $libdir/lua/5.4/backprop.so" lua.out || fail "the module is not $libdir's"

echo "== the sqlite3 shell"
if [ "$prefix" = /usr ]; then load=bpsql; else load=$libdir/bpsql; fi
w211=$(sqlite3 results/runs.db ".load $load" "SELECT w.value FROM runs r, snapshots s,
         bp_weights(s.data, s.shape) w WHERE s.run_id = r.id AND r.name = 'seed_example'
         AND s.step = 0 AND w.name = 'w211'") || fail "sqlite3 could not .load $load"
[ "$w211" = "-0.23" ] || fail "bp_weights gave w211 = '$w211', not -0.23"
echo "sqlite3 .load $load: w211 = $w211"

echo "== a C program through pkg-config: $(pkg-config --cflags --libs backprop)"
# Each installed header stands alone: it includes nothing not installed.
for h in "$prefix/include/backprop"/*.h; do
    # shellcheck disable=SC2046
    printf '#include <%s>\n' "${h##*/}" | cc -std=c11 -Wall -Wextra -Werror -fsyntax-only -x c - \
        $(pkg-config --cflags backprop) || fail "${h##*/} does not compile alone"
done
cp "$here/lecture.c" .
# shellcheck disable=SC2046 # pkg-config's flags are words
cc -Wall -Wextra -Werror -o lecture lecture.c $(pkg-config --cflags --libs backprop) -lm
if [ $system = 1 ]; then ./lecture; else LD_LIBRARY_PATH=$libdir ./lecture; fi ||
    fail "lecture.c against the shared library failed"
libs=$(pkg-config --static --libs backprop | sed 's/-lbackprop//')
# shellcheck disable=SC2046,SC2086
cc -o lecture-static lecture.c $(pkg-config --cflags backprop) "$libdir/libbackprop.a" $libs -lm
if ldd ./lecture-static | grep -q libbackprop; then fail "lecture-static needs libbackprop.so"; fi
./lecture-static || fail "lecture.c against the static library failed"

echo "== man and bash completion"
if [ $system = 0 ]; then
    MANPATH=$prefix/share/man
    export MANPATH
fi
for page in "1 backprop" "3 backprop-lua"; do
    # shellcheck disable=SC2086 # "1 backprop": section, name
    set -- $page
    path=$(man -w "$1" "$2") || fail "man cannot find $2($1)"
    # (readlink: Debian's /usr/local/man is a link to /usr/local/share/man)
    [ "$(readlink -f "$path")" = "$(readlink -f "$prefix/share/man/man$1/$2.$1.gz")" ] ||
        fail "man found $2($1) at $path"
done
man -P cat backprop 2>/dev/null | grep -q 'backprop run' || fail "man backprop shows nothing"
if [ $system = 1 ]; then dirs=/usr/local/share:/usr/share; else dirs=$prefix/share; fi
XDG_DATA_DIRS=$dirs bash -c '. /usr/share/bash-completion/bash_completion &&
    __load_completion backprop && complete -p backprop' | grep -q _backprop ||
    fail "bash-completion does not load the completion from $dirs"
echo "man: $(man -w backprop); bash-completion loads backprop's from XDG_DATA_DIRS=$dirs"

echo "== nothing installed names the source tree"
files=$(find "$prefix/bin/backprop" "$libdir/bpsql.so" "$libdir"/libbackprop* "$libdir/lua/5.4/backprop.so" \
    "$pc" "$prefix/include/backprop" "$share" "$prefix/share/bash-completion/completions/backprop" -type f)
# shellcheck disable=SC2086
if grep -l "$src" $files; then fail "these files name $src"; fi
echo "check.sh: $prefix is sound"
