-- w2.lua: W2, a 784-128-64-10 MLP on 60,000 synthetic samples.
--
-- ReLU hidden layers, softmax cross-entropy, float32, mini-batches of 64
-- (shuffled each epoch), SGD lr 0.05. Inputs uniform in [0, 1) (random
-- bytes / 256, written once as IDX files under results/bench_data and
-- loaded by bp.load_idx as float32, as PyTorch's side holds them: no Lua
-- table per row, 188 MB), random labels 0..9,
-- seed 1. The loop is net:fit's, in C. Metric: seconds per epoch (median,
-- min and max of `reps` epochs after one to warm up), against:
--   PyTorch: the same network, data and loop (a randperm, index, step), in
--     its best configuration (common.lua's C.torch);
--   the floors: build/blas_floor dnnl w2 and openblas w2, only the products
--     of the steps, made by oneDNN's dnnl_sgemm and by OpenBLAS's sgemm
--     (each with its own threads);
--   the peak: build/blas_floor peak, the processor's FMA peak, which the
--     floors are held to (GFLOP/s of the products: per row 3 x 109,184
--     multiply-adds, forward, dW and dx, less the first layer's dx);
--   logging: the same epochs with every mini-batch's loss in the run log,
--     committed (bp.flush) before the epoch's clock stops.
-- Plain epochs, logged epochs, the floors' epochs and the peak take turns,
-- one of each per repetition, so that a change in the machine's load
-- (another guest taking a core for a while, which moves the 2-thread
-- figures most) falls on all alike instead of passing for a cost of logging
-- or a distance from the floor. The load average is printed at the start
-- and the end.
-- Also the peak resident set of both processes.
--
--   backprop run --db results/bench.db scripts/bench/w2.lua threads=1
local bp = require "backprop"
local C = dofile("scripts/bench/common.lua")
local prefix = C.idx_data("results/bench_data/w2", 60000, 28, 10, 1)
print(string.format("W2 mlp: 784-128-64-10, float32, batch 64, %d thread(s), %s",
                    C.threads, C.machine()))

local d = C.load_idx(prefix, 10, "float32")
bp.seed(1)
local net = bp.net(784, {dtype = "float32"})
net:add(128, "relu"):add(64, "relu"):add(10)
local function epoch(log)
  net:fit{data = d, loss = "softmax_ce", lr = 0.05, batch = 64, epochs = 1,
          shuffle = true, log = log, epoch_log = false}
end
epoch(false) -- warm-up: buffers, pages, OpenBLAS's threads
local load0 = C.load()
local plain, logged, dnnl, oblas, peak, peak_cpu = {}, {}, {}, {}, {}, {}
for r = 1, C.reps do
  local t0 = bp.clock()
  epoch(false)
  plain[r] = bp.clock() - t0
  t0 = bp.clock()
  epoch("batch_loss")
  assert(bp.flush())
  logged[r] = bp.clock() - t0
  -- one timed epoch after blas_floor's own warm-up one
  if C.peers then
    dnnl[#dnnl + 1] = C.limit("dnnl w2", "seconds")
    oblas[r] = C.limit("openblas w2", "seconds")
    peak[r], peak_cpu[r] = C.limit("peak", "gflops")
  end
end
local rss = C.peak_rss_kb()
local ours, with_log = C.stats(plain), C.stats(logged)
C.report("w2_s_per_epoch", ours, "s")
C.report("w2_logged_s_per_epoch", with_log, "s")
if not C.peers then return end

local load1 = C.load()
local torch = C.torch("w2", "idx=" .. prefix)
-- multiply-adds of an epoch's products: 60,000 rows of 3 forward, 3 dW
-- and 2 dx products
local flops = 2 * 60000 * (3 * (784 * 128 + 128 * 64 + 64 * 10) - 784 * 128)
local ob = C.stats(oblas)
C.report("floor_openblas_s_per_epoch", ob, "s")
local dn = #dnnl > 0 and C.stats(dnnl)
if dn then C.report("floor_dnnl_s_per_epoch", dn, "s") end
local pk = C.stats(peak)
C.report("peak_gflops", pk, "GFLOP/s")
-- the peak over the probe's CPU time: what a core gives when it runs
C.report("peak_cpu_gflops", C.stats(peak_cpu), "GFLOP/s")
C.report("torch_s_per_epoch", torch, "s")
C.figure("w2_over_torch", ours.med / torch.med, "x")
if dn then C.figure("w2_over_floor_dnnl", ours.med / dn.med, "x") end
C.figure("w2_over_floor_openblas", ours.med / ob.med, "x")
C.figure("products_gflops", flops / ours.med / 1e9, "GFLOP/s")
if dn then C.figure("floor_dnnl_over_peak", flops / dn.med / 1e9 / pk.med, "x") end
C.figure("floor_openblas_over_peak", flops / ob.med / 1e9 / pk.med, "x")
C.figure("logging_overhead_pct", (with_log.med / ours.med - 1) * 100, "%")
C.figure("peak_rss_mb", rss / 1024, "MB")
C.figure("torch_peak_rss_mb", torch.fields.peak_rss_kb / 1024, "MB")
C.figure("rss_over_torch", rss / torch.fields.peak_rss_kb, "x")
C.figure("load_start", load0, "")
C.figure("load_end", load1, "")
