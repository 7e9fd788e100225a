-- w3.lua: W3, a wide 1024-1024-1024-10 network: how close to OpenBLAS.
--
-- ReLU, softmax cross-entropy, float32, batch 256, SGD lr 0.01, on `steps`
-- batches (20) of synthetic inputs uniform in [0, 1) and random labels.
-- Metric: GFLOP/s, counting 6 x parameters x batch per step (forward 2,
-- backward 4; it overcounts a little, since no one computes the gradient of
-- the network's input), median, min and max of `reps` epochs after one to
-- warm up; against, in the same run and taking turns with its epochs, the
-- limit lines of build/blas_floor: only the products of the epoch made by
-- oneDNN's dnnl_sgemm and by OpenBLAS's sgemm (each with its own threads;
-- counted the same way, so that a ratio is one of times), and the
-- processor's FMA peak; and PyTorch's same network in its best
-- configuration. The load average is printed at the start and the end.
--
--   backprop run --db results/bench.db scripts/bench/w3.lua threads=1
local bp = require "backprop"
local C = dofile("scripts/bench/common.lua")
local steps, B = bp.param("steps", 20), 256
local prefix = C.idx_data("results/bench_data/w3", steps * B, 32, 10, 3)
print(string.format("W3 wide: 1024-1024-1024-10, float32, batch 256, %d thread(s), %s",
                    C.threads, C.machine()))

local d = C.load_idx(prefix, 10, "float32")
bp.seed(3)
local net = bp.net(1024, {dtype = "float32"})
net:add(1024, "relu"):add(1024, "relu"):add(10)
local flops = 6 * net:param_count() * B * steps
local function epoch()
  net:fit{data = d, loss = "softmax_ce", lr = 0.01, batch = B, epochs = 1,
          shuffle = false, log = false, epoch_log = false}
end
epoch()
local load0 = C.load()
local times, dnnl, oblas, peak, peak_cpu = {}, {}, {}, {}, {}
for r = 1, C.reps do
  local t0 = bp.clock()
  epoch()
  times[r] = flops / (bp.clock() - t0) / 1e9
  if C.peers then
    local t = C.limit("dnnl w3", "seconds")
    if t then dnnl[#dnnl + 1] = flops / t / 1e9 end
    oblas[r] = flops / C.limit("openblas w3", "seconds") / 1e9
    peak[r], peak_cpu[r] = C.limit("peak", "gflops")
  end
end
local ours = C.stats(times)
C.report("w3_gflops", ours, "GFLOP/s")
if not C.peers then return end

local load1 = C.load()
local torch = C.torch("w3", "steps=" .. steps, true)
local dn, ob, pk = #dnnl > 0 and C.stats(dnnl), C.stats(oblas), C.stats(peak)
if dn then C.report("floor_dnnl_gflops", dn, "GFLOP/s") end
C.report("floor_openblas_gflops", ob, "GFLOP/s")
C.report("peak_gflops", pk, "GFLOP/s")
-- the peak over the probe's CPU time: what a core gives when it runs
C.report("peak_cpu_gflops", C.stats(peak_cpu), "GFLOP/s")
C.report("torch_gflops", torch, "GFLOP/s")
if dn then C.figure("w3_over_floor_dnnl", ours.med / dn.med, "x") end
C.figure("w3_over_floor_openblas", ours.med / ob.med, "x")
C.figure("w3_over_peak", ours.med / pk.med, "x")
C.figure("w3_over_torch", ours.med / torch.med, "x")
C.figure("load_start", load0, "")
C.figure("load_end", load1, "")
