-- w4.lua: W4, W1 (a) with every step's loss written to the run log.
--
-- The lecture's 2-3-1 as in w1.lua, one net:train_step per Lua loop turn,
-- with net:log_loss("loss"): each step adds a row to this run's metrics in
-- results/bench.db. Metric: rows per second (median, min and max of `reps`
-- repetitions of `steps` steps, one net throughout so that the step numbers
-- stay distinct), and the ratio to the same loop without logging, measured
-- here too; against PyTorch's loop inserting loss.item() into SQLite with
-- Python's sqlite3 at every step, committed at the end.
--
--   backprop run --db results/bench.db scripts/bench/w4.lua
local bp = require "backprop"
local C = dofile("scripts/bench/common.lua")
local steps = bp.param("steps", 1000000)
local torch_steps = bp.param("torch_steps", 20000)
print("W4 logging: W1 (a) logging every loss, " .. steps .. " steps, " .. C.machine())

local lecture_net = C.lecture_net
local loss, x, y = bp.loss("half_se"), {1, 2}, {3}

local plain = C.stats(C.repeat_timed(C.reps, function()
  local net = lecture_net()
  for _ = 1, steps do net:train_step(x, y, loss, 0.01) end
end, function(t) return steps / t end))

local net = lecture_net()
net:log_loss("loss")
local logged = C.stats(C.repeat_timed(C.reps, function()
  for _ = 1, steps do net:train_step(x, y, loss, 0.01) end
  assert(bp.flush())
end, function(t) return steps / t end))
C.report("w4_rows_per_s", logged, "rows/s")
C.report("w1a_steps_per_s", plain, "steps/s")
if not C.peers then return end

local tmp = os.tmpname()
local torch = C.torch("w4", "steps=" .. torch_steps .. " db=" .. tmp)
os.remove(tmp)

C.report("torch_rows_per_s", torch, "rows/s")
C.figure("w4_over_w1a", logged.med / plain.med, "x")
C.figure("w4_over_torch", logged.med / torch.med, "x")
