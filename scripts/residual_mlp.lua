-- residual_mlp.lua: a residual MLP with batch norm and dropout learns the
-- 8x8 handwritten digits (data/digits.csv: 1,797 images of 64 pixels
-- 0..16, ten classes). A stem maps the pixels to `width` features; `blocks`
-- residual blocks x + f(x), each f a linear, a batch norm and a ReLU, keep
-- them; dropout, then a linear head gives the ten logits. The data is
-- shuffled by the data seed (bp.seed("data")), split 70/15/15 and scaled to 0..1; net:fit
-- trains with Adam and logs val_loss and val_accuracy per epoch (fit sets
-- training mode for the epochs and evaluation mode for the scores); the
-- test part is scored once, at the end, and must reach min_accuracy.
--
--   backprop run scripts/residual_mlp.lua [epochs=30] [lr=0.003] [batch=32]
--                [width=64] [blocks=2] [dropout=0.2] [min_accuracy=0.95]
local bp = require "backprop"

local here = (arg and arg[0] or ""):match("^(.*)/scripts/[^/]*$") or "."
local path = bp.param("data", here .. "/data/digits.csv")
local epochs = bp.param("epochs", 30)
local lr = bp.param("lr", 0.003)
local batch = bp.param("batch", 32)
local width = bp.param("width", 64)
local blocks = bp.param("blocks", 2)
local dropout = bp.param("dropout", 0.2)
local min_accuracy = bp.param("min_accuracy", 0.95)

local digits = assert(bp.load_csv(path, {target = "digit"}))
digits:shuffle(bp.seed("data")) -- the data seed decides the split, the run's seed the weights
local train, val, test = digits:split(0.7, 0.15)
digits:close()
for _, part in ipairs({train, val, test}) do part:scale({shift = 0, scale = 16}) end
print(string.format("digits: %d training, %d validation, %d test samples",
  #train, #val, #test))

local function block(i)
  return bp.residual(bp.sequential{bp.linear(width, width), bp.batchnorm1d(width), bp.relu()},
                     {name = "block" .. i})
end
local body = bp.sequential{bp.linear(train:inputs(), width, {name = "stem"}), bp.relu()}
for i = 1, blocks do body:add(block(i)) end
body:add(bp.dropout(dropout))
body:add(bp.linear(width, train:outputs(), {name = "head"})) -- logits
local net = bp.net(body)
print(net)

local opt = bp.optimizer(net, "adam", {lr = lr})
net:fit{data = train, loss = "softmax_ce", optimizer = opt, epochs = epochs, batch = batch,
        validation = val, log = "loss",
        callback = function(epoch, s)
          print(string.format("epoch %3d  train_loss %.4f  val_loss %.4f  val_accuracy %.3f",
            epoch, s.train_loss, s.val_loss, s.val_accuracy))
        end}

local r = net:evaluate(test, "softmax_ce")
bp.log("test_loss", r.loss, {epoch = epochs})
bp.log("test_accuracy", r.accuracy, {epoch = epochs})
print(string.format("test: loss %.4f, accuracy %.3f (%d of %d)", r.loss, r.accuracy,
  math.floor(r.accuracy * #test + 0.5), #test))
if r.accuracy < min_accuracy then
  error(string.format("test accuracy %.3f is below %.2f", r.accuracy, min_accuracy))
end
