-- test_seq.lua: sequence models from Lua (LuaUnit): bp.embedding and
-- bp.lstm as modules (their labels, PyTorch's parameter names and shapes),
-- the loss over a sequence's steps (T class labels a sample, the mean over
-- the B T steps, equal to softmax_ce on the steps as rows), training in
-- both dtypes, and the exact text of every bad input. The gradients
-- themselves are checked by finite differences in tests/test_seq.c.
-- bp.data.text: a corpus's ids, encode and decode, batches as data sets
-- that train_batch and evaluate take (their loss the same as train_step's
-- on the same ids as tables); the state: carried across chunks it gives
-- the outputs of the sequence run in one piece, set and read back as
-- PyTorch's h_n and c_n, and its errors. bp.attention and bp.position in
-- a character GPT: labels, names, bp.gradcheck, the causal mask, training,
-- saving, errors; against PyTorch's nn.MultiheadAttention in float64 where
-- /usr/bin/python3 has torch.
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

-- bp.gru and bp.rnn: PyTorch's labels, names and shapes, a state of h
-- alone, and a character model of each learns.
function test_gru_rnn()
  bp.seed(6)
  local net = bp.net(4, bp.sequential{bp.embedding(6, 3), bp.gru(3, 5, {layers = 2, name = "g"}),
                                      bp.rnn(5, 4, {nonlinearity = "relu", name = "r"}),
                                      bp.linear(4, 6)})
  local text = tostring(net)
  lu.assertStrContains(text, "(g): GRU(3, 5, num_layers=2, batch_first=True)")
  lu.assertStrContains(text, "(r): RNN(5, 4, num_layers=1, nonlinearity='relu', batch_first=True)")
  local shapes = {}
  for _, p in ipairs(net:params_list()) do shapes[p.name] = table.concat(p.shape, "x") end
  lu.assertEquals({shapes["g.weight_ih_l0"], shapes["g.weight_hh_l1"], shapes["g.bias_ih_l1"],
                   shapes["r.weight_ih_l0"], shapes["r.bias_hh_l0"]}, {"15x3", "15x5", "15", "4x5", "4"})
  local x, y = {{1, 2, 3, 4}, {5, 6, 1, 2}}, {{2, 3, 4, 5}, {6, 1, 2, 3}}
  net:forward(x)
  local st = net:state("g")
  lu.assertEquals({#st.h, #st.h[1], #st.h[1][1]}, {2, 2, 5})
  lu.assertNil(st.c)
  for _, dtype in ipairs{"float64", "float32"} do
    for _, m in ipairs{bp.gru(3, 8), bp.rnn(3, 8), bp.rnn(3, 8, {nonlinearity = "relu"})} do
      bp.seed(3)
      local n = bp.net(4, bp.sequential{bp.embedding(6, 3), m, bp.linear(8, 6)}, {dtype = dtype})
      local opt = bp.optimizer(n, "adam", {lr = 0.02})
      local first, last = n:train_step(x, y, "softmax_ce", opt)
      for _ = 1, 150 do last = n:train_step(x, y, "softmax_ce", opt) end
      lu.assertTrue(last < first / 10, dtype .. " " .. tostring(m) .. ": " .. first .. " -> " .. last)
    end
  end
  assert_error_text("field 'nonlinearity': 'tanh' or 'relu' expected, got string",
    function() bp.rnn(3, 4, {nonlinearity = "sigmoid"}) end)
  assert_error_text("unknown option 'nonlinearity' (expected name or layers)",
    function() bp.gru(3, 4, {nonlinearity = "relu"}) end)
end

-- bp.log_text: texts by name and step in the run log (a step defaults to
-- the steps taken), read back by SQL; outside a run it records nothing.
function test_log_text()
  lu.assertFalse(bp.log_text("sample", "nothing"))
  local script = S.write("texts.lua", [[
local bp = require "backprop"
assert(bp.log_text("sample", "ab,cd", 7))
local net = bp.net(1):add(1)
net:train_step({1}, {1}, "mse", 0.1)
assert(bp.log_text("sample", "second"))
]])
  local db = S.TMP .. "/texts.db"
  local _, err, code = S.backprop(string.format("run --db %s %s", db, script))
  lu.assertEquals(code, 0, err)
  lu.assertEquals(S.query(db, "SELECT name, step, text FROM texts ORDER BY id"),
                  {'sample,7,"ab,cd"', "sample,1,second"})
end

-- bp.layernorm: PyTorch's label and names, rows normalised by hand, and
-- a gradient check through the Lua API.
function test_layernorm()
  local net = bp.net({2, 3}, bp.sequential{bp.layernorm(3, {name = "ln"}), bp.flatten(),
                                           bp.linear(6, 2)})
  lu.assertStrContains(tostring(net), "(ln): LayerNorm((3,), eps=1e-05, elementwise_affine=True)")
  lu.assertEquals(net:param("ln.weight"), {1, 1, 1})
  lu.assertEquals(net:param("ln.bias"), {0, 0, 0})
  local ln = bp.net({2, 3}, bp.layernorm(3, {eps = 0.5}))
  local y = ln:forward({1, 2, 3, 5, 5, 5})
  local a = 1 / math.sqrt(2 / 3 + 0.5)
  lu.assertAlmostEquals(y[1], -a, 1e-15)
  lu.assertEquals({y[2], y[4], y[5], y[6]}, {0, 0, 0, 0})
  assert_error_text("field 'eps': a finite number > 0 expected", function() bp.layernorm(3, {eps = 0}) end)
  assert_error_text("layernorm (module '1'): takes rows of 4 features, its input has shape 2x3",
    function() bp.net({2, 3}, bp.layernorm(4)) end)
end

-- A GRU, an RNN (relu) and a layer norm saved and loaded: the same
-- printout, tensors and outputs, in both dtypes.
function test_gru_rnn_layernorm_saved()
  for _, dtype in ipairs{"float64", "float32"} do
    bp.seed(8)
    local net = bp.net(4, bp.sequential{bp.embedding(6, 3), bp.gru(3, 5, {layers = 2}),
                                        bp.layernorm(5), bp.rnn(5, 4, {nonlinearity = "relu"}),
                                        bp.linear(4, 6)}, {dtype = dtype})
    local path = S.TMP .. "/seq_" .. dtype .. ".bpn"
    lu.assertEquals(net:save(path), true)
    local back = assert(bp.load(path))
    lu.assertEquals(tostring(back), tostring(net))
    lu.assertEquals(back:params(), net:params())
    local x = {{1, 2, 3, 4}, {6, 5, 4, 3}}
    lu.assertEquals(back:forward(x), net:forward(x))
  end
end

-- A pre-norm GPT block of C values a step (heads heads, block 8):
-- x + attn(ln(x)), then that + mlp(ln(.)), mlp = linear 4C, gelu, linear C.
local function gpt_block(C, heads, name)
  return bp.sequential{
    bp.residual(bp.sequential{bp.layernorm(C), bp.attention(C, heads, {block = 8, name = name})}),
    bp.residual(bp.sequential{bp.layernorm(C), bp.linear(C, 4 * C), bp.gelu(), bp.linear(4 * C, C)})}
end

local function char_gpt(dtype, T)
  return bp.net(T, bp.sequential{bp.embedding(6, 8, {name = "wte"}), bp.position(8, 8, {name = "wpe"}),
                                 gpt_block(8, 2, "attn"), bp.layernorm(8), bp.linear(8, 6)},
                {dtype = dtype})
end

-- bp.attention and bp.position: labels, nanoGPT's names and shapes,
-- bp.gradcheck through a GPT block, the causal mask seen from Lua (the
-- scores of the steps up to t do not move when later ids change).
function test_attention()
  bp.seed(9)
  local net = char_gpt("float64", 5)
  local text = tostring(net)
  lu.assertStrContains(text, "(wpe): PositionEmbedding(8, 8)")
  lu.assertStrContains(text, "(attn): Attention(8, heads=2, causal=True, block=8)")
  lu.assertEquals(tostring(bp.attention(4, 1, {causal = false})), "Attention(4, heads=1, causal=False)")
  local shapes = {}
  for _, p in ipairs(net:params_list()) do shapes[p.name] = table.concat(p.shape, "x") end
  lu.assertEquals({shapes["wpe.weight"], shapes["attn.c_attn.weight"], shapes["attn.c_attn.bias"],
                   shapes["attn.c_proj.weight"], shapes["attn.c_proj.bias"]},
                  {"8x8", "24x8", "24", "8x8", "8"})
  bp.seed(10)
  local X = {}
  for b = 1, 2 do
    X[b] = {}
    for k = 1, 3 * 4 do X[b][k] = math.sin(b * 7 + k) end
  end
  local ok, worst, where = bp.gradcheck(bp.net({3, 4}, gpt_block(4, 2)), X)
  lu.assertTrue(ok, tostring(worst) .. " at " .. tostring(where))
  -- causal: outputs at steps 1..t the same bits whatever the ids after t
  local x = {{1, 2, 3, 4, 5}, {6, 5, 4, 3, 2}}
  local y0 = net:forward(x)
  local moved = {{1, 2, 6, 6, 6}, {6, 5, 1, 1, 1}}
  local y1 = net:forward(moved)
  for b = 1, 2 do
    for k = 1, 2 * 6 do lu.assertEquals(y1[b][k], y0[b][k]) end
    lu.assertNotEquals(y1[b][2 * 6 + 1], y0[b][2 * 6 + 1])
  end
end

-- A character GPT learns two sequences in both dtypes, and is saved and
-- loaded: the same printout, tensors and outputs.
function test_attention_trains_and_saves()
  local x, y = {{1, 2, 3, 4}, {5, 6, 1, 2}}, {{2, 3, 4, 5}, {6, 1, 2, 3}}
  for _, dtype in ipairs{"float64", "float32"} do
    bp.seed(3)
    local net = char_gpt(dtype, 4)
    local opt = bp.optimizer(net, "adam", {lr = 0.01})
    local first, last = net:train_step(x, y, "softmax_ce", opt)
    for _ = 1, 150 do last = net:train_step(x, y, "softmax_ce", opt) end
    lu.assertTrue(last < first / 10, dtype .. ": " .. first .. " -> " .. last)
    local path = S.TMP .. "/gpt_" .. dtype .. ".bpn"
    lu.assertEquals(net:save(path), true)
    local back = assert(bp.load(path))
    lu.assertEquals(tostring(back), tostring(net))
    lu.assertEquals(back:params(), net:params())
    lu.assertEquals(back:forward(x), net:forward(x))
  end
end

function test_attention_errors()
  assert_error_text("bad argument #2 to 'attention' (4 heads do not divide C = 6 (C % heads must be 0))",
    function() bp.attention(6, 4) end)
  assert_error_text("field 'causal': a boolean expected", function() bp.attention(8, 2, {causal = 1}) end)
  assert_error_text("field 'block': an integer >= 1 expected", function() bp.attention(8, 2, {block = 0}) end)
  assert_error_text("unknown option 'blocks' (expected name, causal or block)",
    function() bp.attention(8, 2, {blocks = 2}) end)
  assert_error_text("attention (module 'attn'): a sequence of 9 steps is longer than its block of 8",
    function() bp.net({9, 8}, bp.attention(8, 2, {block = 8, name = "attn"})) end)
  assert_error_text("position (module 'wpe'): a sequence of 9 steps is longer than its block of 8",
    function() char_gpt("float64", 9) end)
  assert_error_text("attention (module '1'): takes sequences of T x 8, its input has shape 4x6",
    function() bp.net({4, 6}, bp.attention(8, 2)) end)
end

-- bp.attention against PyTorch's nn.MultiheadAttention in float64 on the
-- same tensors (tests/torch_attention.py): the outputs, dLoss/dx and the
-- four gradients, causal and not, 2 heads. Skipped, saying so, where
-- /usr/bin/python3 has no torch (scripts/bench/run_all.sh installs it).
local function flat(v, out)
  out = out or {}
  if type(v) == "number" then out[#out + 1] = v
  else for _, e in ipairs(v) do flat(e, out) end end
  return out
end

local function numbers_line(list)
  local t = {}
  for k, v in ipairs(list) do t[k] = string.format("%.17g", v) end
  return table.concat(t, " ")
end

function test_attention_against_pytorch()
  if not os.execute("/usr/bin/python3 -c 'import torch' 2>/dev/null") then
    print("  (skipped: /usr/bin/python3 has no torch; apt-get install python3-torch)")
    return
  end
  local B, T, C, heads = 2, 5, 8, 2
  for _, causal in ipairs{true, false} do
    bp.seed(12)
    local net = bp.net({T, C}, bp.attention(C, heads, {causal = causal, name = "attn"}))
    local x, dy = {}, {}
    for b = 1, B do
      x[b], dy[b] = {}, {}
      for k = 1, T * C do x[b][k], dy[b][k] = math.sin(3 * b + k), math.cos(b + 2 * k) end
    end
    local y = flat(net:forward(x))
    local dx = flat(net:backward(dy))
    local names = {"attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight", "attn.c_proj.bias"}
    local lines = {string.format("%d %d %d %d %d", B, T, C, heads, causal and 1 or 0), numbers_line(flat(x))}
    for _, n in ipairs(names) do lines[#lines + 1] = numbers_line(flat(net:param(n))) end
    lines[#lines + 1] = numbers_line(flat(dy))
    local inp = S.write("attn_in.txt", table.concat(lines, "\n") .. "\n")
    local outp = S.TMP .. "/attn_out.txt"
    lu.assertTrue(os.execute(string.format("/usr/bin/python3 %s/tests/torch_attention.py %s %s",
                                           S.SRC, inp, outp)))
    local ours = {y, dx}
    for _, n in ipairs(names) do ours[#ours + 1] = flat(net:grad(n)) end
    local k = 0
    for line in io.lines(outp) do
      k = k + 1
      local i = 0
      for v in line:gmatch("%S+") do
        i = i + 1
        local a, w = ours[k][i], tonumber(v)
        lu.assertTrue(math.abs(a - w) <= 1e-12 * (1 + math.abs(w)),
                      string.format("causal=%s output %d[%d]: ours %.17g, PyTorch's %.17g",
                                    tostring(causal), k, i, a, w))
      end
      lu.assertEquals(i, #ours[k])
    end
    lu.assertEquals(k, 6)
  end
end

local CORPUS = "abcabcabdabcabcabdabcabcabd\n"

function test_text_corpus()
  local path = S.write("corpus.txt", CORPUS)
  local c = assert(bp.data.text(path, {val = 0.25}))
  lu.assertEquals(c:vocab(), {"\n", "a", "b", "c", "d"})
  lu.assertEquals(c:vocab_size(), 5)
  lu.assertEquals({#c, c:length("train"), c:length("val")}, {28, 21, 7})
  lu.assertEquals(c:encode("dab\n"), {5, 2, 3, 1})
  lu.assertEquals(c:decode({5, 2, 3, 1}), "dab\n")
  lu.assertEquals(tostring(c), "text corpus of 28 bytes, 5 distinct; 21 for training, 7 for validation")
  -- a list of paths, concatenated; bp.data is still a function to call
  lu.assertEquals(#assert(bp.data.text({path, path})), 56)
  lu.assertEquals(#bp.data({{1}}, {{2}}), 1)
  -- batch 2 of the sequential ones: streams of (21 - 1) / 2 = 10, steps 4..6
  lu.assertEquals(c:batches(2, 3), 3)
  local d = c:batch(2, 3, {index = 2})
  lu.assertEquals({d:row(1)}, {{2, 3, 4}, {3, 4, 2}})
  lu.assertEquals({d:row(2)}, {{3, 4, 2}, {4, 2, 3}})
  -- into: refilled in place; offsets drawn from bp.seed's stream
  bp.seed(7)
  local again = c:batch(2, 3, {into = d})
  lu.assertIs(again, d)
  bp.seed(7)
  local o1, o2 = bp.randint(21 - 3) - 1, bp.randint(21 - 3) - 1
  local ids = c:encode(CORPUS)
  lu.assertEquals({d:row(1)}, {{ids[o1 + 1], ids[o1 + 2], ids[o1 + 3]},
                               {ids[o1 + 2], ids[o1 + 3], ids[o1 + 4]}})
  lu.assertEquals(({d:row(2)})[1][1], ids[o2 + 1])
  lu.assertEquals(c:batch(1, 3, {part = "val", dtype = "float32"}):dtype(), "float32")
  c:close()
  c:close()
  assert_error_text("attempt to use a closed text corpus", function() return #c end)
end

function test_text_errors()
  local path = S.write("small.txt", CORPUS)
  local c = assert(bp.data.text(path, {val = 0.25}))
  local nothing, msg = bp.data.text(S.TMP .. "/none.txt")
  lu.assertNil(nothing)
  lu.assertStrContains(msg, "none.txt")
  lu.assertEquals(select(2, bp.data.text(S.write("empty.txt", ""))), "the corpus is empty (0 bytes)")
  lu.assertEquals(select(2, bp.data.text(S.write("bad.txt", "a\xff"), {utf8 = true})),
                  S.TMP .. "/bad.txt: byte 2 is not UTF-8")
  assert_error_text("the validation part has 7 ids, fewer than a sequence of 7 and its target",
    function() c:batch(1, 7, {part = "val"}) end)
  assert_error_text("batch 4 of the training part, which has 3 of 2 x 3",
    function() c:batch(2, 3, {index = 4}) end)
  assert_error_text("the character 'z' at byte 2 is not in the vocabulary",
    function() c:encode("az") end)
  assert_error_text("id 6 at position 2 is not in 1..5", function() c:decode({1, 6}) end)
  assert_error_text("field 'val': expected a fraction in [0, 1), got 1.0",
    function() bp.data.text(path, {val = 1}) end)
  assert_error_text("unknown option 'parts' (expected part, index, dtype or into)",
    function() c:batch(2, 3, {parts = "val"}) end)
  assert_error_text("field 'into': a data set of 2 x 3, 3 targets, is not one of 2 x 4, 4",
    function() c:batch(2, 4, {into = c:batch(2, 3)}) end)
end

-- A batch as a data set trains as its ids do as tables: the same loss.
function test_text_trains()
  local c = assert(bp.data.text(S.write("train.txt", CORPUS:rep(4))))
  for _, dtype in ipairs{"float64", "float32"} do
    bp.seed(5)
    local V = c:vocab_size()
    local net = bp.net(6, bp.sequential{bp.embedding(V, 4), bp.lstm(4, 8, {name = "rnn"}),
                                        bp.linear(8, V)}, {dtype = dtype})
    local d = c:batch(3, 6)
    local x, y = {}, {}
    for r = 1, 3 do x[r], y[r] = d:row(r) end
    local ce = bp.loss("softmax_ce")
    local want = net:train_step(x, y, ce, 0)
    lu.assertEquals(net:train_batch(d, 1, 3, ce, 0), want)
    lu.assertAlmostEquals(net:evaluate(d, ce).loss, want, 1e-6)
    local opt = bp.optimizer(net, "adam", {lr = 0.02})
    local first = net:train_batch(d, 1, 3, ce, opt)
    local last
    for _ = 1, 100 do last = net:train_batch(c:batch(3, 6, {into = d}), 1, 3, ce, opt) end
    lu.assertTrue(last < first / 2, dtype .. ": " .. first .. " -> " .. last)
  end
end

-- Two chunks of 3 with the state carried give the outputs of the 6 steps
-- in one piece (a net of T = 6 with the same weights).
function test_state_carried()
  bp.seed(9)
  local whole = bp.net({6, 2}, bp.lstm(2, 3, {layers = 2, name = "rnn"}))
  local half = bp.net({3, 2}, bp.lstm(2, 3, {layers = 2, name = "rnn"}))
  half:set_params(whole:params())
  local x = {}
  for k = 1, 12 do x[k] = bp.uniform(-1, 1) end
  local out = whole:forward(x)
  local first = half:forward({table.unpack(x, 1, 6)})
  half:carry_state()
  local second = half:forward({table.unpack(x, 7, 12)})
  for k = 1, 9 do
    lu.assertAlmostEquals(first[k], out[k], 1e-12)
    lu.assertAlmostEquals(second[k], out[9 + k], 1e-12)
  end
  local s, w = half:state("rnn"), whole:state("rnn")
  lu.assertEquals({#s.h, #s.h[1], #s.h[1][1], #s.c}, {2, 1, 3, 2})
  for l = 1, 2 do
    for j = 1, 3 do
      lu.assertAlmostEquals(s.h[l][1][j], w.h[l][1][j], 1e-12)
      lu.assertAlmostEquals(s.c[l][1][j], w.c[l][1][j], 1e-12)
    end
  end
  -- set as values: the same outputs again; nil: zeros, the first chunk's
  lu.assertIs(half:set_state("rnn", half:state("rnn", "initial")), half)
  lu.assertEquals(half:forward({table.unpack(x, 7, 12)}), second)
  half:set_state("rnn", nil)
  lu.assertNil(half:state("rnn", "initial"))
  lu.assertEquals(half:forward({table.unpack(x, 1, 6)}), first)
  half:carry_state()
  half:reset_state()
  lu.assertEquals(half:forward({table.unpack(x, 1, 6)}), first)
  -- the initial state's gradient, after a backward from a given state
  half:set_state("rnn", s)
  half:forward({table.unpack(x, 1, 6)})
  half:backward({1, 0, 0, 0, 0, 0, 0, 0, 0})
  local g = half:state_grad("rnn")
  lu.assertEquals({#g.h, #g.c[2][1]}, {2, 3})
  lu.assertNotEquals(g.h[1][1][1], 0)
end

function test_state_errors()
  bp.seed(9)
  local net = bp.net({3, 2}, bp.lstm(2, 3, {layers = 2, name = "rnn"}))
  assert_error_text("lstm (module 'rnn'): no final state: run a forward first",
    function() net:state("rnn") end)
  assert_error_text("no module named 'lstm'", function() net:state("lstm") end)
  assert_error_text("field 'h': has 1 layers, the module 2",
    function() net:set_state("rnn", {h = {{{0, 0, 0}}}, c = {}}) end)
  assert_error_text("field 'c': layer 2 has 1 rows, expected 2",
    function() net:set_state("rnn", {h = {{{0, 0, 0}, {0, 0, 0}}, {{0, 0, 0}, {0, 0, 0}}},
                                      c = {{{0, 0, 0}, {0, 0, 0}}, {{0, 0, 0}}}}) end)
  net:set_state("rnn", {h = {{{0, 0, 0}, {0, 0, 0}}, {{0, 0, 0}, {0, 0, 0}}},
                        c = {{{0, 0, 0}, {0, 0, 0}}, {{0, 0, 0}, {0, 0, 0}}}})
  assert_error_text("lstm (module 'rnn'): its initial state holds 2 sequences, the batch has 1 (set one of 1, or zeros)",
    function() net:forward({1, 2, 3, 4, 5, 6}) end)
  assert_error_text("lstm (module 'rnn'): no gradient of the state: run a backward first",
    function() net:state_grad("rnn") end)
  local dense = bp.net(2):add(2)
  assert_error_text("the network has no recurrent module", function() dense:carry_state() end)
end

S.finish()
