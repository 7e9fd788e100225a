-- lr_find.lua: a learning-rate range test, as fastai's lr_find, on the 8x8
-- digits (data/digits.csv).
--
-- A fresh 64-64-10 ReLU network trains for `steps` mini-batches while the
-- rate grows exponentially from start_lr to end_lr (an exponential
-- schedule with gamma = (end_lr / start_lr) ^ (1 / (steps - 1))). Each
-- step logs its rate ("lr"), its loss ("loss") and the loss smoothed as
-- fastai smooths it ("smooth_loss": an exponential moving average with
-- beta 0.98, divided by 1 - beta^step to undo its start at zero); the test
-- stops early once the smoothed loss passes 4 times its best, as fastai's
-- does. Two suggestions are printed: the rate where the smoothed loss falls
-- fastest against log10(lr) before its minimum (fastai's "steep"), and a
-- tenth of the rate of that minimum (fastai's "minimum"). The first is then checked: a fresh
-- network trained `check_epochs` epochs at it must reach min_accuracy on
-- the held-out part, or the script fails.
--
--   backprop run scripts/lr_find.lua [optimizer=sgd] [steps=200]
--                [start_lr=1e-5] [end_lr=10] [batch=32]
--
-- The curve (README.md, "Learning rates"): each step's lr and smoothed loss
-- of run ID, for any plotting tool,
--   backprop query --csv "SELECT l.value AS lr, s.value AS loss
--     FROM metrics_view l JOIN metrics_view s ON s.run_id = l.run_id
--     AND s.step = l.step AND s.name = 'smooth_loss'
--     WHERE l.run_id = ID AND l.name = 'lr' ORDER BY l.step"
local bp = require "backprop"

local here = (arg and arg[0] or ""):match("^(.*)/scripts/[^/]*$") or "."
local P = bp.params{data = here .. "/data/digits.csv", optimizer = "sgd", steps = 200,
                    start_lr = 1e-5, end_lr = 10.0, batch = 32, check_epochs = 5,
                    min_accuracy = 0.9}

local digits = assert(bp.load_csv(P.data, {target = "digit"}))
digits:shuffle()
local train, test = digits:split(0.8)
digits:close()
for _, part in ipairs({train, test}) do part:scale({shift = 0, scale = 16}) end

local function fresh_net()
  return bp.net(bp.sequential{bp.linear(train:inputs(), 64, {name = "fc1"}), bp.relu(),
                              bp.linear(64, train:outputs(), {name = "fc2"})})
end

local function optimizer(net, lr, schedule)
  local opts = {lr = lr, schedule = schedule}
  if P.optimizer == "sgd" then opts.momentum = 0.9 end
  return bp.optimizer(net, P.optimizer, opts)
end

-- The range test: returns the lrs and smoothed losses of the steps taken.
local function range_test()
  local net = fresh_net()
  local gamma = (P.end_lr / P.start_lr) ^ (1 / (P.steps - 1))
  local opt = optimizer(net, P.start_lr, {"exponential", gamma = gamma})
  local lrs, smooth = {}, {}
  local avg, best, beta, first = 0, math.huge, 0.98, 1
  bp.progress{total = P.steps}
  for step = 1, P.steps do
    if first > #train then -- a new pass over the data, in a new order
      train:shuffle()
      first = 1
    end
    local count = math.min(P.batch, #train - first + 1)
    local lr = opt:lr()
    local loss = net:train_batch(train, first, count, "softmax_ce", opt)
    first = first + count
    if loss ~= loss or loss == math.huge then break end -- diverged
    avg = beta * avg + (1 - beta) * loss
    local s = avg / (1 - beta ^ step)
    bp.log("lr", lr, step)
    bp.log("loss", loss, step)
    bp.log("smooth_loss", s, step)
    lrs[#lrs + 1], smooth[#smooth + 1] = lr, s
    best = math.min(best, s)
    if s > 4 * best then break end
  end
  net:close()
  return lrs, smooth
end

-- fastai's two suggestions from the smoothed curve, the steepest descent
-- looked for before its minimum (past it the loss is climbing out, and
-- its noise has steep stretches too).
local function suggest(lrs, smooth)
  local at_min = 1
  for k = 2, #lrs do
    if smooth[k] < smooth[at_min] then at_min = k end
  end
  local steep, slope = lrs[1], math.huge
  for k = 2, at_min do
    local d = (smooth[k] - smooth[k - 1]) / (math.log(lrs[k], 10) - math.log(lrs[k - 1], 10))
    if d < slope then steep, slope = lrs[k], d end
  end
  return steep, lrs[at_min] / 10
end

local lrs, smooth = range_test()
assert(#lrs >= 10, "the range test diverged within " .. #lrs .. " steps: lower start_lr")
local steep, minimum = suggest(lrs, smooth)
print(string.format("range test: %d steps, lr %.3g to %.3g", #lrs, lrs[1], lrs[#lrs]))
print(string.format("suggested lr: %.3g (steepest descent); minimum / 10: %.3g", steep,
                    minimum))

-- The suggestion, tried.
local net = fresh_net()
net:fit{data = train, loss = "softmax_ce", optimizer = optimizer(net, steep), batch = P.batch,
        epochs = P.check_epochs, log = false, epoch_log = false}
local accuracy = net:evaluate(test, "softmax_ce").accuracy
bp.log("check_accuracy", accuracy)
print(string.format("%d epochs at lr %.3g: test accuracy %.3f", P.check_epochs, steep,
                    accuracy))
if accuracy < P.min_accuracy then
  error(string.format("accuracy %.3f at the suggested lr is below %.2f", accuracy,
                      P.min_accuracy))
end
