-- test_luamodule.lua: bp.module, a module written in Lua inside a net's
-- graph (the host op), and bp.gradcheck (LuaUnit). A Lua linear against the
-- built-in one, a Lua module in a residual block passing gradcheck, the
-- module under fit, evaluate and an optimiser, float32, and every way a
-- Lua forward or backward can go wrong, each with its exact message and the
-- net still usable after it.
local lu = require "luaunit"
package.path = (os.getenv("BP_SOURCE_DIR") or ".") .. "/tests/lua/?.lua;" .. package.path
local S = require "support"
local bp = require "backprop"

local assert_error_text = S.assert_error_text

-- y = x W^T + b, as nn.Linear, on tensors; W from the table given.
local function lua_linear(w, b, opts)
  local m = {name = "lualin", outputs = #w, params = {w = bp.tensor(w), b = bp.tensor(b)}}
  function m.forward(self, x) return x:matmul(self.w:t()) + self.b end
  function m.backward(self, x, dout)
    self.grad.w:add(dout:t():matmul(x), self.grad.w)
    self.grad.b:add(dout:sum(1), self.grad.b)
    return dout:matmul(self.w)
  end
  for k, v in pairs(opts or {}) do m[k] = v end
  return bp.module(m)
end

local W = {{0.1, -0.2, 0.3}, {0.4, 0.5, -0.6}}
local B = {0.01, -0.02}
local X = {{1, 2, 3}, {0.5, -1, 2}, {-2, 0.25, 1}}

local function close_to(a, b, tol)
  for i = 1, #a do
    for j = 1, #a[i] do lu.assertAlmostEquals(a[i][j], b[i][j], tol) end
  end
end

function test_lua_linear_is_the_builtin_one()
  local mine = bp.net(3, lua_linear(W, B))
  local theirs = bp.net(bp.linear(3, 2, {weights = W, bias = B}))
  close_to(mine:forward(X), theirs:forward(X), 1e-15)
  local dout = {{1, -1}, {0.5, 2}, {-3, 0.25}}
  close_to(mine:backward(dout), theirs:backward(dout), 1e-15)
  close_to(mine:grad("1.w"), theirs:grad("1.weight"), 1e-15)
  lu.assertEquals(mine:params_list()[1].name, "1.b") -- sorted by name
  lu.assertEquals(mine:param_count(), 8)
  lu.assertStrContains(tostring(mine), "(1): Lua(lualin)")
end

function test_residual_block_passes_gradcheck()
  bp.seed(3)
  local glu = assert(load(S.GATE))(bp)
  local net = bp.net(bp.sequential{bp.linear(3, 4), bp.residual(bp.sequential{glu, bp.tanh()}),
                                   bp.linear(4, 2)})
  local ok, worst, where = bp.gradcheck(net, X)
  lu.assertTrue(ok, where)
  lu.assertTrue(worst < 1e-8)
  ok, worst = bp.gradcheck(net, X, "mse", {{1, 0}, {0, 1}, {1, 1}})
  lu.assertTrue(ok)
  -- a module alone, made into a net by gradcheck
  lu.assertTrue((bp.gradcheck(lua_linear(W, B), X)))
end

function test_gradcheck_finds_a_wrong_gradient()
  local bad = lua_linear(W, B, {backward = function(self, x, dout)
    self.grad.w:add(dout:t():matmul(x), self.grad.w)
    self.grad.b:add(dout:sum(1), self.grad.b)
    return dout:matmul(self.w) * 1.01 -- dx 1% off
  end})
  local ok, worst, where = bp.gradcheck(bp.net(3, bad), X)
  lu.assertFalse(ok)
  lu.assertTrue(worst > 1e-3)
  lu.assertStrContains(where, "input[")
end

function test_fit_evaluate_and_an_optimiser()
  bp.seed(5)
  local x, y = {}, {}
  for i = 1, 40 do
    x[i] = {bp.uniform(-1, 1), bp.uniform(-1, 1), bp.uniform(-1, 1)}
    y[i] = x[i][1] + x[i][2] > 0 and 1 or 2
  end
  local d = bp.data(x, y, {classes = 2})
  local net = bp.net(3, bp.sequential{lua_linear(W, B), bp.tanh(), bp.linear(2, 2)})
  local opt = bp.optimizer(net, "adam", {lr = 0.05})
  local before = net:evaluate(d, "softmax_ce").loss
  local stats = net:fit{data = d, loss = "softmax_ce", optimizer = opt, epochs = 20, batch = 8}
  lu.assertEquals(#stats, 20)
  lu.assertTrue(net:evaluate(d, "softmax_ce").loss < before / 2)
  lu.assertEquals(#net:predict(d), 40)
end

function test_same_seed_same_bits()
  local function run()
    bp.seed(9)
    local net = bp.net(bp.sequential{bp.linear(3, 3), lua_linear(W, B), bp.relu(), bp.linear(2, 1)})
    for _ = 1, 5 do net:train_step(X, {{1}, {0}, {2}}, "mse", 0.05) end
    return net:params()
  end
  lu.assertEquals(run(), run())
end

function test_float32()
  local net = bp.net(3, lua_linear(W, B), {dtype = "float32"})
  local theirs = bp.net(bp.linear(3, 2, {weights = W, bias = B}), {dtype = "float32"})
  close_to(net:forward(X), theirs:forward(X), 1e-6)
  lu.assertEquals(net:tensor("1.w"):dtype(), "float32")
  net:train_step(X, {{1, 0}, {0, 1}, {1, 1}}, "mse", 0.1)
end

-- A module whose forward or backward does what `how` says, once.
local function faulty(how)
  local def = {outputs = 2, params = {w = bp.tensor(W)}}
  function def.forward(self, x)
    if how == "error" then error("boom") end
    if how == "shape" then return x end
    if how == "number" then return 3 end
    if how == "stash" then def.kept = x end
    if how == "reenter" then def.net:forward(X) end
    if how == "close" then def.net:close() end
    return x:matmul(self.w:t())
  end
  function def.backward(self, x, dout)
    if how == "berror" then error({}) end
    if how == "nil" then return nil end
    self.grad.w:add(dout:t():matmul(x), self.grad.w)
    return dout:matmul(self.w)
  end
  return bp.module(def), def
end

function test_errors_in_lua_surface_clearly()
  local cases = {
    error = "host (module '2'): ",
    shape = "host (module '2'): lua's forward returned a tensor of shape {3, 3}, expected "
            .. "its output: shape {3, 2}",
    number = "host (module '2'): lua's forward returned number, expected its output: a "
             .. "tensor of shape {3, 2}",
    reenter = "attempt to use a network inside the forward or backward of one of its own modules",
    close = "attempt to close a network inside the forward or backward of one of its own modules",
  }
  for how, text in pairs(cases) do
    local m, def = faulty(how)
    local net = bp.net(bp.sequential{bp.linear(3, 3), m})
    def.net = net
    local ok, err = pcall(net.forward, net, X)
    lu.assertFalse(ok, how)
    lu.assertStrContains(err, text, false)
    if how == "error" then lu.assertStrContains(err, "test_luamodule.lua:114: boom") end
    -- the net survives: backward refuses, a forward of another net works
    assert_error_text("backward needs a forward first", function() net:backward({{0, 0}}) end)
  end
end

function test_errors_in_backward()
  local m = faulty("berror")
  local net = bp.net(bp.sequential{bp.linear(3, 3), m})
  net:forward(X)
  assert_error_text("host (module '2'): lua's backward raised a table value", function()
    net:backward({{1, 1}, {1, 1}, {1, 1}}) end)
  m = faulty("nil")
  net = bp.net(bp.sequential{bp.linear(3, 3), m})
  net:forward(X)
  assert_error_text("host (module '2'): lua's backward returned nil, expected dLoss/dx",
                    function() net:backward({{1, 1}, {1, 1}, {1, 1}}) end)
  -- first in the net and nobody asks for dLoss/dx: nil is fine
  net = bp.net(3, (faulty("nil")))
  net:train_step(X, {{1, 1}, {1, 1}, {1, 1}}, "mse", 0.1)
end

function test_views_refused_outside_their_call()
  local m, def = faulty("stash")
  local net = bp.net(3, m)
  net:forward(X)
  assert_error_text("attempt to use a module's tensor outside the forward or backward it was "
                    .. "given to", function() return def.kept:sum() end)
  def.kept:close() -- marks it; the module frees it
  net:close()
  collectgarbage()
  assert_error_text("attempt to use a closed tensor", function() return def.kept:sum() end)
end

function test_bad_definitions()
  assert_error_text("field 'forward': a function expected", function()
    bp.module{backward = function() end} end)
  assert_error_text("unknown option 'forwards'", function()
    bp.module{forwards = function() end} end)
  assert_error_text("field 'params': 'w': a tensor expected, got table", function()
    bp.module{forward = print, backward = print, params = {w = {1, 2}}} end)
  assert_error_text("field 'params': names of 1 to 15 letters, digits or _ expected", function()
    bp.module{forward = print, backward = print, params = {["a.b"] = bp.tensor{1}}} end)
  local m = lua_linear(W, B)
  assert_error_text("the same module appears twice", function()
    bp.net(bp.sequential{bp.linear(3, 3), m, bp.linear(2, 3), m}) end)
  assert_error_text("linear (module '3'): takes 4 features, its input has shape 2", function()
    bp.net(bp.sequential{bp.linear(3, 3), m, bp.linear(4, 1)}) end)
end

S.finish()
