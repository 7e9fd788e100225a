-- test_sample.lua: net:sample from Lua (LuaUnit): the ids it draws equal
-- a loop written here with net:forward and bp.uniform (the window of the
-- last `block` ids, the softmax of the last step's scores at the
-- temperature, the top k, the first cumulative weight above the uniform),
-- so it draws from bp.seed's stream, one uniform an id; the same seed
-- gives the same text and another seed another; corpus:decode takes the
-- result; the training mode and a carried state are left as they were;
-- the exact text of every bad input. The draw's arithmetic by hand is in
-- tests/test_sample.c.
local lu = require "luaunit"
package.path = (os.getenv("BP_SOURCE_DIR") or ".") .. "/tests/lua/?.lua;" .. package.path
local S = require "support"
local bp = require "backprop"

local assert_error_text = S.assert_error_text
local V, T = 6, 5

local function char_net(dtype)
  bp.seed(1)
  local net = bp.net(T, bp.sequential{bp.embedding(V, 4, {name = "emb"}),
                                      bp.lstm(4, 8, {name = "rnn"}),
                                      bp.linear(8, V, {name = "head"})}, {dtype = dtype})
  -- large head weights: scores far from uniform, so a draw depends on its window
  local w = net:param("head.weight")
  for i = 1, V do for j = 1, 8 do w[i][j] = 4 * w[i][j] * math.sqrt(8) end end
  net:set_param("head.weight", w)
  return net
end

-- The loop net:sample runs, written out: n ids after start.
local function by_loop(net, start, n, temperature, top_k, block)
  local seq, out = {table.unpack(start)}, {}
  for _ = 1, n do
    local W = math.min(#seq, block)
    local x = {}
    for t = 1, T do x[t] = seq[#seq - W + math.min(t, W)] end
    local scores = net:forward(x)
    local s, order = {}, {}
    for c = 1, V do s[c], order[c] = scores[(W - 1) * V + c], c end
    table.sort(order, function(a, b) return s[a] > s[b] or (s[a] == s[b] and a < b) end)
    local kept, m = {}, s[order[1]]
    for k = 1, top_k do kept[order[k]] = true end
    local sum = 0
    for c = 1, V do if kept[c] then sum = sum + math.exp((s[c] - m) / temperature) end end
    local u, acc, pick = bp.uniform() * sum, 0, nil
    for c = 1, V do
      if kept[c] then
        acc = acc + math.exp((s[c] - m) / temperature)
        pick = c
        if u < acc then break end
      end
    end
    seq[#seq + 1], out[#out + 1] = pick, pick
  end
  return out
end

local function equals_loop(dtype)
  local net = char_net(dtype)
  for _, o in ipairs{{temperature = 1, top_k = V, block = T}, {temperature = 0.7, top_k = 3, block = 2},
                     {temperature = 1.5, top_k = 1, block = 4}} do
    bp.seed(5)
    local got = net:sample{start = {2, 6}, length = 25, temperature = o.temperature,
                           top_k = o.top_k, block = o.block}
    local after = bp.uniform()
    bp.seed(5)
    net:training(false)
    lu.assertEquals(got, by_loop(net, {2, 6}, 25, o.temperature, o.top_k, o.block))
    net:training(true)
    lu.assertEquals(bp.uniform(), after) -- one uniform an id, from bp.seed's stream
  end
end

function test_equals_loop_float64() equals_loop("float64") end
function test_equals_loop_float32() equals_loop("float32") end

function test_seed_and_defaults()
  local net = char_net("float64")
  bp.seed(8)
  local a = net:sample{start = {1}, length = 40}
  bp.seed(8)
  lu.assertEquals(net:sample{start = {1}, length = 40, temperature = 1, top_k = V, block = T}, a)
  bp.seed(9)
  lu.assertNotEquals(net:sample{start = {1}, length = 40}, a)
  lu.assertEquals(#a, 40)
  for _, id in ipairs(a) do lu.assertTrue(id >= 1 and id <= V) end
  lu.assertEquals(net:sample{start = {1}, length = 0}, {})
end

function test_decode_state_mode()
  local c = assert(bp.data.text(S.write("abc.txt", "abcabcabcaabbccdd\n")))
  local net = bp.net(T, bp.sequential{bp.embedding(c:vocab_size(), 4), bp.gru(4, 4, {name = "g"}),
                                      bp.linear(4, c:vocab_size())})
  -- a carried state of 2 rows, and training mode: both as they were after
  net:forward({{1, 2, 3, 4, 5}, {2, 3, 4, 5, 1}})
  net:carry_state()
  local before = net:state("g", "initial")
  local text = c:decode(net:sample{start = c:encode("ab"), length = 30, top_k = 2})
  lu.assertEquals(#text, 30)
  lu.assertEquals(net:state("g", "initial"), before)
  lu.assertTrue(net:training())
  net:forward({{1, 2, 3, 4, 5}, {2, 3, 4, 5, 1}}) -- still takes batches of 2
end

function test_errors()
  local net = char_net("float64")
  local function fails(text, o) assert_error_text(text, function() return net:sample(o) end) end
  fails("start is empty: sampling needs at least one id", {start = {}, length = 3})
  fails("start id 7 at position 2 is not in 1..6", {start = {1, 7}, length = 3})
  fails("start id 0 at position 1 is not in 1..6", {start = {0}, length = 3})
  fails("length must be >= 0 (got -1)", {start = {1}, length = -1})
  fails("temperature must be a finite number > 0 (got 0)", {start = {1}, length = 1, temperature = 0})
  fails("temperature must be a finite number > 0 (got -0.5)", {start = {1}, length = 1, temperature = -0.5})
  fails("top_k must be in 1..6 (got 0)", {start = {1}, length = 1, top_k = 0})
  fails("top_k must be in 1..6 (got 7)", {start = {1}, length = 1, top_k = 7})
  fails("block must be in 1..5 (got 6)", {start = {1}, length = 1, block = 6})
  fails("block must be in 1..5 (got 0)", {start = {1}, length = 1, block = 0})
  fails("field 'length': integer expected, got nil", {start = {1}})
  fails("field 'length': integer expected, got number", {start = {1}, length = 1.5})
  fails("field 'start': table of ids expected, got string", {start = "ab", length = 1})
  fails("field 'start': position 2 holds a string, not an id", {start = {1, "a"}, length = 1})
  fails("field 'temperature': number expected, got string", {start = {1}, length = 1, temperature = "hot"})
  fails("unknown option 'topk' (expected start, length, temperature, top_k or block)",
        {start = {1}, length = 1, topk = 2})
  assert_error_text("sample needs a network from T ids to T x V scores (V >= 2); this one takes 3 values and gives 2 a sample",
                    function() return bp.net(3):add(2):sample{start = {1}, length = 1} end)
  local soft = bp.net(T, bp.sequential{bp.embedding(V, 4), bp.lstm(4, 4), bp.linear(4, V), bp.softmax()})
  assert_error_text("sample draws from scores (logits or log-probabilities), but the network ends in softmax: remove it",
                    function() return soft:sample{start = {1}, length = 1} end)
end

S.finish()
