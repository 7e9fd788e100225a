-- xor.lua: a 2-4-1 network learns XOR, the classic problem no single layer
-- can solve. Full batch of the four cases, tanh hidden units, a sigmoid
-- output with binary cross-entropy, plain gradient descent.
--
--   backprop run scripts/xor.lua [lr=0.5] [hidden=4] [steps=5000] [--seed N]
local bp = require "backprop"

local lr = bp.param("lr", 0.5)
local hidden = bp.param("hidden", 4)
local steps = bp.param("steps", 5000)
local target = bp.param("target", 0.01)

local net = bp.net(2)
net:add(hidden, "tanh", {weights = "xavier"})
net:add(1, "sigmoid", {weights = "xavier"})
net:log_loss("loss")

local x = {{0, 0}, {0, 1}, {1, 0}, {1, 1}}
local y = {{0}, {1}, {1}, {0}}

local loss
for step = 1, steps do
  loss = net:train_step(x, y, "bce", lr)
  if step % 1000 == 0 then print(string.format("step %5d  loss %.6f", step, loss)) end
  if loss < target then
    print(string.format("converged at step %d: loss %.6f < %g", step, loss, target))
    break
  end
end
local out = net:forward(x)
for i = 1, 4 do
  print(string.format("%d xor %d = %.3f", x[i][1], x[i][2], out[i][1]))
end
if loss >= target then error(string.format("did not converge: loss %.6f after %d steps", loss, steps)) end
