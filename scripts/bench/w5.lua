-- w5.lua: W5, issue 25's CNN (scripts/fashion_cnn.lua's network) on
-- synthetic 28x28 images.
--
-- conv 1->32 3x3 padding 1, ReLU, max pool 2; conv 32->64 3x3 padding 1,
-- ReLU, max pool 2; flatten; dropout 0.25; linear 3136->128, ReLU; linear
-- 128->10; softmax cross-entropy, Adam lr 1e-3, float32, batch 64, shuffled
-- each epoch; the loop is net:fit's, in C. Data: W2's IDX files
-- (results/bench_data/w2, 60,000 random images / 256, random labels), of
-- which the first `n` (default 60,000: a whole epoch; n=6400 runs a tenth of
-- it on a busy machine, and every figure is then of those n images). Metric:
-- seconds per epoch of n images (median, min and max of `reps` epochs after
-- 20 steps to warm up; and the same in the process's CPU time), against:
--   PyTorch: the same network, data, batch and loop (randperm, index, step),
--     in its best configuration (common.lua's C.torch);
--   the floor: build/blas_floor dnnl w5, only the epoch's products, each
--     layer's as GEMM calls on the whole batch at oneDNN's dnnl_sgemm speed
--     (split as the team splits a dense step at 2 threads);
--   the peak: build/blas_floor peak, the processor's FMA peak;
--   the parts: build/w5_parts, the share of a step's time in forward,
--     backward, im2col/col2im and the update (and oneDNN's convolution and
--     pooling primitives on the same shapes, beside the path the graph runs).
-- Epochs, the floor and the peak take turns, one of each per repetition.
-- Also the peak resident set of both processes, and the load average.
--
--   backprop run --db results/bench.db scripts/bench/w5.lua threads=1 [n=6400]
local bp = require "backprop"
local C = dofile("scripts/bench/common.lua")
local n = bp.param("n", 60000)
local prefix = C.idx_data("results/bench_data/w2", 60000, 28, 10, 1)
print(string.format("W5 cnn: issue 25's CNN, float32, batch 64, Adam, %d images an epoch, "
                    .. "%d thread(s), %s", n, C.threads, C.machine()))

local d = C.load_idx(prefix, 10, "float32")
if n < #d then
  local part = d:slice(1, n)
  d:close()
  d = part
end
local warm = d:slice(1, 20 * 64)
bp.seed(1)
local net = bp.net({1, 28, 28}, bp.sequential{
  bp.conv2d(1, 32, 3, {padding = 1}), bp.relu(), bp.maxpool2d(2),
  bp.conv2d(32, 64, 3, {padding = 1}), bp.relu(), bp.maxpool2d(2),
  bp.flatten(), bp.dropout(0.25),
  bp.linear(64 * 7 * 7, 128), bp.relu(),
  bp.linear(128, 10),
}, {dtype = "float32"})
local opt = bp.optimizer(net, "adam", {lr = 0.001})
local function epoch(data)
  net:fit{data = data, loss = "softmax_ce", optimizer = opt, batch = 64, epochs = 1,
          shuffle = true, epoch_log = false}
end
epoch(warm) -- 20 steps: buffers, pages, oneDNN's kernels
local load0 = C.load()
local plain, floor, peak, peak_cpu, cpu = {}, {}, {}, {}, {}
for r = 1, C.reps do
  local t0, c0 = bp.clock(), os.clock()
  epoch(d)
  plain[r] = bp.clock() - t0
  cpu[r] = os.clock() - c0
  if C.peers then
    floor[#floor + 1] = C.limit("dnnl w5", "seconds", n)
    peak[r], peak_cpu[r] = C.limit("peak", "gflops")
  end
end
local rss = C.peak_rss_kb()
local ours = C.stats(plain)
C.report("w5_s_per_epoch", ours, "s")
-- the process's CPU time an epoch (every thread's): what a loaded machine
-- moves least, beside the wall clock's figure
C.report("w5_cpu_s_per_epoch", C.stats(cpu), "s")
if not C.peers then return end

local load1 = C.load()
local torch = C.torch("w5", "idx=" .. prefix .. " n=" .. n)
local load2 = C.load()
-- the epoch's products: forward, dW and dx of each layer (no dx of the
-- first conv), per image (blas_floor's w5_flops)
local flops = 2.0 * n * (3 * (32 * 9 * 784 + 64 * 288 * 196 + 128 * 3136 + 10 * 128)
                         - 32 * 9 * 784)
local fl = #floor > 0 and C.stats(floor)
if fl then C.report("floor_dnnl_s_per_epoch", fl, "s") end
local pk = C.stats(peak)
C.report("peak_gflops", pk, "GFLOP/s")
C.report("peak_cpu_gflops", C.stats(peak_cpu), "GFLOP/s")
C.report("torch_s_per_epoch", torch, "s")
C.figure("w5_over_torch", ours.med / torch.med, "x")
if fl then
  C.figure("w5_over_floor_dnnl", ours.med / fl.med, "x")
  C.figure("floor_dnnl_over_peak", flops / fl.med / 1e9 / pk.med, "x")
end
C.figure("products_gflops", flops / ours.med / 1e9, "GFLOP/s")
C.figure("torch_products_gflops", flops / torch.med / 1e9, "GFLOP/s")
C.figure("peak_rss_mb", rss / 1024, "MB")
C.figure("torch_peak_rss_mb", torch.fields.peak_rss_kb / 1024, "MB")
C.figure("rss_over_torch", rss / torch.fields.peak_rss_kb, "x")
C.figure("load_start", load0, "")
C.figure("load_after_ours", load1, "")
C.figure("load_end", load2, "")
