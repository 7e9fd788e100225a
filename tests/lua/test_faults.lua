-- test_faults.lua: the run log through the real `backprop run`, when things
-- go wrong (LuaUnit): SIGKILL, SIGINT, four writers at once, a failing and
-- a diverging script, a file that is not a database, a directory that
-- cannot be written. Each checks what is kept and what is said.
local lu = require "luaunit"

package.path = (os.getenv("BP_SOURCE_DIR") or ".") .. "/tests/lua/?.lua;" .. package.path
local S = require "support"
local EXE, TMP, slurp, write, backprop, query = S.EXE, S.TMP, S.slurp, S.write, S.backprop, S.query

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

-- Starts `backprop run ARGS` in the background, its stderr into errfile;
-- returns its pid once the script has made the file mark.
local function start_run(args, mark, errfile)
  local pidfile = TMP .. "/pid"
  os.execute(string.format("%s run %s >/dev/null 2>%s & echo $! > %s", EXE, args, errfile, pidfile))
  local pid = slurp(pidfile):match("%d+")
  for _ = 1, 200 do
    local f = io.open(mark)
    if f then f:close(); return pid end
    os.execute("sleep 0.05")
  end
  error("the script never made " .. mark)
end

-- Starts FOREVER; returns its pid once step 1000 is committed.
local function start_forever(db, mark)
  return start_run(string.format("--db %s %s mark=%s", db, FOREVER, mark), mark, TMP .. "/bgerr")
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

-- A script that logs a step, says so in a file, and holds while another
-- file is there.
local HELD = write("held.lua", [[
local bp = require "backprop"
local mark, hold = bp.param("mark", ""), bp.param("hold", "")
bp.log("loss", 1, 1)
assert(bp.flush())
local f = io.open(mark, "w"); f:write("up"); f:close()
while io.open(hold) do os.execute("sleep 0.05") end
]])
local NOOP = write("noop.lua", "")

-- count pids in a row that no process here has, near pid_max (nil if none).
local function free_pids(count)
  local max = tonumber(slurp("/proc/sys/kernel/pid_max")) or 32768
  for first = max - count - 1, 300, -count do
    local ok = true
    for pid = first, first + count - 1 do
      local f = io.open("/proc/" .. pid .. "/stat")
      if f then f:close(); ok = false; break end
    end
    if ok then return first end
  end
end

-- A run alive in another PID namespace (a container, `unshare --pid`) on
-- this host records a pid that names nothing here: another process's open
-- leaves it running (it marked it crashed). Killed, it is crashed.
function TestFaults:test_run_in_another_pid_namespace()
  local pid = free_pids(4)
  if not (pid and os.execute("[ $(id -u) = 0 ] && unshare --pid --fork --kill-child true 2>/dev/null")) then
    print("  (skipped: a PID namespace needs root and unshare)")
    return
  end
  local db, mark, hold = TMP .. "/ns.db", TMP .. "/ns.mark", TMP .. "/ns.hold"
  write("ns.hold", "")
  os.execute(string.format("unshare --pid --fork --kill-child sh -c 'echo %d > /proc/sys/kernel/ns_last_pid;"
    .. " %s run --db %s %s mark=%s hold=%s; true' >/dev/null 2>&1 & echo $! > %s/upid",
    pid - 1, EXE, db, HELD, mark, hold, TMP))
  local upid = slurp(TMP .. "/upid"):match("%d+")
  local ok, failure = pcall(function()
    lu.assertTrue(S.await_file(mark))
    lu.assertEquals(query(db, "SELECT id, status, pid FROM runs"), {"1,running," .. pid})
    local _, err, code = backprop("run --db " .. db .. " " .. NOOP)
    lu.assertEquals(code, 0, err)
    lu.assertEquals(query(db, "SELECT id, status FROM runs ORDER BY id"), {"1,running", "2,completed"})
    -- killed with its namespace: the next writable open marks it
    os.execute("kill -KILL " .. upid)
    local status
    for _ = 1, 100 do
      backprop("run --db " .. db .. " " .. NOOP)
      status = query(db, "SELECT status, message FROM runs WHERE id = 1")[1]
      if status ~= "running," then break end
      os.execute("sleep 0.05")
    end
    lu.assertEquals(status, "crashed,the process ended without recording an end")
  end)
  os.execute("kill -KILL " .. upid .. " 2>/dev/null")
  os.remove(hold)
  if not ok then error(failure, 0) end
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
  lu.assertStrMatches(S.without_run_line(slurp(TMP .. "/bgerr")), "backprop: " .. FOREVER:gsub("%p", "%%%0") .. ":%d+: interrupted\n.*")
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
  for i = 1, 4 do lu.assertEquals(S.without_run_line(slurp(TMP .. "/w" .. i)), "") end
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


-- The commands that only read, run on a database where nothing can be
-- written; what each printed, its status, and the files beside the
-- database afterwards.
local function read_everything(db, as)
  local got = {}
  for _, c in ipairs({"runs", "show 1", "export 1 --csv", "sweep show",
                      "query --csv \"SELECT count(*) FROM metrics\"",
                      "plot 1 --metric x -o " .. TMP .. "/ro_plot.png"}) do
    local out, err, code = backprop(c .. " --db " .. db, as)
    got[#got + 1] = {cmd = c, out = out, err = err, code = code}
  end
  return got
end

local function check_read_everything(got)
  for _, g in ipairs(got) do lu.assertEquals(g.code, 0, g.cmd .. ": " .. g.err) end
  lu.assertStrMatches(got[1].out, ".*\n%s*1%s+rows%s+completed.*")
  lu.assertStrContains(got[2].out, "run 1: rows\n")
  lu.assertStrContains(got[3].out, "step,epoch,x\n1,,1\n2,,2\n")
  lu.assertEquals(got[4].out, "no sweeps\n")
  lu.assertEquals(got[5].out, "count(*)\n3\n")
end

-- A tmpfs of that size mounted on TMP/name: its path, or nil (and a line
-- saying the test is skipped) where mounting needs a root this is not.
local function mount_tmpfs(name, size)
  local mnt = TMP .. "/" .. name
  os.execute("mkdir -p " .. mnt)
  if not os.execute("mount -t tmpfs -o size=" .. size .. " tmpfs " .. mnt .. " 2>/dev/null") then
    print("  (skipped: cannot mount a tmpfs here; the test needs root)")
    return nil
  end
  return mnt
end

-- Runs `script` (its text) with its database on a 264 KB tmpfs; returns
-- the database's path, stderr, the exit status, and then, read before the
-- tmpfs is unmounted, the integrity check, the run's "status,message" and
-- the number of metric rows. Nil where the tmpfs cannot be mounted.
-- size: the tmpfs's (default 264k; the lock file keeps 24k of it). Where the disk fills decides whether
-- the run's end still fits: at some sizes the last failed commit left no
-- room for the end's WAL frame, and the run stayed 'running' until an open
-- found its process gone; the room the lock file keeps is for that.
local function run_on_full_disk(name, script, size)
  local mnt = mount_tmpfs(name, size or "264k")
  if not mnt then return nil end
  local db = mnt .. "/full.db"
  local _, err, code = backprop("run --db " .. db .. " " .. write(name .. ".lua", script))
  local check = query(db, "PRAGMA integrity_check")
  local run = query(db, "SELECT status, message FROM runs")[1]
  local rows = tonumber(query(db, "SELECT count(*) FROM metrics")[1])
  os.execute("umount " .. mnt) -- before any assertion can fail
  return db, err, code, check, run, rows
end

-- What `backprop run` said, on an existing database and a new one beside
-- it, where neither can be written for reason.
local function check_writes_refused(db, dir, run_err, new_err, reason)
  lu.assertEquals(run_err, "backprop: " .. db .. ": read-only (" .. reason .. ")\n")
  lu.assertEquals(new_err, "backprop: " .. dir .. "/new.db: cannot write in " .. dir ..
    " (" .. reason .. ")\n")
end

local ROWS = write("rows.lua", 'local bp = require "backprop"\nfor i = 1, 3 do bp.log("x", i, i) end\n')

-- A valid database on a read-only medium (a tmpfs remounted read-only):
-- every command that only reads works, makes no file there, and reads a
-- WAL a killed writer left; writing says what is true.
function TestFaults:test_read_only_medium()
  local mnt = mount_tmpfs("romedium", "4m")
  if not mnt then return end
  local db, killed = mnt .. "/r.db", mnt .. "/k.db"
  local _, err, code = backprop("run --db " .. db .. " " .. ROWS)
  local pid = start_forever(killed, TMP .. "/ro.mark")
  os.execute("kill -KILL " .. pid .. "; sleep 0.2")
  local committed = query(killed, "SELECT count(*) >= 1000 FROM metrics")[1]
  local ro = os.execute("mount -o remount,ro " .. mnt)
  local before = io.popen("ls " .. mnt):read("a")
  local got = ro and read_everything(db)
  local in_wal = ro and select(1, backprop("query --csv --db " .. killed ..
    " \"SELECT count(*) >= 1000, max(step) = count(*) FROM metrics\""))
  local _, run_err, run_code = backprop("run --db " .. db .. " " .. ROWS)
  local _, new_err = backprop("run --db " .. mnt .. "/new.db " .. ROWS)
  local after = io.popen("ls " .. mnt):read("a")
  os.execute("umount " .. mnt) -- before any assertion can fail
  lu.assertEquals(code, 0, err)
  lu.assertEquals(committed, "1")
  lu.assertTrue(ro, "cannot remount the tmpfs read-only")
  check_read_everything(got)
  lu.assertEquals(in_wal, "count(*) >= 1000,max(step) = count(*)\n1,1\n")
  lu.assertEquals(after, before) -- nothing made while the medium was read-only
  -- the writers' files: the killed one's WAL and shared memory, and each
  -- database's lock file (liveness.c)
  lu.assertEquals(before, "k.db\nk.db-lock\nk.db-shm\nk.db-wal\nr.db\nr.db-lock\n")
  lu.assertEquals(run_code, 1)
  check_writes_refused(db, mnt, run_err, new_err, "Read-only file system")
end

-- The same with permissions: a database chmod 0444 in a directory chmod
-- 0555. Root ignores them, so a root test runs backprop as nobody.
function TestFaults:test_database_that_is_not_ours()
  local dir = TMP .. "/notours"
  os.execute("mkdir -p " .. dir)
  local db = dir .. "/r.db"
  local _, err, code = backprop("run --db " .. db .. " " .. ROWS)
  lu.assertEquals(code, 0, err)
  os.execute("chmod 0444 " .. db .. "; chmod 0555 " .. dir .. "; chmod 0777 " .. TMP)
  local as = ""
  if io.popen("id -u"):read("a") == "0\n" then
    if not os.execute("setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null") then
      os.execute("chmod 0755 " .. dir)
      print("  (skipped: running as root, and setpriv cannot run backprop as nobody)")
      return
    end
    as = "setpriv --reuid=65534 --regid=65534 --clear-groups"
  end
  local got = read_everything(db, as)
  local _, run_err = backprop("run --db " .. db .. " " .. ROWS, as)
  local _, new_err = backprop("run --db " .. dir .. "/new.db " .. ROWS, as)
  local after = io.popen("ls " .. dir):read("a")
  os.execute("chmod 0755 " .. dir)
  check_read_everything(got)
  lu.assertEquals(after, "r.db\nr.db-lock\n") -- the lock file of the first run
  check_writes_refused(db, dir, run_err, new_err, "Permission denied")
end

function TestFaults:test_database_locked_longer_than_the_wait()
  local db = TMP .. "/locked.db"
  local s = write("quick.lua", 'local bp = require "backprop"\nbp.log("loss", 1, 1)\n')
  local _, err, code = backprop("run --db " .. db .. " " .. s)
  lu.assertEquals(code, 0, err)
  -- another process holds the write lock for 3 s; we wait 0.5 s at most
  os.execute(string.format("((echo 'BEGIN EXCLUSIVE; SELECT 1;'; sleep 3; echo 'COMMIT;') | sqlite3 %s >/dev/null &)", db))
  os.execute("sleep 0.3")
  local ok
  ok, _, code = os.execute(string.format("BACKPROP_BUSY_TIMEOUT=0.5 %s run --db %s %s >%s/out 2>%s/err",
    EXE, db, s, TMP, TMP))
  lu.assertEquals(code, 1)
  lu.assertStrContains(slurp(TMP .. "/err"), "backprop: " .. db .. ": ")
  lu.assertStrContains(slurp(TMP .. "/err"), "database is locked: another process held it for more than 0.5 s; BACKPROP_BUSY_TIMEOUT sets how long to wait)")
  os.execute("sleep 3")
  -- what was there is still there, and the database is sound
  lu.assertEquals(query(db, "SELECT id, status FROM runs"), {"1,completed"})
  lu.assertEquals(query(db, "PRAGMA integrity_check"), {"ok"})
end

function TestFaults:test_corrupt_database_file()
  local db = TMP .. "/corrupt.db"
  local s = write("some.lua", 'local bp = require "backprop"\nfor i = 1, 5000 do bp.log("loss", i, i) end\n')
  for _ = 1, 3 do backprop("run --db " .. db .. " " .. s) end
  os.execute("sqlite3 " .. db .. " 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null")
  -- garbage over pages 3 to 6, the header left as it is
  os.execute(string.format("dd if=/dev/urandom of=%s bs=4096 seek=2 count=4 conv=notrunc 2>/dev/null", db))
  local _, err, code = backprop("runs --db " .. db)
  lu.assertEquals(code, 1)
  lu.assertStrMatches(err, "backprop: .*malformed.*\n")
  _, err, code = backprop("run --db " .. db .. " " .. s)
  lu.assertEquals(code, 1)
  lu.assertStrMatches(err, "backprop: .*" .. db:gsub("%p", "%%%0") .. ".*\n")
end

function TestFaults:test_full_disk()
  local db, err, code, check, run = run_on_full_disk("small", [[
local bp = require "backprop"
for step = 1, 1e7 do
  local ok, err = bp.log("loss", 1 / step, step)
  if not ok then error(err, 0) end
end
]])
  if not db then return end
  lu.assertEquals(code, 1)
  -- where the disk fills (the metrics' commit, or the run's end) decides
  -- which write reports it
  lu.assertStrMatches(err, "backprop: " .. db:gsub("%p", "%%%0") .. ": cannot %a+ %a* ?%(database or disk is full%).*")
  lu.assertEquals(check, {"ok"})
  lu.assertStrMatches(run, "failed,.*database or disk is full.*")
end

-- os.exit inside `backprop run` ends the run as the script's end would and
-- keeps every metric, from wherever it is called (issue 19: the stock one
-- kept none of 100,000 rows and left the run to show as crashed).
function TestFaults:test_os_exit_ends_the_run()
  local db = TMP .. "/exit.db"
  local script = write("exit.lua", [[
local bp = require "backprop"
local how = bp.param("how", "plain")
local code = bp.param("code", 0)
for i = 1, 100000 do bp.log("x", i, i) end
if how == "plain" then os.exit(code)
elseif how == "close" then os.exit(code, true)
elseif how == "pcall" then pcall(os.exit, code)
elseif how == "coroutine" then coroutine.wrap(function() os.exit(code) end)()
elseif how == "true" then os.exit(true)
elseif how == "false" then os.exit(false)
elseif how == "fit" then
  local d = bp.data({{0, 0}, {0, 1}, {1, 0}, {1, 1}}, {{0}, {1}, {1}, {0}})
  local net = bp.net(2):add(3, "tanh"):add(1)
  net:fit{data = d, loss = "mse", lr = 0.1, epochs = 5,
          callback = function(epoch) if epoch == 2 then os.exit(code) end end}
end
error("not reached")
]])
  local cases = {
    {"how=plain code=0", 0, "completed,"},
    {"how=true", 0, "completed,"},
    {"how=plain code=3", 3, "failed,the script called os.exit(3)"},
    {"how=close code=3", 3, "failed,the script called os.exit(3)"},
    {"how=false", 1, "failed,the script called os.exit(false)"},
    {"how=pcall code=4", 4, "failed,the script called os.exit(4)"},
    {"how=coroutine code=0", 0, "completed,"},
    {"how=coroutine code=5", 5, "failed,the script called os.exit(5)"},
    {"how=fit code=6", 6, "failed,the script called os.exit(6)"},
    {"how=fit code=0", 0, "completed,"},
    {"how=plain code=256", 1, "failed,the script called os.exit(256)"},
  }
  for id, c in ipairs(cases) do
    local out, err, code = backprop("run --db " .. db .. " " .. script .. " " .. c[1])
    lu.assertEquals(code, c[2], c[1] .. ": " .. err)
    lu.assertEquals(out, "")
    lu.assertEquals(query(db, "SELECT status, message FROM runs WHERE id = " .. id), {c[3]}, c[1])
    lu.assertEquals(query(db, "SELECT count(*) FROM metrics_view WHERE name = 'x' AND run_id = " .. id),
      {"100000"}, c[1])
  end
  -- where it was called is the run's traceback
  lu.assertEquals(query(db, "SELECT instr(traceback, 'exit.lua:5:') > 0 FROM runs WHERE id = 3"), {"1"})
  -- a parameter never read stops it at its first bp.log, before the work
  local _, err, code = backprop("run --db " .. db .. " " .. script .. " how=plain typo=1")
  lu.assertEquals(code, 1)
  lu.assertStrContains(err, "exit.lua:4: parameter given but never read before the script began to "
    .. "train or log: typo (a typo? it read code, how)\n")
  lu.assertEquals(query(db, "SELECT status FROM runs WHERE id = " .. (#cases + 1)), {"failed"})
  -- os.exit(0) from a script that neither trained nor logged: its work is
  -- done, so it completes, as a normal end would, with a warning
  local quick = write("quick_exit.lua", 'local bp = require "backprop"\nos.exit(0)\n')
  _, err, code = backprop("run --db " .. db .. " " .. quick .. " typo=1")
  lu.assertEquals(code, 0)
  lu.assertStrContains(err, "backprop: warning: parameter given but never read by " .. quick .. ": typo (a typo?)\n")
  lu.assertEquals(query(db, "SELECT status FROM runs WHERE id = " .. (#cases + 2)), {"completed"})
  -- `backprop lua` keeps the stock os.exit
  local plain = write("plain_exit.lua", "os.exit(7)\n")
  _, _, code = backprop("lua " .. plain)
  lu.assertEquals(code, 7)
end

-- A script that ignores what the logging functions return, on a full disk:
-- the run must not end completed, and says how much it could not record.
-- At several sizes of disk, among them ones where the last commit leaves
-- no room for the end's WAL frame (before the room the lock file keeps,
-- 248k, 256k and 288k left the run 'running'; here 320k, 360k and 392k
-- use the room). The smallest is where the first rows still fit beside
-- the room.
function TestFaults:test_full_disk_ignored_by_the_script()
  for _, size in ipairs{"288k", "320k", "360k", "392k"} do
    local db, err, code, check, run, kept = run_on_full_disk("small2", [[
local bp = require "backprop"
for step = 1, 20000 do
  bp.log("loss", 1 / step, step)
  if step % 500 == 0 then bp.flush() end -- commits until the disk is full
end
]], size)
    if not db then return end
    lu.assertEquals(code, 1)
    local lost = err:match("^backprop: " .. db:gsub("%p", "%%%0")
      .. ": cannot %a+ %a* ?%(database or disk is full%); (%d+) metric rows not recorded\n$")
    lu.assertNotNil(lost, size .. ": " .. err)
    -- every step is either in the database or counted as not recorded
    lu.assertTrue(kept > 0 and kept < 20000, size .. ": " .. kept)
    lu.assertEquals(kept + tonumber(lost), 20000)
    lu.assertEquals(check, {"ok"})
    lu.assertEquals(run, "failed," .. err:match("^backprop: (.*)\n$"))
  end
end

-- The database deleted while the run writes: the rows cannot go anywhere a
-- reader would find them, so the logging calls fail, the run ends with
-- an error saying how many rows were not recorded, and exits 1.
function TestFaults:test_database_deleted_while_the_run_writes()
  local db = TMP .. "/deleted.db"
  local s = write("deleter.lua", [[
local bp = require "backprop"
local target = bp.param("target", "")
for step = 1, 1000 do bp.log("x", step, step) end
assert(bp.flush())
assert(os.remove(target))
for step = 1001, 3000 do bp.log("x", step, step) end
print(bp.flush())
for step = 3001, 4000 do bp.log("x", step, step) end
]])
  local out, err, code = backprop(string.format("run --db %s %s target=%s", db, s, db))
  local gone = db .. ": the database file was deleted or replaced while the run was writing"
  lu.assertEquals(out, "nil\t" .. gone .. "; 2000 metric rows not recorded\n")
  lu.assertEquals(err, "backprop: " .. gone .. "; 3000 metric rows not recorded\n")
  lu.assertEquals(code, 1)
  lu.assertNil(io.open(db)) -- not made again
end

function TestFaults:test_memory_limit()
  local db = TMP .. "/mem.db"
  local tables = write("tables.lua", "local t = {}\nfor i = 1, 1e9 do t[i] = {i, i, i} end\n")
  local out, err, code = backprop("run --db " .. db .. " --max-memory 64M " .. tables)
  lu.assertEquals(code, 1)
  lu.assertEquals(out, "")
  lu.assertStrContains(err, "backprop: not enough memory: the --max-memory limit of 64 MB was reached")
  local nets = write("nets.lua", 'local bp = require "backprop"\nlocal n = {}\nfor i = 1, 1e6 do n[i] = bp.net(1000):add(1000) end\n')
  _, err, code = backprop("run --db " .. db .. " --max-memory 100M " .. nets)
  lu.assertEquals(code, 1)
  lu.assertStrContains(err, "nets.lua:3: out of memory: the --max-memory limit of 100 MB was reached")
  lu.assertEquals(query(db, "SELECT status FROM runs ORDER BY id"), {"failed", "failed"})
  _, err, code = backprop("run --db " .. db .. " --max-memory lots " .. nets)
  lu.assertEquals(err, "backprop: run: bad --max-memory 'lots': expected a size of at least 1M, such as 512M or 2G, or none\n")
  -- a bad limit is refused before the run is recorded
  lu.assertEquals(query(db, "SELECT count(*) FROM runs"), {"2"})
  -- what the engine frees under a limit was allocated under it: bp.data's
  -- class names were malloc'd and crashed the process at its end
  local classes = write("classes.lua", 'local bp = require "backprop"\n'
    .. 'local d = bp.data({{0}, {1}}, {1, 2}, {classes = {"no", "yes"}})\nprint(d:class_names()[2])\n')
  local out2
  out2, err, code = backprop("run --db " .. db .. " --max-memory 100M " .. classes)
  lu.assertEquals(code, 0, err)
  lu.assertEquals(out2, "yes\n")
end

-- Without --max-memory a run is limited to 3/4 of the machine's memory: a
-- layer larger than that fails with the limit's message, where it took all
-- of the memory and was killed by the kernel (issue 19). The layer's
-- blocks are calloc'd and nothing is touched before the limit refuses one,
-- so this costs no memory; on a machine of 64 GB or more the layer (48 GB)
-- fits and the test is skipped, saying why.
function TestFaults:test_default_memory_limit()
  local kb = tonumber(slurp("/proc/meminfo"):match("MemTotal:%s*(%d+) kB"))
  local limit = (kb * 1024) // 4 * 3
  if limit >= 48 * 2^30 then
    lu.skip(string.format("the machine's limit (%.0f GB) holds the 48 GB layer: nothing to refuse", limit / 2^30))
  end
  local db = TMP .. "/defmem.db"
  local huge = write("huge.lua", 'local bp = require "backprop"\nlocal net = bp.net(2):add(1e9)\n')
  local out, err, code = backprop("run --db " .. db .. " " .. huge)
  lu.assertEquals(code, 1)
  lu.assertEquals(out, "")
  local msg = string.format("%s:2: out of memory: the default --max-memory limit of %d MB (3/4 of the machine's memory) was reached",
    huge, limit >> 20)
  lu.assertEquals(err:match("^[^\n]*"), "backprop: " .. msg)
  lu.assertEquals(query(db, "SELECT status, message FROM runs"), {"failed," .. msg})
  -- none lifts it: a small script runs as before
  local small = write("small.lua", 'local bp = require "backprop"\nprint(#bp.net(2):add(3))\n')
  out, err, code = backprop("run --db " .. db .. " --max-memory none " .. small)
  lu.assertEquals(code, 0, err)
  lu.assertEquals(out, "1\n")
end

-- SIGTERM while a large layer is being initialised stops the run within a
-- second (the engine's fill checks the host's flag), where it waited for
-- the whole fill (38 s for bp.net(2):add(1e9), issue 19). Here each layer
-- takes seconds to fill: 10^8 float32 weights drawn from a normal. The
-- run's recorded end is held against the moment of the signal: freeing
-- the layer afterwards takes longer under the sanitizers.
function TestFaults:test_sigterm_during_a_large_initialisation()
  local db, mark = TMP .. "/bigterm.db", TMP .. "/bigterm.mark"
  local script = write("biginit.lua", [[
local bp = require "backprop"
local mark = bp.param("mark")
local f = io.open(mark, "w"); f:write("go"); f:close()
for _ = 1, 20 do bp.net(1000, {dtype = "float32"}):add(100000, "relu"):close() end
]])
  local pid = start_run(string.format("--db %s %s mark=%s", db, script, mark), mark,
    TMP .. "/bigterm.err")
  os.execute("sleep 0.5") -- well inside the first layer's fill
  local clock = io.popen("date +%s.%N")
  local killed = tonumber(clock:read("l"))
  clock:close()
  os.execute("kill -TERM " .. pid)
  for _ = 1, 1000 do
    -- gone, or a zombie that nobody reaps (its parent, the shell, is gone)
    local stat = io.open("/proc/" .. pid .. "/stat")
    local state = stat and stat:read("a"):match("^%d+ %b() (%a)")
    if stat then stat:close() end
    if not state or state == "Z" then break end
    os.execute("sleep 0.02")
  end
  local ended = tonumber(query(db, "SELECT printf('%.3f', ended) FROM runs")[1])
  local slack = tonumber(os.getenv("BP_TIME_SLACK") or "") or 1
  lu.assertTrue(ended - killed < slack, string.format("the run ended %.2f s after SIGTERM"
    .. " (allowed: %g s)", ended - killed, slack))
  lu.assertEquals(query(db, "SELECT status, message FROM runs"), {"interrupted,interrupted"})
  lu.assertStrContains(slurp(TMP .. "/bigterm.err"), "backprop: interrupted\n")
end

function TestFaults:test_time_limit()
  local db = TMP .. "/time.db"
  local spin = write("spin.lua", "local n = 0\nwhile true do n = n + 1 end\n")
  local t0 = os.time()
  local _, err, code = backprop("run --db " .. db .. " --time-limit 1 " .. spin)
  lu.assertEquals(code, 1)
  lu.assertTrue(os.time() - t0 <= 3)
  lu.assertStrContains(err, "backprop: time limit of 1s reached (--time-limit)\n")
  lu.assertStrMatches(query(db, "SELECT status, message FROM runs")[1], "failed,time limit of 1s reached %(%-%-time%-limit%)")
  _, err = backprop("run --db " .. db .. " --time-limit soon " .. spin)
  lu.assertEquals(err, "backprop: run: bad --time-limit 'soon': expected a duration of at least 1s, such as 90, 30s, 5m or 2h\n")
end

S.finish()
