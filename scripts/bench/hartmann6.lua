-- hartmann6.lua: the 6-dimensional Hartmann function on [0, 1]^6 as a sweep's
-- objective, its space declared in the script (bp.suggest), for
-- scripts/bench/tpe_search.sh. The minimum is -3.32237.
local bp = require "backprop"

local alpha = {1.0, 1.2, 3.0, 3.2}
local A = {{10, 3, 17, 3.5, 1.7, 8}, {0.05, 10, 17, 0.1, 8, 14},
           {3, 3.5, 1.7, 10, 17, 8}, {17, 8, 0.05, 10, 0.1, 14}}
local P = {{1312, 1696, 5569, 124, 8283, 5886}, {2329, 4135, 8307, 3736, 1004, 9991},
           {2348, 1451, 3522, 2883, 3047, 6650}, {4047, 8828, 8732, 5743, 1091, 381}}
local x = {}
for j = 1, 6 do x[j] = bp.suggest("x" .. j, "uniform:0:1", 0.5) end
local f = 0
for i = 1, 4 do
  local s = 0
  for j = 1, 6 do s = s + A[i][j] * (x[j] - P[i][j] * 1e-4) ^ 2 end
  f = f - alpha[i] * math.exp(-s)
end
bp.log("loss", f, 1)
