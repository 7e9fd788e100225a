-- sweep_xor.lua: a small XOR network for sweeps, quick enough to run by the
-- dozen. Its loss is logged at every step, and reported to the sweep every
-- `every` steps, so that a sweep with --prune can stop the poor trials.
--
--   backprop sweep scripts/sweep_xor.lua lr=0.1,0.5,2 hidden=2,4,8
--   backprop sweep --prune median scripts/sweep_xor.lua lr=loguniform:0.01:5 --trials 20
local bp = require "backprop"

local lr = bp.param("lr", 0.5)
local hidden = bp.param("hidden", 4)
local steps = bp.param("steps", 300)
local every = bp.param("every", 25)

local net = bp.net(2)
net:add(hidden, "tanh")
net:add(1, "sigmoid")
net:log_loss("loss")

local x = {{0, 0}, {0, 1}, {1, 0}, {1, 1}}
local y = {{0}, {1}, {1}, {0}}
local loss
for step = 1, steps do
  loss = net:train_step(x, y, "bce", lr)
  if step % every == 0 or step == steps then bp.report(loss, step) end
end
local out = net:forward(x)
local right = 0
for i = 1, 4 do
  if (out[i][1] > 0.5) == (y[i][1] > 0.5) then right = right + 1 end
end
bp.log("accuracy", right / 4, steps)
bp.log_weights(net, steps)
print(string.format("lr=%g hidden=%d: loss %.6f, accuracy %d/4", lr, hidden, loss, right))
