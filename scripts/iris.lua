-- iris.lua: a 4-8-3 network learns Fisher's iris species from four
-- measurements. The data is shuffled by the data seed (bp.seed("data"): 1, or
-- the sweep's, the same in every trial of a sweep), split 60/20/20 into
-- training, validation and a held-out test part, and standardised with the
-- training part's statistics only. net:fit runs the epochs in C and logs
-- train_loss, val_loss and val_accuracy per epoch (and each step's loss);
-- the test part is scored once, at the end, and must reach min_accuracy.
--
--   backprop run scripts/iris.lua [epochs=100] [lr=0.01] [batch=16]
--                [hidden=8] [min_accuracy=0.95] [--seed N]
local bp = require "backprop"

local here = (arg and arg[0] or ""):match("^(.*)/scripts/[^/]*$") or "."
local path = bp.param("data", here .. "/data/iris.csv")
local epochs = bp.param("epochs", 100)
local lr = bp.param("lr", 0.01)
local batch = bp.param("batch", 16)
local hidden = bp.param("hidden", 8)
local min_accuracy = bp.param("min_accuracy", 0.95)

local iris = assert(bp.load_csv(path, {target = "species"}))
iris:shuffle(bp.seed("data")) -- the data seed decides the split, the run's seed the weights
local train, val, test = iris:split(0.6, 0.2)
iris:close()
local scaler = train:scaler("standard")
for _, part in ipairs({train, val, test}) do part:scale(scaler) end
print(string.format("iris: %d training, %d validation, %d test samples; classes %s",
  #train, #val, #test, table.concat(train:class_names(), ", ")))

local net = bp.net(train:inputs())
net:add(hidden, "tanh")
net:add(train:outputs()) -- logits: softmax_ce applies the softmax
local opt = bp.optimizer(net, "adam", {lr = lr})

net:fit{data = train, loss = "softmax_ce", optimizer = opt, epochs = epochs,
        batch = batch, validation = val, log = "loss",
        callback = function(epoch, s)
          if epoch % 20 == 0 or epoch == 1 then
            print(string.format("epoch %3d  train_loss %.4f  val_loss %.4f  val_accuracy %.3f",
              epoch, s.train_loss, s.val_loss, s.val_accuracy))
          end
        end}

local r = net:evaluate(test, "softmax_ce")
bp.log("test_loss", r.loss, {epoch = epochs})
bp.log("test_accuracy", r.accuracy, {epoch = epochs})
print(string.format("test: loss %.4f, accuracy %.3f (%d of %d)", r.loss, r.accuracy,
  math.floor(r.accuracy * #test + 0.5), #test))
print("confusion (rows: true class, columns: predicted):")
for i, row in ipairs(r.confusion) do
  print(string.format("  %-12s %s", train:class_names()[i], table.concat(row, " ")))
end
if r.accuracy < min_accuracy then
  error(string.format("test accuracy %.3f is below %.2f", r.accuracy, min_accuracy))
end
