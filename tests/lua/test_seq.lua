-- test_seq.lua: sequence models from Lua (LuaUnit): bp.embedding and
-- bp.lstm as modules (their labels, PyTorch's parameter names and shapes),
-- the loss over a sequence's steps (T class labels a sample, the mean over
-- the B T steps, equal to softmax_ce on the steps as rows), training in
-- both dtypes, and the exact text of every bad input. The gradients
-- themselves are checked by finite differences in tests/test_seq.c.
local lu = require "luaunit"
package.path = (os.getenv("BP_SOURCE_DIR") or ".") .. "/tests/lua/?.lua;" .. package.path
local S = require "support"
local bp = require "backprop"

local assert_error_text = S.assert_error_text

local function char_net(dtype, layers)
  return bp.net(4, bp.sequential{bp.embedding(6, 3, {name = "emb"}),
                                 bp.lstm(3, 5, {layers = layers, name = "rnn"}),
                                 bp.linear(5, 6, {name = "head"})}, {dtype = dtype})
end

function test_names_shapes_labels()
  bp.seed(1)
  local net = char_net("float64", 2)
  local want = {{"emb.weight", "6x3"}, {"rnn.weight_ih_l0", "20x3"},
                {"rnn.weight_hh_l0", "20x5"}, {"rnn.bias_ih_l0", "20"},
                {"rnn.bias_hh_l0", "20"}, {"rnn.weight_ih_l1", "20x5"},
                {"rnn.weight_hh_l1", "20x5"}, {"rnn.bias_ih_l1", "20"},
                {"rnn.bias_hh_l1", "20"}, {"head.weight", "6x5"}, {"head.bias", "6"}}
  local list = net:params_list()
  lu.assertEquals(#list, #want)
  for k, p in ipairs(list) do
    lu.assertEquals({p.name, table.concat(p.shape, "x")}, want[k])
  end
  local text = tostring(net)
  lu.assertStrContains(text, "(emb): Embedding(6, 3)")
  lu.assertStrContains(text, "(rnn): LSTM(3, 5, num_layers=2, batch_first=True)")
  lu.assertStrContains(text, "-> 4x6")
end

-- PyTorch's default: every LSTM tensor U(-1/sqrt(H), 1/sqrt(H)).
function test_init_range()
  bp.seed(2)
  local net = bp.net({3, 2}, bp.lstm(2, 16))
  local k, seen = 1 / math.sqrt(16), 0
  for _, p in ipairs(net:params_list()) do
    local v = net:param(p.name)
    for _, r in ipairs(v) do
      for _, x in ipairs(type(r) == "table" and r or {r}) do
        lu.assertTrue(math.abs(x) <= k)
        seen = seen + 1
      end
    end
  end
  lu.assertEquals(seen, 4 * 16 * (2 + 16 + 2))
  local w = net:param("1.weight_hh_l0")
  lu.assertEquals(#w, 64)
  for _, row in ipairs(w) do for _, v in ipairs(row) do lu.assertTrue(math.abs(v) <= k) end end
end

-- train_step's loss with T labels a sample is softmax_ce over the B T
-- steps as rows, to the last bit (lr 0: no update in between).
local function sequence_loss(dtype)
  bp.seed(3)
  local net = char_net(dtype, 1)
  local x, y = {{1, 2, 3, 4}, {5, 6, 1, 2}}, {{2, 3, 4, 5}, {6, 1, 2, 3}}
  local out = net:forward(x)
  local rows, labels = {}, {}
  for b = 1, 2 do
    for t = 1, 4 do
      local r = {}
      for v = 1, 6 do r[v] = out[b][(t - 1) * 6 + v] end
      rows[#rows + 1], labels[#labels + 1] = r, y[b][t]
    end
  end
  local want = bp.loss("softmax_ce"):forward(rows, labels)
  -- float32: the step's loss is summed in float, loss:forward's in double
  local tol = dtype == "float32" and 1e-6 or 0
  lu.assertAlmostEquals(net:train_step(x, y, "softmax_ce", 0), want, tol)
  -- one sample: its T labels as a list
  local one = bp.loss("softmax_ce"):forward({rows[1], rows[2], rows[3], rows[4]}, {2, 3, 4, 5})
  lu.assertAlmostEquals(net:train_step({1, 2, 3, 4}, {2, 3, 4, 5}, "softmax_ce", 0), one, tol)
  -- and it learns: Adam on the same two sequences
  local opt = bp.optimizer(net, "adam", {lr = 0.02})
  local first = net:train_step(x, y, "softmax_ce", opt)
  local last
  for _ = 1, 150 do last = net:train_step(x, y, "softmax_ce", opt) end
  lu.assertTrue(last < first / 10, dtype .. ": " .. first .. " -> " .. last)
end
function test_sequence_loss_float64() sequence_loss("float64") end
function test_sequence_loss_float32() sequence_loss("float32") end

function test_errors()
  bp.seed(4)
  local net = char_net("float64", 1)
  assert_error_text("embedding (module 'emb'): id 7 in sample 2 at step 3 is not in 1..6",
    function() net:forward({{1, 2, 3, 4}, {1, 2, 7, 4}}) end)
  assert_error_text("embedding (module 'emb'): id 0 in sample 1 at step 1 is not in 1..6",
    function() net:train_step({0, 2, 3, 4}, {1, 1, 1, 1}, "softmax_ce", 0.1) end)
  assert_error_text("label 9 in row 6 is not a class in 1..6",
    function() net:train_step({{1, 2, 3, 4}, {1, 2, 3, 4}}, {{1, 1, 1, 1}, {1, 9, 1, 1}},
                              "softmax_ce", 0.1) end)
  assert_error_text("field 'layers': an integer in 1..8 expected",
    function() bp.lstm(3, 5, {layers = 0}) end)
  assert_error_text("unknown option 'layer' (expected name or layers)",
    function() bp.lstm(3, 5, {layer = 2}) end)
  assert_error_text("lstm (module '1'): takes sequences of T x 3, its input has shape 4",
    function() bp.net(4, bp.lstm(3, 5)) end)
  assert_error_text("embedding (module '2'): reads the network's input (its ids), not module '1''s output",
    function() bp.net(4, bp.sequential{bp.identity(), bp.embedding(6, 3)}) end)
end

S.finish()
