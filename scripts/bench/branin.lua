-- branin.lua: the Branin function (2 parameters) as a sweep's objective, its
-- space declared in the script (bp.suggest), for scripts/bench/tpe_search.sh.
-- The minimum is 0.397887, at (-pi, 12.275), (pi, 2.275) and (9.42478, 2.475).
local bp = require "backprop"

local x1 = bp.suggest("x1", "uniform:-5:10", 0.0)
local x2 = bp.suggest("x2", "uniform:0:15", 0.0)
local b, c, t = 5.1 / (4 * math.pi ^ 2), 5 / math.pi, 1 / (8 * math.pi)
local f = (x2 - b * x1 ^ 2 + c * x1 - 6) ^ 2 + 10 * (1 - t) * math.cos(x1) + 10
bp.log("loss", f, 1)
