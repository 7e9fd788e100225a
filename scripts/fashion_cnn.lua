-- fashion_cnn.lua: a small convolutional network on Fashion-MNIST (Debian's
-- dataset-fashion-mnist package), issue 25's recipe, as PyTorch writes it:
--   conv 1->32 3x3 padding 1, ReLU, max pool 2;
--   conv 32->64 3x3 padding 1, ReLU, max pool 2;
--   flatten; dropout 0.25; linear 3136->128, ReLU; linear 128->10;
-- softmax cross-entropy, Adam at lr 1e-3, mini-batches of 64 shuffled every
-- epoch, pixels / 255, float32 (the inputs kept as floats too). The flat
-- rows of 784 pixels are read as 1 x 28 x 28 images by the network's input
-- shape, with no copy. net:fit runs every epoch in C; after each one the
-- 10,000 test images are scored and train_loss, test_loss, test_accuracy
-- and the epoch's seconds are logged with the epoch as step.
--
-- `train=N` trains on the first N training images only (the slow ctest's
-- one epoch on 10,000); the test set is always the full 10,000.
--
--   backprop run scripts/fashion_cnn.lua [epochs=5] [batch=64] [lr=0.001]
--                [train=60000] [threads=1] [min_accuracy=0.905]
--                [dir=/usr/share/datasets/fashion-mnist]
local bp = require "backprop"

local epochs = bp.param("epochs", 5)
local batch = bp.param("batch", 64)
local lr = bp.param("lr", 0.001)
local n_train = bp.param("train", 60000)
local threads = bp.param("threads", 1)
local min_accuracy = bp.param("min_accuracy", 0.905)
local dir = bp.param("dir", "")
if dir == "" then dir = nil end
bp.threads(threads)

local start, clock = bp.clock(), os.clock()
local train = assert(bp.fashion_mnist{train = true, dir = dir, dtype = "float32"})
local test = assert(bp.fashion_mnist{train = false, dir = dir, dtype = "float32"})
if n_train < #train then
  local part = train:slice(1, n_train)
  train:close()
  train = part
end
for _, part in ipairs({train, test}) do part:scale{shift = 0, scale = 255} end
print(string.format("Fashion-MNIST: %d training and %d test images of 1 x 28 x 28, "
  .. "loaded in %.1f s", #train, #test, bp.clock() - start))

local net = bp.net({1, 28, 28}, bp.sequential{
  bp.conv2d(1, 32, 3, {padding = 1}), bp.relu(), bp.maxpool2d(2),
  bp.conv2d(32, 64, 3, {padding = 1}), bp.relu(), bp.maxpool2d(2),
  bp.flatten(), bp.dropout(0.25),
  bp.linear(64 * 7 * 7, 128), bp.relu(),
  bp.linear(128, 10), -- logits: softmax_ce applies the softmax
}, {dtype = "float32"})
print(net)
local opt = bp.optimizer(net, "adam", {lr = lr})

local wall = 0
local hist = net:fit{
  data = train, loss = "softmax_ce", optimizer = opt, epochs = epochs, batch = batch,
  shuffle = true, validation = test, val_name = "test",
  callback = function(epoch, s)
    wall = wall + s.seconds
    bp.log("epoch_seconds", s.seconds, {epoch = epoch})
    print(string.format("epoch %2d  train_loss %.4f  test_loss %.4f  test_accuracy %.4f  (%.1f s)",
      epoch, s.train_loss, s.test_loss, s.test_accuracy, s.seconds))
  end}

local last = hist[#hist]
print(string.format("test accuracy %.4f after %d epochs on %d images; training %.1f s of "
  .. "wall time (%.1f s per epoch), %.0f s in all, %.1f s of CPU", last.test_accuracy,
  #hist, #train, wall, wall / #hist, bp.clock() - start, os.clock() - clock))
bp.log("wall_seconds", wall, {epoch = #hist})
if last.test_accuracy < min_accuracy then
  error(string.format("test accuracy %.4f is below %.3f", last.test_accuracy, min_accuracy))
end
