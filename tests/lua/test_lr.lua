-- test_lr.lua: learning rates as researchers set them (issue 22), from Lua:
-- parameter groups, frozen layers, the plateau and onecycle schedules
-- through fit, each group's lr as a metric, and a run with all of them
-- stopped and resumed ending with the bits of one never stopped (LuaUnit).
-- The rules' arithmetic by hand is tests/test_lr.c's; here, what the
-- bindings add.
local lu = require "luaunit"
local bp = require "backprop"

package.path = (os.getenv("BP_SOURCE_DIR") or ".") .. "/tests/lua/?.lua;" .. package.path
local S = require "support"
local TMP, write, backprop, query = S.TMP, S.write, S.backprop, S.query
local assert_error_text = S.assert_error_text

-- A regression of 32 rows, 2 inputs, drawn from a seeded generator.
local function data(seed)
  bp.seed(seed or 3)
  local x, y = {}, {}
  for i = 1, 32 do
    local a, b = bp.uniform(-1, 1), bp.uniform(-1, 1)
    x[i], y[i] = {a, b}, {math.sin(2 * a) + b * b}
  end
  return bp.data(x, y)
end

TestLr = {}

-- SGD makes each group's step visible: w - lr_g * grad, exactly.
function TestLr:test_groups_take_their_own_rates()
  bp.seed(1)
  local net = bp.net(2):add(3, "tanh"):add(1)
  local opt = bp.optimizer(net, "sgd", {lr = 0.1, groups = {
    {params = "*.bias", lr = 0.5, name = "biases"}, {params = {"2.weight"}, lr = 0}}})
  local groups = opt:groups(net)
  lu.assertEquals(#groups, 3)
  lu.assertEquals(groups[1].params, {"1.bias", "2.bias"})
  lu.assertEquals(groups[2].name, "2")
  lu.assertEquals(groups[3].name, "rest")
  lu.assertEquals(groups[3].params, {"1.weight"})
  lu.assertEquals(opt:lr("biases"), 0.5)
  lu.assertEquals(opt:lr("rest"), 0.1)
  local before = {}
  for _, name in ipairs({"1.weight", "1.bias", "2.weight", "2.bias"}) do before[name] = net:param(name) end
  local out = net:forward({0.3, -0.7})
  net:backward({out[1] - 1})
  local grad = {["1.weight"] = net:grad("1.weight"), ["1.bias"] = net:grad("1.bias")}
  opt:step(net)
  local w, b = net:param("1.weight"), net:param("1.bias")
  for n = 1, 3 do
    lu.assertEquals(b[n], before["1.bias"][n] - 0.5 * grad["1.bias"][n])
    for i = 1, 2 do lu.assertEquals(w[n][i], before["1.weight"][n][i] - 0.1 * grad["1.weight"][n][i]) end
  end
  lu.assertEquals(net:param("2.weight"), before["2.weight"]) -- lr 0
  opt:lr("biases", 0.25)
  lu.assertEquals(opt:lr("biases"), 0.25)
  opt:lr(0.05) -- every group's
  lu.assertEquals({opt:lr("biases"), opt:lr("2"), opt:lr("rest")}, {0.05, 0.05, 0.05})
end

function TestLr:test_group_errors()
  local net = bp.net(2):add(3, "tanh"):add(1)
  assert_error_text("group 1: no parameter or module matches 'fc*'",
    function() bp.optimizer(net, "adam", {groups = {{params = "fc*"}}}) end)
  assert_error_text("parameter '2.bias' is in groups '1' and '2' (one group a parameter, as in PyTorch)",
    function() bp.optimizer(net, "adam", {groups = {{params = "2"}, {params = "*.bias"}}}) end)
  assert_error_text("group 1: option 'momentum' does not apply to adam",
    function() bp.optimizer(net, "adam", {groups = {{params = "2", momentum = 0.9}}}) end)
  assert_error_text("group 1: unknown option 'clip_norm' (expected params, name, lr, weight_decay, beta1, beta2 or eps)",
    function() bp.optimizer(net, "adam", {groups = {{params = "2", clip_norm = 1}}}) end)
  assert_error_text("group '1': weight_decay must be a finite number >= 0 (got -1)",
    function() bp.optimizer(net, "adam", {groups = {{params = "2", weight_decay = -1}}}) end)
  local opt = bp.optimizer(net, "adam", {groups = {{params = "2", name = "head"}}})
  assert_error_text("no group 'tail' (the groups: head, rest)", function() opt:lr("tail") end)
  assert_error_text("schedule_step needs a plateau schedule (this one is none)",
    function() opt:schedule_step(1) end)
end

-- A frozen layer's weights are the same bits after training; unfrozen, it
-- trains again. Its gradient is not computed (tests/test_lr.c counts it).
function TestLr:test_frozen_layer_is_bit_identical()
  local d = data()
  local net = bp.net(bp.sequential{bp.linear(2, 8), bp.tanh(), bp.linear(8, 1)})
  lu.assertIs(net:freeze("1"), net)
  local w, b = net:param("1.weight"), net:param("1.bias")
  local frozen = {}
  for _, p in ipairs(net:params_list()) do frozen[p.name] = p.frozen end
  lu.assertEquals(frozen, {["1.weight"] = true, ["1.bias"] = true, ["3.weight"] = false, ["3.bias"] = false})
  local w3 = net:param("3.weight")
  net:fit{data = d, loss = "mse", optimizer = bp.optimizer(net, "adamw", {lr = 0.01}), epochs = 3,
          batch = 8, epoch_log = false}
  lu.assertEquals(net:param("1.weight"), w)
  lu.assertEquals(net:param("1.bias"), b)
  lu.assertNotEquals(net:param("3.weight"), w3)
  net:fit{data = d, loss = "mse", lr = 0.1, epochs = 1, epoch_log = false} -- plain descent too
  lu.assertEquals(net:param("1.weight"), w)
  net:unfreeze("1.weight")
  net:fit{data = d, loss = "mse", lr = 0.1, epochs = 1, epoch_log = false}
  lu.assertNotEquals(net:param("1.weight"), w)
  lu.assertEquals(net:param("1.bias"), b)
  assert_error_text("no parameter or module matches 'conv1'", function() net:freeze("conv1") end)
  assert_error_text("names or patterns (strings) expected", function() net:freeze({1}) end)
end

-- A frozen batch norm keeps its running statistics (and a stack frozen by
-- a layer's number stays a stack, which checkpoints and saving take).
function TestLr:test_frozen_batchnorm_keeps_its_statistics()
  local d = data()
  local net = bp.net(bp.sequential{bp.linear(2, 4), bp.batchnorm1d(4), bp.relu(), bp.linear(4, 1)})
  net:fit{data = d, loss = "mse", lr = 0.05, epochs = 1, epoch_log = false}
  local mean, var = net:param("2.running_mean"), net:param("2.running_var")
  local count = net:param("2.num_batches_tracked")
  net:freeze("2")
  net:fit{data = d, loss = "mse", lr = 0.05, epochs = 2, epoch_log = false}
  lu.assertEquals(net:param("2.running_mean"), mean)
  lu.assertEquals(net:param("2.running_var"), var)
  lu.assertEquals(net:param("2.num_batches_tracked"), count)
  local stack = bp.net(2):add(3, "tanh"):add(1)
  lu.assertFalse(stack:is_graph())
  stack:freeze("2.bias")
  lu.assertFalse(stack:is_graph())
end

-- A plateau through a scripted metric sequence (mode max, absolute
-- threshold 0.1, patience 1, factor 0.5): 0.5 (best), 0.55 (not 0.1
-- better: bad 1), 0.58 (bad 2 > 1: cut to 0.05), 0.9 (best), 0.95 (bad 1).
function TestLr:test_plateau_by_hand()
  local net = bp.net(2):add(1)
  local opt = bp.optimizer(net, "sgd", {lr = 0.1, schedule = {"plateau", mode = "max",
    threshold_mode = "abs", threshold = 0.1, patience = 1, factor = 0.5}})
  local want = {0.1, 0.1, 0.05, 0.05, 0.05}
  for k, m in ipairs({0.5, 0.55, 0.58, 0.9, 0.95}) do
    opt:schedule_step(m)
    lu.assertEquals(opt:lr(), want[k])
  end
  assert_error_text("option 'schedule': threshold_mode must be 'rel' or 'abs'",
    function() opt:schedule{"plateau", threshold_mode = "relative"} end)
  assert_error_text("option 'schedule': patience must be a whole number (got 1.5)",
    function() opt:schedule{"plateau", patience = 1.5} end)
end

-- Through fit's validation: threshold 1 makes no epoch better (PyTorch's
-- best * (1 - 1) of an infinite best is NaN), so with patience 0 each
-- epoch cuts the lr by the factor.
function TestLr:test_plateau_steps_on_fits_validation()
  local d = data()
  local net = bp.net(2):add(4, "tanh"):add(1)
  local opt = bp.optimizer(net, "adam", {lr = 0.08, schedule = {"plateau", patience = 0,
    factor = 0.5, threshold = 1}})
  net:fit{data = d, validation = d, loss = "mse", optimizer = opt, epochs = 3, epoch_log = false}
  lu.assertEquals(opt:lr(), 0.08 * 0.5 * 0.5 * 0.5)
  assert_error_text("plateau schedule: this epoch has no 'val_accuracy' (plateau_metric)",
    function() net:fit{data = d, validation = d, loss = "mse", optimizer = opt,
                       plateau_metric = "val_accuracy", epoch_log = false} end)
  assert_error_text("field 'log_lr': needs a built-in optimizer (not lr =, nor one written in Lua)",
    function() net:fit{data = d, loss = "mse", lr = 0.1, log_lr = true} end)
end

-- onecycle's lr of each step, logged by fit{log_lr = true} for each group
-- (lr_head, lr_rest): total_steps 8 (2 epochs of 4 batches), pct_start
-- 0.25, max_lr 1 for every group. The first phase ends at t = 0.25 * 8 - 1
-- = 1: steps 1 and 2 (t = 0, 1) at 0.04 and 1; step 3 (t = 2) at
-- z + (1 - z) / 2 * (cos(pi / 6) + 1), z = 0.04 / 1e4; step 8 (t = 7) at z.
function TestLr:test_onecycle_lrs_logged_per_group()
  local script = write("onecycle.lua", [[
local bp = require "backprop"
bp.seed(2)
local x, y = {}, {}
for i = 1, 32 do x[i] = {bp.uniform(), bp.uniform()}; y[i] = {x[i][1] - x[i][2]} end
local net = bp.net(2):add(4, "tanh"):add(1)
local opt = bp.optimizer(net, "adam", {lr = 1, groups = {{params = "2", name = "head"}},
  schedule = {"onecycle", total_steps = 8, pct_start = 0.25, max_lr = 1}})
net:fit{data = bp.data(x, y), loss = "mse", optimizer = opt, epochs = 2, batch = 8, log_lr = true}
]])
  local db = TMP .. "/onecycle.db"
  local _, err, code = backprop("run --db " .. db .. " " .. script)
  lu.assertEquals(code, 0, err)
  local rows = query(db, "SELECT step, value FROM metrics_view WHERE name = 'lr_head' ORDER BY step")
  lu.assertEquals(#rows, 8)
  local lr = {}
  for _, r in ipairs(rows) do
    local step, v = r:match("^(%d+),(.*)$")
    lr[tonumber(step)] = tonumber(v)
  end
  local z = 0.04 / 1e4
  lu.assertAlmostEquals(lr[1], 0.04, 1e-15)
  lu.assertAlmostEquals(lr[2], 1, 1e-15)
  lu.assertAlmostEquals(lr[3], z + (1 - z) / 2 * (math.cos(math.pi / 6) + 1), 1e-15)
  lu.assertAlmostEquals(lr[8], z, 1e-15)
  lu.assertEquals(query(db, "SELECT count(*) FROM metrics_view WHERE name = 'lr_rest'"), {"8"})
end

-- Groups, a frozen layer and a plateau, checkpointed every epoch: stopped
-- after epoch 3 and resumed, the run ends with every metric (the lrs
-- among them) and the network of a run never stopped, bit for bit.
function TestLr:test_resume_restores_groups_and_plateau()
  local script = write("lr_resume.lua", [[
local bp = require "backprop"
local epochs, fail_at = bp.param("epochs", 6), bp.param("fail_at", 0)
bp.seed(5)
local x, y = {}, {}
for i = 1, 48 do
  local a, b = bp.uniform(-1, 1), bp.uniform(-1, 1)
  x[i], y[i] = {a, b}, {math.sin(2 * a) + b * b}
end
local d = bp.data(x, y)
local net = bp.net(2):add(8, "tanh"):add(8, "tanh"):add(1)
net:freeze("1")
local opt = bp.optimizer(net, "adam", {lr = 0.02, weight_decay = 1e-3,
  groups = {{params = "*.bias", lr = 0.05, weight_decay = 0, name = "bias"}},
  schedule = {"plateau", patience = 0, factor = 0.5, threshold = 0.2}})
local start = bp.resume{net = net, opt = opt}
for epoch = start + 1, epochs do
  net:fit{data = d, loss = "mse", optimizer = opt, epochs = 1, first_epoch = epoch,
          batch = 8, log = "loss", log_lr = true}
  bp.checkpoint(epoch, {net = net, opt = opt})
  if epoch == fail_at then error("stopped after epoch " .. epoch) end
end
bp.save_net(net, epochs)
]])
  local db = TMP .. "/lr_resume.db"
  local _, err, code = backprop("run --db " .. db .. " " .. script)
  lu.assertEquals(code, 0, err)
  _, err, code = backprop("run --db " .. db .. " " .. script .. " fail_at=3")
  lu.assertEquals(code, 1)
  lu.assertStrContains(err, "stopped after epoch 3")
  _, err, code = backprop("run --db " .. db .. " --resume 2")
  lu.assertEquals(code, 0, err)
  local n1 = query(db, "SELECT count(*) FROM metrics WHERE run_id = 1")[1]
  lu.assertTrue(tonumber(n1) > 6 * 6 * 3)
  lu.assertEquals(query(db, "SELECT count(*) FROM metrics a JOIN metrics b ON b.run_id = 2"
    .. " AND b.name_id = a.name_id AND b.step = a.step AND b.value IS a.value WHERE a.run_id = 1"), {n1})
  lu.assertEquals(query(db, "SELECT a.data = b.data FROM networks a, networks b"
    .. " WHERE a.run_id = 1 AND b.run_id = 2"), {"1"})
  -- the plateau did cut: the last lr of the biases is below its base
  local last = query(db, "SELECT value FROM metrics_view WHERE run_id = 1 AND name = 'lr_bias'"
    .. " ORDER BY step DESC LIMIT 1")[1]
  lu.assertTrue(tonumber(last) < 0.05)
end


S.finish()
