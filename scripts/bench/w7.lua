-- w7.lua: W7, the run log at scale: 10,000 runs of 10,000 steps (100 M
-- metric rows) answer as fast as ten.
--
-- The database is built once by the generator (not in CI; about 5 minutes
-- and 2.2 GB here):
--
--   cmake --build build --target w7 && build/w7 make build-w7/w7.db
--   backprop run --db results/bench.db scripts/bench/w7.lua db=build-w7/w7.db
--
-- Each figure is the wall time and the CPU time of what a user runs,
-- process start included (`backprop --version` alone is measured too, as
-- the floor): `backprop
-- runs` (the latest 20), `runs --all`, README's best_lr and
-- mean_final_loss_by_hidden through `backprop query`, `sweep show` of a
-- 1,000-trial sweep, and bp_runlog_metric_reduce of the 1,000,000-step
-- series to 2,000 points (timed inside `w7 reduce`, on an open log).
-- Targets (issue 20): each under 100 ms, the series under 50 ms.
local bp = require "backprop"
local C = dofile("scripts/bench/common.lua")
local db = bp.param("db")
local exe = bp.param("exe", C.build .. "/backprop")
-- series=false: the commands alone (for an older build, exe=..., on a copy
-- of the database taken back to its schema, as NOTES.md says)
local series = bp.param("series", true)
print("W7 the run log at scale: " .. db .. ", " .. C.machine())

-- README's query under `-- name: NAME`
local function readme_query(name)
  local text = assert(io.open("README.md")):read("a")
  local sql = text:match("%-%- name: " .. name .. "\n(.-)\n```")
  return (assert(sql, "README has no query " .. name):gsub("%-%-[^\n]*\n", ""):gsub("\n", " "))
end

-- a command's wall and CPU time in ms (`w7 time`: REPS runs, output thrown
-- away), each logged and printed as NAME_ms and NAME_cpu_ms
local function timed(name, ...)
  local args = {}
  for i, a in ipairs{...} do args[i] = string.format("%q", a) end
  local line = C.run(string.format("%s/w7 time %d %s", C.build, C.reps, table.concat(args, " ")))[1]
  local w = {line:match("wall_ms (%S+) min (%S+) max (%S+)")}
  local c = {line:match("cpu_ms (%S+) min (%S+) max (%S+)")}
  C.report(name .. "_ms", {med = tonumber(w[1]), min = tonumber(w[2]), max = tonumber(w[3])}, "ms")
  C.report(name .. "_cpu_ms", {med = tonumber(c[1]), min = tonumber(c[2]), max = tonumber(c[3])}, "ms")
end

timed("w7_start", exe, "--version")
timed("w7_runs", exe, "runs", "--db", db)
timed("w7_runs_all", exe, "runs", "--all", "--db", db)
for _, q in ipairs{"best_lr", "mean_final_loss_by_hidden"} do
  timed("w7_" .. q, exe, "query", "--db", db, readme_query(q))
end
timed("w7_sweep_show", exe, "sweep", "show", "1", "--db", db)

if not series then return end
local long = C.run(string.format("%s query --csv --db %q \"SELECT max(id) FROM runs WHERE name = 'long'\"",
                                 exe, db))[2]
local line = C.run(string.format("%s/w7 reduce %q %s loss 2000 %d", C.build, db, long, C.reps))[1]
local med, lo, hi, buckets = line:match("reduce_ms (%S+) min (%S+) max (%S+) buckets (%d+)")
C.report("w7_reduce_ms", {med = tonumber(med), min = tonumber(lo), max = tonumber(hi)}, "ms")
C.figure("w7_reduce_buckets", tonumber(buckets), "buckets")
