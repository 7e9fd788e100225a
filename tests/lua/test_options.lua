-- test_options.lua: every options table of the module rejects a key it does
-- not know (LuaUnit).
--
-- One helper (bindings/loptions.c) checks them all, so a misspelt option is
-- an error naming it instead of a default silently taken. Each function is
-- given a misspelt key and held to the whole message, position aside. The
-- loaders, net:fit and bp.optimizer name the key alone, as they did before
-- the helper (test_data.lua and test_optim.lua pin those words); the others
-- list the options there are. Nothing is built or read before the check:
-- the loaders' files need not exist.
local lu = require "luaunit"
local bp = require "backprop"

package.path = (os.getenv("BP_SOURCE_DIR") or ".") .. "/tests/lua/?.lua;" .. package.path
local S = require "support"

-- The error f raises, without the "file:line: " of the call.
local function error_of(f)
  local ok, err = pcall(f)
  lu.assertFalse(ok, "expected an error")
  return (tostring(err):gsub("^[^:\n]+:%d+: ", ""))
end

local function assert_error(text, f) lu.assertEquals(error_of(f), text) end

TestOptions = {}

function TestOptions:test_net()
  assert_error("bad argument #2 to 'net' (unknown option 'dtyp' (expected dtype))",
    function() bp.net(3, {dtyp = "float32"}) end)
end

function TestOptions:test_add()
  local net = bp.net(2)
  assert_error("bad argument #3 to 'add' (unknown option 'weigths' "
    .. "(expected weights, bias or alpha))",
    function() net:add(3, "sigmoid", {weigths = "he"}) end)
  lu.assertEquals(#net, 0, "no layer is added by a call that fails")
  assert_error("bad argument #3 to 'add' (unknown option '1' "
    .. "(expected weights, bias or alpha))",
    function() net:add(3, "sigmoid", {"he"}) end)
  net:add(3, "leaky_relu", {weights = "he", bias = 0, alpha = 0.1})
  lu.assertEquals(#net, 1)
end

function TestOptions:test_optimizer()
  local net = bp.net(2):add(1)
  assert_error("bad argument #3 to 'optimizer' (unknown option 'momentun' (expected lr, "
    .. "weight_decay, momentum, dampening, nesterov, clip_norm, schedule or groups))",
    function() bp.optimizer(net, "sgd", {momentun = 0.9}) end)
end

function TestOptions:test_schedule()
  local net = bp.net(2):add(1)
  local text = "option 'schedule': unknown option 'gama' (expected gamma, step_size, "
    .. "t_max, eta_min, warmup_steps or start_factor)"
  assert_error(text,
    function() bp.optimizer(net, "sgd", {schedule = {"step", step_size = 2, gama = 0.5}}) end)
  local opt = bp.optimizer(net, "sgd")
  assert_error(text, function() opt:schedule{"step", gama = 0.5} end)
  assert_error("option 'schedule': unknown option '2' (expected gamma, step_size, "
    .. "t_max, eta_min, warmup_steps or start_factor)",
    function() opt:schedule{"step", 10} end)
  opt:schedule{"cosine", t_max = 10, eta_min = 0.001, warmup_steps = 2, start_factor = 0.5}
end

function TestOptions:test_fit()
  local net = bp.net(1):add(1)
  local d = bp.data({{1}, {2}}, {{1}, {2}})
  assert_error("bad argument #1 to 'fit' (unknown option 'epoch' (expected data, epochs, batch, loss, lr, optimizer, shuffle, drop_last, log, "
    .. "epoch_log, validation, val_name, confusion, callback, first_epoch, total_epochs, log_lr or plateau_metric))",
    function() net:fit{data = d, loss = "mse", lr = 0.1, epoch = 3} end)
end

function TestOptions:test_loaders()
  assert_error("bad argument #2 to 'load_csv' (unknown option 'delimiter' (expected "
    .. "target, delim, classify or dtype))",
    function() bp.load_csv("missing.csv", {delimiter = ";"}) end)
  assert_error("bad argument #4 to 'load_idx' (unknown option 'dtpye' (expected dtype))",
    function() bp.load_idx("missing-images", "missing-labels", 10, {dtpye = "float32"}) end)
  assert_error("bad argument #3 to 'load_idx' (unknown option 'dtpye' (expected dtype))",
    function() bp.load_idx("missing-images", "missing-labels", {dtpye = "float32"}) end)
  assert_error("bad argument #1 to 'fashion_mnist' (unknown option 'training' (expected "
    .. "train, dir or dtype))",
    function() bp.fashion_mnist{training = false} end)
  assert_error("bad argument #3 to 'data' (unknown option 'class' (expected classes or dtype))",
    function() bp.data({{1}, {2}}, {1, 2}, {class = 2}) end)
end

function TestOptions:test_progress()
  assert_error("bad argument #1 to 'progress' (unknown option 'totl' (expected total))",
    function() bp.progress{totl = 100} end)
  bp.progress{total = 100}
end

S.finish()
