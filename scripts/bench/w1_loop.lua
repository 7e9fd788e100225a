-- w1_loop.lua: W1's two loops and nothing else, for w1_instructions.sh to
-- count: (a) net:train_step in a Lua for-loop, (b) net:train_steps, on the
-- lecture's 2-3-1 as in w1.lua.
--
--   backprop lua scripts/bench/w1_loop.lua a|b STEPS
local bp = require "backprop"
local C = dofile("scripts/bench/common.lua")
local mode, steps = arg[1], math.tointeger(tonumber(arg[2]))
assert((mode == "a" or mode == "b") and steps, "usage: w1_loop.lua a|b STEPS")
local net = C.lecture_net()
local loss, x, y = bp.loss("half_se"), {1, 2}, {3}
if mode == "a" then
  for _ = 1, steps do net:train_step(x, y, loss, 0.01) end
else
  net:train_steps(x, y, loss, 0.01, steps)
end
