-- test_snapshots.lua: weight snapshots of a graph of modules through SQL
-- (LuaUnit). A small CNN with batch norm logs its tensors every epoch;
-- bp_weights names each value by tensor and indexes, and README's two
-- queries ("the history of the first conv filter's centre weight", "the
-- running mean of batchnorm 1 over training") give, step by step, the
-- numbers the network itself held at that step, printed by the script.
local lu = require "luaunit"

package.path = (os.getenv("BP_SOURCE_DIR") or ".") .. "/tests/lua/?.lua;" .. package.path
local S = require "support"
local TMP, write, backprop, query = S.TMP, S.write, S.backprop, S.query

local CNN = [[
local bp = require "backprop"
local net = bp.net({1, 6, 6}, bp.sequential{
  bp.conv2d(1, 4, 3, {name = "conv1", padding = 1}), bp.batchnorm2d(4), bp.relu(), bp.maxpool2d(2),
  bp.flatten(), bp.linear(36, 8), bp.batchnorm1d(8, {name = "bn1"}), bp.relu(),
  bp.linear(8, 3, {name = "head"})})
local x, y = {}, {}
for i = 1, 12 do
  local row = {}
  for k = 1, 36 do row[k] = math.sin(i * 0.7 + k * 0.3) end
  x[i], y[i] = row, {i % 3 + 1}
end
local opt = bp.optimizer(net, "sgd", {lr = 0.1})
for epoch = 0, 4 do
  if epoch > 0 then
    for b = 0, 2 do
      local xb, yb = {}, {}
      for i = 1, 4 do xb[i], yb[i] = x[4 * b + i], y[4 * b + i] end
      net:train_step(xb, yb, "softmax_ce", opt)
    end
  end
  bp.log_weights(net, epoch)
  local w, m = net:param("conv1.weight")[1][1][2][2], net:param("bn1.running_mean")
  print(string.format("%d %.17g %.17g %.17g", epoch, w, m[1], m[8]))
end
]]

TestSnapshots = {}

function TestSnapshots:test_readme_queries_give_the_network_s_own_values()
  local db, script = TMP .. "/snap.db", write("cnn.lua", CNN)
  local out, err, code = backprop("run --db " .. db .. " --seed 4 " .. script)
  lu.assertEquals(code, 0, err)
  local want = {}
  for line in out:gmatch("[^\n]+") do want[#want + 1] = line end
  lu.assertEquals(#want, 5)
  -- "the history of the first conv filter's centre weight" (README)
  local centre = query(db, "SELECT s.step, w.value FROM snapshots s, bp_weights(s.data, s.shape) w"
    .. " WHERE s.run_id = 1 AND w.param = 'conv1.weight' AND w.i1 = 1 AND w.i2 = 1"
    .. " AND w.i3 = 2 AND w.i4 = 2 ORDER BY s.step")
  -- "the running mean of batchnorm 1 over training" (README)
  local mean = query(db, "SELECT s.step, w.i1, w.value FROM snapshots s, bp_weights(s.data, s.shape) w"
    .. " WHERE s.run_id = 1 AND w.param = 'bn1.running_mean' ORDER BY s.step, w.i1")
  lu.assertEquals(#centre, 5)
  lu.assertEquals(#mean, 40)
  for e = 0, 4 do
    local step, w, m1, m8 = want[e + 1]:match("^(%d+) (%S+) (%S+) (%S+)$")
    lu.assertEquals(tonumber(step), e)
    local s, v = centre[e + 1]:match("^(%d+),(.*)$")
    lu.assertEquals(tonumber(s), e)
    lu.assertEquals(tonumber(v), tonumber(w))
    lu.assertEquals(mean[8 * e + 1], e .. ",1," .. mean[8 * e + 1]:match("[^,]*$"))
    lu.assertEquals(tonumber(mean[8 * e + 1]:match("[^,]*$")), tonumber(m1))
    lu.assertEquals(tonumber(mean[8 * e + 8]:match("[^,]*$")), tonumber(m8))
  end
  -- the mean starts at zeros and moves; the weight moves
  lu.assertEquals(tonumber(want[1]:match("^%S+ %S+ (%S+)")), 0)
  lu.assertNotEquals(want[5]:match("^%S+ (%S+)"), want[1]:match("^%S+ (%S+)"))
  -- every column of a row, and the value's own name; narrowing by name
  lu.assertEquals(query(db, "SELECT w.layer IS NULL, w.kind, w.name, w.i1, w.i2, w.i3, w.i4"
    .. " FROM snapshots s, bp_weights(s.data, s.shape) w WHERE s.step = 0"
    .. " AND w.name = 'conv1.weight[4,1,3,1]'"), {'1,weight,"conv1.weight[4,1,3,1]",4,1,3,1'})
  lu.assertEquals(query(db, "SELECT w.kind, w.name, w.i1 IS NULL, w.value FROM snapshots s,"
    .. " bp_weights(s.data, s.shape) w WHERE s.step = 4 AND w.param = '2.num_batches_tracked'"),
    {"num_batches_tracked,2.num_batches_tracked,1,12"})
  -- the tensors, in the network's order, with their sizes
  lu.assertEquals(query(db, "SELECT w.param, count(*) FROM snapshots s, bp_weights(s.data, s.shape) w"
    .. " WHERE s.step = 0 GROUP BY w.param ORDER BY min(w.idx)"),
    {"conv1.weight,36", "conv1.bias,4", "2.weight,4", "2.bias,4", "2.running_mean,4",
     "2.running_var,4", "2.num_batches_tracked,1", "6.weight,288", "6.bias,8", "bn1.weight,8",
     "bn1.bias,8", "bn1.running_mean,8", "bn1.running_var,8", "bn1.num_batches_tracked,1",
     "head.weight,24", "head.bias,3"})
  lu.assertEquals(query(db, "SELECT substr(replace(shape, char(10), '|'), 1, 44) FROM snapshots"
    .. " WHERE step = 0"), {"conv1.weight:4x1x3x3|conv1.bias:4|2.weight:4"})
  -- `backprop show` lists them on one line
  local shown = backprop("show 1 --db " .. db)
  lu.assertStrContains(shown, "  net: 5 at steps 0, 1, 2, 3, 4; tensors conv1.weight:4x1x3x3,"
    .. " conv1.bias:4, 2.weight:4, ")
  lu.assertStrContains(shown, ", head.bias:3, f64\n")
end

-- A stack's rows name their tensor too ('1.weight' with i1, i2 its row and
-- column), and a shape of neither form is refused with both forms named.
function TestSnapshots:test_stack_rows_and_bad_shapes()
  local db = TMP .. "/stack.db"
  local script = write("stack.lua", [[
local bp = require "backprop"
local net = bp.net(2):add(3, "sigmoid", {weights = {{1, 2}, {3, 4}, {5, 6}}, bias = {7, 8, 9}}):add(1)
bp.log_weights(net, 0)
]])
  local _, err, code = backprop("run --db " .. db .. " " .. script)
  lu.assertEquals(code, 0, err)
  lu.assertEquals(query(db, "SELECT w.name, w.param, w.i1, w.i2 IS NULL, w.value FROM snapshots s,"
    .. " bp_weights(s.data, s.shape) w WHERE w.param = '1.weight' AND w.i1 = 3"),
    {"w131,1.weight,3,0,5", "w132,1.weight,3,0,6"})
  lu.assertEquals(query(db, "SELECT w.param, w.i1, w.i2 IS NULL, w.value FROM snapshots s,"
    .. " bp_weights(s.data, s.shape) w WHERE w.name = 'b12'"), {"1.bias,2,1,8"})
  local rows, qerr = S.try_query(db, "SELECT * FROM bp_weights(zeroblob(8), 'x')")
  lu.assertNil(rows)
  lu.assertStrContains(qerr, "bp_weights: shape 'x' is not a list of widths like '2,3,1' nor of"
    .. " tensors like 'fc1.weight:3x2'")
  rows, qerr = S.try_query(db, "SELECT * FROM bp_weights(zeroblob(8), 'a:2x')")
  lu.assertNil(rows)
  lu.assertStrContains(qerr, "bp_weights: shape 'a:2x' is not a list of tensors like"
    .. " 'fc1.weight:3x2' (one a line)")
  rows, qerr = S.try_query(db, "SELECT * FROM bp_weights(zeroblob(12), 'a:2')")
  lu.assertNil(rows)
  lu.assertStrContains(qerr, "bp_weights: data holds 12 bytes, but shape a:2 needs 16 (float64) or 8 (float32)")
end

S.finish()
