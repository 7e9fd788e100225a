-- test_lengths.lua: sequences of different lengths in one batch from Lua
-- (net:set_lengths, LuaUnit): a padded batch's step loss equal to the
-- mean over the steps that count of the sequences run one by one in
-- networks of their own lengths, in train_step and train_batch; outputs
-- past a length zeros; training with lengths learns; sampling leaves
-- them set; the exact text of every bad input. Gradients, final states
-- and finite differences are in tests/test_lengths.c.
local lu = require "luaunit"
package.path = (os.getenv("BP_SOURCE_DIR") or ".") .. "/tests/lua/?.lua;" .. package.path
local S = require "support"
local bp = require "backprop"

local assert_error_text = S.assert_error_text
local V = 6
local X = {{1, 2, 3, 4, 5}, {5, 6, 1, 1, 1}, {2, 4, 6, 1, 1}}
local Y = {{2, 3, 4, 5, 6}, {6, 1, 3, 3, 3}, {4, 6, 2, 3, 3}}
local LEN = {5, 2, 3}

-- ids of T steps -> embedding -> gru -> (head) linear; the same weights for any T
local function seq_net(T, head, dtype)
  bp.seed(1)
  local m = {bp.embedding(V, 3, {name = "emb"}), bp.gru(3, 4, {layers = 2, name = "rnn"})}
  if head then m[3] = bp.linear(4, V, {name = "head"}) end
  return bp.net(T, bp.sequential(m), {dtype = dtype})
end

local function prefix(row, n) return {table.unpack(row, 1, n)} end

local function one_by_one(dtype)
  local n, want = 0, 0
  for b = 1, 3 do n = n + LEN[b] end
  for b = 1, 3 do
    local one = seq_net(LEN[b], true, dtype)
    want = want + one:train_step(prefix(X[b], LEN[b]), prefix(Y[b], LEN[b]), "softmax_ce", 0) * LEN[b] / n
  end
  local net = seq_net(5, true, dtype)
  lu.assertIs(net:set_lengths(LEN), net)
  local tol = dtype == "float32" and 1e-6 or 1e-14
  lu.assertAlmostEquals(net:train_step(X, Y, "softmax_ce", 0), want, tol)
  -- the same through a data set and train_batch
  lu.assertAlmostEquals(net:train_batch(bp.data(X, Y), 1, 3, bp.loss("softmax_ce"), 0), want, tol)
  -- without lengths: the mean over all 15 steps, another number
  net:set_lengths(nil)
  lu.assertTrue(math.abs(net:train_step(X, Y, "softmax_ce", 0) - want) > 1e-3)
end

function test_one_by_one_float64() one_by_one("float64") end
function test_one_by_one_float32() one_by_one("float32") end

function test_outputs_zero_past_length()
  local net = seq_net(5, false)
  net:set_lengths(LEN)
  local out = net:forward(X)
  for b = 1, 3 do
    local alone = seq_net(LEN[b], false):forward(prefix(X[b], LEN[b]))
    for t = 1, 5 do
      for j = 1, 4 do
        local got = out[b][(t - 1) * 4 + j]
        if t <= LEN[b] then lu.assertAlmostEquals(got, alone[(t - 1) * 4 + j], 1e-14)
        else lu.assertEquals(got, 0) end
      end
    end
  end
  -- the final state: each sequence's after its last step
  local fin = net:state("rnn")
  for b = 1, 3 do
    local one = seq_net(LEN[b], false)
    one:forward(prefix(X[b], LEN[b]))
    lu.assertAlmostEquals(fin.h[2][b], one:state("rnn").h[2][1], 1e-14)
  end
end

function test_learns_and_sampling_keeps_lengths()
  local net = seq_net(5, true)
  net:set_lengths(LEN)
  local opt = bp.optimizer(net, "adam", {lr = 0.05})
  local first = net:train_step(X, Y, "softmax_ce", opt)
  local ids = net:sample{start = {1, 2}, length = 4}
  lu.assertEquals(#ids, 4)
  local last
  for _ = 1, 100 do last = net:train_step(X, Y, "softmax_ce", opt) end
  lu.assertTrue(last < first / 5, first .. " -> " .. last)
  -- still set after sampling: a batch of 2 is refused
  assert_error_text("lengths are set for 3 sequences, the batch has 2 (set 2 lengths, or none)",
                    function() net:forward({X[1], X[2]}) end)
end

function test_errors()
  local net = seq_net(5, true)
  assert_error_text("length 0 of sequence 2 is not in 1..5, the steps of gru (module 'rnn')",
                    function() net:set_lengths{5, 0, 2} end)
  assert_error_text("length 6 of sequence 1 is not in 1..5, the steps of gru (module 'rnn')",
                    function() net:set_lengths{6} end)
  assert_error_text("length -1 of sequence 1 is not in 1..5, the steps of gru (module 'rnn')",
                    function() net:set_lengths{-1} end)
  assert_error_text("length 2 is a number, not an integer", function() net:set_lengths{1, 1.5} end)
  assert_error_text("expected a list of 1 or more lengths", function() net:set_lengths{} end)
  net:set_lengths(LEN)
  assert_error_text("lengths are set for 3 sequences, the batch has 1 (set 1 lengths, or none)",
                    function() net:forward(X[1]) end)
  assert_error_text("lengths are set for 3 sequences: fit and evaluate take whole sequences (set none first)",
                    function() net:evaluate(bp.data(X, Y), "softmax_ce") end)
  assert_error_text("with lengths set, the loss must be over steps: class labels of a T x C output, a label a step",
                    function() net:train_step(X, net:forward(X), "mse", 0) end)
  assert_error_text("the network has no recurrent module", function() bp.net(2):add(2):set_lengths{1} end)
  assert_error_text("lengths need a recurrent module (lstm, rnn or gru): this network has none",
                    function() bp.net(2, bp.linear(2, 2)):set_lengths{1} end)
end

S.finish()
