-- test_resume.lua: networks in the run log, checkpoints, and `backprop run
-- --resume` (LuaUnit). A run killed with SIGKILL and resumed must end with
-- the losses and weights of a run that was never stopped, to the bit.
local lu = require "luaunit"

package.path = (os.getenv("BP_SOURCE_DIR") or ".") .. "/tests/lua/?.lua;" .. package.path
local S = require "support"
local EXE, SRC, TMP, slurp, write, backprop, query = S.EXE, S.SRC, S.TMP, S.slurp, S.write, S.backprop, S.query

TestResume = {}

function TestResume:test_killed_and_resumed_equals_uninterrupted()
  local db = TMP .. "/resume.db"
  local _, err, code = backprop("run --db " .. db .. " scripts/resumable.lua epochs=10")
  lu.assertEquals(code, 0, err)
  -- run 2 stalls after epoch 4's checkpoint; kill -9 it there
  os.execute(string.format("cd %s && %s run --db %s scripts/resumable.lua epochs=10 stall_at=4 "
    .. ">/dev/null 2>%s/stall & echo $! > %s/pid", SRC, EXE, db, TMP, TMP))
  local pid = slurp(TMP .. "/pid"):match("%d+")
  local function stalled()
    local f = io.open(TMP .. "/stall")
    local text = f and f:read("a") or ""
    if f then f:close() end
    return text:find("stalled at epoch 4")
  end
  for _ = 1, 400 do
    if stalled() then break end
    os.execute("sleep 0.05")
  end
  lu.assertStrContains(slurp(TMP .. "/stall"), "stalled at epoch 4")
  os.execute("kill -KILL " .. pid .. "; sleep 0.2")
  -- a writable open (here `backprop runs`) sees the process is gone
  lu.assertStrMatches(select(1, backprop("runs --db " .. db)), ".*\n%s*2%s+resumable%s+crashed.*")
  local out
  out, err, code = backprop("run --db " .. db .. " --resume 2")
  lu.assertEquals(code, 0, err)
  lu.assertStrContains(out, "resumed after epoch 4\n")
  lu.assertEquals(query(db, "SELECT id, status FROM runs ORDER BY id"), {"1,completed", "2,completed"})
  -- every metric of run 2 equals run 1's at the same step, NaN-safe (IS)
  local n1 = query(db, "SELECT count(*) FROM metrics WHERE run_id = 1")[1]
  lu.assertTrue(tonumber(n1) > 80)
  lu.assertEquals(query(db, "SELECT count(*) FROM metrics WHERE run_id = 2"), {n1})
  lu.assertEquals(query(db, "SELECT count(*) FROM metrics a JOIN metrics b ON b.run_id = 2"
    .. " AND b.name_id = a.name_id AND b.step = a.step AND b.value IS a.value WHERE a.run_id = 1"), {n1})
  -- and the final network, byte for byte
  lu.assertEquals(query(db, "SELECT a.data = b.data FROM networks a, networks b"
    .. " WHERE a.run_id = 1 AND b.run_id = 2"), {"1"})
end

function TestResume:test_resume_refusals()
  local db = TMP .. "/refuse.db"
  backprop("run --db " .. db .. " scripts/resumable.lua epochs=2")
  local _, err, code = backprop("run --db " .. db .. " --resume 1")
  lu.assertEquals(code, 1)
  lu.assertEquals(err, "backprop: run: run 1 completed: there is nothing to resume\n")
  _, err = backprop("run --db " .. db .. " --resume 7")
  lu.assertEquals(err, "backprop: " .. db .. ": no run 7\n")
  _, err = backprop("run --db " .. db .. " --resume 1 scripts/resumable.lua")
  lu.assertEquals(err, "backprop: run: --resume ID takes no script, parameters, --seed, --name or --sweep: the run's own are used\n")
  _, err = backprop("run --db " .. TMP .. "/none.db --resume 1")
  lu.assertStrContains(err, "backprop: " .. TMP .. "/none.db: ")
  lu.assertNil(io.open(TMP .. "/none.db"))
end

function TestResume:test_networks_through_the_run_log()
  local db = TMP .. "/nets.db"
  local saver = write("saver.lua", [[
local bp = require "backprop"
local net = bp.net(2):add(3, "sigmoid"):add(1)
for step = 1, 5 do
  net:train_step({1, 2}, {3}, "half_se", 0.1)
  assert(bp.save_net(net, step))
end
print(table.concat(net:params(), " "))
]])
  local out1, err, code = backprop("run --db " .. db .. " " .. saver)
  lu.assertEquals(code, 0, err)
  local loader = write("loader.lua", [[
local bp = require "backprop"
local net = assert(bp.load_net(1))          -- the latest: step 5
print(table.concat(net:params(), " "))
print(net:steps(), tostring(net))
local early = assert(bp.load_net(1, 2))
print(early:steps())
print(bp.load_net(1, 9))
print(bp.load_net(1, nil, "other"))
]])
  local out2
  out2, err, code = backprop("run --db " .. db .. " " .. loader)
  lu.assertEquals(code, 0, err)
  local lines = {}
  for line in out2:gmatch("[^\n]*\n") do lines[#lines + 1] = line end
  lu.assertEquals(lines[1], out1) -- the same weights, printed the same way
  lu.assertEquals(lines[2], "5\tnet 2-3-1 (sigmoid, identity)\n")
  lu.assertEquals(lines[3], "2\n")
  lu.assertEquals(lines[4], "nil\t" .. db .. ": run 1 saved no network 'net' at step 9\n")
  lu.assertEquals(lines[5], "nil\t" .. db .. ": run 1 saved no network 'other'\n")
end

S.finish()
