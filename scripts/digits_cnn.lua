-- digits_cnn.lua: a small convolutional network on data/digits.csv (8 x 8
-- images of digits), whose every tensor is snapshotted after each epoch, for
-- the README's questions in SQL about a graph's weights: the history of the
-- first convolution filter's centre weight, and batch norm's running mean
-- over training. Each epoch prints those values as the network holds them,
-- so the answers from the run log can be checked against them.
--
--   backprop run scripts/digits_cnn.lua [epochs=3] [lr=0.003] [batch=32]
local bp = require "backprop"

local here = (arg and arg[0] or ""):match("^(.*)/scripts/[^/]*$") or "."
local epochs = bp.param("epochs", 3)
local lr = bp.param("lr", 0.003)
local batch = bp.param("batch", 32)

local digits = assert(bp.load_csv(here .. "/data/digits.csv", {target = "digit"}))
digits:shuffle()
local train, test = digits:split(0.8)
digits:close()
for _, part in ipairs({train, test}) do part:scale({shift = 0, scale = 16}) end

local net = bp.net({1, 8, 8}, bp.sequential{
  bp.conv2d(1, 8, 3, {padding = 1, name = "conv1"}), bp.relu(), bp.maxpool2d(2),
  bp.flatten(),
  bp.linear(128, 32, {name = "fc1"}), bp.batchnorm1d(32, {name = "bn1"}), bp.relu(),
  bp.linear(32, 10, {name = "head"})})
print(net)

local opt = bp.optimizer(net, "adam", {lr = lr})
bp.log_weights(net, 0)
for epoch = 1, epochs do
  net:fit{data = train, loss = "softmax_ce", optimizer = opt, epochs = 1, first_epoch = epoch,
          total_epochs = epochs, batch = batch, log = "loss"}
  bp.log_weights(net, epoch)
  local r = net:evaluate(test, "softmax_ce")
  bp.log("test_accuracy", r.accuracy, epoch)
  print(string.format("epoch %d  conv1.weight[1,1,2,2] %.17g  bn1.running_mean[1] %.17g"
    .. "  test_accuracy %.3f", epoch, net:param("conv1.weight")[1][1][2][2],
    net:param("bn1.running_mean")[1], r.accuracy))
end
