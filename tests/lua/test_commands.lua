-- test_commands.lua: the command line as a user types it (LuaUnit), each
-- command run as a process: --help wherever it is asked, and what issue 18
-- found rough (runs --status, rm's ranges and confirmation, export's
-- parameters and JSON).
local lu = require "luaunit"

local SRC = os.getenv("BP_SOURCE_DIR") or "."
package.path = SRC .. "/tests/lua/?.lua;" .. package.path
local S = require "support"

local function run(args) return S.backprop(args) end

-- The commands and subcommands `backprop --help` lists ("sweep show"), in
-- its order: the table of cli/main.c, read as a user reads it.
local function commands()
  local out = run("--help")
  local list, seen = {}, {}
  for line in out:gmatch("[^\n]+") do
    local name, sub = line:match("^  backprop (%l+) (%l+) ")
    local full = sub and name .. " " .. sub or line:match("^  backprop (%l+)")
    if full and not seen[full] then
      seen[full] = true
      list[#list + 1] = full
    end
  end
  return list
end

TestHelp = {}

-- Every command and subcommand answers --help and -h with its own usage,
-- wherever among its arguments it comes, without doing anything else (no
-- database opened, no SQL run, no script started).
function TestHelp:test_every_command_answers_help_anywhere()
  local list = commands()
  lu.assertTrue(#list >= 13, table.concat(list, ", "))
  local found_sub = false
  for _, name in ipairs(list) do
    found_sub = found_sub or name == "sweep show"
    local head = "usage:\n  backprop " .. name .. " "
    local forms = {name .. " --help", name .. " -h", "help " .. name, name .. " --help 3"}
    if name ~= "lua" then -- after `lua FILE`, the arguments are the file's
      forms[#forms + 1] = name .. " --db /nonexistent/x.db --help"
      forms[#forms + 1] = name .. " 3 --help"
    end
    for _, form in ipairs(forms) do
      local out, err, code = run(form)
      lu.assertEquals(code, 0, form .. ": " .. err)
      lu.assertEquals(err, "", form)
      lu.assertEquals(out:sub(1, #head), head, form)
      lu.assertTrue(#out > 100, form .. " says little:\n" .. out)
    end
  end
  lu.assertTrue(found_sub, "sweep show is not listed")
end

-- What the issue found: query ran --help as SQL, show took it for a run id,
-- run called it an unknown option, sweep show too.
function TestHelp:test_the_forms_the_issue_found()
  for _, form in ipairs({"query --help", "query --csv --help", "query --json -h",
                         "show --help", "run --help", "run --seed 3 --help",
                         "sweep show --help", "sweep show 2 --csv --help",
                         "export 1 --csv --help", "plot 1 --metric loss --help"}) do
    local out, err, code = run(form)
    local name = form:match("^(%l+ show)") or form:match("^(%l+)")
    lu.assertEquals(code, 0, form .. ": " .. err)
    lu.assertStrContains(out, "usage:\n  backprop " .. name .. " ", form)
  end
  -- A subcommand's help is its own: sweep show's does not start a sweep's.
  local out = run("sweep show --help")
  lu.assertNotStrContains(out, "--prune")
  lu.assertStrContains(out, "--csv")
end

-- After `lua FILE`, the arguments are the file's own, --help too; and
-- after "--" nothing is an option of backprop's.
function TestHelp:test_a_scripts_own_help_is_its_own()
  local f = S.write("args.lua", "print(table.concat(arg, ' '))\n")
  local out, err, code = run("lua " .. f .. " --help -h")
  lu.assertEquals(code, 0, err)
  lu.assertEquals(out, "--help -h\n")
  local _, err2, code2 = run("show -- --help")
  lu.assertEquals(code2, 1)
  lu.assertNotStrContains(err2, "usage")
end

-- Issue 18's everyday commands, as a user types them: rm's ranges and its
-- refusal off a terminal, export's comment lines and JSON, plot's options.
TestEveryday = {}

-- A fresh run log of n runs of a script logging loss = x / s and val_loss
-- = x / s + 0.1 at steps 1..5.
local function runs_of(n)
  local db = S.TMP .. "/everyday.db"
  os.remove(db); os.remove(db .. "-wal"); os.remove(db .. "-shm")
  local script = S.write("every.lua", 'local bp = require "backprop"\n' ..
    'local x = bp.param("x", 1)\n' ..
    'for s = 1, 5 do bp.log("loss", x / s, s); bp.log("val_loss", x / s + 0.1, s) end\n')
  for x = 1, n do
    local _, err, code = run(string.format("run --quiet --db %s %s x=%d", db, script, x))
    lu.assertEquals(code, 0, err)
  end
  return db
end

local function ids(db)
  return table.concat(S.query(db, "SELECT id FROM runs ORDER BY id"), ",")
end

function TestEveryday:test_rm_ranges_lists_and_yes()
  local db = runs_of(6)
  local bad = {
    ["5-3"] = "backprop: rm: range '5-3' runs backwards: write 3-5\n",
    ["3-"] = "backprop: rm: range '3-' wants its last id: 3-N\n",
    ["3,,4"] = "backprop: rm: '3,,4' is not an id, a range or a list: 3, 3-5, 3,7-9\n",
    ["9-12"] = "backprop: " .. db .. ": no run in 9-12; nothing deleted\n",
  }
  for arg, want in pairs(bad) do
    local _, err, code = run(string.format("rm --yes --db %s %s </dev/null", db, arg))
    lu.assertEquals(code, 1, arg)
    lu.assertEquals(err, want)
  end
  -- stdin not a terminal: nothing deleted without --yes
  local out, err, code = run(string.format("rm --db %s 2-3 </dev/null", db))
  lu.assertEquals(code, 1)
  lu.assertEquals(out, "")
  lu.assertEquals(err, "backprop: rm: stdin is not a terminal, so nothing can be asked: add" ..
    " --yes to delete 2 runs; nothing deleted\n")
  lu.assertEquals(ids(db), "1,2,3,4,5,6")
  out, err, code = run(string.format("rm --db %s --yes 2-3,5 3 </dev/null", db))
  lu.assertEquals(code, 0, err)
  lu.assertEquals(out, "deleted run 2\ndeleted run 3\ndeleted run 5\n")
  lu.assertEquals(ids(db), "1,4,6")
  lu.assertEquals(S.query(db, "SELECT count(*) FROM metrics WHERE run_id NOT IN" ..
    " (SELECT id FROM runs)"), {"0"})
  out, err, code = run("check --db " .. db)
  lu.assertEquals(code, 0, err)
  lu.assertStrContains(out, "summaries of 6 metric series agree with their rows")
end

function TestEveryday:test_export_comment_lines_and_json()
  local db = runs_of(1)
  local out, err, code = run("export --db " .. db .. " 1")
  lu.assertEquals(code, 0, err)
  lu.assertStrContains(out, "# run: 1\n# name: every\n# status: completed\n# script: ")
  lu.assertStrContains(out, "\n# param x = 1\nstep,epoch,loss,val_loss\n1,,1,1.1\n2,,0.5,0.6\n")
  out, err, code = run("export --json --db " .. db .. " 1")
  lu.assertEquals(code, 0, err)
  -- read back by SQLite's JSON functions, through backprop query
  local one_line = out:gsub("\n", " ")
  local rows = S.query(db, "SELECT json_valid(j), json_extract(j, '$.run.name'),"
    .. " json_extract(j, '$.params.x'), json_type(j, '$.params.x'),"
    .. " json_extract(j, '$.metrics.val_loss.values[0]'),"
    .. " json_array_length(j, '$.metrics.loss.steps') FROM (SELECT '" .. one_line .. "' AS j)")
  lu.assertEquals(rows, {"1,every,1,integer,1.1,5"})
end

function TestEveryday:test_plot_options()
  local db = runs_of(2)
  local png = S.TMP .. "/every.png"
  os.remove(png)
  local _, err, code = run(string.format("plot --db %s 1 --x batch -o %s", db, png))
  lu.assertEquals(code, 1)
  lu.assertEquals(err, "backprop: plot: unknown --x kind 'batch' (expected step, epoch or time)\n")
  _, err, code = run(string.format("plot --db %s 1 --smooth 1 -o %s", db, png))
  lu.assertEquals(code, 1)
  lu.assertEquals(err, "backprop: plot: --smooth wants a weight from 0 (no smoothing) up to" ..
    " but not 1, as TensorBoard's slider (0.6, 0.9, 0.99), not '1'\n")
  lu.assertNil(io.open(png))
  _, err, code = run(string.format(
    "plot --db %s 1 2 --metric loss --metric val_loss --smooth 0.5 --x time -o %s", db, png))
  lu.assertEquals(code, 0, err)
  lu.assertEquals(S.slurp(png):sub(2, 4), "PNG")
end

-- --x epoch: fit's batch losses and its per-epoch train_loss on one axis;
-- a run that recorded no epoch's end cannot place a per-step metric.
function TestEveryday:test_plot_epoch_axis()
  local db = S.TMP .. "/epochs.db"
  os.remove(db)
  local script = S.write("epochs.lua", [[
local bp = require "backprop"
local d = bp.data({{0, 0}, {0, 1}, {1, 0}, {1, 1}}, {{0}, {1}, {1}, {0}})
local net = bp.net(2):add(3, "tanh"):add(1)
net:log_loss("loss")
net:fit{data = d, loss = "mse", lr = 0.1, batch = 2, epochs = 3}
]])
  local _, err, code = run(string.format("run --quiet --db %s %s", db, script))
  lu.assertEquals(code, 0, err)
  lu.assertEquals(S.query(db, "SELECT group_concat(epoch || ':' || step, ' ') FROM epochs"),
    {"1:2 2:4 3:6"})
  local svg = S.TMP .. "/epochs.svg"
  _, err, code = run(string.format(
    "plot --db %s 1 --metric loss --metric train_loss --x epoch -o %s", db, svg))
  lu.assertEquals(code, 0, err)
  lu.assertStrContains(S.slurp(svg), "epoch")
  local other = runs_of(1)
  _, err, code = run(string.format("plot --db %s 1 --x epoch -o %s", other, svg))
  lu.assertEquals(code, 1)
  lu.assertEquals(err, "backprop: run 1 recorded no epoch's end, which --x epoch needs"
    .. " to place its per-step metric 'loss' (net:fit records them, as bp.log{epoch = n}"
    .. " does)\n")
end

S.finish()
