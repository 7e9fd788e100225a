-- custom_layer.lua: a layer that is not built in, written in Lua on
-- tensors, trained on the 8x8 digits (data/digits.csv). The layer is a
-- gated linear unit (Dauphin et al. 2017): y = (x A^T + a) * sigmoid(x G^T
-- + g), a linear whose every output is opened or closed by a second
-- linear of the same input. Its backward is written by hand, so the script
-- first checks it with bp.gradcheck against central differences, and stops
-- there if it is wrong; then a network of two GLUs and a linear head trains
-- with Adam through net:fit, and the test part must reach min_accuracy;
-- last, the network is saved and loaded back.
--
--   backprop run scripts/custom_layer.lua [epochs=20] [lr=0.01] [batch=32]
--                [width=32] [min_accuracy=0.93]
local bp = require "backprop"

local here = (arg and arg[0] or ""):match("^(.*)/scripts/[^/]*$") or "."
local path = bp.param("data", here .. "/data/digits.csv")
local epochs = bp.param("epochs", 20)
local lr = bp.param("lr", 0.01)
local batch = bp.param("batch", 32)
local width = bp.param("width", 32)
local min_accuracy = bp.param("min_accuracy", 0.93)

-- O x I weights (or O biases, cols nil) uniform on +-1/sqrt(I), as nn.Linear.
local function uniform(I, rows, cols)
  local k, t = 1 / math.sqrt(I), {}
  for r = 1, rows do
    if cols then
      t[r] = {}
      for c = 1, cols do t[r][c] = bp.uniform(-k, k) end
    else
      t[r] = bp.uniform(-k, k)
    end
  end
  return bp.tensor(t)
end

-- glu(I, O): I features in, O out.
local function glu(I, O)
  return bp.module{
    name = "glu", outputs = O,
    params = {A = uniform(I, O, I), a = uniform(I, O), G = uniform(I, O, I), g = uniform(I, O)},
    forward = function(self, x)                         -- x: {B, I}
      self.lin = x:matmul(self.A:t()) + self.a          -- {B, O}
      self.gate = (x:matmul(self.G:t()) + self.g):sigmoid()
      return self.lin * self.gate
    end,
    backward = function(self, x, dout)
      local dlin = dout * self.gate                     -- dL/d(x A^T + a)
      local dgate = dout * self.lin * self.gate * (1 - self.gate)
      local gr = self.grad
      gr.A:add(dlin:t():matmul(x), gr.A)                -- gradients add up
      gr.a:add(dlin:sum(1), gr.a)
      gr.G:add(dgate:t():matmul(x), gr.G)
      gr.g:add(dgate:sum(1), gr.g)
      return dlin:matmul(self.A) + dgate:matmul(self.G) -- dL/dx
    end}
end

-- The check: a small GLU between two built-in layers, on a random batch.
local x = {}
for i = 1, 4 do x[i] = {bp.normal(), bp.normal(), bp.normal(), bp.normal(), bp.normal()} end
local ok, worst, where = bp.gradcheck(bp.net(bp.sequential{bp.linear(5, 6), glu(6, 3), bp.tanh()}), x)
print(string.format("gradcheck: %s, worst relative error %.2g (at %s)", ok and "ok" or "FAILED",
  worst, where))
if not ok then error("the GLU's backward disagrees with finite differences at " .. where) end

local digits = assert(bp.load_csv(path, {target = "digit"}))
digits:shuffle(bp.seed("data")) -- the data seed decides the split, the run's seed the weights
local train, val, test = digits:split(0.7, 0.15)
digits:close()
for _, part in ipairs({train, val, test}) do part:scale({shift = 0, scale = 16}) end

local net = bp.net(train:inputs(), bp.sequential{glu(train:inputs(), width), glu(width, width),
                                                 bp.linear(width, train:outputs(), {name = "head"})})
print(net)
local opt = bp.optimizer(net, "adam", {lr = lr})
net:fit{data = train, loss = "softmax_ce", optimizer = opt, epochs = epochs, batch = batch,
        validation = val, log = "loss",
        callback = function(epoch, s)
          print(string.format("epoch %3d  train_loss %.4f  val_loss %.4f  val_accuracy %.3f",
            epoch, s.train_loss, s.val_loss, s.val_accuracy))
        end}

local r = net:evaluate(test, "softmax_ce")
bp.log("test_accuracy", r.accuracy, {epoch = epochs})
print(string.format("test: loss %.4f, accuracy %.3f", r.loss, r.accuracy))
if r.accuracy < min_accuracy then
  error(string.format("test accuracy %.3f is below %.2f", r.accuracy, min_accuracy))
end

-- Saved and loaded back: the file names each GLU's definition ("glu", which
-- bp.module registered once per size) and holds its values; a script that
-- loads it runs glu() first, as a PyTorch script imports its layer's class.
local file = os.tmpname()
assert(net:save(file))
local again = assert(bp.load(file))
os.remove(file)
assert(again:evaluate(test, "softmax_ce").accuracy == r.accuracy, "the loaded net differs")
print("saved and loaded back: the same test accuracy")
