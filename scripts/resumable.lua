-- resumable.lua: a run that can be killed and taken up again.
--
-- Each epoch ends in a checkpoint (the network, the optimiser's moments and
-- the module's generator); bp.resume puts the latest one back when the run
-- is resumed, and the loop goes on after it. The resumed run's losses and
-- weights are those of a run that was never stopped, to the bit.
--
--   backprop run scripts/resumable.lua        (kill it: Ctrl-C, kill -9 ...)
--   backprop run --resume ID                  (ID from `backprop runs`)
local bp = require "backprop"

local here = (arg and arg[0] or ""):match("^(.*)/scripts/[^/]*$") or "."
local epochs = bp.param("epochs", 30)
local stall_at = bp.param("stall_at", 0) -- tests: wait here to be killed

local iris = assert(bp.load_csv(here .. "/data/iris.csv", {target = "species"}))
iris:shuffle(bp.seed("data"))
local train, val = iris:split(0.8)
local scaler = train:scaler("standard")
train:scale(scaler)
val:scale(scaler)

local net = bp.net(4):add(8, "tanh"):add(3)
local opt = bp.optimizer(net, "adam", {lr = 0.01})

local start = bp.resume{net = net, opt = opt}
if start > 0 then print("resumed after epoch " .. start) end
for epoch = start + 1, epochs do
  net:fit{data = train, loss = "softmax_ce", optimizer = opt, epochs = 1, first_epoch = epoch,
          total_epochs = epochs,
          batch = 16, validation = val, log = "loss"}
  bp.checkpoint(epoch, {net = net, opt = opt})
  if epoch == stall_at then
    io.stderr:write("stalled at epoch ", epoch, "\n")
    io.stderr:flush()
    os.execute("sleep 60")
  end
end
bp.save_net(net, epochs)
local r = net:evaluate(val, "softmax_ce")
print(string.format("validation accuracy %.3f after %d epochs", r.accuracy, epochs))
