-- test_net.lua: the Lua API of backprop.net and backprop.loss (LuaUnit).
-- The lecture's figures through the API, finite-difference gradients,
-- determinism, and the exact text of every bad-input error.
local lu = require "luaunit"
package.path = (os.getenv("BP_SOURCE_DIR") or ".") .. "/tests/lua/?.lua;" .. package.path
local S = require "support"
local bp = require "backprop"

local function lecture_net()
  local net = bp.net(2)
  net:add(3, "sigmoid", {weights = {{0.5, 0.3}, {-0.1, 0.1}, {-0.4, 0.6}}, bias = 1})
  net:add(1, "identity", {weights = {{-0.23, 0.3, 0.1}}, bias = 1})
  return net
end

local function sig(h) return 1 / (1 + math.exp(-h)) end

local assert_error_text = S.assert_error_text

TestLecture = {}

function TestLecture:test_stages_match_longhand()
  local net, crit = lecture_net(), bp.loss("half_se")
  local W1 = {{0.5, 0.3}, {-0.1, 0.1}, {-0.4, 0.6}}
  local W2 = {-0.23, 0.3, 0.1}
  local o1, out = {}, 1
  for n = 1, 3 do
    o1[n] = sig(W1[n][1] * 1 + W1[n][2] * 2 + 1)
    out = out + W2[n] * o1[n]
  end
  local y = net:forward({1, 2})
  lu.assertAlmostEquals(y[1], out, 1e-12)
  lu.assertAlmostEquals(net:h(1)[1], 2.1, 1e-15)
  lu.assertAlmostEquals(net:o(1)[1], o1[1], 1e-15)
  lu.assertAlmostEquals(crit:forward(y, {3}), (3 - out) ^ 2 / 2, 1e-12)
  local dout = crit:backward(y, {3})
  lu.assertAlmostEquals(dout[1], out - 3, 1e-12)
  net:backward(dout)
  lu.assertAlmostEquals(net:grad_o(2)[1], out - 3, 1e-12)
  lu.assertAlmostEquals(net:grad_weight(2, 1, 1), (out - 3) * o1[1], 1e-12)
  lu.assertAlmostEquals(net:grad_o(1)[1], (out - 3) * -0.23, 1e-12)
  local dw111 = (out - 3) * -0.23 * o1[1] * (1 - o1[1]) * 1
  lu.assertAlmostEquals(net:grad_h(1)[1], dw111, 1e-12)
  lu.assertAlmostEquals(net:grad_weight(1, 1, 1), dw111, 1e-12)
  lu.assertAlmostEquals(net:grad_weight(1, 1, 2), dw111 * 2, 1e-12)
  lu.assertAlmostEquals(net:grad_bias(2, 1), out - 3, 1e-12)
  net:update(0.01)
  lu.assertAlmostEquals(net:weight(2, 1, 1), -0.23 - 0.01 * (out - 3) * o1[1], 1e-15)
  lu.assertAlmostEquals(net:weight(1, 1, 1), 0.5 - 0.01 * dw111, 1e-15)
  lu.assertEquals(net:steps(), 1)
  -- the figures the issue quotes, exact
  lu.assertAlmostEquals(dout[1], -1.894, 0.0005)
  lu.assertAlmostEquals(dw111, 0.04234, 0.000005)
end

function TestLecture:test_train_step_is_the_four_stages()
  local a, b, crit = lecture_net(), lecture_net(), bp.loss("half_se")
  for _ = 1, 20 do
    local la = a:train_step({1, 2}, {3}, crit, 0.01)
    local out = b:forward({1, 2})
    local lb = crit:forward(out, {3})
    b:backward(crit:backward(out, {3}))
    b:update(0.01)
    lu.assertEquals(la, lb)
  end
  lu.assertEquals(a:params(), b:params())
  lu.assertEquals(a:train_step({1, 2}, 3, "half_se", 0.01), b:train_step({1, 2}, {3}, crit, 0.01))
end

function TestLecture:test_accessors()
  local net = lecture_net()
  lu.assertEquals(#net, 2)
  lu.assertEquals(net:inputs(), 2)
  lu.assertEquals(net:outputs(), 1)
  lu.assertEquals(net:param_count(), 13)
  lu.assertEquals(tostring(net), "net 2-3-1 (sigmoid, identity), float64, 13 parameters\n"
    .. "  layer 1: 2 -> 3 sigmoid\n  layer 2: 3 -> 1 identity")
  lu.assertEquals(bp.show(net), tostring(net)) -- bp.show outside the prompt too (issue 18)
  lu.assertEquals(net:layer(1), {inputs = 2, outputs = 3, activation = "sigmoid"})
  lu.assertEquals(net:weights(1), {{0.5, 0.3}, {-0.1, 0.1}, {-0.4, 0.6}})
  lu.assertEquals(net:biases(2), {1})
  net:set_weight(1, 3, 2, 7.5)
  net:set_bias(1, 2, -2)
  lu.assertEquals(net:weight(1, 3, 2), 7.5)
  lu.assertEquals(net:bias(1, 2), -2)
  local p = net:params()
  lu.assertEquals(#p, 13)
  lu.assertEquals(p[6], 7.5) -- W row 3, input 2
  lu.assertEquals(p[8], -2)  -- b12
  local other = lecture_net()
  other:set_params(p)
  lu.assertEquals(other:params(), p)
end

function TestLecture:test_batch_mirrors_input_shape()
  local net = lecture_net()
  local one = net:forward({1, 2})
  local two = net:forward({{1, 2}, {1, 2}})
  lu.assertEquals(#two, 2)
  lu.assertEquals(two[1][1], one[1])
  lu.assertEquals(two[2][1], one[1])
  lu.assertEquals(#net:o(1), 2)
  -- the loss of a batch is the mean: two copies of one sample, same loss
  local crit = bp.loss("half_se")
  lu.assertAlmostEquals(crit:forward(two, {{3}, {3}}), crit:forward(one, {3}), 1e-15)
end

-- Central differences through the API itself, on a softmax classifier.
function TestLecture:test_finite_differences()
  local net = bp.net(3)
  net:add(4, "tanh")
  net:add(3, "identity")
  local x = {{0.1, -0.2, 0.3}, {0.5, 0.4, -0.6}}
  local y = {{0, 1, 0}, {1, 0, 0}}
  local crit = bp.loss("softmax_ce")
  net:backward(crit:backward(net:forward(x), y))
  local eps = 1e-6
  for l = 1, 2 do
    local layer = net:layer(l)
    for n = 1, layer.outputs do
      for i = 1, layer.inputs do
        local w = net:weight(l, n, i)
        net:set_weight(l, n, i, w + eps)
        local lp = crit:forward(net:forward(x), y)
        net:set_weight(l, n, i, w - eps)
        local lm = crit:forward(net:forward(x), y)
        net:set_weight(l, n, i, w)
        local fd, an = (lp - lm) / (2 * eps), net:grad_weight(l, n, i)
        lu.assertTrue(math.abs(fd - an) <= 1e-6 * math.max(math.abs(fd), math.abs(an), 1e-8),
                      string.format("w%d%d%d: fd %g, backprop %g", l, n, i, fd, an))
      end
    end
  end
end

TestTraining = {}

local function train_xor(seed)
  bp.seed(seed)
  local net = bp.net(2)
  net:add(4, "tanh")
  net:add(1, "sigmoid")
  local x, y = {{0, 0}, {0, 1}, {1, 0}, {1, 1}}, {{0}, {1}, {1}, {0}}
  local loss
  for _ = 1, 5000 do
    loss = net:train_step(x, y, "bce", 0.5)
    if loss < 0.01 then break end
  end
  return net, loss
end

function TestTraining:test_xor_converges()
  local net, loss = train_xor(1)
  lu.assertTrue(loss < 0.01, "xor loss " .. loss)
  local out = net:forward({{0, 0}, {0, 1}, {1, 0}, {1, 1}})
  lu.assertTrue(out[1][1] < 0.1 and out[2][1] > 0.9 and out[3][1] > 0.9 and out[4][1] < 0.1)
end

function TestTraining:test_same_seed_same_bits()
  local a = train_xor(42)
  local b = train_xor(42)
  local c = train_xor(43)
  lu.assertEquals(a:params(), b:params()) -- exact equality, every bit
  lu.assertNotEquals(a:params(), c:params())
end

function TestTraining:test_initialisers()
  bp.seed(3)
  local net = bp.net(100)
  net:add(50, "relu", {weights = {"uniform", -0.5, 0.5}, bias = {"normal", 1, 0}})
  for _, row in ipairs(net:weights(1)) do
    for _, w in ipairs(row) do lu.assertTrue(w >= -0.5 and w < 0.5) end
  end
  lu.assertEquals(net:bias(1, 50), 1)
  net:add(10, "sigmoid", {weights = 0.25, bias = "xavier"})
  lu.assertEquals(net:weight(2, 10, 50), 0.25)
end

-- Explicit initial weights (rows of values, or a constant) draw nothing
-- from bp.seed's stream: a layer drawn after them starts from the weights it
-- would have had if the explicit layer had never been added. (A scheme, as
-- {weights = "xavier"}, still draws the default first and then its own, so
-- that scripts/xor.lua keeps its bits.)
function TestTraining:test_explicit_weights_draw_nothing()
  for _, dtype in ipairs({"float64", "float32"}) do
    bp.seed(7)
    local want = bp.net(3, {dtype = dtype}):add(4, "tanh"):weights(1)
    for _, w in ipairs({{{0.5, 0.3}, {-0.1, 0.1}, {-0.4, 0.6}}, 0.25}) do
      bp.seed(7)
      local a = bp.net(2, {dtype = dtype})
      a:add(3, "sigmoid", {weights = w, bias = {1, 2, 3}}):add(4, "tanh")
      lu.assertEquals(a:weights(2), want)
      lu.assertAlmostEquals(a:weight(1, 3, 2), type(w) == "number" and w or 0.6, 1e-7)
      lu.assertEquals(a:bias(1, 3), 3)
    end
    bp.seed(7)
    local s = bp.net(2, {dtype = dtype})
    s:add(3, "sigmoid", {weights = "xavier"}):add(4, "tanh")
    lu.assertNotEquals(s:weights(2), want)
  end
end

-- gelu and elu through the API, in both dtypes: a 1-1 layer of weight 1
-- and bias 0 shows the activation itself. Phi(1) = 0.8413447460685429 and
-- phi(1) = 0.24197072451914337 (the standard normal CDF and density):
-- gelu(1) = Phi(1), gelu(-1) = Phi(1) - 1, gelu'(1) = Phi(1) + phi(1).
-- elu(-1) = alpha (e^-1 - 1), elu'(-1) = alpha e^-1; alpha is 1 unless given.
function TestTraining:test_gelu_and_elu()
  for _, dtype in ipairs({"float64", "float32"}) do
    local tol = dtype == "float32" and 1e-7 or 1e-15
    local g = bp.net(1, {dtype = dtype}):add(1, "gelu", {weights = {{1}}, bias = 0})
    local out = g:forward({{1}, {-1}, {0}})
    lu.assertAlmostEquals(out[1][1], 0.8413447460685429, tol)
    lu.assertAlmostEquals(out[2][1], 0.8413447460685429 - 1, tol)
    lu.assertEquals(out[3][1], 0)
    g:backward({{1}, {0}, {0}})
    lu.assertAlmostEquals(g:grad_weight(1, 1, 1), 0.8413447460685429 + 0.24197072451914337, tol)
    lu.assertEquals(g:layer(1), {inputs = 1, outputs = 1, activation = "gelu"})
    for _, alpha in ipairs({1, 0.5}) do
      local e = bp.net(1, {dtype = dtype})
      e:add(1, "elu", {weights = {{1}}, bias = 0, alpha = alpha ~= 1 and alpha or nil})
      lu.assertEquals(e:layer(1), {inputs = 1, outputs = 1, activation = "elu", alpha = alpha})
      out = e:forward({{-1}, {2}})
      lu.assertAlmostEquals(out[1][1], alpha * (math.exp(-1) - 1), tol)
      lu.assertEquals(out[2][1], 2)
      e:backward({{1}, {0}})
      lu.assertAlmostEquals(e:grad_weight(1, 1, 1), -alpha * math.exp(-1), tol)
      -- a saved network keeps its activation and alpha
      local path = S.TMP .. "/elu-" .. dtype .. ".bpn"
      lu.assertEquals(e:save(path), true)
      lu.assertEquals(assert(bp.load(path)):layer(1), e:layer(1))
    end
  end
  -- Their default weights are He's, as a ReLU layer's: the same draws.
  for _, act in ipairs({"gelu", "elu"}) do
    bp.seed(9)
    local a = bp.net(20):add(10, act)
    bp.seed(9)
    local r = bp.net(20):add(10, "relu")
    lu.assertEquals(a:params(), r:params())
  end
end

TestErrors = {}

function TestErrors:test_layer_sizes()
  assert_error_text("bad argument #1 to 'net' (integer expected, got string)", function() return bp.net("two") end)
  assert_error_text("bad argument #1 to 'net' (number of inputs must be a positive integer, got 0)", function() return bp.net(0) end)
  local net = bp.net(2)
  assert_error_text("bad argument #1 to 'add' (integer expected, got string)", function() return net:add("3") end)
  assert_error_text("bad argument #1 to 'add' (number of neurons must be a positive integer, got 0)", function() return net:add(0) end)
  assert_error_text("bad argument #1 to 'add' (number of neurons must be a positive integer, got -3)", function() return net:add(-3) end)
  assert_error_text("bad argument #1 to 'add' (number of neurons must be an integer, got 2.5)", function() return net:add(2.5) end)
end

function TestErrors:test_names()
  local net = bp.net(2)
  assert_error_text("bad argument #2 to 'add' (unknown activation 'sigmod' (expected identity, sigmoid, tanh, relu, leaky_relu, softmax, gelu, elu or log_softmax))", function() return net:add(3, "sigmod") end)
  assert_error_text("bad argument #1 to 'loss' (unknown loss 'mae' (expected half_se, mse, bce, softmax_ce, nll, l1 or huber))", function() return bp.loss("mae") end)
  assert_error_text("bad option 'weights' to 'add' (unknown initialisation 'glorot'", function() return net:add(3, "relu", {weights = "glorot"}) end)
  net:add(1)
  assert_error_text("bad argument #3 to 'train_step' (unknown loss 'l2'", function() return net:train_step({1, 2}, {3}, "l2", 0.1) end)
end

function TestErrors:test_shapes()
  local net = lecture_net()
  assert_error_text("bad argument #1 to 'forward' (expected 2 inputs, got 3)", function() return net:forward({1, 2, 3}) end)
  assert_error_text("bad argument #1 to 'forward' (row 2: expected 2 inputs, got 1)", function() return net:forward({{1, 2}, {1}}) end)
  assert_error_text("bad argument #1 to 'forward' (element 2: number expected, got string)", function() return net:forward({1, "2"}) end)
  assert_error_text("bad argument #1 to 'forward' (empty table)", function() return net:forward({}) end)
  assert_error_text("bad argument #1 to 'forward' (table expected, got no value)", function() return net:forward() end)
  assert_error_text("bad argument #2 to 'train_step' (expected 1 target, got 2)", function() return net:train_step({1, 2}, {3, 4}, "half_se", 0.1) end)
  assert_error_text("bad argument #2 to 'train_step' (expected 2 rows of targets, as the inputs, got 1)", function() return net:train_step({{1, 2}, {3, 4}}, {{3}}, "half_se", 0.1) end)
  local crit = bp.loss("mse")
  assert_error_text("bad argument #2 to 'forward' (expected 1 target, got 2)", function() return crit:forward({1}, {1, 2}) end)
end

function TestErrors:test_indices()
  local net = lecture_net()
  assert_error_text("bad argument #1 to 'weight' (layer 3 out of range 1..2)", function() return net:weight(3, 1, 1) end)
  assert_error_text("bad argument #2 to 'weight' (neuron 4 out of range 1..3 in layer 1)", function() return net:weight(1, 4, 1) end)
  assert_error_text("bad argument #3 to 'set_weight' (input 3 out of range 1..2 in layer 1)", function() return net:set_weight(1, 1, 3, 0) end)
  assert_error_text("bad argument #2 to 'bias' (neuron 2 out of range 1..1 in layer 2)", function() return net:bias(2, 2) end)
  assert_error_text("bad argument #1 to 'grad_weight' (layer must be a positive integer, got 0)", function() return net:grad_weight(0, 1, 1) end)
  assert_error_text("bad argument #1 to 'h' (layer 5 out of range 1..2)", function() return net:h(5) end)
end

function TestErrors:test_learning_rate()
  local net = lecture_net()
  net:forward({1, 2})
  assert_error_text("bad argument #1 to 'update' (learning rate must be a finite number >= 0, got nan)", function() return net:update(0 / 0) end)
  assert_error_text("bad argument #1 to 'update' (learning rate must be a finite number >= 0, got -0.1)", function() return net:update(-0.1) end)
  assert_error_text("bad argument #4 to 'train_step' (learning rate must be a finite number >= 0, got inf)", function() return net:train_step({1, 2}, {3}, "mse", math.huge) end)
  lu.assertEquals(net:weight(1, 1, 1), 0.5) -- nothing changed
end

function TestErrors:test_wrong_userdata()
  local net, crit = lecture_net(), bp.loss("mse")
  assert_error_text("bad argument #1 to 'forward' (backprop.net expected, got backprop.loss)", function() return net.forward(crit, {1, 2}) end)
  assert_error_text("bad argument #1 to 'forward' (backprop.loss expected, got backprop.net)", function() return crit.forward(net, {1}, {1}) end)
  assert_error_text("bad argument #1 to 'weight' (backprop.net expected, got table)", function() return net.weight({}, 1, 1, 1) end)
  assert_error_text("bad argument #3 to 'train_step' (loss name or backprop.loss expected, got backprop.net)", function() return net:train_step({1, 2}, {3}, net, 0.1) end)
end

function TestErrors:test_closed()
  local net = lecture_net()
  net:close()
  net:close() -- safe twice
  lu.assertEquals(tostring(net), "net (closed)")
  assert_error_text("attempt to use a closed net", function() return net:forward({1, 2}) end)
  do
    local scoped <close> = lecture_net()
    lu.assertEquals(#scoped, 2)
  end
end

function TestErrors:test_softmax_ce_needs_logits()
  local net = bp.net(2)
  net:add(3, "softmax")
  assert_error_text("softmax_ce takes logits: make the last layer 'identity'", function() return net:train_step({1, 2}, {0, 1, 0}, "softmax_ce", 0.1) end)
end

function TestErrors:test_no_layers()
  local net = bp.net(2)
  assert_error_text("the network has no layers: call net:add first", function() return net:forward({1, 2}) end)
  assert_error_text("backward needs a forward first", function() return lecture_net():backward({1}) end)
end

S.finish()
