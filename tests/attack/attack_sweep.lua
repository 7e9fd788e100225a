-- attack_sweep.lua: SIGKILL to a sweep at random moments, and resumed each
-- time (tests/attack/README.md). Two attacks, BP_ATTACK_KILLS kills each:
--  - the supervisor alone is killed (its trials are left running, told by
--    its death to stop), and `sweep --resume` started at once, while they
--    may still run;
--  - one of its trials is killed, the supervisor going on with the others,
--    and the sweep resumed once it has ended.
-- A sweep resumed until it completes is then checked against one that was
-- never interrupted: every trial completed exactly once (a trial that ran
-- twice at once would complete twice), the database passes
-- integrity_check, and each trial's losses are the uninterrupted sweep's,
-- to the bit. When a sweep completes before the kills are spent, another
-- begins in a new database.
local lu = require "luaunit"

package.path = (os.getenv("BP_SOURCE_DIR") or ".") .. "/tests/lua/?.lua;" .. package.path
local S = require "support"
local EXE, SRC, TMP, backprop, query = S.EXE, S.SRC, S.TMP, S.backprop, S.query
local clock, sleep, alive = S.clock, S.sleep, S.alive

local KILLS = math.tointeger(tonumber(os.getenv("BP_ATTACK_KILLS") or "")) or 10
local SEED = math.tointeger(tonumber(os.getenv("BP_ATTACK_SEED") or "")) or 1
math.randomseed(SEED)
print(string.format("attack_sweep: %d kills each, BP_ATTACK_SEED=%d", KILLS, SEED))

-- Six trials of an XOR network, 30,000 losses each, with a pause of 0.1 s
-- after every 10,000 steps: a call that does not look at signals (a long
-- step of real work), so that a trial told to stop by its supervisor's
-- death can still be running when the resume looks.
local SCRIPT = S.write("xor.lua", [[
local bp = require "backprop"
local lr, hidden = bp.param("lr", 0.5), bp.param("hidden", 4)
local net = bp.net(2):add(hidden, "tanh"):add(1, "sigmoid")
net:log_loss("loss")
local x, y = {{0, 0}, {0, 1}, {1, 0}, {1, 1}}, {{0}, {1}, {1}, {0}}
for step = 1, 30000 do
  local loss = net:train_step(x, y, "bce", lr)
  if step % 10000 == 0 then bp.report(loss, step); os.execute("sleep 0.1") end
end
]])
local SPEC = SCRIPT .. " lr=0.1,0.5,2 hidden=2,4"
local TRIALS = 6
local LOSSES = "SELECT t.trial, m.step, quote(m.value) FROM sweep_trials t JOIN metrics m"
  .. " ON m.run_id = t.run_id JOIN metric_names n ON n.id = m.name_id"
  .. " WHERE n.name = 'loss' ORDER BY t.trial, m.step"

-- A file's text, "" when there is none (yet).
local function read(path)
  local f = io.open(path)
  local text = f and f:read("a") or ""
  if f then f:close() end
  return text
end

-- The last line the background commands wrote on stderr.
local function last_error() return read(TMP .. "/bg.err"):match("([^\n]*)\n*$") end

-- Starts `backprop ARGS` in the background: its pid, and the file its exit
-- status goes to when it ends. Nothing started here keeps this process's
-- stdout: ctest waits for every holder of that pipe to close it, so a
-- process left behind would hold the test past its end (it is found by
-- settle instead).
local spawned, pids = 0, {}
local function spawn(args)
  spawned = spawned + 1
  local rc = string.format("%s/rc%d", TMP, spawned)
  os.execute(string.format("((cd %s && exec %s %s >/dev/null 2>>%s/bg.err) & p=$!;"
    .. " echo $p > %s/pid; wait $p; echo $? > %s) >/dev/null 2>&1 &", SRC, EXE, args, TMP, TMP, rc))
  local pid
  for _ = 1, 500 do
    pid = math.tointeger(tonumber(read(TMP .. "/pid"):match("%d+") or ""))
    if pid then break end
    sleep(0.01)
  end
  os.remove(TMP .. "/pid")
  pids[#pids + 1] = pid
  return pid, rc
end

-- The exit status of a process spawn started, once it has ended.
local function status_of(rc)
  for _ = 1, 6000 do
    local s = read(rc):match("%d+")
    if s then return math.tointeger(tonumber(s)) end
    sleep(0.01)
  end
end

-- /proc/PID/stat's state and parent, or nil when there is no such process.
local function stat(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then return nil end
  local s = f:read("a") or ""
  f:close()
  local state, ppid = s:match("%) (%a) (%d+)")
  return state, math.tointeger(tonumber(ppid))
end

local function kill(pid) os.execute("kill -KILL " .. pid .. " 2>/dev/null") end

-- Waits up to `seconds` for pid to end: whether it did.
local function await_gone(pid, seconds)
  for _ = 1, (seconds or 60) * 100 do
    if not alive(pid) then return true end
    sleep(0.01)
  end
  return false
end

-- The processes whose parent is pid and that run a trial (--trial in their
-- command line): a supervisor's trials. Only those: under LeakSanitizer a
-- process ending forks a tracer of itself, and a tracer killed leaves its
-- parent waiting for it for ever.
local function children(pid, any)
  local list = {}
  local p = io.popen("ls /proc")
  for name in p:lines() do
    local child = math.tointeger(tonumber(name))
    if child then
      local state, ppid = stat(child)
      if ppid == pid and state ~= "Z" and
          (any or read("/proc/" .. child .. "/cmdline"):find("--trial", 1, true)) then
        list[#list + 1] = child
      end
    end
  end
  p:close()
  return list
end

-- What a process that should have ended is doing: its state, where it
-- waits in the kernel, its command line and its children's, so that a
-- failure says more than a timeout would.
local function describe(pid)
  local function line(p)
    local state = stat(p) or "?"
    local wchan = read("/proc/" .. p .. "/wchan")
    local cmd = read("/proc/" .. p .. "/cmdline"):gsub("%z", " ")
    return string.format("pid %s (%s, in %s): %s", p, state, wchan, cmd)
  end
  local lines = {line(pid)}
  for _, c in ipairs(children(pid, true)) do lines[#lines + 1] = "  child " .. line(c) end
  return table.concat(lines, "\n")
end

-- Every process spawn started has ended, within `seconds`; otherwise they
-- are killed and the test fails naming them.
local SLACK = tonumber(os.getenv("BP_ATTACK_SLACK") or "") or 1
local function settle(seconds)
  local left = {}
  for _, pid in ipairs(pids) do
    if not await_gone(pid, seconds) then
      left[#left + 1] = describe(pid)
      kill(pid)
    end
  end
  pids = {}
  if #left > 0 then
    lu.fail("still running " .. seconds .. " s after the attack:\n" .. table.concat(left, "\n")
      .. "\nlast error: " .. tostring(last_error()))
  end
end

-- The uninterrupted sweep: its losses, and how long it took.
local reference_losses, WINDOW
local function reference()
  if reference_losses then return reference_losses end
  local db = TMP .. "/reference.db"
  local t0 = clock()
  local _, err, code = backprop("sweep --db " .. db .. " -j 2 " .. SPEC)
  WINDOW = clock() - t0
  lu.assertEquals(code, 0, err)
  reference_losses = query(db, LOSSES)
  lu.assertEquals(#reference_losses, TRIALS * 30000)
  return reference_losses
end

-- A sweep resumed to its end is the uninterrupted one: returns how many of
-- its runs did not complete (what the kills cost).
local function check(db)
  local _, err, code = backprop("sweep --db " .. db .. " --resume 1 -j 2")
  lu.assertEquals(code, 0, err)
  lu.assertEquals(query(db, "PRAGMA integrity_check"), {"ok"})
  local once = {}
  for t = 0, TRIALS - 1 do once[#once + 1] = t .. ",1" end
  lu.assertEquals(query(db, "SELECT trial, count(*) FROM runs WHERE status = 'completed'"
    .. " GROUP BY trial ORDER BY trial"), once)
  lu.assertEquals(query(db, "SELECT status, (SELECT count(*) FROM sweep_trials"
    .. " WHERE status = 'completed') FROM sweeps"), {"completed," .. TRIALS})
  local same = query(db, LOSSES)
  lu.assertEquals(#same, #reference_losses)
  for k = 1, #same do
    if same[k] ~= reference_losses[k] then
      lu.fail(string.format("%s: loss row %d is %s, uninterrupted %s", db, k, same[k],
        reference_losses[k]))
    end
  end
  return tonumber(query(db, "SELECT count(*) FROM runs WHERE status != 'completed'")[1])
end

-- Whether db holds its sweep yet (a supervisor killed at its very start
-- may have left no file, or one without the sweep's row).
local function recorded(db)
  local f = io.open(db)
  if not f then return false end
  f:close()
  local rows = S.try_query(db, "SELECT count(*) FROM sweeps")
  return rows ~= nil and rows[1] == "1"
end

TestAttackSweep = {}

-- The supervisor killed at a random moment, then resumed at once.
function TestAttackSweep:test_supervisor_killed_and_resumed()
  reference()
  os.remove(TMP .. "/bg.err")
  local kills, rounds, lost, t0 = 0, 0, 0, clock()
  while kills < KILLS do
    rounds = rounds + 1
    local db = TMP .. "/supervisor" .. rounds .. ".db"
    local args = "sweep --db " .. db .. " -j 2 " .. SPEC
    while kills < KILLS do
      local pid, rc = spawn(args)
      sleep(math.random() * WINDOW)
      if not alive(pid) then -- it ended first, and must have ended well
        lu.assertEquals(status_of(rc), 0, last_error())
        break
      end
      kill(pid)
      kills = kills + 1
      await_gone(pid)
      -- killed before it recorded its sweep, there is nothing to resume:
      -- the same command again (as a user would give it)
      if recorded(db) then args = "sweep --db " .. db .. " --resume 1 -j 2" end
    end
    lost = lost + check(db)
  end
  settle(60 * SLACK)
  local _, waited = read(TMP .. "/bg.err"):gsub("waiting for %d+ trials? left running", "")
  print(string.format("  supervisor: %d kills in %d sweep(s), each resumed at once (%d of the"
    .. " resumes waited for trials left running); every trial completed once, losses equal"
    .. " to the bit; %d runs cut short and run again; %.1f s", kills, rounds, waited, lost,
    clock() - t0))
end

-- A trial killed at a random moment; the sweep resumed once it has ended.
function TestAttackSweep:test_trials_killed_and_resumed()
  reference()
  local kills, rounds, t0 = 0, 0, clock()
  local lost = 0
  while kills < KILLS do
    rounds = rounds + 1
    local db = TMP .. "/trials" .. rounds .. ".db"
    local args = "sweep --db " .. db .. " -j 2 " .. SPEC
    local killed = -1
    while kills < KILLS and killed ~= 0 do
      local pid = spawn(args)
      killed = 0
      while alive(pid) and kills < KILLS do
        sleep(math.random() * WINDOW / 3)
        local trials = children(pid)
        if #trials > 0 then
          kill(trials[math.random(#trials)])
          kills, killed = kills + 1, killed + 1
        end
      end
      settle(math.max(60, 4 * WINDOW) * SLACK) -- it goes on with the trials left
      args = "sweep --db " .. db .. " --resume 1 -j 2"
    end
    lost = lost + check(db)
  end
  print(string.format("  trials: %d kills in %d sweep(s); every trial completed once, losses"
    .. " equal to the bit; %d runs cut short and run again; %.1f s", kills, rounds, lost,
    clock() - t0))
end

S.finish()
