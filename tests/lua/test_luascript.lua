-- test_luascript.lua: a loss and an optimiser written in Lua (LuaUnit).
-- SGD with momentum in Lua gives the built-in one's bits, and so does SGD
-- with weight decay and each schedule; a Lua mse the
-- built-in mse's losses and weights; both through train_step, train_steps
-- (to rounding: another order of sums) and train_batch; their errors by their exact text.
local lu = require "luaunit"
package.path = (os.getenv("BP_SOURCE_DIR") or ".") .. "/tests/lua/?.lua;" .. package.path
local S = require "support"
local bp = require "backprop"

local assert_error_text = S.assert_error_text

local X = {{1, 2, 3}, {0.5, -1, 2}, {-2, 0.25, 1}}
local Y = {{1, 0}, {0, 1}, {1, 1}}

local function make()
  bp.seed(4)
  return bp.net(bp.sequential{bp.linear(3, 5), bp.tanh(), bp.linear(5, 2)})
end

-- torch.optim.SGD(momentum = 0.9): buf = g at the first step, then
-- buf = 0.9 buf + g; w = w - lr buf.
local function sgd_momentum(w, g, s, lr)
  if not s.buf then s.buf = g:clone() else s.buf:mul(0.9, s.buf):add(g, s.buf) end
  w:sub(s.buf * lr, w)
end

-- PyTorch's mse_loss: the mean over all B O values.
local mse = bp.loss{
  forward = function(out, y)
    local d = out - y
    return (d * d):sum() / (out:shape()[1] * out:shape()[2])
  end,
  backward = function(out, y) return (out - y) * (2 / (out:shape()[1] * out:shape()[2])) end}

function test_lua_sgd_momentum_is_the_builtin_to_the_bit()
  local a, b = make(), make()
  local opt = bp.optimizer(a, "sgd", {lr = 0.1, momentum = 0.9})
  local mine = bp.optimizer(b, sgd_momentum, {lr = 0.1})
  for _ = 1, 20 do
    lu.assertEquals(b:train_step(X, Y, "mse", mine), a:train_step(X, Y, "mse", opt))
  end
  lu.assertEquals(b:params(), a:params())
  lu.assertEquals(mine:steps(), 20)
  lu.assertEquals(mine:lr(), 0.1)
  a:train_steps(X, Y, "mse", opt, 5)
  b:train_steps(X, Y, "mse", mine, 5)
  lu.assertEquals(b:params(), a:params())
end

function test_lua_mse_is_the_builtin_one()
  local a, b = make(), make()
  -- the same math, summed in another order: equal to rounding
  for _ = 1, 10 do
    lu.assertAlmostEquals(b:train_step(X, Y, mse, 0.1), a:train_step(X, Y, "mse", 0.1), 1e-14)
  end
  local pa, pb = a:params(), b:params()
  for i = 1, #pa do lu.assertAlmostEquals(pb[i], pa[i], 1e-13) end
  lu.assertEquals(mse:forward({{1, 2}}, {{0, 0}}), 2.5)
  lu.assertEquals(mse:backward({{1, 2}}, {{0, 0}}), {{1, 2}})
  lu.assertEquals(tostring(mse), "loss (Lua)")
  lu.assertTrue((bp.gradcheck(a, X, mse, Y)))
end

function test_train_batch_with_both()
  local d = bp.data(X, Y)
  local a, b = make(), make()
  local opt = bp.optimizer(a, "sgd", {lr = 0.05, momentum = 0.9})
  local mine = bp.optimizer(b, sgd_momentum, {lr = 0.05})
  for _ = 1, 4 do
    for first = 1, 3, 2 do
      lu.assertAlmostEquals(b:train_batch(d, first, 2, mse, mine),
                            a:train_batch(d, first, 2, "mse", opt), 1e-14)
    end
  end
  local pa, pb = a:params(), b:params()
  for i = 1, #pa do lu.assertAlmostEquals(pb[i], pa[i], 1e-13) end
end

function test_errors()
  local net = make()
  local bad = bp.loss{forward = function() return "x" end, backward = function() end}
  assert_error_text("the Lua loss's forward returned string, expected a number", function()
    net:train_step(X, Y, bad, 0.1) end)
  bad = bp.loss{forward = function() return 1 end, backward = function(out) return out:t() end}
  assert_error_text("the Lua loss's backward returned a tensor of another shape, expected "
                    .. "dLoss/dout: a tensor of shape {3, 2}", function()
    net:train_step(X, Y, bad, 0.1) end)
  assert_error_text("field 'backward': a function expected", function()
    bp.loss{forward = print} end)
  assert_error_text("unknown option 'momentum' (expected lr, weight_decay or schedule)",
                    function() bp.optimizer(net, sgd_momentum, {momentum = 0.9}) end)
  assert_error_text("field 'weight_decay': a finite number >= 0 expected", function()
    bp.optimizer(net, sgd_momentum, {weight_decay = -1}) end)
  assert_error_text("bad argument #3 to 'optimizer' (option 'schedule': plateau is the "
                    .. "built-in optimisers' only; an optimiser written in Lua takes step, "
                    .. "exponential, cosine or onecycle)", function()
    bp.optimizer(net, sgd_momentum, {schedule = {"plateau"}}) end)
  assert_error_text("option 'schedule': unknown schedule 'linear'", function()
    bp.optimizer(net, sgd_momentum, {schedule = {"linear"}}) end)
  -- onecycle refuses a step past its cycle, as the built-in optimisers do
  local cycle = bp.optimizer(net, sgd_momentum, {schedule = {"onecycle", total_steps = 2}})
  for _ = 1, 3 do net:train_step(X, Y, "mse", cycle) end
  assert_error_text("onecycle schedule: tried to take step 4 of a cycle of total_steps 2",
                    function() net:train_step(X, Y, "mse", cycle) end)
  local boom = bp.optimizer(net, function() error("no update") end)
  assert_error_text("no update", function() net:train_step(X, Y, "mse", boom) end)
  -- inside fit's loop: the error stops it, raised with its message once
  -- the engine has returned; the net trains on after it
  local d = bp.data(X, Y)
  assert_error_text("no update", function() net:fit{data = d, loss = "mse", optimizer = boom} end)
  local raising = bp.loss{forward = function() error("no loss here") end, backward = print}
  assert_error_text("no loss here", function() net:fit{data = d, loss = raising, lr = 0.1} end)
  assert_error_text("no loss here", function() net:evaluate(d, raising) end)
  lu.assertTrue(net:fit{data = d, loss = mse, lr = 0.1, log = false}[1].train_loss > 0)
  assert_error_text("field 'optimizer': backprop.optimizer expected", function()
    net:fit{data = d, loss = mse, optimizer = {}} end)
end

-- Six rows, so that batches of 4 end with a short one.
local X6 = {{1, 2, 3}, {0.5, -1, 2}, {-2, 0.25, 1}, {3, -1, 0}, {0, 0.5, -0.5}, {1, 1, 1}}
local Y6 = {{1, 0}, {0, 1}, {1, 1}, {0, 0}, {-1, 1}, {0.5, 0.5}}

-- net:fit with a Lua loss takes the steps train_batch takes with it, to the
-- bit: the same forward, loss, backward and update, batch after batch.
function test_fit_with_a_lua_loss_is_train_batch()
  local d = bp.data(X6, Y6)
  local a, b = make(), make()
  local hist = a:fit{data = d, loss = mse, lr = 0.1, batch = 4, epochs = 3, shuffle = false,
                     log = false}
  local sum = 0
  for _ = 1, 3 do
    sum = 0
    for first = 1, 6, 4 do
      local B = math.min(4, 6 - first + 1)
      sum = sum + b:train_batch(d, first, B, mse, 0.1) * B
    end
  end
  lu.assertEquals(a:params(), b:params())
  lu.assertEquals(hist[3].train_loss, sum / 6)
  lu.assertEquals(a:evaluate(d, mse).loss, b:evaluate(d, mse).loss)
end

-- Shuffled, a Lua mse trains as the built-in one on the same row order (the
-- same generator), to rounding: another order of sums.
function test_fit_with_a_lua_loss_shuffled_as_the_builtin()
  local d = bp.data(X6, Y6)
  local a, b = make(), make()
  bp.seed(11)
  local ha = a:fit{data = d, loss = "mse", lr = 0.1, batch = 4, epochs = 4, log = false,
                   validation = d}
  bp.seed(11)
  local hb = b:fit{data = d, loss = mse, lr = 0.1, batch = 4, epochs = 4, log = false,
                   validation = d}
  local pa, pb = a:params(), b:params()
  for i = 1, #pa do lu.assertAlmostEquals(pb[i], pa[i], 1e-13) end
  for e = 1, 4 do
    lu.assertAlmostEquals(hb[e].train_loss, ha[e].train_loss, 1e-13)
    lu.assertAlmostEquals(hb[e].val_loss, ha[e].val_loss, 1e-13)
  end
  lu.assertEquals(hb[4].val_loss, b:evaluate(d, mse).loss)
  lu.assertAlmostEquals(b:evaluate(d, mse).loss, b:evaluate(d, "mse").loss, 1e-14)
end

-- evaluate with a Lua loss on class labels: the loss its forward gives,
-- accuracy and confusion as with a built-in loss (one pass over the data).
function test_evaluate_with_a_lua_loss_and_labels()
  local d = bp.data({{2, 1}, {0, 3}, {5, 4}}, {1, 1, 1}, {classes = 2})
  local net = bp.net(2)
  net:add(2, "identity", {weights = {{1, 0}, {0, 1}}, bias = 0})
  local r, builtin = net:evaluate(d, mse), net:evaluate(d, "softmax_ce")
  -- the targets as the data holds them, one-hot rows {1, 0}: the outputs
  -- differ by (1, 1), (-1, 3), (4, 4), and mse is the mean of the 6 squares
  lu.assertAlmostEquals(r.loss, (2 + 10 + 32) / 6, 1e-15)
  lu.assertEquals(r.accuracy, builtin.accuracy)
  lu.assertEquals(r.accuracy, 2 / 3)
  lu.assertEquals(r.confusion, {{2, 1}, {0, 0}})
end

-- A Lua optimiser in fit: SGD with momentum to the bit of the built-in one,
-- with a built-in loss and with a Lua one.
function test_fit_with_a_lua_optimiser_is_the_builtin()
  local d = bp.data(X6, Y6)
  for _, loss in ipairs{"mse", mse} do
    local a, b = make(), make()
    local opt = bp.optimizer(a, "sgd", {lr = 0.05, momentum = 0.9})
    local mine = bp.optimizer(b, sgd_momentum, {lr = 0.05})
    bp.seed(3)
    a:fit{data = d, loss = loss, optimizer = opt, batch = 4, epochs = 3, log = false}
    bp.seed(3)
    b:fit{data = d, loss = loss, optimizer = mine, batch = 4, epochs = 3, log = false}
    lu.assertEquals(b:params(), a:params())
    lu.assertEquals(mine:steps(), 6)
  end
end

-- Weight decay and a schedule compose with a Lua update rule as with the
-- built-in one: torch.optim's L2 (g + wd w) and the schedule's lr of each
-- step, to the bit of the built-in SGD with the same options, through
-- train_step and fit; the net's own gradient is left as backward made it.
function test_weight_decay_and_schedules_compose()
  local function sgd(w, g, _, lr) w:sub(g * lr, w) end
  local schedules = {
    {"step", step_size = 2, gamma = 0.5, warmup_steps = 2},
    {"cosine", t_max = 5, eta_min = 0.01},
    {"exponential", gamma = 0.9},
    {"onecycle", total_steps = 12, cycle_momentum = false},
  }
  for _, sched in ipairs(schedules) do
    for _, wd in ipairs{0, 0.01} do
      local a, b = make(), make()
      local opts = {lr = 0.1, weight_decay = wd, schedule = sched}
      local opt, mine = bp.optimizer(a, "sgd", opts), bp.optimizer(b, sgd, opts)
      for _ = 1, 6 do
        lu.assertEquals(b:train_step(X, Y, "mse", mine), a:train_step(X, Y, "mse", opt), sched[1])
      end
      lu.assertEquals(b:grad("1.weight"), a:grad("1.weight"))
      lu.assertEquals(b:params(), a:params(), sched[1])
      local d = bp.data(X6, Y6)
      bp.seed(3)
      a:fit{data = d, loss = "mse", optimizer = opt, batch = 4, epochs = 3, log = false}
      bp.seed(3)
      b:fit{data = d, loss = "mse", optimizer = mine, batch = 4, epochs = 3, log = false}
      lu.assertEquals(b:params(), a:params(), sched[1])
    end
  end
  -- with momentum too: the buffer sees the decayed gradient, as PyTorch's
  local a, b = make(), make()
  local opt = bp.optimizer(a, "sgd", {lr = 0.1, momentum = 0.9, weight_decay = 0.05,
                                      schedule = {"cosine", t_max = 4}})
  local mine = bp.optimizer(b, sgd_momentum, {lr = 0.1, weight_decay = 0.05,
                                             schedule = {"cosine", t_max = 4}})
  for _ = 1, 8 do b:train_step(X, Y, "mse", mine) a:train_step(X, Y, "mse", opt) end
  lu.assertEquals(b:params(), a:params())
  lu.assertEquals(mine:lr(), 0.1) -- the base rate; the schedule scales it per step
end

S.finish()
