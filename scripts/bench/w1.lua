-- w1.lua: W1, the lecture's 2-3-1 network trained one step at a time.
--
-- Sigmoid hidden layer, identity output, loss (y - out)^2 / 2, SGD lr 0.01,
-- x = (1, 2), y = 3, float64, `steps` training steps (1,000,000) per
-- repetition, each from the lecture's weights:
--   (a) one Lua call per step, net:train_step in a Lua for-loop;
--   (b) the loop in C, net:train_steps;
--   the floor: build/w1_floor, a loop written by hand for exactly this net;
--   PyTorch: the same network as an nn.Sequential, one eager step per turn.
-- Metric: nanoseconds per step (median, min and max of `reps`). (a), (b)
-- and the floor run in rounds, one repetition of each per round after a
-- round to warm up, so that a burst of load from another process falls on
-- all three alike rather than on all of one. All four must end with the
-- same w_{1,1,1}: the same arithmetic, step for step.
--
--   backprop run --db results/bench.db scripts/bench/w1.lua [steps=N reps=R]
local bp = require "backprop"
local C = dofile("scripts/bench/common.lua")
local steps = bp.param("steps", 1000000)
local torch_steps = bp.param("torch_steps", 20000) -- PyTorch is ~1000x slower

local lecture_net = C.lecture_net

local loss, x, y = bp.loss("half_se"), {1, 2}, {3}
print("W1 seed: 2-3-1, float64, " .. steps .. " steps, " .. C.machine())

local w111 = {}
local function ns_per_step(f)
  local t0 = bp.clock()
  f()
  return (bp.clock() - t0) / steps * 1e9
end
local function loop_a()
  local net = lecture_net()
  for _ = 1, steps do net:train_step(x, y, loss, 0.01) end
  w111.a = net:weight(1, 1, 1)
end
local function loop_b()
  local net = lecture_net()
  net:train_steps(x, y, loss, 0.01, steps)
  w111.b = net:weight(1, 1, 1)
end
local function floor_once()
  local lines = C.run(string.format("%s/w1_floor %d 1", C.build, steps))
  w111.floor = tonumber(lines[#lines]:match("w111 (%S+)"))
  return C.numbers(lines, "ns_per_step")[1]
end
ns_per_step(loop_a) -- a round to warm up
ns_per_step(loop_b)
if C.peers then floor_once() end
local as, bs, floors = {}, {}, {}
for r = 1, C.reps do
  as[r] = ns_per_step(loop_a)
  bs[r] = ns_per_step(loop_b)
  if C.peers then floors[r] = floor_once() end
end
local a, b = C.stats(as), C.stats(bs)
C.report("w1a_ns_per_step", a, "ns")
C.report("w1b_ns_per_step", b, "ns")
assert(w111.a == w111.b, string.format("w111 differs: %.17g %.17g", w111.a, w111.b))
if not C.peers then return end

local floor = C.stats(floors)
local torch = C.torch("w1", "steps=" .. torch_steps)
C.report("floor_ns_per_step", floor, "ns")
C.report("torch_ns_per_step", torch, "ns")
C.figure("torch_over_w1a", torch.med / a.med, "x")
C.figure("w1b_over_floor", b.med / floor.med, "x")
C.figure("w1a_over_floor", a.med / floor.med, "x")
-- the same arithmetic everywhere: one w_{1,1,1} after `steps` steps
assert(w111.a == w111.b and w111.b == w111.floor,
       string.format("w111 differs: %.17g %.17g %.17g", w111.a, w111.b, w111.floor))
print(string.format("w111 after %d steps: %.17g (a, b and the floor agree bit for bit)",
                    steps, w111.a))
