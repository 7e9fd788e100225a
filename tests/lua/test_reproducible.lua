-- test_reproducible.lua: bp.reproducible(), which pins oneDNN's float32
-- kernels to an instruction set so that machines give the same bits
-- (engine/bp_gemm.h), through the real binary: a pin holds for a whole
-- process, so each run here is a process of its own (LuaUnit).
local lu = require "luaunit"
package.path = (os.getenv("BP_SOURCE_DIR") or ".") .. "/tests/lua/?.lua;" .. package.path
local S = require "support"
local bp = require "backprop"

-- A float32 784-128-64-10 network (W2's), 30 steps of batch 64 on random
-- data, every product above the BLAS threshold; prints every parameter in
-- hex, and first what bp.reproducible returned. PIN in the environment:
-- the instruction set to pin to ("" for none); THREADS: bp.threads.
local script = S.write("train32.lua", [[
local bp = require "backprop"
local pin = os.getenv("PIN")
if pin ~= "" then print("pinned " .. bp.reproducible(pin)) end
bp.threads(tonumber(os.getenv("THREADS")))
bp.seed(7)
local net = bp.net(784, {dtype = "float32"})
net:add(128, "relu"):add(64, "relu"):add(10)
local x, y = {}, {}
for s = 1, 64 do
  x[s], y[s] = {}, {}
  for i = 1, 784 do x[s][i] = bp.uniform() end
  for k = 1, 10 do y[s][k] = k == s % 10 + 1 and 1 or 0 end
end
for _ = 1, 30 do net:train_step(x, y, "softmax_ce", 0.05) end
for _, v in ipairs(net:params()) do print(string.format("%a", v)) end
]])

local function train(pin, threads)
  local out, err, code = S.backprop("lua " .. script,
                                    string.format("PIN=%s THREADS=%d", pin, threads or 1))
  lu.assertEquals(code, 0, err)
  local params = {}
  for line in out:gmatch("[^\n]+") do
    if not line:match("^pinned") then params[#params + 1] = tonumber(line) end
  end
  return out, params
end

local version = S.backprop("--version")
local onednn = version:find("float32 products: oneDNN") ~= nil
local avx512 = version:find("float32 products: oneDNN [%d.]+ %(dnnl_sgemm, avx512") ~= nil

TestReproducible = {}

function TestReproducible:test_two_pinned_runs_are_bit_identical()
  for _, threads in ipairs({1, 2}) do
    local a = train("avx2", threads)
    local b = train("avx2", threads)
    lu.assertStrContains(a, "pinned avx2\n")
    lu.assertEquals(a, b)
  end
end

-- Pinned to AVX2 against the processor's own kernels: the same sums in
-- another order. Bound: after 30 steps every parameter within 1e-4 of the
-- other run's (float32's rounding is 6e-8; the steps compound it), the
-- largest of the weights being about 0.1. On an AVX-512 machine the
-- kernels differ, and so do the bits: the pin does something.
function TestReproducible:test_pinned_and_unpinned_agree_within_bound()
  local _, pinned = train("avx2")
  local _, free = train("")
  lu.assertEquals(#pinned, #free)
  lu.assertEquals(#pinned, 784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10)
  local worst, differ = 0, false
  for k = 1, #pinned do
    worst = math.max(worst, math.abs(pinned[k] - free[k]))
    differ = differ or pinned[k] ~= free[k]
  end
  lu.assertTrue(worst <= 1e-4, "worst difference " .. worst)
  if avx512 then lu.assertTrue(differ, "AVX2 and AVX-512 kernels gave the same bits") end
end

function TestReproducible:test_errors()
  local bad = S.write("bad_isa.lua", 'require("backprop").reproducible("avx3")')
  local _, err, code = S.backprop("lua " .. bad)
  lu.assertEquals(code, 1)
  lu.assertStrContains(err, "bp.reproducible: unknown instruction set 'avx3' (expected "
                       .. "sse41, avx, avx2, avx512_core, avx512_core_vnni, "
                       .. "avx512_core_bf16, avx512_core_amx or avx2_vnni)")
  local late = S.write("late.lua", [[
local bp = require "backprop"
local small = bp.net(4, {dtype = "float32"}):add(4)
small:forward({1, 2, 3, 4}) -- 16 multiply-adds, plain loops: no choice made yet
print(bp.reproducible())
local net = bp.net(64, {dtype = "float32"}):add(64)
local x = {}
for s = 1, 64 do x[s] = {} for i = 1, 64 do x[s][i] = 1 end end
net:forward(x) -- 64 x 64 x 64: a product
print(bp.reproducible()) -- the same pin again: fine
print(pcall(bp.reproducible, "avx512_core"))
]])
  local out
  out, err, code = S.backprop("lua " .. late)
  lu.assertEquals(code, 0, err)
  if onednn then
    lu.assertEquals(out, "avx2\navx2\nfalse\tbp.reproducible: cannot pin oneDNN's kernels "
                    .. "to avx512_core: they are chosen already (pin before the first "
                    .. "float32 product)\n")
  else -- OpenBLAS makes float32's products: nothing to pin, the name checked
    lu.assertEquals(out, "avx2\navx2\ntrue\tavx512_core\n")
  end
end

S.finish()
