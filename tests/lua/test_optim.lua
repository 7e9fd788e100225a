-- test_optim.lua: bp.optimizer from Lua (LuaUnit). The update rules
-- themselves are checked by hand in tests/test_optim.c; here, that Lua
-- reaches them, that plain SGD is the lecture's update bit for bit, and
-- the exact text of every bad option.
local lu = require "luaunit"
package.path = (os.getenv("BP_SOURCE_DIR") or ".") .. "/tests/lua/?.lua;" .. package.path
local S = require "support"
local bp = require "backprop"

local assert_error_text = S.assert_error_text

-- one weight, one bias, identity: out = w x + b, loss (y - out)^2 / 2
local function tiny()
  local net = bp.net(1)
  net:add(1, "identity", {weights = {{0.5}}, bias = 0})
  return net
end

TestOptim = {}

function TestOptim:test_adam_two_steps_by_hand()
  local net = tiny()
  local opt = bp.optimizer(net, "adam", {lr = 0.1})
  -- step 1: out = 0.5, g_w = (out - y) * x = (0.5 - 2) * 1 = -1.5, g_b = -1.5
  -- m = 0.1 g, v = 0.001 g^2; mhat = g, vhat = g^2: w += 0.1 * 1.5 / (1.5 + 1e-8)
  net:train_step({1}, {2}, "half_se", opt)
  local g = -1.5
  local m, v = 0.1 * g, 0.001 * g * g
  local function upd(m_, v_, t)
    return 0.1 / (1 - 0.9 ^ t) * m_ / (math.sqrt(v_) / math.sqrt(1 - 0.999 ^ t) + 1e-8)
  end
  local w, b = 0.5 - upd(m, v, 1), 0 - upd(m, v, 1)
  lu.assertAlmostEquals(net:weight(1, 1, 1), w, 1e-15)
  lu.assertAlmostEquals(net:bias(1, 1), b, 1e-15)
  -- step 2 from the new weights
  local out = w * 1 + b
  local g2 = out - 2
  m, v = 0.9 * m + 0.1 * g2, 0.999 * v + 0.001 * g2 * g2
  net:train_step({1}, {2}, "half_se", opt)
  lu.assertAlmostEquals(net:weight(1, 1, 1), w - upd(m, v, 2), 1e-15)
  lu.assertEquals(opt:steps(), 2)
  lu.assertEquals(opt:state(), {"m", "v"})
  lu.assertAlmostEquals(opt:state("m")[1], m, 1e-15)
  lu.assertAlmostEquals(opt:state("v")[2], v, 1e-15)
end

function TestOptim:test_plain_sgd_is_the_lecture_update()
  local a, b = tiny(), tiny()
  local opt = bp.optimizer(b, "sgd", {lr = 0.01})
  for _ = 1, 30 do
    lu.assertEquals(a:train_step({1}, {2}, "half_se", 0.01), b:train_step({1}, {2}, "half_se", opt))
  end
  lu.assertEquals(a:params(), b:params())
end

function TestOptim:test_step_after_backward_and_schedule()
  local net = tiny()
  local opt = bp.optimizer(net, "sgd", {lr = 1, momentum = 0.9, schedule = {"step", step_size = 1, gamma = 0.5}})
  lu.assertEquals(opt:lr(), 1)
  local crit = bp.loss("half_se")
  local out = net:forward({1})
  net:backward(crit:backward(out, {2}))
  opt:step(net)
  lu.assertEquals(net:weight(1, 1, 1), 0.5 + 1.5) -- lr 1, momentum buffer = g
  lu.assertEquals(opt:lr(), 0.5)
  lu.assertEquals(net:steps(), 1)
  local saved = opt:save()
  opt:reset()
  lu.assertEquals(opt:steps(), 0)
  opt:load(saved)
  lu.assertEquals(opt:steps(), 1)
  lu.assertStrContains(tostring(opt), "optimizer sgd (lr 0.5")
end

function TestOptim:test_clip_grad_norm()
  -- gradients 3 and 4 (norm 5, a 3-4-5 triangle) and a bias gradient of 0
  local net = bp.net(2)
  net:add(1, "identity", {weights = {{0, 0}}, bias = 0})
  net:forward({3, 4})
  net:backward({1})
  lu.assertEquals(net:grad_weights(1), {{3, 4}})
  net:backward({1}, true) -- adds: now 6, 8 and the bias 2
  local norm = bp.clip_grad_norm(net, 1)
  lu.assertAlmostEquals(norm, math.sqrt(36 + 64 + 4), 1e-15)
  local c = 1 / (norm + 1e-6)
  lu.assertAlmostEquals(net:grad_weight(1, 1, 1), 6 * c, 1e-15)
  lu.assertAlmostEquals(net:grad_bias(1, 1), 2 * c, 1e-15)
  assert_error_text("bad argument #2 to 'clip_grad_norm' (max_norm must be > 0)", function() return bp.clip_grad_norm(net, 0) end)
end

function TestOptim:test_errors()
  local net = tiny()
  assert_error_text("bad argument #2 to 'optimizer' (unknown optimizer 'adagrad' (expected sgd, adam, adamw or rmsprop))", function() return bp.optimizer(net, "adagrad") end)
  assert_error_text("bad argument #3 to 'optimizer' (unknown option 'learning_rate' (expected lr, weight_decay, beta1, beta2, eps, clip_norm, schedule or groups))", function() return bp.optimizer(net, "adam", {learning_rate = 1}) end)
  assert_error_text("bad argument #3 to 'optimizer' (option 'beta1' does not apply to sgd)", function() return bp.optimizer(net, "sgd", {beta1 = 0.9}) end)
  assert_error_text("bad argument #3 to 'optimizer' (nesterov needs momentum > 0)", function() return bp.optimizer(net, "sgd", {nesterov = true}) end)
  assert_error_text("option 'lr': number expected, got string", function() return bp.optimizer(net, "sgd", {lr = "fast"}) end)
  assert_error_text("option 'schedule': unknown schedule 'linear'", function() return bp.optimizer(net, "sgd", {schedule = {"linear"}}) end)
  local other = bp.net(3):add(2)
  local opt = bp.optimizer(net, "sgd")
  other:forward({1, 2, 3})
  other:backward({1, 1})
  assert_error_text("layer 1 has 2 outputs x 3 inputs but the optimiser was made for 1 x 1", function() return opt:step(other) end)
  opt:close()
  assert_error_text("attempt to use a closed optimizer", function() return opt:lr() end)
end

S.finish()
