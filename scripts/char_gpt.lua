-- char_gpt.lua: a small character GPT as a script, on the fortunes corpus
-- (Debian's fortunes package: every file without an extension under
-- /usr/share/games/fortunes, sorted by name, concatenated; about 2.6 MB of
-- about 114 distinct bytes), as scripts/char_rnn.lua is char-rnn.
-- The model is nanoGPT's, small: token and position embeddings of 128
-- added, two pre-norm blocks (x + attn(ln_1(x)), then x + mlp(ln_2(x)),
-- 4-head causal self-attention and a 4x GELU MLP), a final layer norm and
-- a linear head to the vocabulary; sequences of block = 64 bytes, batches
-- of 32, Adam at 1e-3, the gradients' norm clipped at 1. Modules carry
-- nanoGPT's names (wte, wpe, h0.attn.c_attn.weight, h0.mlp.c_fc, ln_f,
-- lm_head), so a state_dict maps onto them by name. The corpus is read by
-- bp.data.text (ids in C memory, the last 10% kept for validation); each
-- iteration takes a batch of sequences at offsets drawn from the run's
-- generator in the training part (inputs, and as targets the bytes one
-- step ahead); the loss is softmax cross-entropy over every step.
-- train_loss is logged every iteration, val_loss (nats per character, on
-- val_batches batches spread over the validation part) and a sample of
-- 200 characters every `every` iterations and at the end, the sample also
-- into the run log's texts table (bp.log_text), at its iteration.
--
--   backprop run scripts/char_gpt.lua [iters=5000] [embed=128] [heads=4]
--                [layers=2] [block=64] [batch=32] [lr=0.001] [clip=1]
--                [every=500] [temperature=1] [dtype=float32]
--                [max_val_loss=0] [val_batches=8]
--                [dir=/usr/share/games/fortunes]
-- With max_val_loss > 0 the script fails (error, exit status 1) when the
-- last validation loss is above it (tests/scripts.cmake's short run).
local bp = require "backprop"

local P = bp.params{iters = 5000, embed = 128, heads = 4, layers = 2, block = 64, batch = 32,
                    lr = 0.001, clip = 1.0, every = 500, temperature = 1.0, dtype = "float32",
                    max_val_loss = 0.0, val_batches = 8, dir = "/usr/share/games/fortunes"}

local corpus, err = bp.data.text(P.dir)
if not corpus then error(err .. " (install Debian's fortunes package)") end
local T, B, V, C = P.block, P.batch, corpus:vocab_size(), P.embed
if corpus:batches(B, T, "val") < 1 then
  error(string.format("the corpus in %s is too short for a batch of %d x %d", P.dir, B, T))
end
print(string.format("corpus: %d bytes, %d distinct; %d for training, %d for validation",
  #corpus, V, corpus:length("train"), corpus:length("val")))

-- Block k (from 0), pre-norm: x + attn(ln_1(x)), then x + mlp(ln_2(x)).
local function block(k)
  local h = "h" .. k
  return bp.sequential{
    bp.residual(bp.sequential{
      bp.layernorm(C, {name = h .. ".ln_1"}),
      bp.attention(C, P.heads, {block = T, name = h .. ".attn"})}),
    bp.residual(bp.sequential{
      bp.layernorm(C, {name = h .. ".ln_2"}),
      bp.linear(C, 4 * C, {name = h .. ".mlp.c_fc"}), bp.gelu(),
      bp.linear(4 * C, C, {name = h .. ".mlp.c_proj"})}),
  }
end

local model = bp.sequential{bp.embedding(V, C, {name = "wte"}), bp.position(T, C, {name = "wpe"})}
for k = 0, P.layers - 1 do model:add(block(k)) end
model:add(bp.layernorm(C, {name = "ln_f"}))
model:add(bp.linear(C, V, {name = "lm_head"}))
local net = bp.net(T, model, {dtype = P.dtype})
print(net)
local opt = bp.optimizer(net, "adam", {lr = P.lr, clip_norm = P.clip})
local ce = bp.loss("softmax_ce")

-- The mean loss per character on val_batches of the validation part's
-- sequential batches, spread evenly over it (the same ones every time).
local val_data
local function validate()
  local count, total = corpus:batches(B, T, "val"), 0
  local n = math.min(P.val_batches, count)
  for v = 1, n do
    val_data = corpus:batch(B, T, {part = "val", index = 1 + (v - 1) * count // n,
                                   into = val_data})
    total = total + net:evaluate(val_data, ce).loss
  end
  return total / n
end

-- n characters drawn by net:sample (in C, from the run's generator), each
-- from the softmax of the last step's scores at the temperature, the
-- window of the block's T before it as input (the causal mask lets the
-- last step see them all); primed with the first T characters of the
-- validation text.
local prime = corpus:batch(1, T, {part = "val", index = 1}):row(1)
local function sample(n)
  return corpus:decode(net:sample{start = prime, length = n, temperature = P.temperature})
end

bp.progress{total = P.iters}
local val, batch
for it = 1, P.iters do
  batch = corpus:batch(B, T, {into = batch})
  local loss = net:train_batch(batch, 1, B, ce, opt)
  bp.log("train_loss", loss, it)
  if it % P.every == 0 or it == P.iters then
    val = validate()
    bp.log("val_loss", val, it)
    print(string.format("iteration %d: train loss %.4f, validation %.4f nats/char", it, loss, val))
    local text = sample(200)
    bp.log_text("sample", text, it) -- the texts table: SQL finds the best run's
    print("sample: " .. text:gsub("\n", "\n        "))
  end
end
if P.max_val_loss > 0 and val > P.max_val_loss then
  error(string.format("validation loss %.4f is above %.4f", val, P.max_val_loss))
end
