-- fashion_mnist.lua: a 784-128-64-10 ReLU network on Fashion-MNIST, the
-- 28x28 grey images of ten kinds of clothing (Debian's dataset-fashion-mnist
-- package). Pixels are scaled to [0, 1] (/255, as torchvision's ToTensor
-- does), the 60,000 training images are shuffled every epoch and taken in
-- mini-batches of 64, softmax cross-entropy, Adam at lr 1e-3. net:fit runs
-- every epoch in C; after each one the 10,000 test images are scored, and
-- train_loss, test_loss, test_accuracy (and the test confusion matrix, as
-- test_confusion_<true>_<predicted>) are logged with the epoch as step.
--
--   backprop run scripts/fashion_mnist.lua [epochs=15] [batch=64] [lr=0.001]
--                [min_accuracy=0.88] [dir=/usr/share/datasets/fashion-mnist]
local bp = require "backprop"

local epochs = bp.param("epochs", 15)
local batch = bp.param("batch", 64)
local lr = bp.param("lr", 0.001)
local min_accuracy = bp.param("min_accuracy", 0.88)
local dir = bp.param("dir", "")
if dir == "" then dir = nil end

local start = os.time()
local clock = os.clock()
local t0 = os.clock()
local train = assert(bp.fashion_mnist{train = true, dir = dir})
local test = assert(bp.fashion_mnist{train = false, dir = dir})
for _, part in ipairs({train, test}) do part:scale{shift = 0, scale = 255} end
print(string.format("Fashion-MNIST: %d training and %d test images of %d pixels, "
  .. "loaded in %.1f s (CPU)", #train, #test, train:inputs(), os.clock() - t0))

local net = bp.net(784)
net:add(128, "relu")
net:add(64, "relu")
net:add(10) -- logits: softmax_ce applies the softmax
local opt = bp.optimizer(net, "adam", {lr = lr})

local wall = 0
local hist = net:fit{
  data = train, loss = "softmax_ce", optimizer = opt, epochs = epochs, batch = batch,
  shuffle = true, validation = test, val_name = "test", confusion = true,
  callback = function(epoch, s)
    wall = wall + s.seconds
    bp.log("epoch_seconds", s.seconds, {epoch = epoch})
    print(string.format("epoch %2d  train_loss %.4f  test_loss %.4f  test_accuracy %.4f  (%.1f s)",
      epoch, s.train_loss, s.test_loss, s.test_accuracy, s.seconds))
  end}

local last = hist[#hist]
local classes = test:class_names()
print("test confusion (rows: true class, columns: predicted):")
for i, row in ipairs(last.test_confusion) do
  local cells = {}
  for j, v in ipairs(row) do cells[j] = string.format("%4d", v) end
  print(string.format("  %-12s %s", classes[i], table.concat(cells)))
end
local total = os.time() - start
print(string.format("test accuracy %.4f after %d epochs; training %.1f s of wall time "
  .. "(%.1f s per epoch), %d s in all, %.1f s of CPU", last.test_accuracy, #hist, wall,
  wall / #hist, total, os.clock() - clock))
bp.log("wall_seconds", wall, {epoch = #hist})
if last.test_accuracy < min_accuracy then
  error(string.format("test accuracy %.4f is below %.2f", last.test_accuracy, min_accuracy))
end
