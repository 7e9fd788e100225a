-- bowl.lua: a loss of two parameters, least at x = 0.3, n = 7, for the
-- model-based sweeps of tests/slurm.sh and tests/sweep_cluster.sh.
local bp = require "backprop"
local x = bp.param("x", 0.0)
local n = bp.param("n", 1)
bp.log("loss", (x - 0.3)^2 + 0.1 * (n - 7)^2, 1)
