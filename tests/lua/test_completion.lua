-- test_completion.lua: the bash completion (completion/backprop.bash), run
-- by a real bash with bash-completion loaded, as a terminal would run it:
-- COMP_WORDS set to a command line, _backprop called, COMPREPLY printed.
-- Commands and options against the program's own help, run and sweep ids
-- against a run log made here, script paths and a script's parameters.
local lu = require "luaunit"

local SRC = os.getenv("BP_SOURCE_DIR") or "."
package.path = SRC .. "/tests/lua/?.lua;" .. package.path
local S = require "support"

local BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"

-- The completions of a command line whose last word is being completed
-- ("backprop run --s"; a trailing space completes an empty word), in the
-- directory `dir` (default the source tree) with `env` before bash; sorted.
local function complete(line, dir, env)
  local words = {}
  for w in line:gmatch("%S+") do words[#words + 1] = w end
  if line:match("%s$") then words[#words + 1] = "" end
  words[1] = S.EXE
  local quoted = {}
  for k, w in ipairs(words) do quoted[k] = string.format("%q", w) end
  S.write("complete.sh", table.concat({
    "source " .. BASH_COMPLETION,
    "source " .. SRC .. "/completion/backprop.bash",
    "compopt() { :; }  # bash allows it only inside a completion bash runs itself",
    "COMP_WORDS=(" .. table.concat(quoted, " ") .. ")",
    "COMP_CWORD=" .. (#words - 1),
    'COMP_LINE="${COMP_WORDS[*]}"',
    "COMP_POINT=${#COMP_LINE}",
    "_backprop",
    'printf "%s\\n" "${COMPREPLY[@]}"',
  }, "\n") .. "\n")
  local p = io.popen(string.format("cd %s && %s bash %s/complete.sh 2>&1", dir or SRC,
    env or "", S.TMP))
  local got = {}
  for l in p:read("a"):gmatch("[^\n]+") do got[#got + 1] = l end
  p:close()
  table.sort(got)
  return got
end

TestCompletion = {}

function TestCompletion:test_commands_from_the_usage()
  local usage = S.backprop("--help")
  local want = {"--help", "--version"}
  for name in usage:gmatch("\n  backprop (%l+)") do
    if want[#want] ~= name then want[#want + 1] = name end
  end
  table.sort(want)
  lu.assertEquals(complete("backprop "), want)
  lu.assertEquals(complete("backprop ru"), {"run", "runs"})
  lu.assertEquals(complete("backprop help sh"), {"show"})
end

function TestCompletion:test_options_of_each_command()
  lu.assertEquals(complete("backprop run --s"), {"--seed", "--sweep"})
  lu.assertEquals(complete("backprop query --"), {"--csv", "--json", "--table", "--timeout"})
  local sweep = complete("backprop sweep -")
  for _, opt in ipairs({"-j", "--jobs", "--trials", "--prune", "--plan", "--shard-db", "-v"}) do
    lu.assertTrue(table.concat(sweep, " "):find(opt, 1, true) ~= nil, opt .. " in " ..
      table.concat(sweep, " "))
  end
  lu.assertEquals(complete("backprop runs --status c"), {"completed", "crashed"})
  lu.assertEquals(complete("backprop sweep --prune "), {"halving", "hyperband", "median"})
  lu.assertEquals(complete("backprop ui --"), {"--host", "--port", "--sql-timeout"})
  lu.assertEquals(complete("backprop ui --host "), {"0.0.0.0", "127.0.0.1", "::1"})
  -- plot's --x kinds; its, rm's and export's new options from their help
  lu.assertEquals(complete("backprop plot 1 --x "), {"epoch", "step", "time"})
  lu.assertEquals(complete("backprop plot 1 --x t"), {"time"})
  lu.assertEquals(complete("backprop plot 1 --smooth "), {})
  lu.assertEquals(complete("backprop plot --s"), {"--size", "--smooth", "--sweep"})
  lu.assertEquals(complete("backprop rm --"), {"--force", "--yes"})
  lu.assertEquals(complete("backprop export --"), {"--csv", "--json"})
end

function TestCompletion:test_run_and_sweep_ids_from_the_run_log()
  local script = S.write("tiny.lua", 'local bp = require "backprop"\nbp.log("loss", bp.param("x", 1))\n')
  local db = S.TMP .. "/ids.db"
  for x = 1, 3 do
    local _, err, code = S.backprop(string.format("run --quiet --db %s %s x=%d", db, script, x))
    lu.assertEquals(code, 0, err)
  end
  -- --db on the command line, then $BACKPROP_DB
  lu.assertEquals(complete("backprop show --db " .. db .. " "), {"1", "2", "3"})
  lu.assertEquals(complete("backprop export ", nil, "BACKPROP_DB=" .. db), {"1", "2", "3"})
  lu.assertEquals(complete("backprop run --resume 2", nil, "BACKPROP_DB=" .. db), {"2"})
  -- the default, results/runs.db under the current directory
  assert(os.execute(string.format("mkdir -p %s/cwd/results && cp %s %s/cwd/results/runs.db",
    S.TMP, db, S.TMP)))
  lu.assertEquals(complete("backprop plot ", S.TMP .. "/cwd", "BACKPROP_DB="), {"1", "2", "3"})
  -- no database: nothing, and no file made
  lu.assertEquals(complete("backprop show ", S.TMP, "BACKPROP_DB="), {})
  lu.assertNil(io.open(S.TMP .. "/results/runs.db"))
  -- sweeps
  local _, err, code = S.backprop(string.format("sweep --db %s -j 1 %s x=1,2", db, script))
  lu.assertEquals(code, 0, err)
  lu.assertEquals(complete("backprop sweep show --db " .. db .. " "), {"1"})
  lu.assertEquals(complete("backprop sweep --resume ", nil, "BACKPROP_DB=" .. db), {"1"})
  lu.assertEquals(complete("backprop plot --sweep ", nil, "BACKPROP_DB=" .. db), {"1"})
  -- a sweep on a cluster
  lu.assertEquals(complete("backprop sweep sta"), {"status"})
  lu.assertEquals(complete("backprop sweep status --shard"), {"--shard-dir"})
  lu.assertEquals(complete("backprop sweep --retry "), {"failed"})
  lu.assertEquals(complete("backprop sweep --slurm x.sh --thro"), {"--throttle"})
end

function TestCompletion:test_scripts_and_their_parameters()
  lu.assertEquals(complete("backprop run scripts/x"), {"scripts/xor.lua"})
  lu.assertEquals(complete("backprop run --seed 3 scripts/seed_"), {"scripts/seed_example.lua"})
  lu.assertEquals(complete("backprop lua tests/lua/test_comp"), {"tests/lua/test_completion.lua"})
  -- the bp.param names of the script, as key=
  lu.assertEquals(complete("backprop run scripts/xor.lua "),
    {"hidden=", "lr=", "steps=", "target="})
  lu.assertEquals(complete("backprop run --name a scripts/xor.lua lr=0.1 h"), {"hidden="})
  lu.assertEquals(complete("backprop sweep -j 2 scripts/sweep_xor.lua l"), {"lr="})
end

S.finish()
