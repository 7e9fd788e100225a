-- w3.lua: W3, a wide 1024-1024-1024-10 network: how close to OpenBLAS.
--
-- ReLU, softmax cross-entropy, float32, batch 256, SGD lr 0.01, on `steps`
-- batches (20) of synthetic inputs uniform in [0, 1) and random labels.
-- Metric: GFLOP/s, counting 6 x parameters x batch per step (forward 2,
-- backward 4; it overcounts a little, since no one computes the gradient of
-- the network's input), median, min and max of `reps` epochs after one to
-- warm up; against the same run's cblas_sgemm at 1024 x 1024 x 1024 (the
-- ceiling) and PyTorch's same network.
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
local ours = C.stats(C.repeat_timed(C.reps, epoch,
                                    function(t) return flops / t / 1e9 end))
C.report("w3_gflops", ours, "GFLOP/s")
if not C.peers then return end

local sgemm = C.stats(C.numbers(C.run(string.format("%s/blas_floor sgemm 1024 %d %d",
                                C.build, C.threads, C.reps)), "gflops"))
local torch = C.torch("w3", "steps=" .. steps)

C.report("sgemm_gflops", sgemm, "GFLOP/s")
C.report("torch_gflops", torch, "GFLOP/s")
C.figure("w3_over_sgemm", ours.med / sgemm.med, "x")
C.figure("w3_over_torch", ours.med / torch.med, "x")
