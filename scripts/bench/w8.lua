-- w8.lua: W8, issue 26's char-rnn (scripts/char_rnn.lua's network and
-- step) on the fortunes corpus.
--
-- ids -> embedding(V, 128) -> a 2-layer LSTM of 128 -> linear(128, V),
-- float32; an iteration is a batch of 50 sequences of 50 ids at random
-- offsets of the training part (corpus:batch, in C), then
-- net:train_batch: forward, softmax cross-entropy over every step,
-- backward, the gradients' norm clipped at 5, Adam at 2e-3. Metric:
-- milliseconds per iteration, each repetition the mean of `iters`
-- iterations after 5 to warm up (median, min and max of `reps`), against:
--   PyTorch: the same network, corpus, batches and step (nn.Embedding,
--     nn.LSTM(batch_first=True), nn.Linear, cross_entropy,
--     clip_grad_norm_, Adam) in its best configuration (common.lua's
--     C.torch);
--   the floor: build/blas_floor dnnl w8, only the iteration's products
--     with the engine's shapes at oneDNN's dnnl_sgemm speed, and the
--     iteration's FLOPs over that time;
--   the peak: build/blas_floor peak, the processor's FMA peak.
-- At threads=2 the step goes to the net's team (each member its 25
-- sequences through the LSTM and the head, then its rows of the weights'
-- gradients), beside PyTorch's best at 2. Also the peak resident set of
-- both processes and the load.
-- With learn=N (3000 in the issue) both sides then train a fresh model N
-- iterations and report the validation loss as char_rnn.lua measures it
-- (8 of the validation part's sequential batches, spread evenly, as
-- w9.lua), and their ratio: the issue asks for ours within 2% of
-- PyTorch's.
--
--   backprop run --db results/bench.db scripts/bench/w8.lua threads=1 [iters=20]
--                [dir=/usr/share/games/fortunes] [learn=3000]
local bp = require "backprop"
local C = dofile("scripts/bench/common.lua")
local iters = bp.param("iters", 20)
local learn = bp.param("learn", 0)
local dir = bp.param("dir", "/usr/share/games/fortunes")
local B, T, H = 50, 50, 128

local corpus, err = bp.data.text(dir)
if not corpus then error(err .. " (install Debian's fortunes package)") end
local V = corpus:vocab_size()
print(string.format("W8 char-rnn: 2 LSTM layers of %d, %d x %d ids, V = %d, float32, Adam, "
                    .. "clip 5, %d thread(s), %s", H, B, T, V, C.threads, C.machine()))

local net, opt
local function fresh()
  bp.seed(1)
  net = bp.net(T, bp.sequential{
    bp.embedding(V, H), bp.lstm(H, H, {layers = 2}), bp.linear(H, V),
  }, {dtype = "float32"})
  opt = bp.optimizer(net, "adam", {lr = 0.002, clip_norm = 5})
end
fresh()
local ce, batch = bp.loss("softmax_ce"), nil
local function iterate(k)
  local loss
  for _ = 1, k do
    batch = corpus:batch(B, T, {into = batch, dtype = "float32"})
    loss = net:train_batch(batch, 1, B, ce, opt)
  end
  return loss
end
iterate(5) -- buffers, pages, oneDNN's kernels
local load0 = C.load()
local ms, floor, peak = {}, {}, {}
for r = 1, C.reps do
  local t0 = bp.clock()
  iterate(iters)
  ms[r] = (bp.clock() - t0) / iters * 1e3
  if C.peers then
    floor[#floor + 1] = C.limit("dnnl w8", "ms", V)
    peak[r] = C.limit("peak", "gflops")
  end
end
local rss = C.peak_rss_kb()
local ours = C.stats(ms)
C.report("w8_ms_per_iter", ours, "ms")
if not C.peers then return end

local load1 = C.load()
local torch = C.torch("w8", "dir=" .. dir .. " iters=" .. iters)
local load2 = C.load()
-- the iteration's products (blas_floor's w8_flops): per layer the input's
-- forward, dW and dx over all steps, the recurrent forward (T - 1 steps)
-- and dW_hh (T - 1), dh (T steps); the head's three
local G = 4 * H
local flops = 2 * (2 * B * T * G * H * 3 + 2 * B * (T - 1) * G * H * 2 + 2 * B * T * H * G)
              + 3 * 2 * B * T * V * H
local fl = #floor > 0 and C.stats(floor)
C.report("torch_ms_per_iter", torch, "ms")
C.figure("w8_over_torch", ours.med / torch.med, "x")
C.figure("iteration_gflop", flops / 1e9, "GFLOP")
if fl then
  C.report("floor_dnnl_ms_per_iter", fl, "ms")
  C.figure("w8_over_floor_dnnl", ours.med / fl.med, "x")
end
if #peak > 0 then C.report("peak_gflops", C.stats(peak), "GFLOP/s") end
C.figure("products_gflops", flops / ours.med / 1e6, "GFLOP/s")
C.figure("torch_products_gflops", flops / torch.med / 1e6, "GFLOP/s")
C.figure("peak_rss_mb", rss / 1024, "MB")
C.figure("torch_peak_rss_mb", torch.fields.peak_rss_kb / 1024, "MB")
C.figure("load_start", load0, "")
C.figure("load_after_ours", load1, "")
C.figure("load_end", load2, "")

if learn > 0 then
  fresh()
  iterate(learn)
  C.learn_figures("w8", dir, learn, net, corpus, B, T, ce)
end
