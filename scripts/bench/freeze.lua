-- freeze.lua: what freezing saves (issue 22, engine/graph_real.h): W2's
-- data (60,000 synthetic rows of 784 inputs, 10 random classes, float32)
-- through a graph 784-512-512-10 (ReLU, softmax cross-entropy, batch 64,
-- Adam), an epoch of net:fit with nothing frozen, with the first linear
-- frozen (its dW and db not computed, and its node not run backwards: nothing
-- before it trains), and with the first two frozen. Metric: seconds per
-- epoch, median, min and max of `reps` epochs after one to warm up, the
-- three settings taking turns. What to expect: a linear's backward is two
-- products (dW and dx) against the forward's one, so a frozen first layer
-- spares its dW (its dx was never made) and a second one its dW and dx.
--
--   backprop run --db results/bench.db scripts/bench/freeze.lua threads=1
local bp = require "backprop"
local C = dofile("scripts/bench/common.lua")
local prefix = C.idx_data("results/bench_data/w2", 60000, 28, 10, 1)
print(string.format("freeze: 784-512-512-10 graph, float32, batch 64, Adam, %d thread(s), %s",
                    C.threads, C.machine()))
local d = C.load_idx(prefix, 10, "float32")

local settings = {{name = "none", frozen = {}}, {name = "fc1", frozen = {"fc1"}},
                  {name = "fc1_fc2", frozen = {"fc1", "fc2"}}}
local nets = {}
for i, s in ipairs(settings) do
  bp.seed(1)
  local net = bp.net(bp.sequential{bp.linear(784, 512, {name = "fc1"}), bp.relu(),
                                   bp.linear(512, 512, {name = "fc2"}), bp.relu(),
                                   bp.linear(512, 10, {name = "fc3"})}, {dtype = "float32"})
  if #s.frozen > 0 then net:freeze(s.frozen) end
  nets[i] = {net = net, opt = bp.optimizer(net, "adam", {lr = 1e-3})}
end

local function epoch(i)
  local t0 = bp.clock()
  nets[i].net:fit{data = d, loss = "softmax_ce", optimizer = nets[i].opt, batch = 64,
                  epochs = 1, log = false, epoch_log = false}
  return bp.clock() - t0
end

local times = {{}, {}, {}}
for i = 1, #settings do epoch(i) end -- warm-up
for _ = 1, C.reps do
  for i = 1, #settings do table.insert(times[i], epoch(i)) end
end
for i, s in ipairs(settings) do
  local st = C.stats(times[i])
  bp.log("epoch_seconds_" .. s.name, st.med)
  print(string.format("frozen %-8s %.2f s an epoch (min %.2f, max %.2f)", s.name, st.med,
                      st.min, st.max))
end
