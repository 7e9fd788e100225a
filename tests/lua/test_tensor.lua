-- test_tensor.lua: bp.tensor (LuaUnit). Every operation against a
-- reference computed here on Lua tables, the exact text of every shape and
-- index error, out arguments filled in place, and views that outlive their
-- owner's close.
local lu = require "luaunit"
package.path = (os.getenv("BP_SOURCE_DIR") or ".") .. "/tests/lua/?.lua;" .. package.path
local S = require "support"
local bp = require "backprop"

local assert_error_text = S.assert_error_text

-- A {r, c} table of numbers from a seeded formula: every entry distinct.
local function grid(r, c, k)
  local t = {}
  for i = 1, r do
    t[i] = {}
    for j = 1, c do t[i][j] = ((i * 7 + j * 3 + (k or 0)) % 11 - 5) / 4 end
  end
  return t
end

-- Reference: f(a[i][j], b[i][j]) over two {r, c} tables.
local function zip(a, b, f)
  local out = {}
  for i = 1, #a do
    out[i] = {}
    for j = 1, #a[i] do out[i][j] = f(a[i][j], b[i][j]) end
  end
  return out
end

local function matmul_ref(a, b)
  local out = {}
  for i = 1, #a do
    out[i] = {}
    for j = 1, #b[1] do
      local s = 0
      for k = 1, #b do s = s + a[i][k] * b[k][j] end
      out[i][j] = s
    end
  end
  return out
end

local function assert_near_tables(got, want, tol)
  lu.assertEquals(#got, #want)
  for i = 1, #want do
    if type(want[i]) == "table" then
      assert_near_tables(got[i], want[i], tol)
    else
      lu.assertAlmostEquals(got[i], want[i], tol)
    end
  end
end

TestTensor = {}

function TestTensor:test_table_round_trip_and_shape()
  local g = grid(2, 3)
  local t = bp.tensor(g)
  lu.assertEquals(t:totable(), g)
  lu.assertEquals(t:shape(), {2, 3})
  lu.assertEquals(#t, 2)
  lu.assertEquals(t:dtype(), "float64")
  local four = bp.tensor{{{{1, 2}}, {{3, 4}}}}
  lu.assertEquals(four:shape(), {1, 2, 1, 2})
  lu.assertEquals(four:get(1, 2, 1, 2), 4)
  -- float32 keeps 0.1 rounded to single precision
  lu.assertEquals(bp.tensor({0.1}, "float32"):get(1), string.unpack("f", string.pack("f", 0.1)))
end

function TestTensor:test_indexing()
  local t = bp.tensor{{1, 2, 3}, {4, 5, 6}}
  lu.assertEquals(t[{2, 3}], 6)
  lu.assertEquals(t:get(1, 2), 2)
  t[{1, 1}] = 10
  t:set(2, 2, -5)
  lu.assertEquals(t:totable(), {{10, 2, 3}, {4, -5, 6}})
  local v = bp.tensor{7, 8}
  lu.assertEquals(v[2], 8)
end

function TestTensor:test_index_errors()
  local t = bp.tensor{{1, 2, 3}, {4, 5, 6}}
  -- the metamethod called on what is not a tensor (fuzz/regressions/lua)
  local index = getmetatable(t).__index
  assert_error_text("backprop.tensor expected, got number", function() return index(5, "get") end)
  assert_error_text("backprop.tensor expected, got table", function() return index({}, "get") end)
  assert_error_text("index 3 out of range 1..2 in dimension 1", function() return t[{3, 1}] end)
  assert_error_text("index 0 out of range 1..3 in dimension 2", function() return t:get(1, 0) end)
  assert_error_text("index has 1 subscripts, tensor has 2 dimensions", function() return t[1] end)
  assert_error_text("index 4 out of range 1..3 in dimension 2",
    function() t[{1, 4}] = 0 end)
  assert_error_text("subscript 2 is not an integer", function() return t:get(1, 1.5) end)
end

function TestTensor:test_construction_errors()
  assert_error_text("bp.tensor: a row of 1 numbers in dimension 2, expected 2",
    function() return bp.tensor{{1, 2}, {3}} end)
  assert_error_text("bp.tensor: element 2 of a row is string, not a number",
    function() return bp.tensor{1, "x"} end)
  assert_error_text("bp.tensor: more than 4 dimensions", function() return bp.tensor{{{{{1}}}}} end)
  assert_error_text("bp.tensor: an empty table in dimension 1", function() return bp.tensor{} end)
  assert_error_text("dimensions must be integers >= 1", function() return bp.zeros(2, 0) end)
end

function TestTensor:test_tostring_aligned_rows()
  local t = bp.tensor{{1, -2.5, 3}, {40, 5, 6}}
  lu.assertEquals(tostring(t), "   1 -2.5    3\n  40    5    6\n[float64 {2, 3}]")
  lu.assertEquals(tostring(bp.zeros({2, 1, 2}, "float32")),
    "0 0\n\n0 0\n[float32 {2, 1, 2}]")
end

function TestTensor:test_arithmetic_same_shape()
  local a, b = grid(3, 4, 1), grid(3, 4, 5)
  local ta, tb = bp.tensor(a), bp.tensor(b)
  lu.assertEquals((ta + tb):totable(), zip(a, b, function(x, y) return x + y end))
  lu.assertEquals((ta - tb):totable(), zip(a, b, function(x, y) return x - y end))
  lu.assertEquals(ta:mul(tb):totable(), zip(a, b, function(x, y) return x * y end))
  lu.assertEquals(ta:div(tb):totable(), zip(a, b, function(x, y) return x / y end))
end

function TestTensor:test_broadcast_row_and_scalar()
  local a = grid(3, 4, 2)
  local row = {1, 2, 3, 4}
  local rows = {row, row, row}
  local ta = bp.tensor(a)
  local want = zip(a, rows, function(x, y) return x + y end)
  lu.assertEquals((ta + bp.tensor(row)):totable(), want)
  lu.assertEquals((ta + bp.tensor{row}):totable(), want)
  lu.assertEquals((ta * 3):totable(), zip(a, a, function(x) return x * 3 end))
  lu.assertEquals((3 - ta):totable(), zip(a, a, function(x) return 3 - x end))
  lu.assertEquals((2 / ta):totable(), zip(a, a, function(x) return 2 / x end))
  lu.assertEquals((-ta):totable(), zip(a, a, function(x) return -x end))
  lu.assertEquals((ta + bp.tensor{7}):totable(), zip(a, a, function(x) return x + 7 end))
end

function TestTensor:test_shape_mismatch_names_both()
  local a = bp.zeros(2, 3)
  assert_error_text("+: shape mismatch: {2, 3} and {2}", function() return a + bp.zeros(2) end)
  assert_error_text("mul: shape mismatch: {2, 3} and {3, 2}", function() return a:mul(bp.zeros(3, 2)) end)
  assert_error_text("add: shape mismatch: {4} and {2, 3}",
    function() return a:add(1, bp.zeros(4)) end)
  assert_error_text("matmul: shape mismatch: {2, 3} and {2, 3}", function() return a:matmul(a) end)
  assert_error_text("matmul: shape mismatch: {2, 2} and {2, 4}",
    function() return a:matmul(bp.zeros(3, 4), bp.zeros(2, 2)) end)
  assert_error_text("reshape: shape mismatch: {4} and {2, 3}", function() return a:reshape(4) end)
  assert_error_text("add: a tensor or a number expected, got string", function() return a:add("x") end)
end

function TestTensor:test_out_argument_fills_in_place()
  local a = bp.tensor{{1, 2}, {3, 4}}
  local out = bp.zeros(2, 2)
  lu.assertIs(a:add(a, out), out)
  lu.assertEquals(out:totable(), {{2, 4}, {6, 8}})
  lu.assertIs(a:exp(out), out)
  lu.assertEquals(out:get(2, 2), math.exp(4))
  a:mul(2, a) -- in place
  lu.assertEquals(a:totable(), {{2, 4}, {6, 8}})
  local s = bp.zeros(1, 2)
  lu.assertIs(a:sum(1, s), s)
  lu.assertEquals(s:totable(), {{8, 12}})
end

function TestTensor:test_functions()
  local x = {-2, -0.5, 0, 0.5, 3}
  local t = bp.tensor(x)
  local function ref(f) local o = {} for i, v in ipairs(x) do o[i] = f(v) end return o end
  lu.assertEquals(t:exp():totable(), ref(math.exp))
  assert_near_tables(t:tanh():totable(),
    ref(function(v) return (math.exp(2 * v) - 1) / (math.exp(2 * v) + 1) end), 1e-15)
  lu.assertEquals(t:sigmoid():totable(), ref(function(v) return 1 / (1 + math.exp(-v)) end))
  lu.assertEquals(t:relu():totable(), {0, 0, 0, 0.5, 3})
  lu.assertEquals(t:abs():totable(), ref(math.abs))
  lu.assertEquals(t:sign():totable(), {-1, -1, 0, 1, 1})
  lu.assertEquals(t:clamp(-1, 1):totable(), {-1, -0.5, 0, 0.5, 1})
  local p = bp.tensor{0.25, 1, 4}
  lu.assertEquals(p:sqrt():totable(), {0.5, 1, 2})
  lu.assertEquals(p:log():totable(), {math.log(0.25), 0, math.log(4)})
  lu.assertEquals(t:map(function(v) return v * v end):totable(), ref(function(v) return v * v end))
  assert_error_text("map: the function returned nil, not a number", function() return t:map(function() end) end)
  assert_error_text("clamp: low 1 above high -1", function() return t:clamp(1, -1) end)
end

function TestTensor:test_reductions_along_each_dim()
  -- a {2, 3, 2}: a[i][j][k] = 100 i + 10 j + k
  local g = {}
  for i = 1, 2 do g[i] = {} for j = 1, 3 do g[i][j] = {} for k = 1, 2 do
    g[i][j][k] = 100 * i + 10 * j + k end end end
  local t = bp.tensor(g)
  -- 100 (1 + 2) 6 + 10 (1 + 2 + 3) 4 + (1 + 2) 6
  lu.assertEquals(t:sum(), 1800 + 240 + 18)
  -- along i: 300 + 20 j + 2 k; along j: 100 i + 20 + k; along k: the largest k
  lu.assertEquals(t:sum(1):totable(), {{{322, 324}, {342, 344}, {362, 364}}})
  lu.assertEquals(t:mean(2):totable(), {{{121, 122}}, {{221, 222}}})
  lu.assertEquals(t:max(3):totable(), {{{112}, {122}, {132}}, {{212}, {222}, {232}}})
  lu.assertEquals(t:max(), 232)
  lu.assertEquals(t:mean(), t:sum() / 12)
  assert_error_text("sum: dimension 4 out of range 1..3", function() return t:sum(4) end)
end

function TestTensor:test_matmul_loop_and_transpose()
  local a, b = grid(2, 3, 1), grid(3, 4, 2)
  lu.assertEquals(bp.tensor(a):matmul(bp.tensor(b)):totable(), matmul_ref(a, b))
  local tt = bp.tensor(a):t():totable()
  lu.assertEquals(tt, {{a[1][1], a[2][1]}, {a[1][2], a[2][2]}, {a[1][3], a[2][3]}})
end

-- 20 x 20 x 20 = 8000 multiply-adds: BLAS (BP_TENSOR_BLAS_MIN is 4096)
function TestTensor:test_matmul_blas_equals_loop()
  local a, b = grid(20, 20, 3), grid(20, 20, 4)
  local want = matmul_ref(a, b)
  assert_near_tables(bp.tensor(a):matmul(bp.tensor(b)):totable(), want, 1e-12)
  local a32, b32 = bp.tensor(a, "float32"), bp.tensor(b, "float32")
  assert_near_tables(a32:matmul(b32):totable(), want, 1e-4)
  assert_error_text("matmul: float32 and float64 numbers",
    function() return a32:matmul(bp.tensor(b)) end)
end

-- Tensors of one dtype take tensor_fast.h's loops, tensors of mixed dtypes
-- the reference loops; the fast ones must equal the reference to the bit.
-- The inputs are float32 (every value a float64 too), so that one mixed
-- call (float32 inputs, a float64 out) computes the reference in double:
-- float64's fast path must give it exactly, float32's the same rounded to
-- float (clone("float32"), itself the reference copy). Shapes with rows of
-- 300 cross the reductions' blocks of 256 columns.
local function fast_vs_reference(name, f)
  local function check(got, want)
    local g, w = got:clone("float64"), want
    lu.assertEquals(g:shape(), w:shape(), name)
    local n = 1
    for _, d in ipairs(w:shape()) do n = n * d end
    local gf, wf = g:reshape(n), w:reshape(n)
    for i = 1, n do
      local x, y = gf:get(i), wf:get(i)
      if not (x == y or (x ~= x and y ~= y)) then
        lu.fail(string.format("%s: element %d: fast %.17g, reference %.17g", name, i, x, y))
      end
    end
  end
  local ref64 = f("reference") -- float32 in, float64 out: the reference loops
  check(f("float64"), ref64)
  check(f("float32"), ref64:clone("float32"))
end

function TestTensor:test_fast_paths_equal_reference()
  local function numbers(r, c, k)
    local t = {}
    for i = 1, r do
      t[i] = {}
      for j = 1, c do t[i][j] = math.sin(i * 1.3 + j * 0.7 + k) * 3 end
    end
    return t
  end
  local A, B = bp.tensor(numbers(6, 300, 0), "float32"), bp.tensor(numbers(6, 300, 1), "float32")
  local P = bp.tensor(numbers(6, 300, 2), "float32"):abs():add(0.5)
  local row, one = bp.tensor(numbers(1, 300, 3), "float32"), bp.tensor({2.5}, "float32")
  -- the inputs in the way's dtype, and an out of `like`'s shape in it
  local function as(way, t) return way == "float64" and t:clone("float64") or t end
  local function out(way, like, dims)
    local dtype = way == "float32" and "float32" or "float64"
    return bp.zeros(dims or like:shape(), dtype)
  end
  for _, op in ipairs{"add", "sub", "mul", "div"} do
    for _, b in ipairs{{"same shape", B}, {"row", row}, {"one element", one}} do
      fast_vs_reference(op .. " " .. b[1], function(way)
        return as(way, A)[op](as(way, A), as(way, b[2]), out(way, A))
      end)
    end
    fast_vs_reference(op .. " 0.1", function(way) return as(way, A)[op](as(way, A), 0.1, out(way, A)) end)
  end
  for _, fn in ipairs{"exp", "tanh", "sigmoid", "relu", "abs", "sign"} do
    fast_vs_reference(fn, function(way) return as(way, A)[fn](as(way, A), out(way, A)) end)
  end
  for _, fn in ipairs{"log", "sqrt"} do
    fast_vs_reference(fn, function(way) return as(way, P)[fn](as(way, P), out(way, P)) end)
  end
  fast_vs_reference("clamp", function(way) return as(way, A):clamp(-1.1, 0.3, out(way, A)) end)
  local C = A:reshape(2, 3, 300)
  for _, red in ipairs{"sum", "mean", "max"} do
    for dim = 1, 3 do
      local dims = C:shape()
      dims[dim] = 1
      fast_vs_reference(red .. " along " .. dim, function(way)
        return as(way, C)[red](as(way, C), dim, out(way, C, dims))
      end)
    end
  end
  -- a whole tensor's (a number): a float32 tensor's takes the reference
  -- loop (the number's out is float64), a float64 tensor's the fast one
  for _, red in ipairs{"sum", "mean", "max"} do
    local c64 = C:clone("float64")
    local want, got = C[red](C), c64[red](c64)
    lu.assertTrue(got == want, string.format("%s of all: fast %.17g, reference %.17g", red, got, want))
  end
  fast_vs_reference("transpose", function(way) return as(way, A):t(out(way, A, {300, 6})) end)
  fast_vs_reference("copy", function(way) return out(way, A):copy(as(way, A)) end)
end

function TestTensor:test_reshape_is_a_view()
  local t = bp.tensor{{1, 2, 3}, {4, 5, 6}}
  local v = t:reshape(3, 2)
  lu.assertEquals(v:totable(), {{1, 2}, {3, 4}, {5, 6}})
  v[{3, 1}] = 50
  lu.assertEquals(t:get(2, 2), 50)
  local w = v:reshape{6}
  w[1] = -1
  lu.assertEquals(t:get(1, 1), -1)
end

function TestTensor:test_views_outlive_a_closed_owner()
  local t = bp.tensor{1, 2, 3, 4}
  local v = t:reshape(2, 2)
  t:close()
  assert_error_text("attempt to use a closed tensor", function() return t:get(1) end)
  lu.assertEquals(v:totable(), {{1, 2}, {3, 4}}) -- the numbers live on
  v:close()
  v:close()
  t:close()
  assert_error_text("attempt to use a closed tensor", function() return v:sum() end)
  -- the collector: a view dropped before or after its owner
  for _ = 1, 3 do
    local o = bp.zeros(100)
    local w = o:reshape(10, 10)
    o = nil; collectgarbage()
    lu.assertEquals(w:sum(), 0)
  end
  collectgarbage()
end

-- A tensor of up to 64 KiB of numbers lives in its userdata (ltensor.c),
-- a larger one in memory of its own: the two alike on each side of the
-- line (8192 and 8193 doubles, 16384 and 16385 floats) in zeros, every
-- operation's result written whole (results made over the garbage of
-- earlier ones), out arguments, views, close, type, and as a Lua loss's
-- gradient and a module's parameter.
function TestTensor:test_small_and_large_tensors_alike()
  for _, c in ipairs{{"float64", 8192}, {"float32", 16384}} do
    for n = c[2], c[2] + 1 do
      for _ = 1, 3 do -- garbage of earlier results for the next to land on
        local g = bp.zeros(n, c[1]):map(function() return 7.5 end)
        g = g + g
      end
      collectgarbage()
      local z = bp.zeros(n, c[1])
      lu.assertEquals(z:sum(), 0)
      lu.assertEquals(z:max(), 0)
      lu.assertEquals(getmetatable(z).__name, "backprop.tensor")
      lu.assertEquals(z:dtype(), c[1])
      local a = z + 1.5 -- each number 1.5: sum n * 1.5, exactly
      lu.assertEquals(a:sum(), n * 1.5)
      lu.assertEquals((-a):sum(), -n * 1.5)
      lu.assertEquals((2 - a):sum(), n * 0.5)
      lu.assertEquals(a:clone():sum(), n * 1.5)
      lu.assertEquals(a:reshape(1, n):t():sum(1):sum(), n * 1.5)
      lu.assertEquals(a:relu():sign():sum(), n)
      local out = bp.zeros(n, c[1])
      lu.assertIs(a:mul(2, out), out)
      lu.assertEquals(out:sum(), n * 3)
      local v = out:reshape(n, 1)
      out:close()
      lu.assertEquals(v:sum(), n * 3) -- the numbers live on for the view
      assert_error_text("attempt to use a closed tensor", function() return out:sum() end)
      v:close()
      assert_error_text("attempt to use a closed tensor", function() return v:sum() end)
    end
  end
  -- a small tensor as a Lua loss's gradient and as a module's parameter
  local loss = bp.loss{forward = function(o, y) return ((o - y) * (o - y)):sum() end,
                       backward = function(o, y) return (o - y) * 2 end}
  lu.assertEquals(loss:backward({{1, 2}}, {{0, 0}}), {{2, 4}})
  local m = bp.module{outputs = 2, params = {w = bp.tensor{1, 1}},
                      forward = function(self, x) return x * self.w end,
                      backward = function(self, x, dout) return dout * self.w end}
  local net = bp.net(2, m)
  lu.assertEquals(net:forward({3, 4}), {3, 4})
  collectgarbage()
end

-- A loop of small results keeps the heap small: the collector counts what
-- they hold and frees them in its next cycle (no finalizer of theirs to
-- wait for). Their numbers were once malloc'd outside its count and freed
-- by finalizers, a few a step, which fell behind: 40,000 results of 64 x 10
-- left 2.4 MB of userdata (and 80 MB of numbers) waiting.
function TestTensor:test_small_results_keep_the_heap_small()
  local t = bp.zeros(64, 10)
  collectgarbage()
  local base, peak = collectgarbage("count"), 0
  for i = 1, 40000 do
    local _ = (t + 1):exp()
    if i % 100 == 0 then peak = math.max(peak, collectgarbage("count")) end
  end
  lu.assertTrue(peak < 3 * base + 1024, string.format("peak %.0f KB over %.0f KB", peak, base))
end

function TestTensor:test_clone_copy_fill_dtype()
  local t = bp.tensor{1.1, 2.2}
  local c = t:clone("float32")
  lu.assertEquals(c:dtype(), "float32")
  lu.assertAlmostEquals(c:get(1), 1.1, 1e-7)
  c:fill(3)
  t:copy(c)
  lu.assertEquals(t:totable(), {3, 3})
  assert_error_text("copy: shape mismatch: {2} and {3}", function() return t:copy(bp.zeros(3)) end)
end

function TestTensor:test_net_parameters_as_views()
  local net = bp.net(2)
  net:add(3, "relu")
  net:add(1, "identity")
  local w = net:tensor("1.weight")
  lu.assertEquals(w:shape(), {3, 2})
  lu.assertEquals(w:totable(), net:param("1.weight"))
  w[{1, 1}] = 0.25 -- written into the net's memory, no copy
  lu.assertEquals(net:param("1.weight")[1][1], 0.25)
  net:forward({1, 2})
  net:backward({1})
  lu.assertEquals(net:grad_tensor("2.weight"):totable(), net:grad("2.weight"))
  assert_error_text("'nope'", function() return net:tensor("nope") end)
  local flat = w:reshape(6)
  net:close()
  assert_error_text("attempt to use a view of a closed network", function() return w:sum() end)
  assert_error_text("attempt to use a view of a closed network", function() return flat[1] end)
end

-- A float32 conv2d -> relu -> maxpool2d runs as one chain on oneDNN
-- (engine/graph.c's set_chains), which keeps no values of the convolution
-- or the ReLU: asking for them after such a forward is refused with the
-- reason, and takes them out of chains, so that the next forward keeps
-- them (the same outputs, to the bit). A build without oneDNN has no
-- chain: the values are there at once.
function TestTensor:test_activation_of_a_chain()
  local net = bp.net({1, 6, 6}, bp.sequential{bp.conv2d(1, 16, 3, {padding = 1}), bp.relu(),
    bp.maxpool2d(2), bp.flatten(), bp.linear(144, 2)}, {dtype = "float32"})
  local x = {}
  for i = 1, 36 do x[i] = math.sin(i) end
  local out = net:forward({x, x})
  local ok, err = pcall(net.activation, net, "2")
  if not ok then
    lu.assertStrContains(err, "net:activation: module '2' ran inside a conv2d -> relu -> "
      .. "maxpool2d chain, which keeps no values of its own: run net:forward again (it keeps "
      .. "them from now on)")
    lu.assertFalse(pcall(net.activation, net, "1"))
  end
  lu.assertEquals(net:forward({x, x}), out)
  local h, r = net:activation("1"), net:activation("2")
  lu.assertEquals(h:shape(), {2, 16, 6, 6})
  for c = 1, 16, 5 do for i = 1, 6 do
    lu.assertEquals(r[{2, c, i, 3}], math.max(0, h[{2, c, i, 3}]))
  end end
end

function TestTensor:test_activations_as_views()
  -- a graph: a module's output after the last forward, {B, shape...}
  local net = bp.net(bp.sequential{bp.linear(2, 3, {name = "fc"}), bp.relu(), bp.linear(3, 1)})
  net:param("fc.weight") -- (names as params name them)
  assert_error_text("net:activation: no output yet: run net:forward first", function()
    return net:activation("fc") end)
  local X = {{1, 2}, {-1, 0.5}}
  net:forward(X)
  local h = net:activation("fc")
  lu.assertEquals(h:shape(), {2, 3})
  local w, b = net:param("fc.weight"), net:param("fc.bias")
  for i = 1, 2 do for j = 1, 3 do
    lu.assertEquals(h[{i, j}], X[i][1] * w[j][1] + X[i][2] * w[j][2] + b[j])
  end end
  lu.assertEquals(net:activation("3"):totable(), net:forward(X)) -- the output itself
  local r = net:activation("2")
  lu.assertEquals(r:totable()[1][1], math.max(0, h[{1, 1}]))
  net:forward({{0, 0}}) -- fewer rows: the same buffers, another size
  assert_error_text("attempt to use a view of outputs the network has since replaced",
                    function() return h:sum() end)
  assert_error_text("no module named 'nope'", function() return net:activation("nope") end)
  -- a stack: layer l's h ("l") and o ("l.act"), as net:h(l) and net:o(l)
  local s = bp.net(2):add(3, "tanh"):add(1)
  s:forward(X)
  lu.assertEquals(s:activation("1"):totable(), s:h(1))
  lu.assertEquals(s:activation("1.act"):totable(), s:o(1))
  assert_error_text("no module named '3'", function() return s:activation("3") end)
  local o = s:activation("2.act")
  s:close()
  assert_error_text("attempt to use a view of a closed network", function() return o:sum() end)
end

function TestTensor:test_data_rows_as_views()
  local d = bp.data({{1, 2, 3}, {4, 5, 6}}, {1, 2}, {classes = 2})
  local x, y = d:x(), d:y()
  lu.assertEquals(x:shape(), {2, 3})
  lu.assertEquals(x:totable(), {{1, 2, 3}, {4, 5, 6}})
  lu.assertEquals(y:totable(), {{1, 0}, {0, 1}}) -- one-hot, as the set holds them
  x[{2, 1}] = 40 -- written into the set's memory, no copy
  lu.assertEquals(select(1, d:row(2)), {40, 5, 6})
  local r = bp.data({{1}, {2}}, {{0.5}, {-1}}):y()
  lu.assertEquals(r:totable(), {{0.5}, {-1}})
  -- float32 inputs are viewed as float32; a conversion moves them
  local f = bp.data({{1, 2}}, {{3}}, {dtype = "float32"})
  local fx = f:x()
  lu.assertEquals(fx:dtype(), "float32")
  f:dtype("float64")
  assert_error_text("attempt to use a view of rows the data set has since replaced",
                    function() return fx:sum() end)
  lu.assertEquals(f:x():totable(), {{1, 2}})
  assert_error_text("x: the data set has no rows", function() return d:slice(1, 0):x() end)
  local flat = x:reshape(6)
  d:close()
  assert_error_text("attempt to use a view of a closed data set", function() return x:sum() end)
  assert_error_text("attempt to use a view of a closed data set", function() return flat[1] end)
  assert_error_text("attempt to use a view of a closed data set", function() return y[1] end)
  collectgarbage()
end

S.finish()
