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

S.finish()
