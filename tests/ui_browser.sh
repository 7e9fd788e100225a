#!/bin/sh
# ui_browser.sh: `backprop ui` in a real browser, Debian's chromium,
# headless: every page loaded against a database made by the example
# scripts (and a run named <script>...), and what the page shows checked in
# the DOM chromium dumps once the page's scripts are done: the number of
# rows, a chart drawn with the right number of series (app.js writes them
# in canvas[data-series]), the SQL page's answer, the 404 page, a name
# holding <script> shown as text, and no error (app.js gathers in
# body[data-errors] what the console would show: uncaught errors, rejected
# promises, console.error, files that failed to load, CSP refusals; the
# headless chromium here does not log its console). A screenshot of each
# page is kept in
# $BP_BINARY_DIR/ui_screenshots/.
#
# Exit 77 (ctest: skipped) where chromium is not installed, unless
# BP_REQUIRE_BROWSER=1 (CI, .ci/run): there it fails.
set -u
EXE=${BP_EXE:?}
SRC=${BP_SOURCE_DIR:?}
SHOTS=${BP_BINARY_DIR:?}/ui_screenshots
CHROMIUM=$(command -v chromium || true)
if [ -z "$CHROMIUM" ]; then
    echo "ui_browser: chromium is not installed (apt-get install chromium)"
    [ "${BP_REQUIRE_BROWSER:-0}" = 1 ] && exit 1
    exit 77
fi

TMP=$(mktemp -d /tmp/bp_ui_browser_XXXXXX)
DB=$TMP/runs.db
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
fails=0
fail() { echo "ui_browser: FAIL: $*"; fails=$((fails + 1)); }

# The database: xor twice, a sweep of 4 trials, and a run with snapshots,
# tags and notes whose name, tag and note hold <script>.
cat > "$TMP/odd.lua" <<'EOF'
local bp = require "backprop"
local net = bp.net(2):add(3, "tanh"):add(1, "sigmoid")
bp.tag("<b>kind</b>", "<script>window.pwned=1</script>")
bp.note("<script>window.pwned=2</script>")
local x, y = {{0, 0}, {0, 1}, {1, 0}, {1, 1}}, {{0}, {1}, {1}, {0}}
for step = 1, 200 do
  bp.log("loss", net:train_step(x, y, "bce", 0.5), step)
  bp.log("lr", 0.5 / step, step)
  if step % 50 == 0 then bp.log_weights(net, step) end
end
EOF
cd "$SRC" || exit 1
"$EXE" run --quiet --db "$DB" scripts/xor.lua lr=1 hidden=3 >/dev/null || fail "xor run"
"$EXE" run --quiet --db "$DB" scripts/xor.lua lr=0.8 >/dev/null || fail "xor run"
"$EXE" sweep --db "$DB" scripts/sweep_xor.lua lr=0.1,2 hidden=2,4 steps=40 >/dev/null 2>&1 ||
    fail "sweep"
"$EXE" run --quiet --db "$DB" --name '<script>window.pwned=3</script>' "$TMP/odd.lua" >/dev/null ||
    fail "odd run"
# runs 1-2 xor, 3-6 the sweep's trials, 7 the odd one

"$EXE" ui --db "$DB" --port 0 > "$TMP/ui.out" 2>&1 &
PID=$!
for i in 1 2 3 4 5 6 7 8 9 10; do
    grep -q "http://" "$TMP/ui.out" && break
    sleep 0.2
done
URL=$(sed -n 's|.*\(http://127.0.0.1:[0-9]*\)/.*|\1|p' "$TMP/ui.out")
[ -n "$URL" ] || { cat "$TMP/ui.out"; fail "no address printed"; exit 1; }
mkdir -p "$SHOTS"

# chrome PATH [ARGS...]: chromium headless on $URL$PATH, its log in
# $TMP/chrome.log; the flags are those known to work here (no network but
# loopback; a fresh profile each time).
chrome() {
    page=$1
    shift
    rm -rf "$TMP/profile"
    timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic \
        --no-first-run --disable-background-networking --disable-component-update \
        --disable-sync --user-data-dir="$TMP/profile" --window-size=1400,1000 \
        --virtual-time-budget=8000 "$@" "$URL$page" 2>>"$TMP/chrome.log"
}

# page NAME PATH: the DOM into $TMP/NAME.html and a screenshot; fails on
# an error the page noted.
page() {
    chrome "$2" --dump-dom > "$TMP/$1.html"
    chrome "$2" --screenshot="$SHOTS/$1.png" >/dev/null
    grep -q 'data-ready="1"' "$TMP/$1.html" || fail "$1: the page never said it was drawn"
    if grep -q 'data-errors=' "$TMP/$1.html"; then
        fail "$1: the page noted errors: $(grep -o 'data-errors="[^"]*"' "$TMP/$1.html")"
    fi
}

# count NAME PATTERN: how many times PATTERN occurs in the page's DOM.
count() { grep -o "$2" "$TMP/$1.html" | wc -l; }

expect() { # expect WHAT GOT WANT
    [ "$2" = "$3" ] || fail "$1: $2, expected $3"
}

page runs /runs
expect "rows of the runs table" "$(count runs '<tr class="run">')" 7
grep -q '&lt;script&gt;window.pwned=3&lt;/script&gt;' "$TMP/runs.html" ||
    fail "runs: the name holding <script> is not shown as text"
grep -q '<script>window.pwned' "$TMP/runs.html" && fail "runs: a <script> from the database in the DOM"

page runs_filtered "/runs?filter=lr%3C0.5&status=completed"
expect "rows with lr < 0.5" "$(count runs_filtered '<tr class="run">')" 2

page run /run/1
expect "series of run 1's loss chart" \
    "$(count run '<canvas data-metric="loss"[^>]*data-series="1"')" 1

page odd /run/7
expect "charts of run 7" "$(count odd '<canvas data-metric=')" 2
grep -q '&lt;script&gt;window.pwned=2&lt;/script&gt;' "$TMP/odd.html" ||
    fail "run 7: the note holding <script> is not shown as text"
grep -q '<script>window.pwned' "$TMP/odd.html" && fail "run 7: a <script> from the database in the DOM"

page compare "/compare?runs=1,2"
expect "series of the compared loss" \
    "$(count compare '<canvas data-metric="loss"[^>]*data-series="2"')" 1
expect "parameters marked as differing" "$(count compare '<tr class="diff">')" 2

page sweep /sweep/1
expect "rows of the ranked trials" "$(count sweep '<tr class="trial')" 4
expect "lines of the parallel coordinates" \
    "$(count sweep '<canvas id="parallel"[^>]*data-series="4"')" 1

page weights /weights/7
expect "charts of layers" "$(count weights '<canvas data-layer=')" 4
expect "snapshots in a layer's chart" \
    "$(count weights '<canvas data-layer="layer 1 weights"[^>]*data-series="4"')" 1

page sql "/sql?q=SELECT%20count(*)%20AS%20n%20FROM%20runs"
grep -q '<table id="sql-table"><tr><th>n</th></tr><tr><td class="num">7</td></tr></table>' \
    "$TMP/sql.html" || fail "sql: the answer is not a table holding 7"

chrome /run/999 --dump-dom > "$TMP/missing.html"
grep -q '<p class="error">no run 999</p>' "$TMP/missing.html" ||
    fail "run 999: the page does not say there is no such run"

if [ "$fails" -ne 0 ]; then
    echo "ui_browser: $fails failed (screenshots in $SHOTS)"
    exit 1
fi
echo "ui_browser: every page drawn as expected (screenshots in $SHOTS)"
