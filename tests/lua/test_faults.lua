-- test_faults.lua: the run log through the real `backprop run`, when things
-- go wrong (LuaUnit): SIGKILL, SIGINT, four writers at once, a failing and
-- a diverging script, a file that is not a database, a directory that
-- cannot be written. Each checks what is kept and what is said.
local lu = require "luaunit"

local EXE = assert(os.getenv("BP_EXE"), "BP_EXE is not set (run through ctest)")
local TMP = os.tmpname()
os.remove(TMP)
os.execute("mkdir -p " .. TMP)

local function slurp(p) local f = assert(io.open(p, "rb")); local s = f:read("a"); f:close(); return s end
local function write(name, text)
  local path = TMP .. "/" .. name
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

-- Runs backprop; returns stdout, stderr, exit status.
local function backprop(args)
  local ok, _, code = os.execute(string.format("%s %s >%s/out 2>%s/err", EXE, args, TMP, TMP))
  return slurp(TMP .. "/out"), slurp(TMP .. "/err"), ok and 0 or code
end

local function query(db, sql)
  local out, err, code = backprop(string.format("query --db %s --csv %q", db, sql))
  lu.assertEquals(code, 0, err)
  local rows = {}
  for line in out:gmatch("[^\n]+") do rows[#rows + 1] = line end
  table.remove(rows, 1)
  return rows
end

-- A script that logs one metric per step for ever, flushing at step 1000
-- and announcing it in a file, so the test knows what must be there.
local FOREVER = write("forever.lua", [[
local bp = require "backprop"
local mark = bp.param("mark", "")
local step = 0
while true do
  step = step + 1
  bp.log("x", step, step)
  if step == 1000 then
    assert(bp.flush())
    local f = io.open(mark, "w"); f:write("flushed"); f:close()
  end
end
]])

-- Starts it in the background; returns its pid once step 1000 is committed.
local function start_forever(db, mark)
  local pidfile = TMP .. "/pid"
  os.execute(string.format("%s run --db %s %s mark=%s >/dev/null 2>%s/bgerr & echo $! > %s",
    EXE, db, FOREVER, mark, TMP, pidfile))
  local pid = slurp(pidfile):match("%d+")
  for _ = 1, 200 do
    local f = io.open(mark)
    if f then f:close(); return pid end
    os.execute("sleep 0.05")
  end
  error("the script never reached step 1000")
end

TestFaults = {}

function TestFaults:test_sigkill_keeps_what_was_committed()
  local db, mark = TMP .. "/kill.db", TMP .. "/kill.mark"
  local pid = start_forever(db, mark)
  os.execute("sleep 1.5") -- more than the commit interval: more rows land
  os.execute("kill -KILL " .. pid .. "; sleep 0.2")
  lu.assertEquals(query(db, "PRAGMA integrity_check"), {"ok"})
  -- every step up to the explicit flush is there, and nothing is torn
  local n = tonumber(query(db, "SELECT count(*) FROM metrics_view WHERE run_id = 1")[1])
  local maxstep = tonumber(query(db, "SELECT max(step) FROM metrics_view WHERE run_id = 1")[1])
  lu.assertTrue(n >= 1000, "rows " .. n)
  lu.assertEquals(n, maxstep) -- steps 1..max, none missing
  -- a writable open reaps it: the run shows as crashed
  local out = backprop("runs --db " .. db)
  lu.assertStrContains(out, "crashed")
  lu.assertEquals(query(db, "SELECT status FROM runs WHERE id = 1"), {"crashed"})
end

function TestFaults:test_sigint_marks_interrupted_and_keeps_everything()
  local db, mark = TMP .. "/int.db", TMP .. "/int.mark"
  local pid = start_forever(db, mark)
  os.execute("kill -INT " .. pid)
  -- wait for it to exit
  for _ = 1, 100 do
    if not os.execute("kill -0 " .. pid .. " 2>/dev/null") then break end
    os.execute("sleep 0.05")
  end
  -- the hook stops the script wherever it is in its loop: any line of it
  lu.assertStrMatches(slurp(TMP .. "/bgerr"), "backprop: " .. FOREVER:gsub("%p", "%%%0") .. ":%d+: interrupted\n.*")
  lu.assertStrMatches(query(db, "SELECT status, message FROM runs WHERE id = 1")[1],
                      "interrupted," .. FOREVER:gsub("%p", "%%%0") .. ":%d+: interrupted")
  -- the last step the script logged before the signal is there too:
  -- interrupted runs are flushed, so steps are 1..max with none missing
  local n = tonumber(query(db, "SELECT count(*) FROM metrics_view WHERE run_id = 1")[1])
  local maxstep = tonumber(query(db, "SELECT max(step) FROM metrics_view WHERE run_id = 1")[1])
  lu.assertEquals(n, maxstep)
  lu.assertTrue(n >= 1000)
end

function TestFaults:test_four_writers_at_once()
  local db = TMP .. "/four.db"
  local s = write("many.lua", [[
local bp = require "backprop"
for step = 1, 50000 do bp.log("loss", 1 / step, step) end
bp.log_weights(bp.net(3):add(2), 1)
]])
  local cmds = {}
  for i = 1, 4 do cmds[i] = string.format("%s run --db %s %s 2>%s/w%d &", EXE, db, s, TMP, i) end
  os.execute(table.concat(cmds, " ") .. " wait")
  for i = 1, 4 do lu.assertEquals(slurp(TMP .. "/w" .. i), "") end
  lu.assertEquals(query(db, "SELECT count(*), count(DISTINCT status) FROM runs WHERE status = 'completed'"), {"4,1"})
  lu.assertEquals(query(db, "SELECT run_id, count(*) FROM metrics GROUP BY run_id ORDER BY run_id"),
                  {"1,50000", "2,50000", "3,50000", "4,50000"})
  lu.assertEquals(query(db, "SELECT count(*) FROM snapshots"), {"4"})
  lu.assertEquals(query(db, "PRAGMA integrity_check"), {"ok"})
end

function TestFaults:test_failed_and_diverged_are_marked_with_their_messages()
  local db = TMP .. "/fail.db"
  local bad = write("bad.lua", 'local bp = require "backprop"\nbp.log("loss", 1, 1)\nerror("boom")\n')
  local _, err, code = backprop("run --db " .. db .. " " .. bad)
  lu.assertEquals(code, 1)
  lu.assertStrContains(err, "bad.lua:3: boom")
  local div = write("div.lua", 'local bp = require "backprop"\nbp.log("loss", 0.5, 1)\nbp.log("loss", 0/0, 2)\nprint("not reached")\n')
  local out
  out, err, code = backprop("run --db " .. db .. " " .. div)
  lu.assertEquals(code, 1)
  lu.assertEquals(out, "")
  lu.assertStrContains(err, "div.lua:3: loss is nan at step 2: the run diverged")
  local rows = query(db, "SELECT id, status, message, traceback LIKE '%in main chunk%' FROM runs ORDER BY id")
  lu.assertEquals(rows[1], "1,failed," .. bad .. ":3: boom,1")
  lu.assertEquals(rows[2], "2,diverged," .. div .. ":3: loss is nan at step 2: the run diverged (try a smaller learning rate),1")
  -- everything logged before the failure is kept, NaN included
  lu.assertEquals(query(db, "SELECT run_id, step, value_text FROM metrics_view ORDER BY run_id, step"),
                  {"1,1,1.0", "2,1,0.5", "2,2,NaN"})
end

function TestFaults:test_not_a_database_is_left_untouched()
  local path = write("notes.txt", "these are my notes, not a database\n")
  local before = slurp(path)
  local s = write("ok.lua", 'print("ran")\n')
  local out, err, code = backprop("run --db " .. path .. " " .. s)
  lu.assertEquals(code, 1)
  lu.assertEquals(out, "") -- the script never ran
  lu.assertEquals(err, "backprop: " .. path .. ": not a backprop database (file is not a database)\n")
  lu.assertEquals(slurp(path), before)
  lu.assertNil(io.open(path .. "-wal"))
  _, err, code = backprop("runs --db " .. path)
  lu.assertEquals(code, 1)
  lu.assertStrContains(err, "not a backprop database")
end

function TestFaults:test_directory_that_cannot_be_written()
  local file = write("plain", "x")
  local s = write("ok2.lua", 'print("ran")\n')
  local out, err, code = backprop("run --db " .. file .. "/sub/runs.db " .. s)
  lu.assertEquals(code, 1)
  lu.assertEquals(out, "")
  lu.assertStrContains(err, "backprop: " .. file .. "/sub/runs.db: ")
  lu.assertStrContains(err, "Not a directory")
end

local rc = lu.LuaUnit.run()
os.execute("rm -rf " .. TMP)
os.exit(rc)
