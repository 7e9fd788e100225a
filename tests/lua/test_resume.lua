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

-- A graph with batch norm, dropout and a residual block (issue 13): its
-- checkpoint holds the architecture, the running statistics and the
-- optimiser's moments, the module's generator holds the dropout masks' stream;
-- a run stopped after epoch 3 and resumed ends with the bits of one never
-- stopped: every metric, and the saved network (values and buffers).
local GRAPH_RUN = [[
local bp = require "backprop"
local epochs, stop_at = bp.param("epochs", 6), bp.param("stop_at", 0)
local data = assert(bp.load_csv(bp.param("data", ""), {target = "species"}))
data:scale(data:scaler("standard"))
local net = bp.net(bp.sequential{bp.linear(4, 16, {name = "fc1"}), bp.batchnorm1d(16, {name = "bn1"}),
  bp.relu(), bp.dropout(0.3), bp.residual(bp.sequential{bp.linear(16, 16), bp.tanh()}),
  bp.linear(16, 3, {name = "head"})})
local opt = bp.optimizer(net, "adam", {lr = 0.01})
local start = bp.resume{net = net, opt = opt}
if start > 0 then print("resumed after epoch " .. start) end
for epoch = start + 1, epochs do
  net:fit{data = data, loss = "softmax_ce", optimizer = opt, epochs = 1, first_epoch = epoch,
          total_epochs = epochs, batch = 16, log = "loss"}
  bp.checkpoint(epoch, {net = net, opt = opt})
  if epoch == stop_at then os.exit(3) end
end
bp.save_net(net, epochs)
]]

function TestResume:test_graph_with_dropout_and_batchnorm_resumes_to_the_bit()
  local db, script = TMP .. "/graph_resume.db", write("graph_run.lua", GRAPH_RUN)
  local data = "data=" .. SRC .. "/data/iris.csv"
  local _, err, code = backprop("run --db " .. db .. " --seed 5 " .. script .. " " .. data)
  lu.assertEquals(code, 0, err)
  _, err, code = backprop("run --db " .. db .. " --seed 5 " .. script .. " " .. data .. " stop_at=3")
  lu.assertEquals(code, 3, err)
  lu.assertEquals(query(db, "SELECT count(*) FROM networks WHERE run_id = 2"), {"0"})
  local out
  out, err, code = backprop("run --db " .. db .. " --resume 2")
  lu.assertEquals(code, 0, err)
  lu.assertStrContains(out, "resumed after epoch 3\n")
  local n1 = query(db, "SELECT count(*) FROM metrics WHERE run_id = 1")[1]
  lu.assertTrue(tonumber(n1) >= 6)
  lu.assertEquals(query(db, "SELECT count(*) FROM metrics a JOIN metrics b ON b.run_id = 2"
    .. " AND b.name_id = a.name_id AND b.step = a.step AND b.value IS a.value WHERE a.run_id = 1"), {n1})
  -- the network files: version 2, and the same bytes
  lu.assertEquals(query(db, "SELECT a.data = b.data, hex(substr(a.data, 9, 4)) FROM networks a,"
    .. " networks b WHERE a.run_id = 1 AND b.run_id = 2"), {"1,02000000"})
  -- the batch norm's running mean moved (it starts at zeros), and its count is 6 epochs of 10 batches
  local probe = write("graph_probe.lua", [[
local bp = require "backprop"
local net = assert(bp.load_net(2))
local m = net:param("bn1.running_mean")
print(m[1] ~= 0, net:param("bn1.num_batches_tracked"))
]])
  out, err, code = backprop("run --db " .. db .. " " .. probe)
  lu.assertEquals(code, 0, err)
  lu.assertEquals(out, "true\t60.0\n")
  -- a resume into a net built otherwise is refused, naming it
  lu.assertTrue(os.execute("command -v sqlite3 >/dev/null"), "the sqlite3 shell (setup.sh installs it) damages the checkpoints here")
  assert(os.execute("sqlite3 " .. db .. " \"UPDATE runs SET status = 'failed' WHERE id = 2;"
    .. " UPDATE scripts SET text = replace(text, 'dropout(0.3)', 'dropout(0.4)')\""))
  _, err, code = backprop("run --db " .. db .. " --resume 2")
  lu.assertEquals(code, 1)
  lu.assertStrContains(err, "bp.resume: net 'net' is not built as it was when the checkpoint was made")
end

-- A checkpoint is read back from a database anything may have written: each
-- way it can be wrong has its own message (issue 19: they gave "invalid
-- option '%l' to 'lua_pushfstring'", "'net' was an optimizer" for an
-- unknown kind, or resumed from nothing).
function TestResume:test_bad_checkpoints()
  lu.assertTrue(os.execute("command -v sqlite3 >/dev/null"), "the sqlite3 shell (setup.sh installs it) damages the checkpoints here")
  local db = TMP .. "/badck.db"
  local script = write("ck.lua", [[
local bp = require "backprop"
local net = bp.net(2):add(3, "sigmoid"):add(1)
local opt = bp.optimizer(net, "adam", {lr = 0.01})
local start = bp.resume{net = net, opt = opt}
print("start", start)
if start == 0 then
  net:train_step({1, 2}, {3}, "half_se", opt)
  bp.checkpoint(1, {net = net, opt = opt})
  error("stop after the checkpoint")
end
]])
  local _, err, code = backprop("run --db " .. db .. " " .. script)
  lu.assertEquals(code, 1)
  lu.assertStrContains(err, "stop after the checkpoint")
  local p = io.popen("sqlite3 " .. db .. " 'SELECT hex(data) FROM checkpoints'")
  local hex = p:read("l")
  p:close()
  local blob = hex:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end)
  -- its layout: a 56-byte header, the count, then "net" and "opt"
  local head = blob:sub(1, 56)
  local nlen = string.unpack("<I4", blob, 61)
  local netlen = string.unpack("<I8", blob, 61 + 4 + nlen + 4 + 8)
  local net_end = 61 + 4 + nlen + 4 + 8 + 8 + netlen
  local net_entry, opt_entry = blob:sub(61, net_end - 1), blob:sub(net_end)
  lu.assertEquals(blob, head .. string.pack("<I4", 2) .. net_entry .. opt_entry)
  local function resume(data)
    local sql = data and ("x'" .. data:gsub(".", function(c) return string.format("%02X", c:byte()) end) .. "'")
      or "'not a checkpoint at all'"
    assert(os.execute(string.format("sqlite3 %s \"UPDATE checkpoints SET data = %s; UPDATE runs SET status = 'failed'\"", db, sql)))
    local out, e, rc = backprop("run --db " .. db .. " --resume 1")
    if rc == 0 then return out end
    lu.assertEquals(rc, 1)
    return e:match("^[^\n]*")
  end
  local at = "backprop: " .. script .. ":4: bp.resume: "
  local ck = "the checkpoint of run 1"
  lu.assertEquals(resume(""), at .. ck .. " is empty")
  lu.assertEquals(resume(nil), at .. ck .. " is not a backprop checkpoint (no BPCK at its start)")
  lu.assertEquals(resume("BPCK" .. string.pack("<I4", 2) .. blob:sub(9)),
    at .. ck .. " is of version 2, newer than this backprop reads (1); upgrade backprop")
  lu.assertEquals(resume("BPCK" .. string.pack("<I4", 0) .. blob:sub(9)), at .. ck .. " is corrupt: version 0")
  lu.assertEquals(resume(blob:sub(1, 40)), at .. ck .. " is truncated")
  lu.assertEquals(resume(blob:sub(1, #blob - 3)), at .. ck .. " is truncated")
  lu.assertEquals(resume(head .. string.pack("<I4", 0)), at .. ck .. " holds no objects, but 'net' was given")
  lu.assertEquals(resume(head .. string.pack("<I4", 1) .. net_entry),
    at .. "'opt' was given, but " .. ck .. " does not hold it")
  lu.assertEquals(resume(head .. string.pack("<I4", 3) .. net_entry .. net_entry .. opt_entry),
    at .. ck .. " holds 'net' twice")
  lu.assertEquals(resume(blob .. "\0"), at .. ck .. " has 1 byte after its last object")
  local kind_at = 61 + 4 + nlen
  local function with_kind(k) return blob:sub(1, kind_at - 1) .. string.pack("<I4", k) .. blob:sub(kind_at + 4) end
  lu.assertEquals(resume(with_kind(7)), at .. ck .. " holds 'net' of an unknown kind (7)")
  lu.assertEquals(resume(with_kind(2)), at .. "'net' was an optimizer when the checkpoint was made")
  -- and the checkpoint as it was still resumes
  lu.assertEquals(resume(blob), "start\t1\n")
end

-- Two `run --resume 1` at once: the first takes the run (its lock, in the
-- transaction that makes it running again), the second is refused while the
-- first holds it (both ran). Once the holder is gone the run can be taken
-- again, and of three resumes started together exactly one runs it.
function TestResume:test_one_resume_at_a_time()
  local db, mark, hold = TMP .. "/twice.db", TMP .. "/twice.mark", TMP .. "/twice.hold"
  local held = write("held.lua", [[
local bp = require "backprop"
local f = io.open(bp.param("mark", ""), "w"); f:write("up"); f:close()
while io.open(bp.param("hold", "")) do os.execute("sleep 0.05") end
]])
  write("twice.hold", "")
  -- run 1 is killed while it holds; resume A takes it and holds in turn
  local function start(args)
    os.remove(mark)
    os.execute(string.format("%s run --db %s %s >/dev/null 2>&1 & echo $! > %s/pid", EXE, db, args, TMP))
    lu.assertTrue(S.await_file(mark))
    return slurp(TMP .. "/pid"):match("%d+")
  end
  os.execute("kill -KILL " .. start(held .. " mark=" .. mark .. " hold=" .. hold))
  local a = start("--resume 1")
  local _, err, code = backprop("run --db " .. db .. " --resume 1")
  lu.assertEquals(code, 1)
  lu.assertEquals(err, "backprop: run: run 1 is being resumed by another process (pid " .. a .. ")\n")
  lu.assertEquals(query(db, "SELECT status, pid FROM runs"), {"running," .. a})
  os.execute("kill -KILL " .. a)
  -- three at once: one takes the run and holds it, the others are refused
  os.execute(string.format("for k in 1 2 3; do (%s run --db %s --resume 1 >%s/o$k 2>%s/e$k;"
    .. " echo $? > %s/c$k) & done", EXE, db, TMP, TMP, TMP))
  local function ended()
    local list = {}
    for k = 1, 3 do
      local f = io.open(TMP .. "/c" .. k)
      if f then f:close(); list[#list + 1] = k end
    end
    return list
  end
  for _ = 1, 400 do
    if #ended() >= 2 then break end
    os.execute("sleep 0.05")
  end
  local refused = ended()
  lu.assertEquals(#refused, 2)
  for _, k in ipairs(refused) do
    lu.assertEquals(slurp(TMP .. "/c" .. k), "1\n")
    lu.assertStrMatches(slurp(TMP .. "/e" .. k),
      "backprop: run: run 1 is being resumed by another process %(pid %d+%)\n")
  end
  os.remove(hold)
  for _ = 1, 400 do
    if #ended() == 3 then break end
    os.execute("sleep 0.05")
  end
  lu.assertEquals(#ended(), 3)
  lu.assertEquals(query(db, "SELECT status FROM runs"), {"completed"})
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
print(net:steps(), (tostring(net):match("^[^\n]*")))
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
  lu.assertStrContains(lines[2], "5\tnet 2-3-1 (sigmoid, identity), float64, ")
  lu.assertEquals(lines[3], "2\n")
  lu.assertEquals(lines[4], "nil\t" .. db .. ": run 1 saved no network 'net' at step 9\n")
  lu.assertEquals(lines[5], "nil\t" .. db .. ": run 1 saved no network 'other'\n")
end

S.finish()
