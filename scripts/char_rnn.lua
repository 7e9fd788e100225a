-- char_rnn.lua: Karpathy's char-rnn as a script: an LSTM that learns to
-- write text one byte at a time, on the fortunes corpus (Debian's fortunes
-- package: every file without an extension under /usr/share/games/fortunes,
-- sorted by name, concatenated; about 2.6 MB of about 114 distinct bytes).
-- char-rnn's defaults: two LSTM layers of 128, sequences of 50, batches of
-- 50, Adam at 2e-3, the gradients' norm clipped at 5. Each iteration takes
-- a batch of sequences at offsets drawn from the run's generator in the
-- first 90% of the text (inputs, and as targets the bytes one step ahead);
-- the loss is softmax cross-entropy over every step. train_loss is logged
-- every iteration, val_loss (nats per character, on the last 10%) and a
-- sample of 200 characters every `every` iterations and at the end.
--
--   backprop run scripts/char_rnn.lua [iters=10000] [hidden=128] [layers=2]
--                [seq=50] [batch=50] [lr=0.002] [clip=5] [every=500]
--                [temperature=1] [dtype=float32] [max_val_loss=0]
--                [dir=/usr/share/games/fortunes]
-- With max_val_loss > 0 the script fails (error, exit status 1) when the
-- last validation loss is above it (tests/scripts.cmake's short run).
local bp = require "backprop"

local P = bp.params{iters = 10000, hidden = 128, layers = 2, seq = 50, batch = 50,
                    lr = 0.002, clip = 5.0, every = 500, temperature = 1.0,
                    dtype = "float32", max_val_loss = 0.0, val_batches = 8,
                    dir = "/usr/share/games/fortunes"}

-- The corpus: the files without a dot in their names, sorted, as bytes.
local function read_corpus(dir)
  local names = {}
  local ls = assert(io.popen("ls -1 '" .. dir .. "' 2>/dev/null"))
  for name in ls:lines() do
    if not name:find(".", 1, true) then names[#names + 1] = name end
  end
  ls:close()
  table.sort(names)
  local parts = {}
  for _, name in ipairs(names) do
    local f = io.open(dir .. "/" .. name, "rb")
    if f then parts[#parts + 1] = f:read("a"); f:close() end
  end
  return table.concat(parts)
end

local text = read_corpus(P.dir)
local T, B = P.seq, P.batch
if #text < 10 * (T + 1) * B then
  error(string.format("the corpus in %s has %d bytes, fewer than ten batches of %d x %d "
    .. "(install Debian's fortunes package)", P.dir, #text, B, T + 1))
end

-- The vocabulary: the distinct bytes in order; ids 1..V.
local seen, vocab, id_of = {}, {}, {}
for k = 1, #text do seen[text:byte(k)] = true end
for byte = 0, 255 do
  if seen[byte] then vocab[#vocab + 1] = byte; id_of[byte] = #vocab end
end
local V = #vocab
local ids = {}
for k = 1, #text do ids[k] = id_of[text:byte(k)] end
local n_train = math.floor(#ids * 0.9)
print(string.format("corpus: %d bytes, %d distinct; %d for training, %d for validation",
  #ids, V, n_train, #ids - n_train))

local net = bp.net(T, bp.sequential{
  bp.embedding(V, P.hidden, {name = "embed"}),
  bp.lstm(P.hidden, P.hidden, {layers = P.layers, name = "lstm"}),
  bp.linear(P.hidden, V, {name = "head"}),
}, {dtype = P.dtype})
print(net)
local opt = bp.optimizer(net, "adam", {lr = P.lr, clip_norm = P.clip})
local ce = bp.loss("softmax_ce")

-- B sequences at offsets o: inputs ids[o .. o+T-1], targets one step ahead.
local function batch_at(offsets)
  local x, y = {}, {}
  for b, o in ipairs(offsets) do
    local xb, yb = {}, {}
    for t = 1, T do xb[t], yb[t] = ids[o + t - 1], ids[o + t] end
    x[b], y[b] = xb, yb
  end
  return x, y
end

-- The mean loss per character on val_batches batches spread evenly over
-- the validation text (the same ones every time).
local function validate()
  local span = #ids - n_train - T - 1
  local total, count = 0, 0
  for v = 1, P.val_batches do
    local offsets = {}
    for b = 1, B do
      offsets[b] = n_train + 1 + ((v - 1) * B + b - 1) * span // (P.val_batches * B)
    end
    local x, y = batch_at(offsets)
    local out = net:forward(x)
    local rows, labels = {}, {}
    for b = 1, B do
      for t = 1, T do
        local r = {}
        for c = 1, V do r[c] = out[b][(t - 1) * V + c] end
        rows[#rows + 1], labels[#labels + 1] = r, y[b][t]
      end
    end
    total, count = total + ce:forward(rows, labels), count + 1
  end
  return total / count
end

-- n characters drawn one at a time, each from the softmax of the last
-- step's scores at the temperature, the window of T before it as input;
-- primed with the first T characters of the validation text.
local function sample(n)
  local window, out = {}, {}
  for t = 1, T do window[t] = ids[n_train + t] end
  net:training(false)
  for _ = 1, n do
    local scores = net:forward(window)
    local base, m = (T - 1) * V, -math.huge
    for c = 1, V do m = math.max(m, scores[base + c]) end
    local p, sum = {}, 0
    for c = 1, V do p[c] = math.exp((scores[base + c] - m) / P.temperature); sum = sum + p[c] end
    local u, c = bp.uniform() * sum, 1
    while c < V and u > p[c] do u = u - p[c]; c = c + 1 end
    out[#out + 1] = string.char(vocab[c])
    table.remove(window, 1)
    window[T] = c
  end
  net:training(true)
  return table.concat(out)
end

bp.progress{total = P.iters}
local val
for it = 1, P.iters do
  local offsets = {}
  for b = 1, B do offsets[b] = bp.randint(n_train - T) end
  local x, y = batch_at(offsets)
  local loss = net:train_step(x, y, ce, opt)
  bp.log("train_loss", loss, it)
  if it % P.every == 0 or it == P.iters then
    val = validate()
    bp.log("val_loss", val, it)
    print(string.format("iteration %d: train loss %.4f, validation %.4f nats/char", it, loss, val))
    print("sample: " .. sample(200):gsub("\n", "\n        "))
  end
end
if P.max_val_loss > 0 and val > P.max_val_loss then
  error(string.format("validation loss %.4f is above %.4f", val, P.max_val_loss))
end
