-- test_model.lua: net:save and bp.load (LuaUnit). The format itself is
-- pinned in tests/test_save.c; here, that a saved network comes back the
-- same to the bit from Lua, and that a bad file is an error value, not a
-- raised error, with the file's name in it.
local lu = require "luaunit"
local bp = require "backprop"

package.path = (os.getenv("BP_SOURCE_DIR") or ".") .. "/tests/lua/?.lua;" .. package.path
local S = require "support"
local TMP = S.TMP

local function trained(dtype)
  bp.seed(5)
  local net = bp.net(3, {dtype = dtype})
  net:add(6, "leaky_relu", {alpha = 0.3}):add(4, "tanh"):add(2, "sigmoid")
  for _ = 1, 20 do net:train_step({{0.1, 0.2, 0.3}, {1, -1, 0.5}}, {{0, 1}, {1, 0}}, "bce", 0.3) end
  return net
end

TestModel = {}

function TestModel:test_round_trip_is_exact()
  for _, dtype in ipairs({"float64", "float32"}) do
    local a = trained(dtype)
    local path = TMP .. "/" .. dtype .. ".bpn"
    lu.assertEquals(a:save(path), true)
    local b = assert(bp.load(path))
    lu.assertEquals(tostring(b), tostring(a))
    lu.assertEquals(b:layer(1), {inputs = 3, outputs = 6, activation = "leaky_relu", alpha = a:layer(1).alpha})
    lu.assertEquals(b:params(), a:params())
    local x = {{0.5, 0.25, -1}, {2, 0, 1}}
    lu.assertEquals(b:forward(x), a:forward(x))
    -- and it trains on from there exactly as the original does
    lu.assertEquals(b:train_step(x, {{1, 0}, {0, 1}}, "bce", 0.1), a:train_step(x, {{1, 0}, {0, 1}}, "bce", 0.1))
    lu.assertEquals(b:params(), a:params())
  end
end

function TestModel:test_bad_files_are_error_values()
  local net, err = bp.load(TMP .. "/missing.bpn")
  lu.assertNil(net)
  lu.assertEquals(err, "cannot open " .. TMP .. "/missing.bpn: No such file or directory")
  local f = io.open(TMP .. "/text.bpn", "w")
  f:write("not a network\n")
  f:close()
  net, err = bp.load(TMP .. "/text.bpn")
  lu.assertNil(net)
  lu.assertEquals(err, TMP .. "/text.bpn: not a backprop network file")
  -- a truncated file
  local good = trained("float64")
  good:save(TMP .. "/good.bpn")
  f = io.open(TMP .. "/good.bpn", "rb")
  local bytes = f:read("a")
  f:close()
  f = io.open(TMP .. "/cut.bpn", "wb")
  f:write(bytes:sub(1, #bytes - 7))
  f:close()
  net, err = bp.load(TMP .. "/cut.bpn")
  lu.assertNil(net)
  lu.assertEquals(err, string.format("%s/cut.bpn: truncated: %d bytes, the network needs %d", TMP, #bytes - 7, #bytes))
  -- what is not a regular file is refused for what it is, not read (issue
  -- 19: /dev/zero was read up to 16 GB)
  net, err = bp.load("/dev/zero")
  lu.assertNil(net)
  lu.assertEquals(err, "/dev/zero: not a regular file (a character device)")
  net, err = bp.load(TMP)
  lu.assertNil(net)
  lu.assertEquals(err, TMP .. ": not a regular file (a directory)")
  -- an unwritable place
  local ok
  ok, err = good:save(TMP .. "/no/such/dir/x.bpn")
  lu.assertNil(ok)
  lu.assertEquals(err, "cannot write " .. TMP .. "/no/such/dir/x.bpn: No such file or directory")
end

function TestModel:test_wrong_arguments_raise()
  local ok, err = pcall(function() return bp.net(2):save(TMP .. "/empty.bpn") end)
  lu.assertFalse(ok)
  lu.assertStrContains(err, "the network has no layers: nothing to save")
  ok, err = pcall(function() return bp.load() end)
  lu.assertFalse(ok)
  lu.assertStrContains(err, "bad argument #1 to 'load' (string expected, got no value)")
end

-- Graphs (file version 2): a small CNN (fashion_cnn.lua's kinds of module)
-- and a two-layer LSTM, each trained a few steps (batch norm's running
-- statistics moved), saved and loaded in both dtypes: the same printout
-- (the tree of modules, kept in the file), the same tensors to the bit,
-- buffers included, the same outputs in both modes, and the same next step.
local function cnn(dtype)
  bp.seed(9)
  return bp.net({1, 8, 8}, bp.sequential{
    bp.sequential{bp.conv2d(1, 4, 3, {padding = 1, name = "conv1"}), bp.batchnorm2d(4), bp.relu(),
      bp.maxpool2d(2)},
    bp.avgpool2d(2), bp.flatten(), bp.dropout(0.25),
    bp.residual(bp.sequential{bp.linear(16, 16), bp.tanh()}),
    bp.concat{bp.linear(16, 3), bp.linear(16, 2)}, bp.batchnorm1d(5, {name = "bn1"}),
    bp.linear(5, 3)}, {dtype = dtype})
end

local function lstm(dtype)
  bp.seed(9)
  return bp.net(5, bp.sequential{bp.embedding(7, 4, {name = "emb"}), bp.lstm(4, 6, {layers = 2}),
    bp.linear(6, 7, {name = "out"})}, {dtype = dtype})
end

local function same_after_load(a, x, y, loss)
  for _ = 1, 3 do a:train_step(x, y, loss, 0.05) end
  local path = TMP .. "/graph.bpn"
  lu.assertEquals(a:save(path), true)
  local b = assert(bp.load(path))
  lu.assertEquals(tostring(b), tostring(a))
  lu.assertEquals(bp.show(b), bp.show(a))
  -- the file cut short, or with a byte after it, is an error value naming it
  local bytes = S.slurp(path)
  local cut = S.write("cut.bpn", bytes:sub(1, #bytes - 9))
  local none, err = bp.load(cut)
  lu.assertNil(none)
  lu.assertEquals(err, string.format("%s: truncated: %d bytes, the network needs %d", cut, #bytes - 9, #bytes))
  none, err = bp.load(S.write("long.bpn", bytes .. "\0"))
  lu.assertNil(none)
  lu.assertEquals(err, TMP .. "/long.bpn: 1 bytes after the end of the network")
  lu.assertEquals(b:params(), a:params())
  for _, name in ipairs({"bn1.running_mean", "bn1.running_var", "2.running_var"}) do
    local ok = pcall(a.param, a, name)
    if ok then lu.assertEquals(b:param(name), a:param(name)) end
  end
  a:training(false)
  b:training(false)
  lu.assertEquals(b:forward(x), a:forward(x))
  a:training(true)
  b:training(true)
  bp.seed(3)
  local ya = a:forward(x)
  bp.seed(3)
  lu.assertEquals(b:forward(x), ya)
  bp.seed(4)
  local la = a:train_step(x, y, loss, 0.05)
  bp.seed(4)
  lu.assertEquals(b:train_step(x, y, loss, 0.05), la)
  lu.assertEquals(b:params(), a:params())
end

function TestModel:test_graphs_round_trip_with_their_tree()
  for _, dtype in ipairs({"float64", "float32"}) do
    local x, ids = {}, {}
    for i = 1, 4 do
      local row = {}
      for k = 1, 64 do row[k] = math.sin(i + 0.1 * k) end
      x[i] = row
      ids[i] = {1 + i % 7, 2, 7, 1 + (i * 3) % 7, 5}
    end
    local a = cnn(dtype)
    lu.assertStrContains(tostring(a), "(1): Sequential")
    same_after_load(a, x, {{1}, {2}, {3}, {1}}, "softmax_ce")
    same_after_load(lstm(dtype), ids, {{1, 2, 3, 4, 5}, {2, 3, 4, 5, 6}, {7, 1, 2, 3, 4}, {1, 1, 1, 1, 1}},
      "softmax_ce")
  end
end

-- (A network with a module written in Lua: test_luasave.lua.)

S.finish()
