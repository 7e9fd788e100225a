-- test_modules.lua: networks made of modules from Lua (LuaUnit): modules
-- as values, containers, nngraph-style graphs, their parameters by name,
-- training and evaluation modes, and the exact text of every bad
-- construction. Gradients are checked against central differences through
-- the Lua API alone (net:backward's dLoss/d(input) and net:grad(name));
-- batch norm and dropout against hand computations.
local lu = require "luaunit"
package.path = (os.getenv("BP_SOURCE_DIR") or ".") .. "/tests/lua/?.lua;" .. package.path
local S = require "support"
local bp = require "backprop"

local assert_error_text = S.assert_error_text

-- The lecture's 2-3-1 network as a stack, and as modules with its weights.
local W1, B1 = {{0.5, 0.3}, {-0.1, 0.1}, {-0.4, 0.6}}, 1
local W2, B2 = {{-0.23, 0.3, 0.1}}, 1
local function lecture_stack(dtype)
  local net = bp.net(2, {dtype = dtype})
  net:add(3, "sigmoid", {weights = W1, bias = B1})
  net:add(1, "identity", {weights = W2, bias = B2})
  return net
end
local function lecture_modules(dtype)
  return bp.net(bp.sequential{bp.linear(2, 3, {weights = W1, bias = B1}), bp.sigmoid(),
                              bp.linear(3, 1, {weights = W2, bias = B2}), bp.identity()},
                {dtype = dtype})
end

local function flat(t, out)
  out = out or {}
  if type(t) == "number" then out[#out + 1] = t; return out end
  for _, v in ipairs(t) do flat(v, out) end
  return out
end

-- The mean squared error of out against y, and its gradient.
local mse = bp.loss("mse")

-- Central differences of the mse of net on x against y, for every
-- trainable value (by net:params()'s flat order) and every input; compared
-- with net:grad(name) and what net:backward returned.
local function check_gradients(net, x, y, tol)
  local out = net:forward(x)
  local dx = net:backward(mse:backward(out, y))
  local function loss_at() return mse:forward(net:forward(x), y) end
  local p, h, at = net:params(), 1e-6, 0
  for _, t in ipairs(net:params_list()) do
    if t.trainable then
      local g = flat(net:grad(t.name))
      lu.assertEquals(#g, t.count)
      for k = 1, t.count do
        local v = p[at + k]
        p[at + k] = v + h; net:set_params(p); local lp = loss_at()
        p[at + k] = v - h; net:set_params(p); local lm = loss_at()
        p[at + k] = v; net:set_params(p)
        local fd = (lp - lm) / (2 * h)
        lu.assertTrue(math.abs(fd - g[k]) <= tol * (1 + math.abs(fd)),
          string.format("%s[%d]: backward %.10g, differences %.10g", t.name, k, g[k], fd))
      end
    end
    at = at + t.count
  end
  for r, row in ipairs(x) do
    for i, v in ipairs(row) do
      row[i] = v + h; local lp = loss_at()
      row[i] = v - h; local lm = loss_at()
      row[i] = v
      local fd = (lp - lm) / (2 * h)
      lu.assertTrue(math.abs(fd - dx[r][i]) <= tol * (1 + math.abs(fd)),
        string.format("dx[%d][%d]: backward %.10g, differences %.10g", r, i, dx[r][i], fd))
    end
  end
end

local function rows(n, w, f)
  local x = {}
  for r = 1, n do
    x[r] = {}
    for i = 1, w do x[r][i] = f(r, i) end
  end
  return x
end

TestModules = {}

function TestModules:test_linear_by_hand()
  local net = bp.net(bp.linear(2, 2, {weights = {{1, 2}, {3, -4}}, bias = {0.5, -1}}))
  lu.assertEquals(net:forward({1, 1}), {3.5, -2})
  lu.assertEquals(net:forward({{2, 0}, {0, 1}}), {{2.5, 5}, {2.5, -5}})
  local nb = bp.net(bp.linear(2, 1, {weights = 1, bias = false}))
  lu.assertEquals(nb:params_list()[1].name, "1.weight")
  lu.assertEquals(#nb:params_list(), 1)
  lu.assertEquals(nb:forward({2, 3}), {5})
end

-- The same network as a stack and as modules: the same bits, step after
-- step, and the stack built the old way keeps seed_example's figures.
function TestModules:test_stack_and_modules_give_the_same_bits()
  for _, dtype in ipairs({"float64", "float32"}) do
    local a, b = lecture_stack(dtype), lecture_modules(dtype)
    lu.assertFalse(a:is_graph())
    lu.assertTrue(b:is_graph())
    lu.assertEquals(a:forward({1, 2}), b:forward({1, 2}))
    for _ = 1, 100 do
      lu.assertEquals(a:train_step({1, 2}, {3}, "half_se", 0.01),
                      b:train_step({1, 2}, {3}, "half_se", 0.01))
    end
    lu.assertEquals(a:params(), b:params())
    local d = {{0.3}, {-1.2}}
    a:forward({{1, 2}, {0, -1}}); b:forward({{1, 2}, {0, -1}})
    lu.assertEquals(a:backward(d), b:backward(d))
    lu.assertEquals(a:grad("1.weight"), b:grad("1.weight"))
  end
  -- seed_example.lua prints the loss of step 100 of the stack, %.6f
  local net = lecture_stack()
  local crit, l = bp.loss("half_se")
  net:forward({1, 2}); net:backward(crit:backward(net:forward({1, 2}), {3})); net:update(0.01)
  for _ = 2, 100 do l = net:train_step({1, 2}, {3}, crit, 0.01) end
  local out = S.backprop("lua " .. S.SRC .. "/scripts/seed_example.lua steps=100")
  lu.assertEquals(out:match("\n%s*100%s+([%d.]+)"), string.format("%.6f", l))
end

function TestModules:test_backward_returns_the_input_gradient_of_a_stack()
  local net, crit = lecture_stack(), bp.loss("half_se")
  local out = net:forward({1, 2})
  local dx = net:backward(crit:backward(out, {3}))
  -- dh1 = dout * w2 * o(1 - o), dx = dh1 W1
  local dout = out[1] - 3
  local o = net:o(1)
  local want = {0, 0}
  for n = 1, 3 do
    local dh = dout * W2[1][n] * o[n] * (1 - o[n])
    for i = 1, 2 do want[i] = want[i] + dh * W1[n][i] end
  end
  lu.assertAlmostEquals(dx[1], want[1], 1e-15)
  lu.assertAlmostEquals(dx[2], want[2], 1e-15)
end

function TestModules:test_explicit_weights_draw_nothing()
  bp.seed(5)
  local u = bp.uniform()
  bp.seed(5)
  bp.net(bp.linear(2, 2, {weights = {{1, 2}, {3, 4}}, bias = 0}))
  lu.assertEquals(bp.uniform(), u)
  -- defaults: nn.Linear's U(-1/sqrt(I), 1/sqrt(I)), the same for a seed
  bp.seed(7)
  local a = bp.net(bp.linear(4, 3))
  bp.seed(7)
  local b = bp.net(bp.linear(4, 3))
  lu.assertEquals(a:params(), b:params())
  for _, v in ipairs(a:params()) do lu.assertTrue(math.abs(v) <= 0.5) end
  -- the same module value makes nets of their own, each drawing
  local m = bp.linear(4, 3)
  lu.assertNotEquals(bp.net(m):params(), bp.net(m):params())
end

function TestModules:test_finite_differences_residual_block()
  bp.seed(11)
  local net = bp.net(bp.sequential{
    bp.linear(3, 4), bp.tanh(),
    bp.residual(bp.sequential{bp.linear(4, 4), bp.batchnorm1d(4), bp.gelu()}),
    bp.residual(bp.sequential{bp.linear(4, 4), bp.elu(0.7), bp.leaky_relu(0.1)}),
    bp.linear(4, 2), bp.sigmoid()})
  for _, B in ipairs({2, 5}) do
    local x = rows(B, 3, function(r, i) return math.sin(r * 1.3 + i) end)
    local y = rows(B, 2, function(r, i) return (r + i) % 2 end)
    check_gradients(net, x, y, 1e-6)
  end
end

function TestModules:test_finite_differences_concat_and_shared_input()
  bp.seed(12)
  -- bp.concat of branches, each on the same input
  local net = bp.net(bp.sequential{
    bp.linear(3, 4), bp.relu(),
    bp.concat{bp.sequential{bp.linear(4, 2), bp.tanh()}, bp.linear(4, 3), bp.identity()},
    bp.linear(9, 3), bp.softmax()})
  check_gradients(net, rows(3, 3, function(r, i) return (r - i) * 0.4 + 0.1 end),
                  rows(3, 3, function(r, i) return r == i and 1 or 0 end), 1e-6)
  -- nngraph's style: the input feeds two branches, summed and concatenated
  local x = bp.input(3)
  local h = bp.linear(3, 4)(x)
  local a = bp.tanh()(h)
  local b = bp.sigmoid()(bp.linear(3, 4)(x))
  local s = bp.sum()({a, b, h})
  local out = bp.linear(12, 2)(bp.concat()({s, a, b}))
  local g = bp.net(bp.graph(x, out))
  lu.assertEquals(g:inputs(), 3)
  lu.assertEquals(g:outputs(), 2)
  check_gradients(g, rows(4, 3, function(r, i) return math.cos(r + 2 * i) end),
                  rows(4, 2, function(r, i) return r * 0.1 - i end), 1e-6)
end

-- float32: the same graph with the same values agrees with float64 in its
-- output, input gradient and parameter gradients (a float's precision).
function TestModules:test_float32_graph_agrees_with_float64()
  local function make(dtype)
    bp.seed(13)
    local x = bp.input(3)
    local h = bp.linear(3, 6)(x)
    local a = bp.residual(bp.sequential{bp.linear(6, 6), bp.batchnorm1d(6), bp.elu()})(h)
    local y = bp.linear(12, 2)(bp.concat()({bp.gelu()(a), bp.leaky_relu()(h)}))
    return bp.net(bp.graph(x, y), {dtype = dtype})
  end
  local d, f = make("float64"), make("float32")
  f:set_params(d:params())
  local x = rows(4, 3, function(r, i) return math.sin(r - i) end)
  local y = rows(4, 2, function(r, i) return r * i * 0.1 end)
  local od, of = d:forward(x), f:forward(x)
  local gd, gf = d:backward(mse:backward(od, y)), f:backward(mse:backward(of, y))
  local function close(u, v, what)
    u, v = flat(u), flat(v)
    lu.assertEquals(#u, #v)
    for k = 1, #u do
      lu.assertTrue(math.abs(u[k] - v[k]) <= 1e-5 * (1 + math.abs(u[k])),
        string.format("%s[%d]: %.9g and %.9g", what, k, u[k], v[k]))
    end
  end
  close(od, of, "output")
  close(gd, gf, "dx")
  for _, t in ipairs(d:params_list()) do
    if t.trainable then close(d:grad(t.name), f:grad(t.name), t.name) end
  end
  lu.assertEquals(f:dtype(), "float32")
end

function TestModules:test_flatten_and_reshape()
  local net = bp.net({2, 3}, bp.sequential{bp.flatten(), bp.reshape(3, 2),
                                           bp.linear(2, 1, {weights = {{1, 10}}, bias = 0}),
                                           bp.flatten()})
  lu.assertEquals(net:inputs(), 6)
  lu.assertEquals(net:outputs(), 3)
  -- rows of 2 of the 6 values: 1 + 20, 3 + 40, 5 + 60
  lu.assertEquals(net:forward({1, 2, 3, 4, 5, 6}), {21, 43, 65})
  check_gradients(net, {{1, 2, 3, 4, 5, 6}}, {{1, 2, 3}}, 1e-7)
end

-- Batch norm on a 3 x 2 batch, by hand: mean (3, 4), biased variance 8/3,
-- unbiased 4; running statistics with momentum 0.1.
function TestModules:test_batchnorm_by_hand()
  local net = bp.net(bp.batchnorm1d(2, {name = "bn"}))
  local x = {{1, 2}, {3, 6}, {5, 4}}
  local s = math.sqrt(8 / 3 + 1e-5)
  local out = net:forward(x)
  local want = {{-2 / s, -2 / s}, {0, 2 / s}, {2 / s, 0}}
  for r = 1, 3 do
    for c = 1, 2 do lu.assertAlmostEquals(out[r][c], want[r][c], 1e-14) end
  end
  lu.assertEquals(net:param("bn.num_batches_tracked"), 1)
  lu.assertAlmostEquals(net:param("bn.running_mean")[1], 0.3, 1e-15)
  lu.assertAlmostEquals(net:param("bn.running_var")[2], 0.9 + 0.4, 1e-15)
  net:forward(x); net:forward(x)
  local rm, rv = {3 * 0.271, 4 * 0.271}, 4 - 3 * 0.729
  lu.assertAlmostEquals(net:param("bn.running_mean")[1], rm[1], 1e-14)
  lu.assertAlmostEquals(net:param("bn.running_mean")[2], rm[2], 1e-14)
  lu.assertAlmostEquals(net:param("bn.running_var")[1], rv, 1e-14)
  lu.assertEquals(net:param("bn.num_batches_tracked"), 3)
  -- evaluation: the running statistics, any batch size, nothing updated
  net:set_param("bn.weight", {2, 1})
  net:set_param("bn.bias", {0.5, 0})
  net:training(false)
  local e = net:forward({1, 2})
  lu.assertAlmostEquals(e[1], 2 * (1 - rm[1]) / math.sqrt(rv + 1e-5) + 0.5, 1e-14)
  lu.assertAlmostEquals(e[2], (2 - rm[2]) / math.sqrt(rv + 1e-5), 1e-14)
  lu.assertEquals(net:param("bn.num_batches_tracked"), 3)
  net:training(true)
  assert_error_text("batchnorm1d (module 'bn'): training needs a batch of at least 2 "
                    .. "samples (got 1); evaluation mode takes any",
                    function() net:forward({1, 2}) end)
  lu.assertErrorMsgContains("'bn.running_mean' is a buffer: it has no gradient",
                            net.grad, net, "bn.running_mean")
end

function TestModules:test_dropout()
  local n, p = 10000, 0.3
  local net = bp.net(n, bp.dropout(p))
  local x = {}
  for i = 1, n do x[i] = 1 + i % 3 end
  bp.seed(3)
  local a = net:forward(x)
  local dropped = 0
  for i = 1, n do
    if a[i] == 0 then dropped = dropped + 1
    else lu.assertAlmostEquals(a[i], x[i] / (1 - p), 1e-15) end
  end
  -- 3000 expected; the binomial's standard deviation is 46
  lu.assertTrue(math.abs(dropped - n * p) < 200, "dropped " .. dropped)
  -- the gradient goes through the kept values, scaled alike
  local dout = {}
  for i = 1, n do dout[i] = 1 end
  local dx = net:backward(dout)
  for i = 1, n do lu.assertEquals(dx[i], a[i] == 0 and 0 or 1 / (1 - p)) end
  -- the same seed, the same masks; the next draw another
  bp.seed(3)
  lu.assertEquals(net:forward(x), a)
  lu.assertNotEquals(net:forward(x), a)
  -- evaluation: the identity
  net:training(false)
  lu.assertEquals(net:forward(x), x)
  lu.assertFalse(net:training())
end

function TestModules:test_modes_of_fit_evaluate_predict()
  bp.seed(4)
  local d = bp.data(rows(40, 2, function(r, i) return math.sin(r * i) end),
                    (function() local t = {} for r = 1, 40 do t[r] = r % 2 + 1 end return t end)(),
                    {classes = 2})
  local net = bp.net(bp.sequential{bp.linear(2, 8), bp.relu(), bp.dropout(0.5),
                                   bp.linear(8, 2)})
  -- predict and evaluate in evaluation mode: no dropout, the same twice
  local p1 = net:predict(d, "output")
  lu.assertEquals(net:predict(d, "output"), p1)
  lu.assertTrue(net:training())
  net:training(false)
  lu.assertEquals(net:forward(d:row(1)), p1[1])
  lu.assertEquals(net:evaluate(d, "softmax_ce").loss,
                  net:evaluate(d, "softmax_ce").loss)
  -- fit trains in training mode and puts evaluation back
  net:fit{data = d, loss = "softmax_ce", lr = 0.1, epochs = 2, batch = 8}
  lu.assertFalse(net:training())
end

-- fit on a small graph learns iris, in both dtypes, with an optimiser
-- over every trainable tensor (batch norm's running statistics are no
-- optimiser's).
function TestModules:test_fit_a_graph()
  for _, dtype in ipairs({"float64", "float32"}) do
    bp.seed(1)
    local iris = assert(bp.load_csv(S.SRC .. "/data/iris.csv", {target = "species"}))
    iris:shuffle()
    local train, val = iris:split(0.8)
    local sc = train:scaler("standard")
    train:scale(sc); val:scale(sc)
    local x = bp.input(4)
    local h = bp.relu()(bp.batchnorm1d(16)(bp.linear(4, 16)(x)))
    local r = bp.residual(bp.sequential{bp.linear(16, 16), bp.tanh()})(bp.dropout(0.1)(h))
    local net = bp.net(bp.graph(x, bp.linear(16, 3)(r)), {dtype = dtype})
    local opt = bp.optimizer(net, "adam", {lr = 0.01})
    local stats = net:fit{data = train, loss = "softmax_ce", optimizer = opt, epochs = 40,
                          batch = 16, validation = val}
    lu.assertTrue(stats[#stats].val_accuracy >= 0.9, dtype .. ": " .. stats[#stats].val_accuracy)
    lu.assertTrue(stats[#stats].train_loss < stats[1].train_loss)
    lu.assertEquals(net:param("2.num_batches_tracked"), 40 * 8)
  end
end

function TestModules:test_threads_give_the_same_bits_on_a_graph()
  local function run(threads)
    bp.threads(threads)
    bp.seed(2)
    local net = bp.net(bp.sequential{bp.linear(8, 32), bp.batchnorm1d(32), bp.relu(),
                                     bp.dropout(0.2), bp.linear(32, 4)})
    local x = rows(16, 8, function(r, i) return math.sin(r + i) end)
    local y = rows(16, 4, function(r, i) return (r + i) % 4 == 0 and 1 or 0 end)
    local l
    for _ = 1, 20 do l = net:train_step(x, y, "softmax_ce", 0.05) end
    return l, net:params()
  end
  local before = bp.threads()
  local l1, p1 = run(1)
  local l2, p2 = run(2)
  bp.threads(before)
  lu.assertEquals(l1, l2)
  lu.assertEquals(p1, p2)
end

function TestModules:test_parameters_by_name()
  local net = bp.net(bp.sequential{bp.linear(2, 3, {name = "fc1", weights = {{1, 2}, {3, 4}, {5, 6}}}),
                                   bp.relu(), bp.batchnorm1d(3), bp.linear(3, 1)})
  local names = {}
  for _, t in ipairs(net:params_list()) do names[#names + 1] = t.name end
  lu.assertEquals(names, {"fc1.weight", "fc1.bias", "3.weight", "3.bias", "3.running_mean",
                          "3.running_var", "3.num_batches_tracked", "4.weight", "4.bias"})
  local l = net:params_list()
  lu.assertEquals(l[1].shape, {3, 2})
  lu.assertEquals(l[7].shape, {})
  lu.assertFalse(l[5].trainable)
  lu.assertEquals(net:param("fc1.weight"), {{1, 2}, {3, 4}, {5, 6}})
  net:set_param("fc1.weight", {{0, 1}, {1, 0}, {2, 2}})
  lu.assertEquals(net:param("fc1.weight"), {{0, 1}, {1, 0}, {2, 2}})
  -- the lecture's accessors reach a graph's linear modules, in order
  lu.assertEquals(#net, 2)
  lu.assertEquals(net:weight(1, 3, 2), 2)
  net:set_weight(1, 3, 2, 7)
  lu.assertEquals(net:param("fc1.weight")[3], {2, 7})
  lu.assertEquals(net:layer(1), {inputs = 2, outputs = 3, name = "fc1", activation = "relu"})
  assert_error_text("bad argument #1 to 'param' (no parameter named 'fc2.weight')",
                    function() net:param("fc2.weight") end)
  assert_error_text("bad argument #2 to 'set_param' ('fc1.weight' has shape 3x2; at [2]: "
                    .. "a table of 2 entries expected)",
                    function() net:set_param("fc1.weight", {{1, 2}, {3}, {4, 5}}) end)
  assert_error_text("bad argument #2 to 'set_param' ('fc1.bias' has shape 3; at [3]: "
                    .. "number expected, got string)",
                    function() net:set_param("fc1.bias", {1, 2, "x"}) end)
  lu.assertEquals(net:param("fc1.weight")[2], {1, 0}, "a refused set_param changes nothing")
  assert_error_text("a graph of modules keeps no h or o per layer",
                    function() net:h(1) end)
end

-- A stack becomes a graph when a module is added: the same values and
-- names, and net:add(n, act) goes on naming layers as a stack does.
function TestModules:test_stack_becomes_a_graph()
  local net = lecture_stack()
  local before = net:forward({1, 2})
  net:add(bp.dropout(0.5))
  lu.assertTrue(net:is_graph())
  net:training(false)
  lu.assertEquals(net:forward({1, 2}), before)
  net:add(2, "tanh", {weights = {{1}, {-1}}})
  local names = {}
  for _, t in ipairs(net:params_list()) do names[#names + 1] = t.name end
  lu.assertEquals(names, {"1.weight", "1.bias", "2.weight", "2.bias", "4.weight", "4.bias"})
  lu.assertEquals(net:weight(1, 1, 1), 0.5)
  lu.assertEquals(net:weights(3), {{1}, {-1}})
  lu.assertEquals(net:forward({1, 2}), {math.tanh(before[1]), math.tanh(-before[1])})
  lu.assertEquals(tostring(net), table.concat({
    "net 2 -> 2 (float64, 17 parameters)",
    "  (1): Linear(2, 3)    -> 3         9",
    "  (1.act): Sigmoid()   -> 3",
    "  (2): Linear(3, 1)    -> 1         4",
    "  (2.act): Identity()  -> 1",
    "  (3): Dropout(p=0.5)  -> 1",
    "  (4): Linear(1, 2)    -> 2         4",
    "  (4.act): Tanh()      -> 2"}, "\n"))
  -- a failed add leaves the net computing what it did
  assert_error_text("linear (module '5'): takes 3 features, its input has shape 2",
                    function() net:add(bp.linear(3, 1)) end)
  lu.assertEquals(net:forward({1, 2}), {math.tanh(before[1]), math.tanh(-before[1])})
  net:add(bp.linear(2, 1, {weights = 1, bias = 0}))
  lu.assertEquals(net:param("5.weight"), {{1, 1}})
end

function TestModules:test_tree()
  local net = bp.net(bp.sequential{
    bp.linear(4, 8, {name = "fc1"}), bp.relu(),
    bp.residual(bp.sequential{bp.linear(8, 8), bp.batchnorm1d(8)}),
    bp.concat{bp.linear(8, 3), bp.identity()}, bp.leaky_relu(0.2)})
  lu.assertEquals(tostring(net), table.concat({
    "net 4 -> 11 (float64, 155 parameters, 17 buffer values)",
    "  (fc1): Linear(4, 8)                                   -> 8         40",
    "  (2): ReLU()                                           -> 8",
    "  (3): Sum                                              -> 8         88",
    "    (3.1): Identity()                                   -> 8",
    "    (3.2): Sequential                                   -> 8         88",
    "      (3.2.1): Linear(8, 8)                             -> 8         72",
    "      (3.2.2): BatchNorm1d(8, eps=1e-05, momentum=0.1)  -> 8         16",
    "  (4): Concat                                           -> 11        27",
    "    (4.1): Linear(8, 3)                                 -> 3         27",
    "    (4.2): Identity()                                   -> 8",
    "  (5): LeakyReLU(0.2)                                   -> 11"}, "\n"))
  -- a tree longer than Lua's buffer of 1 KB keeps its first line (the
  -- buffer once lost its box under the tree's table)
  local long = bp.sequential()
  for _ = 1, 20 do long:add(bp.linear(4, 4)):add(bp.tanh()) end
  local text = tostring(bp.net(long))
  lu.assertTrue(#text > 1200, #text)
  lu.assertEquals(text:match("^[^\n]*"), "net 4 -> 4 (float64, 400 parameters)")
  lu.assertEquals(select(2, text:gsub("\n", "")), 40)
  lu.assertEquals(tostring(bp.linear(2, 3, {name = "a"})), "a: Linear(2, 3)")
  lu.assertEquals(tostring(bp.sum{bp.relu(), bp.tanh()}), "Sum(2 modules)")
  lu.assertEquals(bp.dropout():kind(), "dropout")
  lu.assertEquals(bp.gelu{name = "g"}:name(), "g")
end

function TestModules:test_bad_constructions()
  local function nets(m) return function() return bp.net(m) end end
  assert_error_text("linear (module '2'): takes 4 features, its input has shape 8",
                    nets(bp.sequential{bp.linear(4, 8), bp.linear(4, 2)}))
  assert_error_text("add (module '2'): its inputs have shapes 3 and 2",
                    nets(bp.sequential{bp.linear(4, 8), bp.sum{bp.linear(8, 3), bp.linear(8, 2)}}))
  assert_error_text("concat (module '2'): its inputs have shapes 2x4 and 2, which differ "
                    .. "past the first dimension",
                    nets(bp.sequential{bp.linear(4, 8), bp.concat{bp.reshape(2, 4), bp.linear(8, 2)}}))
  local l = bp.linear(4, 4)
  assert_error_text("linear (module '3'): the same module appears twice in the network; "
                    .. "its parameters cannot be shared: make another",
                    nets(bp.sequential{l, bp.relu(), l}))
  local r = bp.relu()
  bp.net(bp.sequential{bp.linear(4, 4), r, bp.linear(4, 4), r}) -- no parameters: fine
  local s = bp.sequential{bp.linear(4, 4)}
  s:add(s)
  assert_error_text("sequential (module '2') contains itself", nets(s))
  assert_error_text("relu (module 'a'): the name is taken by module 1",
                    nets(bp.sequential{bp.linear(2, 2, {name = "a"}), bp.relu{name = "a"}}))
  assert_error_text("sequential (module '2') is empty",
                    nets(bp.sequential{bp.linear(2, 2), bp.sequential()}))
  assert_error_text("bp.net: relu does not say how many inputs it takes: write "
                    .. "bp.net(inputs, module)", nets(bp.relu()))
  -- graphs: an input that is not the graph's, one left unused
  local x, y = bp.input(4), bp.input(4)
  assert_error_text("graph: its output depends on a bp.input that is not the graph's input",
                    nets(bp.graph(x, bp.linear(4, 2)(y))))
  assert_error_text("graph (module '2'): its output does not depend on its input",
                    nets(bp.sequential{bp.linear(3, 4), bp.graph(y, y)}))
  assert_error_text("linear takes 1 input (got 2)", function() bp.linear(4, 2)({x, y}) end)
  assert_error_text("sum with no branches joins 2 to 64 inputs (got 1)",
                    function() bp.sum()({x}) end)
  -- options and arguments
  assert_error_text("bad argument #3 to 'linear' (unknown option 'nam' (expected name, "
                    .. "weights or bias))", function() bp.linear(4, 3, {nam = "x"}) end)
  assert_error_text("bad argument #2 to 'batchnorm1d' (field 'momentum': a number in "
                    .. "[0, 1] expected, got 2.0)",
                    function() bp.batchnorm1d(4, {momentum = 2}) end)
  assert_error_text("bad argument #1 to 'dropout' (p must be in [0, 1], got 1.5)",
                    function() bp.dropout(1.5) end)
  assert_error_text("bad argument #1 to 'sequential' (element 2: a module expected, got number)",
                    function() bp.sequential{bp.linear(4, 2), 3} end)
  assert_error_text("bad argument #1 to 'sum' (unknown option 'nme' (expected name))",
                    function() bp.sum{bp.linear(4, 2), nme = "x"} end)
  assert_error_text("bad argument #3 to 'linear' (field 'weights': row 2: a table of 2 "
                    .. "numbers expected)",
                    function() bp.linear(2, 2, {weights = {{1, 2}, {3}}}) end)
  assert_error_text("bad argument #1 to 'relu' (unknown option 'alpha' (expected name))",
                    function() bp.relu{alpha = 1} end)
  assert_error_text("bad argument #2 to 'net' (unknown option 'dtyp' (expected dtype))",
                    function() bp.net(bp.linear(2, 2), {dtyp = "float32"}) end)
  assert_error_text("net:add(module) takes nothing more",
                    function() bp.net(2):add(bp.relu(), "x") end)
end

-- README's examples of architectures: each ```lua block that starts with
-- "-- example: NAME" is run, and what it prints must be the ```text block
-- right after it.
function TestModules:test_readme_examples()
  local readme = S.slurp(S.SRC .. "/README.md")
  local names = {}
  for code, text in readme:gmatch("```lua\n(%-%- example: .-)```%s*```text\n(.-)```") do
    local lines = {}
    local env = setmetatable({print = function(...)
      local t = table.pack(...)
      for i = 1, t.n do t[i] = tostring(t[i]) end
      lines[#lines + 1] = table.concat(t, "\t", 1, t.n)
    end}, {__index = _G})
    local name = code:match("^%-%- example: (%w+)")
    assert(load(code, "README example " .. name, "t", env))()
    lu.assertEquals(table.concat(lines, "\n") .. "\n", text, "README example " .. name)
    names[#names + 1] = name
  end
  lu.assertEquals(names, {"residual", "concat"})
end

-- The modules of images: shapes and labels as PyTorch prints them, the
-- options' defaults (a pool's stride is its kernel), and the errors of bad
-- options and of shapes, each naming the module.
function TestModules:test_image_modules()
  local net = bp.net({1, 8, 8}, bp.sequential{
    bp.conv2d(1, 4, 3, {padding = 1}), bp.batchnorm2d(4), bp.relu(), bp.maxpool2d(2),
    bp.conv2d(4, 6, {3, 2}, {stride = {1, 2}, bias = false, name = "c2"}),
    bp.avgpool2d(2, 1), bp.flatten(), bp.linear(6, 3)})
  lu.assertStrContains(tostring(net), "(4): MaxPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))")
  lu.assertStrContains(tostring(net), "(c2): Conv2d(4, 6, kernel_size=(3, 2), stride=(1, 2), padding=(0, 0), bias=false)  -> 6x2x2")
  lu.assertEquals(net:param_count(), 222) -- 213 trainable, 9 buffer values
  lu.assertEquals(#net:param("1.weight")[1][1], 3)
  local x = {}
  for i = 1, 64 do x[i] = math.sin(i) end
  lu.assertEquals(#net:forward({x, x}), 2)
  assert_error_text("bad argument #3 to 'conv2d' (kernel): an integer in 1..65535 or a pair {h, w} of them expected",
    function() bp.conv2d(1, 4, 0) end)
  assert_error_text("field 'padding': an integer in 0..65535",
    function() bp.conv2d(1, 4, 3, {padding = -1}) end)
  assert_error_text("maxpool2d (module '1'): a padding of 3x3 is more than half the kernel of 2x2",
    function() bp.net({1, 8, 8}, bp.maxpool2d(2, {padding = 3})) end)
  assert_error_text("conv2d (module '1'): takes 3 channels, its input has shape 1x8x8",
    function() bp.net({1, 8, 8}, bp.conv2d(3, 4, 3)) end)
  local c = bp.conv2d(1, 1, 1)
  assert_error_text("conv2d (module '2'): the same module appears twice",
    function() bp.net({1, 2, 2}, bp.sequential{c, c}) end)
end

S.finish()
