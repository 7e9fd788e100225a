-- test_luasave.lua: a network with a module written in Lua, saved and loaded
-- (LuaUnit). bp.module{name = ...} registers its definition under the name;
-- a network file records the name and the module's tensors, and loading
-- looks the name up: the same outputs and parameters to the bit with the
-- definition registered, refused with a message naming the module without
-- it (in a fresh process, `backprop lua`) or with one whose parameters
-- differ. Through the run log as well: a run with a Lua module failing after
-- a checkpoint and resumed ends with the losses, the network and the weight
-- snapshot of a run never stopped, to the bit. (The format: tests/test_save_host.c.)
local lu = require "luaunit"
package.path = (os.getenv("BP_SOURCE_DIR") or ".") .. "/tests/lua/?.lua;" .. package.path
local S = require "support"
local bp = require "backprop"

local TMP, slurp, write, backprop, query = S.TMP, S.slurp, S.write, S.backprop, S.query

local GATE = S.GATE -- the gate, registered as "gate"
local gate = assert(load(GATE))

local X = {{1, 2, 3}, {0.5, -1, 2}, {-2, 0.25, 1}}
local Y = {{1, 0}, {0, 1}, {1, 1}}

-- A net with the gate in a residual block, trained a few steps (so that its
-- weights are not the definition's).
local function trained(dtype)
  bp.seed(4)
  local net = bp.net(bp.sequential{bp.linear(3, 4), bp.residual(gate(bp)), bp.linear(4, 2)},
                     {dtype = dtype})
  for _ = 1, 5 do net:train_step(X, Y, "mse", 0.1) end
  return net
end

TestLuaSave = {}

function TestLuaSave:test_saved_and_loaded_to_the_bit()
  for _, dtype in ipairs({"float64", "float32"}) do
    local a = trained(dtype)
    local path = TMP .. "/gate_" .. dtype .. ".bpn"
    lu.assertEquals(a:save(path), true)
    local b = assert(bp.load(path))
    lu.assertEquals(tostring(b), tostring(a))
    lu.assertStrContains(tostring(b), "Lua(gate)")
    lu.assertEquals(b:params(), a:params())
    lu.assertEquals(b:forward(X), a:forward(X))
    -- it trains on as the original does, and saves to the same bytes
    a:train_step(X, Y, "mse", 0.1)
    b:train_step(X, Y, "mse", 0.1)
    lu.assertEquals(b:params(), a:params())
    lu.assertEquals(b:save(path .. "2"), true)
    lu.assertEquals(a:save(path), true)
    lu.assertEquals(slurp(path .. "2"), slurp(path))
  end
end

-- A fresh process: the file is refused until the definition is registered.
function TestLuaSave:test_refused_without_the_definition()
  local path = TMP .. "/gate.bpn"
  assert(trained("float64"):save(path))
  write("gate.lua", GATE)
  local script = write("load.lua", string.format([[
local bp = require "backprop"
local path = %q
print(select(2, bp.load(path)))
assert(loadfile(%q))(bp)
local net = assert(bp.load(path))
print(#net:params_list(), net:forward({{1, 2, 3}})[1][1])
]], path, TMP .. "/gate.lua"))
  local out, err, code = backprop("lua " .. script)
  lu.assertEquals(code, 0, err)
  local want = trained("float64"):forward({{1, 2, 3}})[1][1]
  lu.assertEquals(out, path .. ": module '2.2' is the Lua module 'gate', which is not "
    .. "registered: make it with bp.module{name = \"gate\", forward = ..., backward = ...} "
    .. "before loading\n" .. string.format("5\t%s\n", want))
end

-- Registered under the name, but with other parameters than the file's
-- (in a fresh process, so that the gate itself is not registered): the
-- message names the parameter; the gate registered after them loads.
function TestLuaSave:test_refused_with_another_definition()
  local path = TMP .. "/other.bpn"
  assert(trained("float64"):save(path))
  local script = write("other.lua", string.format([[
local bp = require "backprop"
local path = %q
local function define(params)
  bp.module{name = "gate", params = params, forward = function(_, x) return x end,
            backward = function(_, _, dout) return dout end}
  print(select(2, bp.load(path)))
end
define({w = bp.zeros(4, 3)})
define({v = bp.zeros(4, 4)})
define({w = bp.zeros(4, 4), b = bp.zeros(4)})
assert(load(%q))(bp)
print(bp.load(path):param_count())
]], path, GATE))
  local out, err, code = backprop("lua " .. script)
  lu.assertEquals(code, 0, err)
  lu.assertEquals(out, table.concat({
    path .. ": module '2.2': parameter 'w' has shape {4, 4} in the file and {4, 3} in the "
      .. "definition 'gate' it is loaded with",
    path .. ": module '2.2': parameter 'w' is in the file but not in the definition 'gate' "
      .. "it is loaded with",
    path .. ": module '2.2': parameter 'b' is in the definition 'gate' it is loaded with but "
      .. "not in the file",
    "42", ""}, "\n"))
end

-- One name, several sizes (a factory's modules): each is registered with
-- its shapes, and a file with both loads each with its own.
function TestLuaSave:test_a_factory_of_sizes()
  local function scaled(n, k)
    return bp.module{name = "scaled", outputs = n, params = {s = bp.zeros(n):fill(k)},
      forward = function(self, x) return x * self.s end,
      backward = function(self, x, dout)
        self.grad.s:add((dout * x):sum(1):reshape(n), self.grad.s)
        return dout * self.s
      end}
  end
  bp.seed(2)
  local a = bp.net(bp.sequential{bp.linear(3, 4), scaled(4, 2), bp.linear(4, 2), scaled(2, 3)})
  local path = TMP .. "/scaled.bpn"
  assert(a:save(path))
  scaled(4, 0) -- a later one of the same shapes replaces the first: values come from the file
  local b = assert(bp.load(path))
  lu.assertEquals(b:params(), a:params())
  lu.assertEquals(b:forward(X), a:forward(X))
  lu.assertEquals(b:tensor("4.s"):totable(), {3, 3})
end

-- A module made without a name has no definition a loader could find.
function TestLuaSave:test_unnamed_module_is_refused_at_saving()
  local twice = bp.module{forward = function(_, x) return x * 2 end,
                          backward = function(_, _, dout) return dout * 2 end}
  local net = bp.net(bp.sequential{bp.linear(2, 2), twice})
  local ok, err = net:save(TMP .. "/lua.bpn")
  lu.assertNil(ok)
  lu.assertEquals(err, "module '2' is computed by a host's functions (a module written in Lua) "
    .. "with no definition name: a network file names the definition its loader must have, "
    .. "so this network cannot be saved; name it (bp.module{name = ...})")
  lu.assertNil(io.open(TMP .. "/lua.bpn"))
end

-- A run with the gate: checkpointed each epoch, failing after epoch 3 when
-- told to, resumed; its network read back from the run log.
local RESUMABLE = string.format([[
local bp = require "backprop"
local epochs, fail_at = bp.param("epochs", 6), bp.param("fail_at", 0)
local gate = assert(load(%q))(bp)
local x, y = {}, {}
for i = 1, 40 do
  x[i] = {bp.uniform(-1, 1), bp.uniform(-1, 1), bp.uniform(-1, 1)}
  y[i] = {x[i][1] * x[i][2], x[i][3]}
end
local d = bp.data(x, y)
local net = bp.net(bp.sequential{bp.linear(3, 4), bp.residual(gate), bp.tanh(), bp.linear(4, 2)})
local opt = bp.optimizer(net, "adam", {lr = 0.02})
local start = bp.resume{net = net, opt = opt}
for epoch = start + 1, epochs do
  net:fit{data = d, loss = "mse", optimizer = opt, epochs = 1, first_epoch = epoch,
          total_epochs = epochs, batch = 8, shuffle = true, log = "loss"}
  bp.checkpoint(epoch, {net = net, opt = opt})
  if epoch == fail_at then error("failing after epoch " .. epoch) end
end
bp.save_net(net, epochs)
bp.log_weights(net, epochs)
]], GATE)

function TestLuaSave:test_resumed_run_is_bit_identical()
  local db = TMP .. "/resume.db"
  local script = write("resumable_gate.lua", RESUMABLE)
  local _, err, code = backprop("run --db " .. db .. " " .. script)
  lu.assertEquals(code, 0, err)
  _, err, code = backprop("run --db " .. db .. " " .. script .. " fail_at=3")
  lu.assertEquals(code, 1)
  lu.assertStrContains(err, "failing after epoch 3")
  _, err, code = backprop("run --db " .. db .. " --resume 2")
  lu.assertEquals(code, 0, err)
  lu.assertEquals(query(db, "SELECT id, status FROM runs ORDER BY id"),
                  {"1,completed", "2,completed"})
  -- every loss of run 2 is run 1's at the same step, and so is the network
  local n1 = query(db, "SELECT count(*) FROM metrics WHERE run_id = 1")[1]
  lu.assertTrue(tonumber(n1) >= 6)
  lu.assertEquals(query(db, "SELECT count(*) FROM metrics WHERE run_id = 2"), {n1})
  lu.assertEquals(query(db, "SELECT count(*) FROM metrics a JOIN metrics b ON b.run_id = 2"
    .. " AND b.name_id = a.name_id AND b.step = a.step AND b.value IS a.value WHERE a.run_id = 1"),
    {n1})
  lu.assertEquals(query(db, "SELECT a.data = b.data FROM networks a, networks b"
    .. " WHERE a.run_id = 1 AND b.run_id = 2"), {"1"})
  -- a snapshot holds the gate's tensor as any other, by its name
  lu.assertEquals(query(db, "SELECT count(*), min(w.i1), max(w.i2) FROM snapshots s,"
    .. " bp_weights(s.data, s.shape) w WHERE s.run_id = 1 AND w.param = '2.2.w'"), {"16,1,4"})
  lu.assertEquals(query(db, "SELECT a.data = b.data FROM snapshots a, snapshots b"
    .. " WHERE a.run_id = 1 AND b.run_id = 2"), {"1"})
  -- bp.load_net takes run 1's network back with the definition registered
  write("gate.lua", GATE)
  local reader = write("read.lua", string.format([[
local bp = require "backprop"
print(select(2, bp.load_net(1)))
assert(loadfile(%q))(bp)
print(bp.load_net(1):param_count())
]], TMP .. "/gate.lua"))
  local out
  out, err, code = backprop("run --db " .. db .. " " .. reader)
  lu.assertEquals(code, 0, err)
  lu.assertEquals(out, "network 'net' of run 1: module '2.2' is the Lua module 'gate', which is "
    .. "not registered: make it with bp.module{name = \"gate\", forward = ..., backward = ...} "
    .. "before loading\n42\n")
end

S.finish()
