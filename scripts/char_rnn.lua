-- char_rnn.lua: Karpathy's char-rnn as a script: an LSTM that learns to
-- write text one byte at a time, on the fortunes corpus (Debian's fortunes
-- package: every file without an extension under /usr/share/games/fortunes,
-- sorted by name, concatenated; about 2.6 MB of about 114 distinct bytes).
-- char-rnn's defaults: two LSTM layers of 128, sequences of 50, batches of
-- 50, Adam at 2e-3, the gradients' norm clipped at 5. The corpus is read by
-- bp.data.text (ids in C memory, the last 10% kept for validation); each
-- iteration takes a batch of sequences at offsets drawn from the run's
-- generator in the training part (inputs, and as targets the bytes one
-- step ahead), a data set that net:train_batch takes as it is; the loss is
-- softmax cross-entropy over every step. With carry=true the batches are
-- instead char-rnn's own: the training part read as `batch` streams one
-- sequence after another, the LSTM's state carried from each batch to the
-- next (truncated backpropagation through time: the gradient stops at the
-- batch's start). train_loss is logged every iteration, val_loss (nats per
-- character, on val_batches batches spread over the validation part, from
-- a zero state) and a sample of 200 characters every `every` iterations
-- and at the end, the sample also into the run log's texts table
-- (bp.log_text), at its iteration.
--
--   backprop run scripts/char_rnn.lua [iters=10000] [hidden=128] [layers=2]
--                [seq=50] [batch=50] [lr=0.002] [clip=5] [every=500]
--                [temperature=1] [dtype=float32] [max_val_loss=0]
--                [carry=false] [dir=/usr/share/games/fortunes]
-- With max_val_loss > 0 the script fails (error, exit status 1) when the
-- last validation loss is above it (tests/scripts.cmake's short run).
local bp = require "backprop"

local P = bp.params{iters = 10000, hidden = 128, layers = 2, seq = 50, batch = 50,
                    lr = 0.002, clip = 5.0, every = 500, temperature = 1.0,
                    dtype = "float32", max_val_loss = 0.0, val_batches = 8, carry = false,
                    dir = "/usr/share/games/fortunes"}

local corpus, err = bp.data.text(P.dir)
if not corpus then error(err .. " (install Debian's fortunes package)") end
local T, B, V = P.seq, P.batch, corpus:vocab_size()
if corpus:batches(B, T, "val") < 1 then
  error(string.format("the corpus in %s is too short for a batch of %d x %d", P.dir, B, T))
end
print(string.format("corpus: %d bytes, %d distinct; %d for training, %d for validation",
  #corpus, V, corpus:length("train"), corpus:length("val")))

local net = bp.net(T, bp.sequential{
  bp.embedding(V, P.hidden, {name = "embed"}),
  bp.lstm(P.hidden, P.hidden, {layers = P.layers, name = "lstm"}),
  bp.linear(P.hidden, V, {name = "head"}),
}, {dtype = P.dtype})
print(net)
local opt = bp.optimizer(net, "adam", {lr = P.lr, clip_norm = P.clip})
local ce = bp.loss("softmax_ce")

-- The mean loss per character on val_batches of the validation part's
-- sequential batches, spread evenly over it (the same ones every time),
-- each from a zero state.
local val_data
local function validate()
  local count, total = corpus:batches(B, T, "val"), 0
  local n = math.min(P.val_batches, count)
  net:reset_state()
  for v = 1, n do
    val_data = corpus:batch(B, T, {part = "val", index = 1 + (v - 1) * count // n,
                                   into = val_data})
    total = total + net:evaluate(val_data, ce).loss
  end
  return total / n
end

-- n characters drawn by net:sample (in C, from the run's generator), each
-- from the softmax of the scores at the temperature after the window of
-- the T characters before it; primed with the first T characters of the
-- validation text.
local prime = {corpus:batch(1, T, {part = "val", index = 1}):row(1)}
local function sample(n)
  return corpus:decode(net:sample{start = prime[1], length = n, temperature = P.temperature})
end

bp.progress{total = P.iters}
local val
local batch, batches, next_batch = nil, corpus:batches(B, T), 0
for it = 1, P.iters do
  if P.carry then
    if next_batch == 0 then net:reset_state() end
    batch = corpus:batch(B, T, {index = next_batch + 1, into = batch})
    next_batch = (next_batch + 1) % batches
  else
    batch = corpus:batch(B, T, {into = batch})
  end
  local loss = net:train_batch(batch, 1, B, ce, opt)
  if P.carry then net:carry_state() end
  bp.log("train_loss", loss, it)
  if it % P.every == 0 or it == P.iters then
    val = validate()
    next_batch = 0 -- validation left a zero state: the streams start again
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
