-- test_data.lua: data sets and the training loop from Lua (LuaUnit).
--
-- The loaders run on small CSV and IDX files this test writes itself (the
-- gzip ones through the gzip command), good ones checked value by value and
-- malformed ones against the exact message, which must name the file, the
-- line and the column. Splits are checked to be disjoint and to cover the
-- data, scalers against statistics worked out here on the training rows
-- alone, shuffles against the seed. net:train_batch and net:fit are held to
-- the same bits as net:train_step on the same rows, and fit's run-log
-- metrics are read back from a real run with the sqlite3 shell.
local lu = require "luaunit"
local bp = require "backprop"

package.path = (os.getenv("BP_SOURCE_DIR") or ".") .. "/tests/lua/?.lua;" .. package.path
local S = require "support"
local TMP, write = S.TMP, S.write

local function assert_error_text(text, f, ...)
  local ok, err = pcall(f, ...)
  lu.assertFalse(ok, "expected an error: " .. text)
  lu.assertStrContains(tostring(err), text, false)
end

-- A loader that must fail: nil, and exactly this message.
local function assert_fails(message, d, err)
  lu.assertNil(d)
  lu.assertEquals(err, message)
end

-- IDX files, as the MNIST format defines them: big-endian header, bytes.
local function idx_images(n, rows, cols, pixels)
  return string.pack(">I4I4I4I4", 0x803, n, rows, cols) .. string.char(table.unpack(pixels))
end
local function idx_labels(n, labels)
  return string.pack(">I4I4", 0x801, n) .. string.char(table.unpack(labels))
end

local function gzip(path)
  assert(os.execute(string.format("gzip -c '%s' > '%s.gz'", path, path)))
  return path .. ".gz"
end

-- rows 1..n with x = {i, 10 i} and class i % 3 + 1: row ids survive every move
local function numbered(n)
  local x, y = {}, {}
  for i = 1, n do
    x[i] = {i, 10 * i}
    y[i] = i % 3 + 1
  end
  return bp.data(x, y, {classes = {"a", "b", "c"}})
end

local function ids(d)
  local t = {}
  for i = 1, #d do t[i] = d:row(i)[1] end
  return t
end

TestLoad = {}

function TestLoad:test_csv_good()
  local p = write("good.csv", "a;species;b\n1.5;setosa;2\n\n3;virginica;-4e1\n5;setosa;6\n")
  local d = assert(bp.load_csv(p, {target = "species", delim = ";"}))
  lu.assertEquals(#d, 3)
  lu.assertEquals(d:inputs(), 2)
  lu.assertEquals(d:outputs(), 2)
  lu.assertEquals(d:classes(), 2)
  lu.assertEquals(d:class_names(), {"setosa", "virginica"})
  local names, target = d:names()
  lu.assertEquals(names, {"a", "b"})
  lu.assertEquals(target, "species")
  local x, y, c = d:row(2)
  lu.assertEquals(x, {3, -40})
  lu.assertEquals(y, {0, 1})
  lu.assertEquals(c, 2)
  lu.assertEquals(tostring(d), "data 3 x 2, 2 classes")
  -- with b as the target, species is an input, and not a number
  assert_fails(p .. ":2:2: non-numeric cell 'setosa'",
               bp.load_csv(p, {delim = ";", target = "b", classify = false}))
end

function TestLoad:test_csv_regression()
  local p = write("reg.csv", "x1,x2,y\n1,2,3.5\n4,5,6\n")
  local d = assert(bp.load_csv(p, {classify = false}))
  lu.assertEquals({#d, d:inputs(), d:outputs()}, {2, 2, 1})
  lu.assertNil(d:classes())
  lu.assertNil(d:class_names())
  local x, y, c = d:row(1)
  lu.assertEquals(x, {1, 2})
  lu.assertEquals(y, {3.5})
  lu.assertNil(c)
  lu.assertEquals(tostring(d), "data 2 x 2, 1 target")
end

function TestLoad:test_csv_errors_name_file_line_and_column()
  local p = write("ragged.csv", "a,b,c\n1,2,3\n4,5\n")
  assert_fails(p .. ":3: ragged row: 2 cells, header has 3", bp.load_csv(p))
  p = write("text.csv", "a,b,y\n1,2,0\n3,abc,1\n")
  assert_fails(p .. ":3:2: non-numeric cell 'abc'", bp.load_csv(p, {target = "y"}))
  p = write("missing.csv", "a,b,y\n1,2,0\n3,,1\n")
  assert_fails(p .. ":3:2: missing value", bp.load_csv(p))
  p = write("na.csv", "a,b,y\nNA,2,0\n")
  assert_fails(p .. ":2:1: missing value 'NA'", bp.load_csv(p))
  p = write("empty.csv", "")
  assert_fails(p .. ": empty file", bp.load_csv(p))
  p = write("header.csv", "a,b\n")
  assert_fails(p .. ": no data rows", bp.load_csv(p))
  p = write("cols.csv", "a,b,c\n1,2,3\n")
  assert_fails(p .. ": no column named 'species' (columns: a, b, c)",
               bp.load_csv(p, {target = "species"}))
  local none = TMP .. "/none.csv"
  assert_fails(none .. ": cannot open: No such file or directory", bp.load_csv(none))
  -- the line counts blank lines and the header
  p = write("late.csv", "a,y\n1,0\n\n2,1\n3x,0\n")
  assert_fails(p .. ":5:1: non-numeric cell '3x'", bp.load_csv(p))
end

function TestLoad:test_csv_bad_arguments_raise()
  assert_error_text("bad argument #1 to 'backprop.load_csv' (string expected, got table)",
    bp.load_csv, {})
  assert_error_text("bad argument #2 to 'backprop.load_csv' (table expected, got string)",
    bp.load_csv, "x.csv", ";")
  assert_error_text("bad argument #2 to 'backprop.load_csv' (field 'delim': one character "
    .. "expected, got ';;')", bp.load_csv, "x.csv", {delim = ";;"})
  assert_error_text("bad argument #2 to 'backprop.load_csv' (field 'classify': boolean "
    .. "expected, got number)", bp.load_csv, "x.csv", {classify = 1})
  assert_error_text("bad argument #2 to 'backprop.load_csv' (unknown option 'delimiter' "
    .. "(expected target, delim, classify or dtype))",
    bp.load_csv, "x.csv", {delimiter = ";"})
end

function TestLoad:test_idx_plain_and_gzip()
  -- 3 images of 2 x 2 and their labels 2, 0, 1
  local ip = write("img.idx", idx_images(3, 2, 2, {0, 255, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}))
  local lp = write("lab.idx", idx_labels(3, {2, 0, 1}))
  for _, pair in ipairs({{ip, lp}, {gzip(ip), gzip(lp)}, {gzip(ip), lp}}) do
    local d = assert(bp.load_idx(pair[1], pair[2]))
    lu.assertEquals({#d, d:inputs(), d:outputs()}, {3, 4, 3})
    lu.assertEquals(d:class_names(), {"0", "1", "2"})
    local x, y, c = d:row(1)
    lu.assertEquals(x, {0, 255, 1, 2})
    lu.assertEquals(y, {0, 0, 1})
    lu.assertEquals(c, 3)
    lu.assertEquals(select(3, d:row(2)), 1)
  end
  -- ten classes even when the labels stop at 2
  lu.assertEquals(assert(bp.load_idx(ip, lp, 10)):outputs(), 10)
end

function TestLoad:test_idx_errors()
  local ip = write("img2.idx", idx_images(3, 2, 2, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}))
  local lp = write("lab2.idx", idx_labels(3, {0, 1, 0}))
  assert_fails(lp .. ": not an IDX image file (magic 0x00000801, want 0x00000803)",
    bp.load_idx(lp, lp))
  local short = write("short.idx", idx_images(3, 2, 2, {1, 2, 3, 4, 5}))
  assert_fails(short .. ": truncated: expected 12 bytes of pixels, got 5", bp.load_idx(short, lp))
  local gshort = gzip(short)
  assert_fails(gshort .. ": truncated: expected 12 bytes of pixels, got 5", bp.load_idx(gshort, lp))
  local two = write("two.idx", idx_labels(2, {0, 1}))
  assert_fails(ip .. " has 3 images but " .. two .. " has 2 labels", bp.load_idx(ip, two))
  local none = TMP .. "/none.idx"
  assert_fails(none .. ": cannot open: No such file or directory", bp.load_idx(none, lp))
  assert_error_text("bad argument #3 to 'backprop.load_idx' (number of classes must be a positive integer, got 0)",
    bp.load_idx, ip, lp, 0)
end

function TestLoad:test_float32_inputs()
  local ip = write("img32.idx", idx_images(3, 2, 2, {0, 255, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}))
  local lp = write("lab32.idx", idx_labels(3, {2, 0, 1}))
  local d = assert(bp.load_idx(ip, lp, {dtype = "float32"}))
  lu.assertEquals(d:dtype(), "float32")
  lu.assertEquals(tostring(d), "data 3 x 4 float32, 3 classes")
  lu.assertEquals({d:row(1)}, {{0, 255, 1, 2}, {0, 0, 1}, 3})
  lu.assertEquals(assert(bp.load_idx(ip, lp, 10, {dtype = "float32"})):outputs(), 10)
  lu.assertEquals(assert(bp.load_idx(ip, lp)):dtype(), "float64")
  -- 0.1 is not a float: it reads back as the nearest one, and stays that
  -- value when widened back to float64
  local f01 = string.unpack("f", string.pack("f", 0.1))
  lu.assertNotEquals(f01, 0.1)
  local t = bp.data({{0.1, 2}, {3, 4}}, {1, 2}, {classes = 2, dtype = "float32"})
  lu.assertEquals(t:row(1)[1], f01)
  lu.assertIs(t:dtype("float64"), t)
  lu.assertEquals(t:dtype(), "float64")
  lu.assertEquals(t:row(1)[1], f01)
  local c = assert(bp.load_csv(write("f32.csv", "a,b,y\n0.1,2,x\n3,4,y\n"), {dtype = "float32"}))
  lu.assertEquals({c:dtype(), c:row(1)[1]}, {"float32", f01})
  assert_error_text("bad argument #3 to 'backprop.load_idx' (field 'dtype': unknown dtype "
    .. "'float16' (expected float64 or float32))", bp.load_idx, ip, lp, {dtype = "float16"})
  assert_error_text("bad argument #1 to 'dtype' (unknown dtype 'half' (expected float64 or "
    .. "float32))", function() return t:dtype("half") end)
  -- bp.data is a table called (its __call, ltext.c): an error names it as
  -- the call writes it
  assert_error_text("bad argument #3 to 'data' (field 'dtype': unknown dtype '32' "
    .. "(expected float64 or float32))", function() return bp.data({{1}}, {1}, {dtype = 32}) end)
  assert_error_text("bad argument #4 to 'backprop.load_idx' (unknown option 'type' (expected dtype))",
    bp.load_idx, ip, lp, 10, {type = "float32"})
end

function TestLoad:test_float32_inputs_train_a_float32_net_alike()
  -- A float32 network rounds its inputs to float anyway: the same fit on
  -- the same rows, kept as doubles or as floats, gives the same bits.
  local x, y = {}, {}
  for i = 1, 40 do
    x[i] = {math.sin(i), math.cos(3 * i), i / 40}
    y[i] = i % 3 + 1
  end
  local function fit(dtype)
    local d = bp.data(x, y, {classes = 3, dtype = dtype})
    bp.seed(9)
    local net = bp.net(3, {dtype = "float32"}):add(8, "tanh"):add(3)
    local hist = net:fit{data = d, loss = "softmax_ce", lr = 0.1, epochs = 3, batch = 8}
    return net:params(), hist, net:evaluate(d, "softmax_ce")
  end
  local p64, h64, e64 = fit("float64")
  local p32, h32, e32 = fit("float32")
  lu.assertEquals(p32, p64)
  for k = 1, 3 do lu.assertEquals(h32[k].train_loss, h64[k].train_loss) end
  lu.assertEquals(e32, e64)
end

function TestLoad:test_fashion_mnist()
  local d, err = bp.fashion_mnist{train = false, dir = TMP}
  lu.assertNil(d)
  lu.assertStrContains(err, "no Fashion-MNIST in " .. TMP)
  lu.assertStrContains(err, "dataset-fashion-mnist")
  local f = io.open("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz")
  if not f then return end -- Debian's package is not installed here
  f:close()
  -- 10,000 x 784 doubles live in C: the Lua heap barely moves.
  collectgarbage()
  local before = collectgarbage("count")
  local test = assert(bp.fashion_mnist{train = false})
  local grown = collectgarbage("count") - before
  lu.assertEquals({#test, test:inputs(), test:outputs()}, {10000, 784, 10})
  lu.assertEquals(test:classes(), 10)
  lu.assertEquals(test:class_names()[1], "T-shirt/top")
  lu.assertEquals(test:class_names()[10], "Ankle boot")
  lu.assertTrue(grown < 64, string.format("the Lua heap grew by %.0f KB", grown))
end

function TestLoad:test_from_tables()
  local d = bp.data({{1, 2}, {3, 4}}, {{0.5}, {1.5}})
  lu.assertEquals({#d, d:inputs(), d:outputs()}, {2, 2, 1})
  lu.assertEquals({d:row(2)}, {{3, 4}, {1.5}})
  d = bp.data({{1}, {2}}, {7, 8})
  lu.assertEquals(select(2, d:row(2)), {8})
  d = bp.data({{0, 0}, {0, 1}}, {2, 1}, {classes = 2})
  lu.assertEquals(d:class_names(), {"1", "2"})
  -- the count makes the output layer (issue 18)
  local net = bp.net(d:inputs()):add(d:classes())
  lu.assertEquals(net:outputs(), 2)
  lu.assertEquals({d:row(1)}, {{0, 0}, {0, 1}, 2})
  assert_error_text("bad argument #2 to 'data' (label 2: an integer 1..2 expected, got 3)",
    function() return bp.data({{0}, {1}}, {1, 3}, {classes = 2}) end)
  assert_error_text("bad argument #1 to 'data' (row 2: expected 2 values, got 1)",
    function() return bp.data({{0, 1}, {1}}, {1, 2}) end)
  assert_error_text("bad argument #2 to 'data' (expected 2 rows, got 1)",
    function() return bp.data({{0}, {1}}, {{1}}) end)
  assert_error_text("bad argument #1 to 'data' (row 1, column 2: number expected, got string)",
    function() return bp.data({{0, "x"}}, {1}) end)
  assert_error_text("bad argument #1 to 'data' (empty table)", function() return bp.data({}, {}) end)
end

function TestLoad:test_close()
  local d = numbered(3)
  d:close()
  d:close() -- twice is fine
  lu.assertEquals(tostring(d), "data (closed)")
  assert_error_text("attempt to use a closed data set", function() return #d end)
  assert_error_text("attempt to use a closed data set", d.row, d, 1)
  do
    local e <close> = numbered(2)
    lu.assertEquals(#e, 2)
  end
end

TestPrepare = {}

function TestPrepare:test_same_seed_same_shuffle()
  bp.seed(7)
  local a = numbered(20):shuffle()
  bp.seed(7)
  local b = numbered(20):shuffle()
  bp.seed(8)
  local c = numbered(20):shuffle()
  lu.assertEquals(ids(a), ids(b))
  lu.assertNotEquals(ids(a), ids(c))
  -- a permutation, and rows move whole: x, y and the class together
  local seen = {}
  for i = 1, #a do
    local x, y, k = a:row(i)
    lu.assertEquals(x[2], 10 * x[1])
    lu.assertEquals(k, x[1] % 3 + 1)
    lu.assertEquals(y[k], 1)
    seen[x[1]] = (seen[x[1]] or 0) + 1
  end
  for i = 1, 20 do lu.assertEquals(seen[i], 1) end
end

-- d:shuffle(seed) draws from a generator of its own: the order is the one
-- the module's generator gives when reseeded with that seed, whatever the
-- module's seed, and the module's stream is left where it was.
function TestPrepare:test_shuffle_by_a_seed_of_its_own()
  bp.seed(5)
  local want = ids(numbered(20):shuffle())
  for _, run_seed in ipairs({1, 99}) do
    bp.seed(run_seed)
    local u = bp.uniform()
    bp.seed(run_seed)
    lu.assertEquals(ids(numbered(20):shuffle(5)), want)
    lu.assertEquals(bp.uniform(), u) -- the module's first draw, untouched
  end
  assert_error_text("bad argument #1 to 'shuffle' (integer seed expected, got number)",
    function() return numbered(3):shuffle(1.5) end)
end

-- bp.seed("data"): 1 outside a sweep, set apart from the run's seed.
function TestPrepare:test_data_seed()
  lu.assertEquals(bp.seed("data"), 1)
  bp.seed(42)
  lu.assertEquals(bp.seed("data"), 1)
  lu.assertEquals(bp.seed("data", 7), 7)
  lu.assertEquals(bp.seed("data"), 7)
  lu.assertEquals(bp.seed(), 42)
  assert_error_text([[bad argument #1 to 'seed' (unknown seed 'date' (expected "data" or an integer))]],
    function() return bp.seed("date") end)
  assert_error_text("bad argument #2 to 'seed' (integer expected, got number)",
    function() return bp.seed("data", 0.5) end)
  bp.seed("data", 1)
end

function TestPrepare:test_split_is_disjoint_and_covers()
  bp.seed(3)
  local d = numbered(23):shuffle()
  local train, val, test = d:split(0.6, 0.2)
  lu.assertEquals({#train, #val, #test}, {14, 5, 4}) -- round(13.8), round(4.6), the rest
  local all, count = {}, 0
  for _, part in ipairs({train, val, test}) do
    lu.assertEquals(part:class_names(), {"a", "b", "c"})
    for _, id in ipairs(ids(part)) do
      lu.assertNil(all[id], "row " .. id .. " is in two parts")
      all[id] = true
      count = count + 1
    end
  end
  lu.assertEquals(count, 23)
  -- in the order the rows lay: the parts are consecutive runs of d
  local order = ids(d)
  lu.assertEquals(ids(train)[1], order[1])
  lu.assertEquals(ids(val)[1], order[15])
  lu.assertEquals(ids(test)[4], order[23])
  -- one fraction: the training part and the rest, two values (issue 18)
  local n = select("#", d:split(0.8))
  lu.assertEquals(n, 2)
  local a, rest = d:split(0.8)
  lu.assertEquals({#a, #rest}, {18, 5}) -- round(18.4), the rest
  lu.assertEquals(ids(rest)[1], order[19])
  lu.assertEquals(select("#", d:split(0.7, 0.15)), 3)
  local b, c
  a, b, c = d:split(1, 0)
  lu.assertEquals({#a, #b, #c}, {23, 0, 0})
  assert_error_text("bad argument #1 to 'split' (split fractions must be >= 0 and add up to "
    .. "at most 1 (got train 0.8, validation 0.3))", function() return d:split(0.8, 0.3) end)
  lu.assertEquals(ids(d:slice(2, 4)), {order[2], order[3], order[4]})
  lu.assertEquals(#d:slice(5, 4), 0)
end

function TestPrepare:test_scaling_uses_training_statistics_only()
  -- train: x1 = 1, 2, 3, 6 (mean 3, population variance 3.5); test: 10, 20
  local train = bp.data({{1, 5}, {2, 5}, {3, 5}, {6, 5}}, {0, 0, 0, 0})
  local test = bp.data({{10, 7}, {20, 9}}, {0, 0})
  local sc = train:scaler("standard")
  lu.assertEquals(sc.kind, "standard")
  lu.assertEquals(sc.shift, {3, 5})
  lu.assertEquals(sc.scale, {math.sqrt(3.5), 1}) -- a constant column gets scale 1
  train:scale(sc)
  test:scale(sc)
  lu.assertEquals(train:row(1), {(1 - 3) / math.sqrt(3.5), 0})
  -- the test part is scaled with the training mean and deviation, not its own
  lu.assertEquals(test:row(1), {(10 - 3) / math.sqrt(3.5), 2})
  lu.assertEquals(test:row(2), {(20 - 3) / math.sqrt(3.5), 4})
  -- minmax: [1, 6] -> [0, 1] on train; test goes beyond
  local tr = bp.data({{1}, {6}, {2}}, {0, 0, 0})
  local te = bp.data({{11}}, {0})
  local mm = tr:scaler("minmax")
  lu.assertEquals({mm.shift, mm.scale}, {{1}, {5}})
  tr:scale(mm)
  te:scale(mm)
  lu.assertEquals(ids(tr), {0, 1, 0.2})
  lu.assertEquals(te:row(1), {2})
  -- fixed: pixels / 255
  local px = bp.data({{0, 51, 255}}, {0})
  px:scale{shift = 0, scale = 255}
  lu.assertEquals(px:row(1), {0, 0.2, 1})
  assert_error_text("bad argument #1 to 'scale' (field 'scale': element 1 must be finite and non-zero)",
    function() px:scale{shift = 0, scale = 0} end)
  assert_error_text("bad argument #1 to 'scale' (field 'shift': expected 3 numbers, got 1)",
    function() px:scale{shift = {1}, scale = 1} end)
  assert_error_text("bad argument #1 to 'scaler' (unknown scaler 'robust' (expected standard or minmax))",
    function() px:scaler("robust") end)
end

function TestPrepare:test_batches()
  local d = numbered(10)
  local got = {}
  for first, count in d:batches(4) do got[#got + 1] = {first, count} end
  lu.assertEquals(got, {{1, 4}, {5, 4}, {9, 2}})
  got = {}
  for first, count in d:batches(10) do got[#got + 1] = {first, count} end
  lu.assertEquals(got, {{1, 10}})
  assert_error_text("bad argument #1 to 'batches' (batch size must be a positive integer, got 0)",
    function() d:batches(0) end)
end

TestTrain = {}

-- a 2-3-3 tanh network with fixed weights (no draw from the generator)
local function net233()
  local net = bp.net(2)
  net:add(3, "tanh", {weights = {{0.1, -0.2}, {0.3, 0.1}, {-0.1, 0.2}}, bias = {0, 0.1, -0.1}})
  net:add(3, "identity", {weights = {{0.2, -0.3, 0.1}, {0.1, 0.1, -0.2}, {-0.3, 0.2, 0.1}}, bias = 0})
  return net
end

-- the rows first..first+count-1 of d as tables
local function rows(d, first, count)
  local x, y = {}, {}
  for i = first, math.min(#d, first + count - 1) do
    local xi, yi = d:row(i)
    x[#x + 1], y[#y + 1] = xi, yi
  end
  return x, y
end

function TestTrain:test_train_batch_is_train_step_in_place()
  local d = numbered(10)
  d:scale{shift = 5, scale = 10}
  local a, b = net233(), net233()
  for first, count in d:batches(4) do
    local x, y = rows(d, first, count)
    lu.assertEquals(a:train_batch(d, first, count, "softmax_ce", 0.1),
                    b:train_step(x, y, "softmax_ce", 0.1))
  end
  lu.assertEquals(a:params(), b:params())
  lu.assertEquals(a:steps(), 3)
  local oa, ob = bp.optimizer(a, "adam", {lr = 0.01}), bp.optimizer(b, "adam", {lr = 0.01})
  local x, y = rows(d, 3, 5)
  lu.assertEquals(a:train_batch(d, 3, 5, "softmax_ce", oa), b:train_step(x, y, "softmax_ce", ob))
  lu.assertEquals(a:params(), b:params())
  assert_error_text("bad argument #2 to 'train_batch' (row 11 out of range 1..10)",
    function() a:train_batch(d, 11, 1, "mse", 0.1) end)
  assert_error_text("bad argument #1 to 'train_batch' (the network maps 2 inputs to 3 outputs, "
    .. "the data 1 to 1)", function() a:train_batch(bp.data({{1}}, {1}), 1, 1, "mse", 0.1) end)
end

function TestTrain:test_fit_in_order_is_train_step()
  local d = numbered(10)
  d:scale{shift = 5, scale = 10}
  local a, b = net233(), net233()
  local hist = a:fit{data = d, loss = "softmax_ce", lr = 0.1, epochs = 3, batch = 4,
                     shuffle = false}
  local want = {}
  for e = 1, 3 do
    local sum = 0
    for first, count in d:batches(4) do
      local x, y = rows(d, first, count)
      sum = sum + b:train_step(x, y, "softmax_ce", 0.1) * count
    end
    want[e] = sum / #d
  end
  lu.assertEquals(a:params(), b:params())
  lu.assertEquals(#hist, 3)
  for e = 1, 3 do
    lu.assertEquals(hist[e].epoch, e)
    lu.assertEquals(hist[e].train_loss, want[e])
    lu.assertEquals(hist[e].steps, 3 * e)
  end
  lu.assertEquals(a:steps(), 9)
end

function TestTrain:test_fit_shuffled_is_train_step_on_the_shuffled_rows()
  local d = numbered(11)
  d:scale{shift = 5, scale = 10}
  local a, b = net233(), net233()
  local oa, ob = bp.optimizer(a, "adam", {lr = 0.02}), bp.optimizer(b, "adam", {lr = 0.02})
  local order = ids(d)
  bp.seed(5)
  a:fit{data = d, loss = "softmax_ce", optimizer = oa, epochs = 2, batch = 3}
  -- each epoch's order is what d:shuffle() gives a fresh copy from the
  -- generator's state at that epoch's start
  bp.seed(5)
  for _ = 1, 2 do
    local copy = d:slice(1):shuffle()
    for first, count in copy:batches(3) do
      local x, y = rows(copy, first, count)
      b:train_step(x, y, "softmax_ce", ob)
    end
  end
  lu.assertEquals(a:params(), b:params())
  lu.assertEquals(ids(d), order) -- d itself never moved
end

function TestTrain:test_fit_validation_callback_and_stop()
  local d = numbered(12)
  d:scale{shift = 6, scale = 12}
  local val = numbered(6)
  local net = net233()
  local seen = {}
  local hist = net:fit{data = d, loss = "softmax_ce", lr = 0.5, epochs = 10, batch = 5,
    validation = val, val_name = "check", first_epoch = 3,
    callback = function(epoch, s)
      seen[#seen + 1] = epoch
      lu.assertEquals(s.epoch, epoch)
      lu.assertTrue(s.seconds >= 0)
      local r = net:evaluate(val, "softmax_ce")
      lu.assertEquals(s.check_loss, r.loss)
      lu.assertEquals(s.check_accuracy, r.accuracy)
      lu.assertEquals(s.check_confusion, r.confusion)
      if epoch == 5 then return false end
    end}
  lu.assertEquals(seen, {3, 4, 5})
  lu.assertEquals(#hist, 3)
  lu.assertEquals(net:steps(), 9)
end

function TestTrain:test_fit_refusals()
  local d = numbered(4)
  local net = net233()
  local function fit(t) return net:fit(t) end
  assert_error_text("bad argument #1 to 'fit' (field 'data': backprop.data expected, got nil)",
    fit, {loss = "mse", lr = 0.1})
  assert_error_text("bad argument #1 to 'fit' (field 'loss' is required)", fit, {data = d, lr = 0.1})
  assert_error_text("bad argument #1 to 'fit' (field 'lr' or 'optimizer' is required)",
    fit, {data = d, loss = "mse"})
  assert_error_text("bad argument #1 to 'fit' (give lr or optimizer, not both)",
    fit, {data = d, loss = "mse", lr = 0.1, optimizer = bp.optimizer(net, "sgd")})
  assert_error_text("bad argument #1 to 'fit' (unknown option 'epoch' (expected data, epochs, batch, loss, lr, optimizer, shuffle, drop_last, log, "
    .. "epoch_log, validation, val_name, confusion, callback, first_epoch, total_epochs, log_lr or plateau_metric))",
    fit, {data = d, loss = "mse", lr = 0.1, epoch = 3})
  assert_error_text("bad argument #1 to 'fit' (field 'epochs': must be an integer >= 1, got 0)",
    fit, {data = d, loss = "mse", lr = 0.1, epochs = 0})
  assert_error_text("bad argument #1 to 'fit' (field 'loss': unknown loss 'nlll' (expected half_se, mse, bce, softmax_ce, nll, l1 or huber))",
    fit, {data = d, loss = "nlll", lr = 0.1})
  assert_error_text("bad argument #1 to 'fit' (field 'lr': must be a finite number >= 0, got -1)",
    fit, {data = d, loss = "mse", lr = -1})
  assert_error_text("the network takes 2 inputs, the data has 1",
    fit, {data = bp.data({{1}}, {{1, 2, 3}}), loss = "mse", lr = 0.1})
  -- an empty data set says so, before anything trains (issue 18)
  local empty = d:slice(1, 0)
  assert_error_text("bad argument #1 to 'fit' (field 'data': the data set is empty (0 rows))",
    fit, {data = empty, loss = "mse", lr = 0.1})
  local steps = net:steps()
  assert_error_text("bad argument #1 to 'fit' (field 'validation': the data set is empty (0 rows))",
    fit, {data = d, validation = empty, loss = "mse", lr = 0.1})
  lu.assertEquals(net:steps(), steps)
  assert_error_text("bad argument #1 to 'evaluate' (the data set is empty (0 rows))",
    function() return net:evaluate(empty, "mse") end)
  assert_error_text("bad argument #1 to 'predict' (the data set is empty (0 rows))",
    function() return net:predict(empty) end)
  assert_error_text("bad argument #1 to 'train_batch' (the data set is empty (0 rows))",
    function() return net:train_batch(empty, 1, 4, "mse", 0.1) end)
  -- a callback that closes the data stops the next epoch cleanly
  assert_error_text("attempt to use a closed data set", fit,
    {data = d, loss = "mse", lr = 0.1, epochs = 2, callback = function() d:close() end})
end

function TestTrain:test_fit_divergence()
  local d = bp.data({{0 / 0, 1}}, {1}, {classes = 3})
  local net = net233()
  local before = net:params()
  assert_error_text("loss is nan at step 1: the run diverged", net.fit, net,
    {data = d, loss = "softmax_ce", lr = 0.1})
  lu.assertEquals(net:params(), before) -- the step was not applied
  lu.assertEquals(net:steps(), 0)
end

function TestTrain:test_evaluate_and_predict()
  -- out = x: the identity with weights I. Rows (2, 1) -> class 1, (0, 3) -> 2,
  -- (5, 4) -> 1; all three labelled 1.
  local d = bp.data({{2, 1}, {0, 3}, {5, 4}}, {1, 1, 1}, {classes = 2})
  local net = bp.net(2)
  net:add(2, "identity", {weights = {{1, 0}, {0, 1}}, bias = 0})
  local r = net:evaluate(d, "softmax_ce")
  local want = (math.log(1 + math.exp(-1)) + math.log(1 + math.exp(3)) + math.log(1 + math.exp(-1))) / 3
  lu.assertAlmostEquals(r.loss, want, 1e-15)
  lu.assertEquals(r.accuracy, 2 / 3)
  lu.assertEquals(r.confusion, {{2, 1}, {0, 0}})
  lu.assertNil(net:evaluate(d).loss)
  lu.assertEquals(net:predict(d), {1, 2, 1})
  lu.assertEquals(net:predict(d, "output"), {{2, 1}, {0, 3}, {5, 4}})
  local reg = bp.data({{1, 2}}, {{0, 0}})
  lu.assertEquals(net:predict(reg), {{1, 2}}) -- no classes: outputs
  lu.assertEquals(net:evaluate(reg, "mse"), {loss = 2.5})
end

-- The run log gets each step's loss and each epoch's metrics from C.
function TestTrain:test_fit_logs_to_the_run_log()
  local exe = os.getenv("BP_EXE")
  if not exe or not os.execute("command -v sqlite3 >/dev/null") then return end
  local script = write("fitlog.lua", [[
    local bp = require "backprop"
    local d = bp.data({{0, 0}, {0, 1}, {1, 0}, {1, 1}}, {1, 2, 2, 1}, {classes = 2})
    local net = bp.net(2):add(4, "tanh"):add(2)
    net:fit{data = d, loss = "softmax_ce", lr = 0.1, epochs = 3, batch = 2,
            validation = d, log = "loss", confusion = true}
  ]])
  local db = TMP .. "/fit.db"
  assert(os.execute(string.format("%s run --db %s %s >/dev/null", exe, db, script)))
  local p = io.popen(string.format("sqlite3 %s \"SELECT name, count(*), min(step), max(step) "
    .. "FROM metrics_view GROUP BY name ORDER BY name\"", db))
  local out = p:read("a")
  p:close()
  lu.assertEquals(out, table.concat({
    "loss|6|1|6",
    "train_loss|3|1|3",
    "val_accuracy|3|1|3",
    "val_confusion_1_1|3|1|3", "val_confusion_1_2|3|1|3",
    "val_confusion_2_1|3|1|3", "val_confusion_2_2|3|1|3",
    "val_loss|3|1|3", ""}, "\n"))
end

S.finish()
