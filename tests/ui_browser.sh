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
# headless chromium here does not log its console). Then, after a second
# sweep with pruned and failed trials is added: the list of sweeps, that
# sweep's page (the pruned and failed trials set apart, the best marked,
# a chart per parameter); and through the DevTools protocol on a pipe, what
# a page does after it loads: a README query's button clicked on the SQL
# page and its answer, and a run that keeps logging while /runs and /run/N
# show it (its last step and its chart's points grow by themselves; its
# chart against wall time). A screenshot of each page is kept in
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
LIVE=""
CDP_PID=""
cleanup() {
    for p in $PID $LIVE $CDP_PID; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$TMP"
}
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

# What the run log says, for what the pages should show: a query's rows
# as CSV without the header.
q() { "$EXE" query --db "$DB" --csv "$1" | tail -n +2; }

# Sweep 2, with pruned and failed trials (runs 8-15): lr=100 fails, the
# median rule prunes a few (one at a time, so always the same).
cat > "$TMP/trial.lua" <<'EOF'
local bp = require "backprop"
local lr = bp.param("lr", 0.5)
local hidden = bp.param("hidden", 4)
if lr >= 50 then error("lr " .. lr .. " is too large") end
local net = bp.net(2):add(hidden, "tanh"):add(1, "sigmoid")
local x, y = {{0, 0}, {0, 1}, {1, 0}, {1, 1}}, {{0}, {1}, {1}, {0}}
for step = 1, 100 do
  local loss = net:train_step(x, y, "bce", lr)
  bp.log("loss", loss, step)
  if step % 10 == 0 then bp.report(loss, step) end
end
EOF
"$EXE" sweep -j 1 --db "$DB" --prune median:startup=1 "$TMP/trial.lua" lr=2,0.5,0.02,100 \
    hidden=2,4 >/dev/null 2>&1
S2="FROM sweep_trials WHERE sweep_id = 2"
expect "sweep 2's failed trials" "$(q "SELECT count(*) $S2 AND status = 'failed'")" 2
[ "$(q "SELECT count(*) $S2 AND status = 'pruned'")" -ge 1 ] 2>/dev/null ||
    fail "sweep 2 pruned no trial"

page sweeps /sweeps
expect "rows of the sweeps table" "$(count sweeps '<tr class="sweep">')" 2

# The sweep page: the ranked table (#trials) holds the completed trials, the
# best first and marked; the other table the pruned and failed ones; a
# chart of the objective against each of the two parameters.
page sweep2 /sweep/2
tr -d '\n' < "$TMP/sweep2.html" | sed 's/.*<table id="trials">//; s/<\/table>.*//' > "$TMP/ranked.html"
tr -d '\n' < "$TMP/sweep2.html" | sed 's/.*<table id="other-trials">//; s/<\/table>.*//' > "$TMP/other.html"
expect "sweep 2's ranked trials" "$(count ranked '<tr class="trial')" \
    "$(q "SELECT count(*) $S2 AND status = 'completed'")"
expect "sweep 2's trials set apart" "$(count other '<tr class="trial')" \
    "$(q "SELECT count(*) $S2 AND status != 'completed'")"
expect "failed trials set apart" "$(count other '<td class="status-failed">')" 2
expect "pruned trials set apart" "$(count other '<td class="status-pruned">')" \
    "$(q "SELECT count(*) $S2 AND status = 'pruned'")"
expect "failed or pruned among the ranked" "$(count ranked 'status-failed\|status-pruned')" 0
best=$(q "SELECT run_id $S2 AND status = 'completed' ORDER BY objective LIMIT 1")
expect "the best trial, marked, first" \
    "$(grep -o '<tr class="trial[^"]*"><td>[^<]*</td><td><a href="/run/[0-9]*"' "$TMP/ranked.html" | head -1)" \
    "<tr class=\"trial best\"><td>★ $(q "SELECT trial $S2 AND run_id = $best")</td><td><a href=\"/run/$best\""
expect "trials marked best" "$(count sweep2 '<tr class="trial best">')" 1
expect "charts of the objective against a parameter" "$(count sweep2 '<canvas data-param=')" 2

# The DevTools protocol on a pipe (--remote-debugging-pipe: JSON messages
# ended by a NUL, read from fd 3, answered on fd 4), for what a page does
# after it loads: a click, a page that updates itself.
cdp_start() {
    rm -rf "$TMP/cdp-profile" "$TMP/cdp.in"
    mkfifo "$TMP/cdp.in"
    : > "$TMP/cdp.out"
    "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$TMP/cdp-profile" --window-size=1400,1000 \
        --remote-debugging-pipe about:blank 3<"$TMP/cdp.in" 4>"$TMP/cdp.out" \
        2>>"$TMP/chrome.log" &
    CDP_PID=$!
    exec 5>"$TMP/cdp.in"
    echo 0 > "$TMP/cdp.id"
}
cdp_stop() {
    exec 5>&-
    kill "$CDP_PID" 2>/dev/null
    wait "$CDP_PID" 2>/dev/null
    CDP_PID=""
}
# cdp MESSAGE: sends {"id":N,MESSAGE}; its answer into $TMP/cdp.ans (1
# when none came in 60 s). N counts in a file: js runs in subshells.
cdp() {
    CDP_ID=$(($(cat "$TMP/cdp.id") + 1))
    echo "$CDP_ID" > "$TMP/cdp.id"
    printf '{"id":%d,%s}\0' "$CDP_ID" "$1" >&5
    c_=0
    while [ $c_ -lt 600 ]; do
        tr '\0' '\n' < "$TMP/cdp.out" | grep "^{\"id\":$CDP_ID," > "$TMP/cdp.ans" && return 0
        sleep 0.1
        c_=$((c_ + 1))
    done
    return 1
}
# cdp_open PATH: a new tab on $URL$PATH, its session in $SID.
cdp_open() {
    cdp "\"method\":\"Target.createTarget\",\"params\":{\"url\":\"$URL$1\"}" || return 1
    tid=$(sed 's/.*"targetId":"\([^"]*\)".*/\1/' "$TMP/cdp.ans")
    cdp "\"method\":\"Target.attachToTarget\",\"params\":{\"targetId\":\"$tid\",\"flatten\":true}" ||
        return 1
    SID=$(sed 's/.*"sessionId":"\([^"]*\)".*/\1/' "$TMP/cdp.ans")
}
# js EXPR: EXPR (JavaScript holding no double quote or backslash; a
# promise is awaited) evaluated in the tab, printed as a string.
js() {
    cdp "\"sessionId\":\"$SID\",\"method\":\"Runtime.evaluate\",\"params\":{\"expression\":\"(async () => String(await ($1)))()\",\"awaitPromise\":true,\"returnByValue\":true}" ||
        { echo "no answer to $1"; return 1; }
    sed -n 's/^{"id":[0-9]*,"result":{"result":{"type":"string","value":"\(.*\)"}},"sessionId".*/\1/p' \
        "$TMP/cdp.ans" | grep . || { echo "failed: $(cat "$TMP/cdp.ans")"; return 1; }
}
# js_wait COND: until COND is true in the tab (30 s at most).
js_wait() {
    w_=0
    while [ $w_ -lt 150 ]; do
        [ "$(js "document.readyState === 'complete' && Boolean($1)" 2>/dev/null)" = true ] &&
            return 0
        sleep 0.2
        w_=$((w_ + 1))
    done
    fail "waited in vain for $1"
    return 1
}
ERRORS="document.body.dataset.errors || 'none'"

cdp_start
# The SQL page's README queries, a button each: a click runs one and shows
# its answer, here the loss curve of run 1 as `backprop query` gives it.
cdp_open /sql
js_wait "document.body.dataset.ready === '1'"
expect "README query buttons" "$(js "document.querySelectorAll('#queries button').length")" \
    "$(grep -c '^-- name:' "$SRC/README.md")"
js "(delete document.body.dataset.ready, [...document.querySelectorAll('#queries button')].find((b) => b.textContent === 'loss_curve').click(), 1)" >/dev/null
js_wait "document.body.dataset.ready === '1' && document.getElementById('sql').value.startsWith('-- name: loss_curve')"
expect "rows of loss_curve's answer" "$(js "document.getElementById('sql-count').textContent")" \
    "$(q "SELECT count(*) FROM loss_curve WHERE run_id = 1") rows"
expect "rows of loss_curve's table" "$(js "document.querySelectorAll('#sql-table tr').length - 1")" \
    "$(q "SELECT min(count(*), 1000) FROM loss_curve WHERE run_id = 1")"
expect "loss_curve's first and last steps" \
    "$(js "[...document.querySelectorAll('#sql-table tr')].slice(1).map((r) => r.cells[0].textContent).filter((s, k, a) => k === 0 || k === a.length - 1).join(',')")" \
    "$(q "SELECT min(step), max(step) FROM (SELECT step FROM loss_curve WHERE run_id = 1 ORDER BY step LIMIT 1000)")"
expect "errors on the SQL page" "$(js "$ERRORS")" none

# Live: a run that keeps logging (for 60 s at most) while /runs and /run/N
# show it: after 3 s the row's last step and the chart's points have grown.
cat > "$TMP/live.lua" <<'EOF'
local bp = require "backprop"
local t0, step = bp.clock(), 0
while bp.clock() - t0 < 60 do
  step = step + 1
  bp.log("loss", 1 / step, step)
  os.execute("sleep 0.05")
end
EOF
"$EXE" run --quiet --db "$DB" "$TMP/live.lua" >/dev/null 2>&1 &
LIVE=$!
live=""
i=0 # until it has logged a few steps
while [ $i -lt 100 ]; do
    live=$(q "SELECT id FROM runs WHERE status = 'running'")
    [ -n "$live" ] && [ "$(q "SELECT count(*) FROM metrics WHERE run_id = $live")" -ge 5 ] && break
    sleep 0.1
    i=$((i + 1))
done
[ -n "$live" ] || fail "the live run never started"
ROW="[...document.querySelectorAll('tr.run')].find((r) => r.cells[1].textContent === '$live')"
cdp_open /runs
js_wait "document.body.dataset.ready === '1' && $ROW"
expect "the live run's status" "$(js "$ROW.cells[3].textContent")" running
before=$(js "$ROW.cells[$ROW.cells.length - 3].textContent")
js "new Promise((r) => setTimeout(r, 3000))" >/dev/null
after=$(js "$ROW.cells[$ROW.cells.length - 3].textContent")
[ "$after" -gt "$before" ] 2>/dev/null ||
    fail "runs: the live run's last step went from $before to $after in 3 s"
expect "errors on the live runs page" "$(js "$ERRORS")" none
CANVAS="document.querySelector('canvas[data-metric=loss]')"
cdp_open "/run/$live"
js_wait "document.body.dataset.ready === '1' && $CANVAS"
before=$(js "$CANVAS.dataset.points")
js "new Promise((r) => setTimeout(r, 3000))" >/dev/null
after=$(js "$CANVAS.dataset.points")
[ "$after" -gt "$before" ] 2>/dev/null ||
    fail "run $live: its chart's points went from $before to $after in 3 s"
# The wall-time axis: the chart drawn again against the times recorded.
js "(document.getElementById('xaxis').value = 'time', document.getElementById('xaxis').dispatchEvent(new Event('change')), 1)" >/dev/null
js_wait "$CANVAS.dataset.x === 'time'"
expect "run $live's times estimated" "$(js "$CANVAS.dataset.estimated")" false
expect "errors on the live run's page" "$(js "$ERRORS")" none
kill "$LIVE" 2>/dev/null
wait "$LIVE" 2>/dev/null
LIVE=""
cdp_stop

if [ "$fails" -ne 0 ]; then
    echo "ui_browser: $fails failed (screenshots in $SHOTS)"
    exit 1
fi
echo "ui_browser: every page drawn as expected (screenshots in $SHOTS)"
