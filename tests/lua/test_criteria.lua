-- test_criteria.lua: the losses from Lua (LuaUnit): nll, l1 and huber by
-- hand, huber's delta as an option, class labels as targets wherever a
-- script gives targets (crit:forward/backward, train_step, train_steps,
-- train_batch, fit, evaluate) giving the bits of their one-hot rows, and
-- the exact text of every refusal. The kernels are checked against finite
-- differences in tests/test_ops.c; here, that Lua reaches them.
local lu = require "luaunit"
package.path = (os.getenv("BP_SOURCE_DIR") or ".") .. "/tests/lua/?.lua;" .. package.path
local S = require "support"
local bp = require "backprop"

local assert_error_text = S.assert_error_text

-- the one-hot rows of classes cs over C classes
local function one_hot(cs, C)
  local rows = {}
  for s, c in ipairs(cs) do
    rows[s] = {}
    for n = 1, C do rows[s][n] = n == c and 1 or 0 end
  end
  return rows
end

-- a 3-5-4 net of fixed weights: tanh, then `top`
local function net4(top)
  bp.seed(7)
  local net = bp.net(3)
  net:add(5, "tanh")
  net:add(4, top or "identity")
  return net
end

TestCriteria = {}

function TestCriteria:test_new_losses_by_hand()
  -- nll of log-probabilities: -(out at the class), mean over the rows
  local nll = bp.loss("nll")
  local lp = {{-0.5, -1.2, -2.0}, {-0.1, -3, -0.25}}
  lu.assertEquals(nll:forward(lp, {2, 3}), (1.2 + 0.25) / 2)
  lu.assertEquals(nll:forward(lp, {{2}, {3}}), (1.2 + 0.25) / 2)
  lu.assertEquals(nll:forward(lp, one_hot({2, 3}, 3)), (1.2 + 0.25) / 2)
  lu.assertEquals(nll:backward(lp, {2, 3}), {{0, -0.5, 0}, {0, 0, -0.5}})
  lu.assertEquals(nll:forward(lp[1], {2}), 1.2)
  lu.assertEquals(nll:forward(lp[1], 2), 1.2)
  lu.assertEquals(nll:backward(lp[1], 2), {0, -1, 0})
  -- l1: the mean of |out - y| over every value
  local l1 = bp.loss("l1")
  lu.assertEquals(l1:forward({1, -2, 0.5}, {0.5, 1, 0.5}), 3.5 / 3)
  lu.assertEquals(l1:backward({1, -2, 0.5}, {0.5, 1, 0.5}), {1 / 3, -1 / 3, 0})
  -- huber: 0.5 d^2 within delta, delta (|d| - delta / 2) beyond, mean
  local out, y = {1, -2, 0.5, 3}, {0.5, 1, 0.5, 2}
  lu.assertEquals(bp.loss("huber"):forward(out, y), (0.125 + 2.5 + 0 + 0.5) / 4)
  local h = bp.loss("huber", {delta = 0.5})
  lu.assertEquals(h:forward(out, y), (0.125 + 1.375 + 0 + 0.375) / 4)
  lu.assertEquals(h:backward(out, y), {0.125, -0.125, 0, 0.125})
  lu.assertEquals(bp.loss("huber", {delta = 1}):forward(out, y), bp.loss("huber"):forward(out, y))
  lu.assertEquals(tostring(h), "loss huber (delta 0.5)")
  lu.assertEquals(tostring(bp.loss("huber")), "loss huber")
  -- softmax_ce of a label is lse - z at the class
  local z = {1, 2, 3}
  local lse = math.log(math.exp(1) + math.exp(2) + math.exp(3))
  lu.assertAlmostEquals(bp.loss("softmax_ce"):forward(z, {3}), lse - 3, 1e-15)
  lu.assertEquals(bp.loss("softmax_ce"):forward(z, {3}), bp.loss("softmax_ce"):forward(z, {0, 0, 1}))
end

function TestCriteria:test_log_softmax_then_nll_is_softmax_ce()
  local a, b = net4("log_softmax"), net4("identity")
  local x = {{0.5, -1, 2}, {1, 0.2, -0.3}}
  local la = bp.loss("nll"):forward(a:forward(x), {4, 1})
  local lb = bp.loss("softmax_ce"):forward(b:forward(x), {4, 1})
  lu.assertAlmostEquals(la, lb, 1e-14)
  local o = a:forward(x[1])
  local sum = 0
  for _, v in ipairs(o) do sum = sum + math.exp(v) end
  lu.assertAlmostEquals(sum, 1, 1e-15)
end

-- train_step with labels: the bits of one-hot targets, one sample (the
-- single-sample path) and a batch, plain SGD and an optimiser, train_steps.
function TestCriteria:test_train_step_labels_are_one_hot()
  for _, loss in ipairs({"softmax_ce", "nll"}) do
    local top = loss == "nll" and "log_softmax" or "identity"
    local a, b = net4(top), net4(top)
    local xs = {{0.5, -1, 2}, {1, 0.2, -0.3}, {-0.4, 0.9, 0.1}}
    local cs = {3, 1, 4}
    for s = 1, 3 do
      lu.assertEquals(a:train_step(xs[s], {cs[s]}, loss, 0.1), b:train_step(xs[s], one_hot({cs[s]}, 4)[1], loss, 0.1))
      lu.assertEquals(a:train_step(xs[s], cs[s], loss, 0.1), b:train_step(xs[s], one_hot({cs[s]}, 4)[1], loss, 0.1))
    end
    lu.assertEquals(a:train_step(xs, cs, loss, 0.1), b:train_step(xs, one_hot(cs, 4), loss, 0.1))
    lu.assertEquals(a:train_step(xs, {{3}, {1}, {4}}, loss, 0.1), b:train_step(xs, one_hot(cs, 4), loss, 0.1))
    local oa, ob = bp.optimizer(a, "adam"), bp.optimizer(b, "adam")
    lu.assertEquals(a:train_step(xs, cs, bp.loss(loss), oa), b:train_step(xs, one_hot(cs, 4), bp.loss(loss), ob))
    lu.assertEquals(a:train_steps(xs[2], {1}, loss, 0.1, 5), b:train_steps(xs[2], {1, 0, 0, 0}, loss, 0.1, 5))
    lu.assertEquals(a:params(), b:params())
  end
end

-- the single-sample path with labels is the general path's
function TestCriteria:test_one_sample_labels_match_a_batch_of_one()
  local a, b = net4(), net4()
  local x = {0.3, 0.1, -0.7}
  for _ = 1, 4 do
    lu.assertEquals(a:train_step(x, {2}, "softmax_ce", 0.2), b:train_step({x}, {{2}}, "softmax_ce", 0.2))
  end
  lu.assertEquals(a:params(), b:params())
end

function TestCriteria:test_huber_delta_in_a_step()
  local a, b, c = net4(), net4(), net4()
  local x, y = {{0.5, -1, 2}, {1, 0.2, -0.3}}, {{3, -2, 0, 1}, {0.1, 0.2, 0.3, 0.4}}
  local h = bp.loss("huber", {delta = 0.25})
  local want = h:forward(a:forward(x), y)
  lu.assertEquals(a:train_step(x, y, h, 0.1), want)
  lu.assertEquals(b:train_step(x, y, "huber", 0.1), bp.loss("huber"):forward(net4():forward(x), y))
  lu.assertEquals(c:train_step(x, y, bp.loss("huber", {delta = 1}), 0.1), bp.loss("huber"):forward(net4():forward(x), y))
  lu.assertEquals(b:params(), c:params())
  lu.assertNotEquals(a:params(), b:params())
end

-- data sets of class numbers (one target a row) in fit, evaluate and
-- train_batch: the bits of the one-hot data set
function TestCriteria:test_fit_on_class_numbers()
  local xs, cs = {}, {}
  bp.seed(3)
  for s = 1, 20 do
    xs[s] = {bp.uniform(-1, 1), bp.uniform(-1, 1), bp.uniform(-1, 1)}
    cs[s] = bp.randint(4)
  end
  local hot = bp.data(xs, cs, {classes = 4})
  local nums = {}
  for s = 1, 20 do nums[s] = {cs[s]} end
  local lab = bp.data(xs, nums)
  local a, b = net4(), net4()
  bp.seed(5)
  local ha = a:fit{data = hot, loss = "softmax_ce", lr = 0.1, batch = 6, epochs = 2, log = false, epoch_log = false}
  bp.seed(5)
  local hb = b:fit{data = lab, loss = "softmax_ce", lr = 0.1, batch = 6, epochs = 2, log = false, epoch_log = false}
  lu.assertEquals(ha[2].train_loss, hb[2].train_loss)
  lu.assertEquals(a:params(), b:params())
  lu.assertEquals(a:evaluate(hot, "softmax_ce").loss, b:evaluate(lab, "softmax_ce").loss)
  lu.assertEquals(a:train_batch(hot, 3, 5, "softmax_ce", 0.1), b:train_batch(lab, 3, 5, "softmax_ce", 0.1))
  lu.assertEquals(a:params(), b:params())
  -- huber's delta reaches fit and evaluate
  local reg = bp.data(xs, one_hot(cs, 4))
  local h = bp.loss("huber", {delta = 0.1})
  local c = net4()
  local st = c:fit{data = reg, loss = h, lr = 0.1, batch = 20, log = false, epoch_log = false, shuffle = false}
  lu.assertEquals(st[1].train_loss, h:forward(net4():forward(xs), one_hot(cs, 4)))
  lu.assertEquals(c:evaluate(reg, h).loss, h:forward(c:forward(xs), one_hot(cs, 4)))
end

function TestCriteria:test_refusals()
  assert_error_text("bad argument #2 to 'loss' (unknown option 'delt' (expected delta))",
    function() return bp.loss("huber", {delt = 1}) end)
  assert_error_text("bad argument #2 to 'loss' (unknown option 'delta' (mse takes none))",
    function() return bp.loss("mse", {delta = 1}) end)
  assert_error_text("bad argument #2 to 'loss' (field 'delta': must be a finite number > 0, got 0)",
    function() return bp.loss("huber", {delta = 0}) end)
  assert_error_text("bad argument #2 to 'loss' (field 'delta': must be a finite number > 0, got -1)",
    function() return bp.loss("huber", {delta = -1}) end)
  assert_error_text("bad argument #2 to 'loss' (field 'delta': number expected, got string)",
    function() return bp.loss("huber", {delta = "x"}) end)
  local ce = bp.loss("softmax_ce")
  assert_error_text("label 5 in row 2 is not a class in 1..3",
    function() return ce:forward({{1, 2, 3}, {1, 2, 3}}, {1, 5}) end)
  assert_error_text("label 1.5 in row 1 is not a class in 1..3",
    function() return ce:backward({1, 2, 3}, {1.5}) end)
  assert_error_text("bad argument #2 to 'forward' (row 2: class label expected, got string)",
    function() return ce:forward({{1, 2, 3}, {1, 2, 3}}, {1, "a"}) end)
  -- mse takes no labels: one value a row is the targets' width, as before
  assert_error_text("bad argument #2 to 'forward' (expected 3 targets, got 1)",
    function() return bp.loss("mse"):forward({1, 2, 3}, {1}) end)
  local net = net4()
  assert_error_text("label 0 in row 1 is not a class in 1..4",
    function() return net:train_step({1, 2, 3}, {0}, "softmax_ce", 0.1) end)
  assert_error_text("label 7 in row 2 is not a class in 1..4",
    function() return net:train_step({{1, 2, 3}, {1, 2, 3}}, {1, 7}, "nll", 0.1) end)
  assert_error_text("bad argument #2 to 'train_step' (expected 4 targets, got 1)",
    function() return net:train_step({1, 2, 3}, {2}, "mse", 0.1) end)
  assert_error_text("bad argument #2 to 'train_step' (expected 2 rows of targets, as the inputs, got 3)",
    function() return net:train_step({{1, 2, 3}, {1, 2, 3}}, {{1}, {2}, {3}}, "nll", 0.1) end)
  local soft = net4("softmax")
  assert_error_text("nll takes log-probabilities: make the last layer 'log_softmax' (or use softmax_ce on logits)",
    function() return soft:train_step({1, 2, 3}, {2}, "nll", 0.1) end)
  local lab = bp.data({{1, 2, 3}, {0, 0, 1}}, {{2}, {9}})
  assert_error_text("label 9 in row 2 is not a class in 1..4",
    function() return net:fit{data = lab, loss = "softmax_ce", lr = 0.1, log = false, epoch_log = false} end)
  assert_error_text("label 9 in row 2 is not a class in 1..4",
    function() return net:evaluate(lab, "nll") end)
  assert_error_text("the network gives 4 outputs, the data has 1 targets",
    function() return net:evaluate(lab, "mse") end)
end

S.finish()
