-- test_float32.lua: float32 networks, bp.threads, train_steps and the lean
-- train_step path, through the Lua API (LuaUnit).
local lu = require "luaunit"
package.path = (os.getenv("BP_SOURCE_DIR") or ".") .. "/tests/lua/?.lua;" .. package.path
local S = require "support"
local bp = require "backprop"

local function lecture_net(dtype)
  local net = bp.net(2, {dtype = dtype})
  net:add(3, "sigmoid", {weights = {{0.5, 0.3}, {-0.1, 0.1}, {-0.4, 0.6}}, bias = 1})
  net:add(1, "identity", {weights = {{-0.23, 0.3, 0.1}}, bias = 1})
  return net
end

local assert_error_text = S.assert_error_text

TestFloat32 = {}

function TestFloat32:test_dtype_is_chosen_at_construction()
  lu.assertEquals(bp.net(3):dtype(), "float64")
  lu.assertEquals(bp.net(3, {dtype = "float64"}):dtype(), "float64")
  lu.assertEquals(bp.net(3, {dtype = "float32"}):dtype(), "float32")
  assert_error_text("bad argument #2 to 'net' (unknown dtype 'half' (expected float64 or float32))",
                    function() bp.net(3, {dtype = "half"}) end)
  assert_error_text("bad argument #2 to 'net' (unknown option 'dtyp' (expected dtype))",
                    function() bp.net(3, {dtyp = "float32"}) end)
end

function TestFloat32:test_accessors_read_floats_as_doubles()
  local net = lecture_net("float32")
  -- 0.3 is no float: it reads back as the float nearest to it
  lu.assertNotEquals(net:weight(1, 1, 2), 0.3)
  lu.assertAlmostEquals(net:weight(1, 1, 2), 0.3, 1e-7)
  lu.assertEquals(net:weight(1, 1, 1), 0.5)
  net:set_weight(1, 1, 1, 0.25)
  lu.assertEquals(net:weights(1)[1][1], 0.25)
  lu.assertEquals(net:biases(2), {1})
  lu.assertEquals(#net:params(), 13)
end

-- The lecture's figures in float32, within float's rounding: the stages and
-- the one-call step.
function TestFloat32:test_lecture_in_float32()
  local d, f = lecture_net("float64"), lecture_net("float32")
  local crit = bp.loss("half_se")
  local yd, yf = d:forward({1, 2}), f:forward({1, 2})
  lu.assertAlmostEquals(yf[1], yd[1], 1e-6)
  lu.assertAlmostEquals(f:h(1)[1], 2.1, 1e-6)
  f:backward(crit:backward(yf, {3}))
  d:backward(crit:backward(yd, {3}))
  lu.assertAlmostEquals(f:grad_weight(1, 1, 1), d:grad_weight(1, 1, 1), 1e-6)
  lu.assertAlmostEquals(f:grad_weight(1, 1, 1), 0.04234, 0.000005)
  lu.assertAlmostEquals(f:grad_o(1)[1], d:grad_o(1)[1], 1e-6)
  for _ = 1, 100 do
    local ld, lf = d:train_step({1, 2}, {3}, crit, 0.01), f:train_step({1, 2}, {3}, crit, 0.01)
    lu.assertAlmostEquals(lf, ld, 1e-5 * math.max(ld, 1e-3))
  end
  local pd, pf = d:params(), f:params()
  for k = 1, #pd do lu.assertAlmostEquals(pf[k], pd[k], 1e-5) end
end

-- A float32 network follows the float64 one on a batch large enough for
-- BLAS, with an optimizer too.
function TestFloat32:test_batch_with_optimizer()
  local function net(dtype)
    bp.seed(4)
    local n = bp.net(16, {dtype = dtype})
    n:add(32, "relu"):add(8, "tanh"):add(3)
    return n
  end
  local d, f = net("float64"), net("float32")
  f:set_params(d:params())
  local x, y = {}, {}
  bp.seed(5)
  for s = 1, 40 do
    x[s], y[s] = {}, {0, 0, 0}
    for i = 1, 16 do x[s][i] = bp.uniform() end
    y[s][s % 3 + 1] = 1
  end
  local od = bp.optimizer(d, "adam", {lr = 0.01})
  local of = bp.optimizer(f, "adam", {lr = 0.01})
  local ld, lf
  for _ = 1, 30 do
    ld = d:train_step(x, y, "softmax_ce", od)
    lf = f:train_step(x, y, "softmax_ce", of)
  end
  lu.assertAlmostEquals(lf, ld, 1e-5)
  lu.assertTrue(ld < 1.0)
  local out_d, out_f = d:forward(x), f:forward(x)
  lu.assertAlmostEquals(out_f[7][2], out_d[7][2], 1e-4)
end

TestSpeedPaths = {}

-- train_steps is train_step in a C loop: the same numbers, bit for bit.
function TestSpeedPaths:test_train_steps_is_a_loop_of_train_step()
  for _, dtype in ipairs{"float64", "float32"} do
    local a, b = lecture_net(dtype), lecture_net(dtype)
    local crit, la = bp.loss("half_se")
    for _ = 1, 500 do la = a:train_step({1, 2}, {3}, crit, 0.01) end
    local lb = b:train_steps({1, 2}, {3}, crit, 0.01, 500)
    lu.assertEquals(lb, la)
    lu.assertEquals(b:params(), a:params())
    lu.assertEquals(b:steps(), 500)
  end
  local net = lecture_net()
  local opt = bp.optimizer(net, "sgd", {lr = 0.01, momentum = 0.5})
  lu.assertTrue(net:train_steps({{1, 2}, {0, 1}}, {{3}, {1}}, "mse", opt, 10) > 0)
  lu.assertEquals(opt:steps(), 10)
  assert_error_text("bad argument #5 to 'train_steps' (count must be >= 1)",
                    function() net:train_steps({1, 2}, {3}, "mse", 0.1, 0) end)
end

-- The lean path of train_step (a cached type check, a plain table read)
-- falls back to the full checks for anything unusual.
function TestSpeedPaths:test_lean_path_keeps_every_check()
  local net, crit = lecture_net(), bp.loss("half_se")
  net:train_step({1, 2}, {3}, crit, 0.01)
  assert_error_text("bad argument #1 to 'train_step' (element 2: number expected, got string)",
                    function() net:train_step({1, "2"}, {3}, crit, 0.01) end)
  assert_error_text("bad argument #1 to 'train_step' (expected 2 inputs, got 3)",
                    function() net:train_step({1, 2, 3}, {3}, crit, 0.01) end)
  assert_error_text("learning rate must be a finite number >= 0, got nan",
                    function() net:train_step({1, 2}, {3}, crit, 0 / 0) end)
  -- a table with a metatable takes the general path, and works
  local x = setmetatable({1, 2}, {})
  lu.assertIsNumber(net:train_step(x, {3}, crit, 0.01))
  crit:close()
  assert_error_text("attempt to use a closed loss",
                    function() net:train_step({1, 2}, {3}, crit, 0.01) end)
  local other = lecture_net()
  other:train_step({1, 2}, {3}, "half_se", 0.01)
  net:close()
  assert_error_text("attempt to use a closed net",
                    function() net:train_step({1, 2}, {3}, "half_se", 0.01) end)
  assert_error_text("bad argument #1 to 'train_step' (backprop.net expected, got backprop.loss)",
                    function() other.train_step(bp.loss("mse"), {1, 2}, {3}, "mse", 0.01) end)
end

-- After the first step, a step allocates nothing in Lua's heap.
function TestSpeedPaths:test_no_garbage_per_step()
  for _, dtype in ipairs{"float64", "float32"} do
    local net, crit, x, y = lecture_net(dtype), bp.loss("half_se"), {1, 2}, {3}
    net:train_step(x, y, crit, 0.01)
    collectgarbage("collect")
    collectgarbage("stop")
    local before = collectgarbage("count")
    for _ = 1, 1000 do net:train_step(x, y, crit, 0.01) end
    local after = collectgarbage("count")
    collectgarbage("restart")
    lu.assertEquals(after, before)
  end
end

function TestSpeedPaths:test_threads()
  local n = bp.threads()
  lu.assertTrue(n >= 1)
  lu.assertEquals(bp.threads(1), 1)
  lu.assertEquals(bp.threads(), 1)
  assert_error_text("bad argument #1 to 'threads' (threads must be a positive integer, got 0)",
                    function() bp.threads(0) end)
  bp.threads(n)
  lu.assertTrue(bp.clock() > 0)
end

S.finish()
