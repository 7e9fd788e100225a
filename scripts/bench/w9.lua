-- w9.lua: W9, issue 26's character GPT (scripts/char_gpt.lua's network and
-- step) on the fortunes corpus.
--
-- Token and position embeddings of 128, two pre-norm blocks of 4-head
-- causal self-attention and a 4x GELU MLP, a final layer norm, a linear
-- head to the vocabulary; float32, block 64, batch 32, Adam lr 1e-3, the
-- gradients' norm clipped at 1. An iteration is what char_gpt.lua's loop
-- does: a batch at offsets drawn from the generator, forward, loss,
-- backward, clipping and the step (net:train_batch). Metric: milliseconds
-- per iteration (median, min and max of `reps` runs of `steps` iterations,
-- after 5 to warm up), against PyTorch 1.13 (torch_bench.py w9: the same
-- model as nanoGPT writes it for a PyTorch without
-- scaled_dot_product_attention, the same corpus, batch, optimiser and
-- clipping) in its best configuration (common.lua's C.torch); the peak
-- resident set of both processes, and the load average. The issue's
-- target: at most 0.7x PyTorch's time at 1 thread. With learn=N (3000 in
-- the issue) both sides then train a fresh model N iterations and report
-- the validation loss as char_gpt.lua measures it (8 of the validation
-- part's sequential batches, spread evenly), and their ratio: the issue
-- asks for ours within 2% of PyTorch's.
--
--   backprop run --db results/bench.db scripts/bench/w9.lua threads=1 [steps=20]
--                [learn=3000]
local bp = require "backprop"
local C = dofile("scripts/bench/common.lua")
local steps = bp.param("steps", 20)
local learn = bp.param("learn", 0)
local dir = bp.param("dir", "/usr/share/games/fortunes")
local corpus = assert(bp.data.text(dir))
local T, B, E, V = 64, 32, 128, corpus:vocab_size()
print(string.format("W9 char-gpt: embeddings %d, 2 blocks of 4 heads, block %d, batch %d, "
                    .. "float32, Adam, clip 1, %d thread(s), %s", E, T, B, C.threads,
                    C.machine()))

local function block(k)
  return bp.sequential{
    bp.residual(bp.sequential{bp.layernorm(E), bp.attention(E, 4, {block = T, name = "h" .. k .. ".attn"})}),
    bp.residual(bp.sequential{bp.layernorm(E), bp.linear(E, 4 * E), bp.gelu(), bp.linear(4 * E, E)})}
end
local net, opt
local function fresh()
  bp.seed(1)
  net = bp.net(T, bp.sequential{bp.embedding(V, E), bp.position(T, E), block(0), block(1),
                                bp.layernorm(E), bp.linear(E, V)}, {dtype = "float32"})
  opt = bp.optimizer(net, "adam", {lr = 0.001, clip_norm = 1})
end
fresh()
local ce = bp.loss("softmax_ce")
local batch, loss
local function iterations(n)
  for _ = 1, n do
    batch = corpus:batch(B, T, {into = batch})
    loss = net:train_batch(batch, 1, B, ce, opt)
  end
end
iterations(5) -- buffers, pages, oneDNN's kernels
local load0 = C.load()
local ms = C.repeat_timed(C.reps, function() iterations(steps) end,
                          function(s) return s / steps * 1000 end)
local rss = C.peak_rss_kb()
local ours = C.stats(ms)
C.report("w9_ms_per_iter", ours, "ms")
C.figure("last_loss", loss, "nats")
if not C.peers then return end
local load1 = C.load()
local torch = C.torch("w9", string.format("dir=%s steps=%d", dir, steps))
local load2 = C.load()
C.report("torch_ms_per_iter", torch, "ms")
C.figure("torch_last_loss", torch.fields.last_loss, "nats")
C.figure("w9_over_torch", ours.med / torch.med, "x")
C.figure("peak_rss_mb", rss / 1024, "MB")
C.figure("torch_peak_rss_mb", torch.fields.peak_rss_kb / 1024, "MB")
C.figure("load_start", load0, "")
C.figure("load_after_ours", load1, "")
C.figure("load_end", load2, "")

if learn > 0 then
  fresh()
  iterations(learn)
  C.learn_figures("w9", dir, learn, net, corpus, B, T, ce)
end
