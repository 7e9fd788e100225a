-- lua_module.lua: the cost of writing a layer or a loss in Lua (issue 15).
--
-- W2's network (784-128-64-10, ReLU, float32, batch 64, SGD lr 0.05) on
-- W2's 60,000 synthetic rows (scripts/bench/w2.lua), three ways, epochs
-- taking turns (one of each per repetition, so a change in the machine's
-- load falls on all alike):
--   builtin     the network as modules, every one built in, through net:fit;
--   lua_module  the same with its middle linear and ReLU one bp.module written
--               on tensors (a product, a bias added, relu; by hand, the
--               backward's three products), through net:fit;
--   lua_loss    the built-in network with softmax cross-entropy written in
--               Lua on tensors (bp.loss), through net:fit, against the
--               built-in loss's fit (builtin).
-- Unshuffled: every way sees the same batches. Metric: seconds per epoch (median, min, max of `reps`), and the
-- ratios of the medians.
--
--   backprop run --db results/bench.db scripts/bench/lua_module.lua [reps=5]
local bp = require "backprop"
local C = dofile("scripts/bench/common.lua")
local prefix = C.idx_data("results/bench_data/w2", 60000, 28, 10, 1)
print(string.format("W2 with Lua parts: 784-128-64-10, float32, batch 64, %d thread(s), %s",
                    C.threads, C.machine()))
local d = C.load_idx(prefix, 10, "float32")

-- linear(I, O) and ReLU as one Lua module.
local function lua_linear_relu(I, O)
  local k = 1 / math.sqrt(I)
  local w, b = bp.zeros(O, I), bp.zeros(O)
  w = w:map(function() return bp.uniform(-k, k) end)
  b = b:map(function() return bp.uniform(-k, k) end)
  return bp.module{
    name = "linear_relu", outputs = O, params = {w = w, b = b},
    forward = function(self, x)
      return (x:matmul(self.w:t()) + self.b):relu()
    end,
    backward = function(self, x, dout, y)
      local dh = dout * y:sign() -- relu's gradient: 1 where y > 0
      self.grad.w:add(dh:t():matmul(x), self.grad.w)
      self.grad.b:add(dh:sum(1), self.grad.b)
      return dh:matmul(self.w)
    end}
end

-- softmax cross-entropy of logits {B, O} and one-hot targets {B, O}, the
-- batch's mean; softmax along the rows of the transpose, where a row of B
-- broadcasts.
local function softmax_t(out)
  local e = out:t():exp() -- {O, B}
  return e / e:sum(1)
end
local softmax_ce = bp.loss{
  forward = function(out, y)
    return -(softmax_t(out):log() * y:t()):sum() / #out
  end,
  backward = function(out, y)
    return (softmax_t(out):t() - y) / #out
  end}

local function make(lua)
  bp.seed(1)
  local mid = lua and lua_linear_relu(128, 64) or bp.sequential{bp.linear(128, 64), bp.relu()}
  return bp.net(784, bp.sequential{bp.linear(784, 128), bp.relu(), mid, bp.linear(64, 10)},
                {dtype = "float32"})
end
local nets = {builtin = make(false), lua_module = make(true), lua_loss = make(false)}

local function fit(net, loss)
  net:fit{data = d, loss = loss or "softmax_ce", lr = 0.05, batch = 64, epochs = 1,
          shuffle = false, log = false, epoch_log = false}
end
local ways = {
  builtin = function() fit(nets.builtin) end,
  lua_module = function() fit(nets.lua_module) end,
  lua_loss = function() fit(nets.lua_loss, softmax_ce) end,
}
local order = {"builtin", "lua_module", "lua_loss"}
for _, w in ipairs(order) do ways[w]() end -- warm-up
local load0 = C.load()
local times = {}
for r = 1, C.reps do
  for _, w in ipairs(order) do
    times[w] = times[w] or {}
    local t0 = bp.clock()
    ways[w]()
    times[w][r] = bp.clock() - t0
  end
end
local s = {}
for _, w in ipairs(order) do
  s[w] = C.stats(times[w])
  C.report(w .. "_s_per_epoch", s[w], "s")
end
C.figure("lua_module_over_builtin", s.lua_module.med / s.builtin.med, "x")
C.figure("lua_loss_over_builtin", s.lua_loss.med / s.builtin.med, "x")
C.figure("load_start", load0, "")
C.figure("load_end", C.load(), "")
