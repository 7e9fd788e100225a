-- ui_writer.lua: the run that scripts/bench/ui.sh watches: it logs metric
-- `loss` at every step for `seconds` seconds, as a training loop that logs
-- each step does (with a little work between, `work` sums of a sine), and
-- prints its steps per second. ui.sh runs it alone and with 50 clients of
-- `backprop ui` polling it, side by side.
local bp = require "backprop"
local seconds = bp.param("seconds", 10.0)
local work = bp.param("work", 200)
local t0, step = bp.clock(), 0
local acc = 0
while bp.clock() - t0 < seconds do
  step = step + 1
  for k = 1, work do acc = acc + math.sin(k + step) end
  assert(bp.log("loss", 1 / step + acc * 1e-12, step))
end
assert(bp.flush())
print(string.format("steps_per_s %.0f steps %d", step / (bp.clock() - t0), step))
