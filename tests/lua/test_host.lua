-- test_host.lua: the `backprop` command as a user runs it (LuaUnit).
-- Each test starts the real program (BP_EXE) and checks its output, its
-- error text and its exit status.
local lu = require "luaunit"

package.path = (os.getenv("BP_SOURCE_DIR") or ".") .. "/tests/lua/?.lua;" .. package.path
local S = require "support"
local EXE, TMP, write = S.EXE, S.TMP, S.write

-- Runs `backprop ARGS` with a database of the scratch directory.
local function run(args) return S.backprop(args, "BACKPROP_DB=" .. TMP .. "/runs.db") end

TestHost = {}

function TestHost:test_seed_example_prints_the_lecture()
  local out, err, code = run("run scripts/seed_example.lua")
  lu.assertEquals(code, 0, err)
  -- label, exact value printed, the lecture's figure
  local want = {
    {"output", "1.10599", "1.106"},
    {"dLoss/dOutput", "-1.89401", "-1.894"},
    {"dLoss/dw211", "-1.68738", "-1.686"},
    {"new w211", "-0.21313", "-0.213"},
    {"dOutput/do11", "-0.23000", "-0.23"},
    {"do11/dh11", "0.09719", "0.0979"},
    {"dLoss/dw111", "0.04234", "0.0426"},
    {"new w111", "0.49958", "0.499"},
  }
  local pos = 1
  for _, w in ipairs(want) do
    local pat = w[1]:gsub("%p", "%%%0") .. "%s*=%s*" .. w[2]:gsub("%p", "%%%0") .. "%s+lecture: " .. w[3]:gsub("%p", "%%%0")
    local s, e = out:find(pat, pos)
    lu.assertNotNil(s, "missing, or out of order: " .. w[1] .. " in\n" .. out)
    pos = e
  end
  -- the loss falls to nothing
  local last = tonumber(out:match("300%s+([%d.e-]+)"))
  lu.assertTrue(last < 1e-6, out)
end

function TestHost:test_xor_script()
  local out, err, code = run("run scripts/xor.lua")
  lu.assertEquals(code, 0, err)
  lu.assertStrContains(out, "converged at step")
end

function TestHost:test_params_reach_the_script()
  local p = write("p.lua", [[
local bp = require "backprop"
print(bp.param("lr", 0.01), math.type(bp.param("hidden", 4)), bp.param("name", "x"), bp.param("flag", false), bp.param("unset", 7))
]])
  local out, err, code = run("run " .. p .. " lr=0.5 hidden=8 name=abc flag=true")
  lu.assertEquals(code, 0, err)
  lu.assertEquals(out, "0.5\tinteger\tabc\ttrue\t7\n")
end

-- bp.suggest: typed by its spec (a real range a float even for a whole
-- value, int an integer, a choice the default's type), the command line's
-- value checked; the arguments' errors name what is wrong.
function TestHost:test_suggest_types_and_checks()
  local p = write("sg.lua", [[
local bp = require "backprop"
local lr, h = bp.suggest("lr", "uniform:0:2", 1), bp.suggest("h", "int:1:8", 4.0)
local on = bp.suggest("on", "choice:true,false", false)
local w = bp.suggest("w", "16,32,64", 32)
print(lr, math.type(lr), h, math.type(h), on, w, math.type(w))
print(pcall(bp.suggest, "x", "uniform:0:1"))
print(pcall(bp.suggest, "a=b", "uniform:0:1", 0.5))
print(pcall(bp.suggest, "x", "int:1:4:5", 2))
]])
  local out, err, code = run("run --quiet " .. p .. " h=8 on=true w=64")
  lu.assertEquals(code, 0, err)
  local lines = {}
  for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
  lu.assertEquals(lines[1], "1.0\tfloat\t8\tinteger\ttrue\t64\tinteger")
  lu.assertStrContains(lines[2], "bad argument #3 to 'backprop.suggest' (number, string or boolean"
    .. " (the default) expected, got no value)")
  lu.assertStrContains(lines[3], "bad argument #1 to 'backprop.suggest' (a parameter's name (no '=',"
    .. " '?' or space))")
  lu.assertStrContains(lines[4], "bp.suggest: sweep parameter 'x=int:1:4:5': int takes LO:HI")
  out, err, code = run("run --quiet " .. p .. " w=48")
  lu.assertEquals(code, 1)
  lu.assertStrContains(err, "sg.lua:4: parameter w: '48' is not one of 16,32,64")
end

function TestHost:test_bad_params()
  local p = write("q.lua", 'local bp = require "backprop"; local h = bp.param("hidden", 4)\n')
  local _, err, code = run("run " .. p .. " hidden=4.5")
  lu.assertEquals(code, 1)
  lu.assertStrContains(err, "q.lua:1: parameter hidden: '4.5' is not an integer (the default is 4)")
  _, err, code = run("run " .. p .. " hidden=abc")
  lu.assertStrContains(err, "parameter hidden: 'abc' is not a number")
  -- a script that never trains nor logs has done its work: a warning (and a
  -- note of the run), not a failure
  _, err, code = run("run " .. p .. " hiden=3")
  lu.assertEquals(code, 0, err)
  lu.assertStrContains(err, "backprop: warning: parameter given but never read by " .. p .. ": hiden (a typo?)\n")
  _, err, code = run("run " .. p .. " hidden")
  lu.assertEquals(err, "backprop: bad parameter 'hidden': expected key=value\n")
  _, err, code = run("run " .. p .. " hidden=1 hidden=2")
  lu.assertEquals(err, "backprop: parameter 'hidden=2' given twice\n")
end

-- A misspelled parameter stops the run when the script first trains or
-- logs, having read its parameters, before any work; the message names it
-- and what the script read (issue 18). A declaration catches it at once.
function TestHost:test_misspelled_parameter_caught_before_training()
  local db = TMP .. "/typo.db"
  local p = write("typo.lua", [[
local bp = require "backprop"
local lr = bp.param("lr", 0.1)
local hidden = bp.param("hidden", 4)
local net = bp.net(2):add(hidden, "tanh"):add(1)
io.write("built\n")
for _ = 1, 3 do net:train_step({1, 2}, {3}, "half_se", lr) end
io.write("trained\n")
]])
  local out, err, code = S.backprop("run --db " .. db .. " " .. p .. " lr=0.01 hiden=32")
  lu.assertEquals(code, 1)
  lu.assertEquals(out, "built\n")
  lu.assertStrContains(err, "backprop: " .. p .. ":6: parameter given but never read before the "
    .. "script began to train or log: hiden (a typo? it read hidden, lr)\n")
  lu.assertEquals(S.query(db, "SELECT status, (SELECT count(*) FROM metrics) FROM runs"), {"failed,0"})
  lu.assertEquals(S.query(db, "SELECT replace(message, ',', ';') FROM runs"), {p .. ":6: parameter given "
    .. "but never read before the script began to train or log: hiden (a typo? it read hidden; lr)"})
  -- two, and through bp.log and net:fit as well as train_step
  for _, call in ipairs{'bp.log("x", 1)', 'net:fit{data = bp.data({{1, 2}}, {{3}}), loss = "mse", lr = lr}'} do
    S.write("typo2.lua", 'local bp = require "backprop"\nlocal lr = bp.param("lr", 0.1)\n'
      .. 'local net = bp.net(2):add(1)\n' .. call .. '\n')
    _, err, code = S.backprop("run --db " .. db .. " " .. TMP .. "/typo2.lua lr=1 hiden=3 epoch=2")
    lu.assertEquals(code, 1, call)
    lu.assertStrContains(err, "typo2.lua:4: parameters given but never read before the script began "
      .. "to train or log: epoch, hiden (typos? it read lr)\n")
  end
  -- spelled right: it trains
  out, err, code = S.backprop("run --db " .. db .. " " .. p .. " lr=0.01 hidden=32")
  lu.assertEquals(code, 0, err)
  lu.assertEquals(out, "built\ntrained\n")
  -- a declaration of the script's parameters refuses it before anything
  local d = write("declared.lua", [[
local bp = require "backprop"
local P = bp.params{lr = 0.1, hidden = 4, act = "tanh"}
print(P.lr, P.hidden, math.type(P.hidden), P.act)
]])
  out, err, code = S.backprop("run --db " .. db .. " " .. d .. " lr=0.5 hiden=32")
  lu.assertEquals(code, 1)
  lu.assertEquals(out, "")
  lu.assertStrContains(err, "backprop: " .. d .. ":2: parameter given but not declared by "
    .. "bp.params{...}: hiden (a typo? it declares act, hidden, lr)\n")
  out, err, code = S.backprop("run --db " .. db .. " " .. d .. " lr=0.5 hidden=32")
  lu.assertEquals(code, 0, err)
  lu.assertEquals(out, "0.5\t32\tinteger\ttanh\n")
  lu.assertEquals(S.query(db, "SELECT key || '=' || value FROM params WHERE run_id = "
    .. "(SELECT max(id) FROM runs) ORDER BY key"), {"act=tanh", "hidden=32", "lr=0.5"})
end

-- A script that finished its work is never marked failed for a parameter
-- it did not read: completed, with a warning and a note (issue 18).
function TestHost:test_unread_parameter_after_the_work_is_a_warning()
  local db = TMP .. "/late.db"
  local p = write("late.lua", [[
local bp = require "backprop"
print(bp.param("lr", 0.1) * 2)
]])
  local out, err, code = S.backprop("run --db " .. db .. " " .. p .. " lr=0.25 hiden=32")
  lu.assertEquals(code, 0, err)
  lu.assertEquals(out, "0.5\n")
  err = S.slurp(TMP .. "/err") -- with the run's first line
  lu.assertEquals(err, "run 1 started (" .. db .. ")\nbackprop: warning: parameter given but never "
    .. "read by " .. p .. ": hiden (a typo?)\n")
  lu.assertEquals(S.query(db, "SELECT status, message IS NULL FROM runs"), {"completed,1"})
  lu.assertEquals(S.query(db, "SELECT text FROM notes"),
    {"parameter given but never read by " .. p .. ": hiden (a typo?)"})
end

-- The new run's id on stderr at the start, for the next command (issue 18).
function TestHost:test_run_prints_its_id()
  local db = TMP .. "/ids.db"
  local p = write("id.lua", 'local bp = require "backprop"\nio.stderr:write("id ", bp.run_id(), "\\n")\n')
  for id = 1, 2 do
    local out, _, code = S.backprop("run --db " .. db .. " " .. p)
    local err = S.slurp(TMP .. "/err") -- S.backprop takes the run's line off
    lu.assertEquals(code, 0, err)
    lu.assertEquals(out, "")
    lu.assertEquals(err, "run " .. id .. " started (" .. db .. ")\nid " .. id .. "\n")
  end
  -- the default database is named as it was found; --quiet says nothing
  local _, _, code = S.backprop("run " .. p, "BACKPROP_DB=" .. db)
  lu.assertEquals(code, 0)
  lu.assertEquals(S.slurp(TMP .. "/err"), "run 3 started (" .. db .. ")\nid 3\n")
  S.backprop("run --quiet --db " .. db .. " " .. p)
  lu.assertEquals(S.slurp(TMP .. "/err"), "id 4\n")
end

-- Numbers out of range are refused, as "inf" always was, rather than read
-- as inf, 0 or a wrapped-around integer (issue 19).
function TestHost:test_out_of_range_params()
  local p = write("r.lua", 'local bp = require "backprop"\nprint(bp.param("lr", 0.1), bp.param("n", 4), bp.param("x"))\n')
  local function err_of(args)
    local out, err, code = run("run " .. p .. " " .. args)
    lu.assertEquals(code, 1, out)
    return err:match("^[^\n]*")
  end
  local at = "backprop: " .. p .. ":2: parameter "
  lu.assertEquals(err_of("lr=1e309 n=1 x=1"), at .. "lr: '1e309' is out of range: beyond the largest number, about 1.8e308")
  lu.assertEquals(err_of("lr=-1e309 n=1 x=1"), at .. "lr: '-1e309' is out of range: beyond the largest number, about 1.8e308")
  lu.assertEquals(err_of("lr=inf n=1 x=1"), at .. "lr: 'inf' is not a number")
  lu.assertEquals(err_of("lr=1e-400 n=1 x=1"), at .. "lr: '1e-400' is out of range: too small, it would become 0")
  lu.assertEquals(err_of("lr=0x1p5000 n=1 x=1"), at .. "lr: '0x1p5000' is out of range: beyond the largest number, about 1.8e308")
  lu.assertEquals(err_of("lr=1 n=99999999999999999999 x=1"), at .. "n: '99999999999999999999' is out of range: an integer lies in -2^63..2^63-1")
  lu.assertEquals(err_of("lr=1 n=0x1ffffffffffffffff x=1"), at .. "n: '0x1ffffffffffffffff' is out of range: more than 64 bits")
  lu.assertEquals(err_of("lr=1 n=1 x=1e999"), at .. "x: '1e999' is out of range: beyond the largest number, about 1.8e308")
  -- in range: a subnormal is the nearest number; an exact zero is zero
  local out, err, code = run("run " .. p .. " lr=1e-310 n=-9223372036854775808 x=0e-999")
  lu.assertEquals(code, 0, err)
  lu.assertEquals(out, "1e-310\t-9223372036854775808\t0.0\n")
end

function TestHost:test_script_error_has_file_line_and_traceback()
  local p = write("bad.lua", 'local bp = require "backprop"\nlocal net = bp.net(2)\nnet:add(3, "sigmod")\n')
  local out, err, code = run("run " .. p)
  lu.assertEquals(code, 1)
  lu.assertEquals(out, "")
  lu.assertStrContains(err, "backprop: " .. p .. ":3: bad argument #2 to 'add' (unknown activation 'sigmod'")
  lu.assertStrContains(err, "stack traceback:")
  lu.assertStrContains(err, p .. ":3: in main chunk")
end

function TestHost:test_syntax_error_and_missing_script()
  local p = write("syntax.lua", "local x = = 1\n")
  local _, err, code = run("run " .. p)
  lu.assertEquals(code, 1)
  lu.assertStrContains(err, "backprop: " .. p .. ":1: unexpected symbol near '='")
  _, err, code = run("run " .. TMP .. "/nope.lua")
  lu.assertEquals(code, 1)
  lu.assertEquals(err, "backprop: " .. TMP .. "/nope.lua: cannot open: No such file or directory\n")
  -- what is not a regular file is refused for what it is, not read until
  -- memory runs out (/dev/zero never ends; issue 19), by run and by sweep
  for _, c in ipairs{{"/dev/zero", "a character device"}, {TMP, "a directory"}} do
    for _, cmd in ipairs{"run --db " .. TMP .. "/nf.db ", "sweep --db " .. TMP .. "/nf.db "} do
      _, err, code = run(cmd .. c[1] .. (cmd:match("^sweep") and " lr=1,2" or ""))
      lu.assertEquals(code, 1)
      lu.assertEquals(err, "backprop: " .. c[1] .. ": not a regular file (" .. c[2] .. ")\n")
    end
  end
end

function TestHost:test_help_version_and_usage_errors()
  local out, _, code = run("--help")
  lu.assertEquals(code, 0)
  lu.assertStrContains(out, "usage: backprop COMMAND [options] [arguments]")
  lu.assertStrContains(out, "  backprop run [--seed N] [--name NAME] [--db PATH] [--quiet] SCRIPT [key=value ...]\n")
  lu.assertStrContains(out, "  backprop query [--csv | --json] [--timeout S] \"SQL\"\n")
  out, _, code = run("--version")
  lu.assertEquals(code, 0)
  -- the version, then which library makes each number type's products
  -- (oneDNN for float32 in a build with it, OpenBLAS without: bp_gemm.h)
  lu.assertStrMatches(out, "backprop %d+%.%d+%.%d+ %(Lua 5%.4%.%d+%)\n"
                        .. "float64 products: OpenBLAS [%d.]+ %(%w+%)\n"
                        .. "float32 products: [^\n]+\n")
  lu.assertTrue((out:find("float32 products: oneDNN [%d.]+ %(dnnl_sgemm, [%w_]+%)\n")
                 or out:find("float32 products: OpenBLAS [%d.]+ %(%w+%)\n")) ~= nil, out)
  local _, err
  _, err, code = run("frobnicate")
  lu.assertEquals(code, 1)
  lu.assertEquals(err, "backprop: unknown command 'frobnicate' (see backprop --help)\n")
  _, err, code = run("run")
  lu.assertEquals(err, "backprop: run: no script given (usage: backprop run SCRIPT [key=value ...])\n")
  _, err, code = run("run --seed -3 scripts/xor.lua")
  lu.assertEquals(err, "backprop: bad --seed '-3': expected an integer from 0 to 2^63-1\n")
  _, err, code = run("run --frob scripts/xor.lua")
  lu.assertEquals(err, "backprop: run: unknown option '--frob' (see backprop --help)\n")
end

-- Every command answers --help (and `backprop help NAME`) on stdout with
-- exit status 0, its usage first; `backprop --help` lists every one.
function TestHost:test_every_command_answers_help()
  local all = run("--help")
  local names = {"run", "lua", "repl", "sweep", "merge", "runs", "show", "query",
                 "rm", "export", "plot"}
  for _, name in ipairs(names) do
    lu.assertStrContains(all, "\n  backprop " .. name .. " ", name)
    for _, form in ipairs({name .. " --help", name .. " -h", "help " .. name}) do
      local out, err, code = run(form)
      lu.assertEquals(code, 0, form .. ": " .. err)
      lu.assertEquals(err, "", form)
      lu.assertEquals(out:sub(1, 19 + #name), "usage:\n  backprop " .. name .. " ", form)
      lu.assertTrue(#out > 120, form .. " says little:\n" .. out)
    end
  end
  local out, err, code = run("merge --help")
  lu.assertStrContains(out, "merging the same input twice adds nothing")
  _, err, code = run("help frobnicate")
  lu.assertEquals(code, 1)
  lu.assertEquals(err, "backprop: unknown command 'frobnicate' (see backprop --help)\n")
end

function TestHost:test_no_script_can_crash_the_host()
  -- errors of every kind inside C functions come back as Lua errors
  local p = write("abuse.lua", [[
local bp = require "backprop"
local net = bp.net(2):add(3, "relu"):add(2)
local tries = {
  function() net:forward({{1, 2}, "x"}) end,
  function() net:forward(setmetatable({}, {__len = function() return 1e9 end})) end,
  function() net:backward({{1, 2}, {3, 4}, {5, 6}}) end,
  function() net:set_params({1, 2}) end,
  function() net.add(nil, 3) end,
  function() getmetatable(net).__gc(io.stdout) end,
  function() net:weights(1e300) end,
  function() bp.net(2^40) end,
  function() net:add(2^31) end,
  function() net:train_step({1, 2}, {0 / 0, 1}, "mse", 0.1) end,
}
local failed = 0
for _, f in ipairs(tries) do if not pcall(f) then failed = failed + 1 end end
print("raised " .. failed)
net:close()
print(pcall(net.forward, net, {1, 2}))
]])
  local out, err, code = run("run " .. p)
  lu.assertEquals(code, 0, err)
  lu.assertStrContains(out, "raised 10\n")
  lu.assertStrContains(out, "false\tattempt to use a closed net\n")
end

function TestHost:test_seed_option_is_deterministic()
  local a = run("run --seed 7 scripts/xor.lua")
  local b = run("run scripts/xor.lua --seed 7")
  local c = run("run --seed 8 scripts/xor.lua")
  lu.assertEquals(a, b)
  lu.assertNotEquals(a, c)
end


function TestHost:test_progress_line_only_on_a_terminal()
  local p = write("long.lua", [[
local bp = require "backprop"
local net = bp.net(2):add(3, "sigmoid"):add(1)
local x, y, crit = {1, 2}, {3}, bp.loss("half_se")
local n = bp.param("steps", 1)
bp.progress{total = n}
local t0 = bp.clock()
while bp.clock() - t0 < 0.7 do net:train_step(x, y, crit, 0.01) end
print("done")
]])
  -- not a terminal: nothing but the script's own output
  local out, err, code = run("run " .. p .. " steps=100000000")
  lu.assertEquals(code, 0, err)
  lu.assertEquals(out, "done\n")
  lu.assertEquals(err, "")
  -- a terminal (script(1) gives the command one): a line redrawn with \r
  if not os.execute("command -v script >/dev/null") then
    print("  (skipped the terminal half: no script(1) here)")
    return
  end
  local function on_tty(args)
    os.execute(string.format("BACKPROP_DB=%s/runs.db script -qfec %q /dev/null </dev/null >%s/tty",
                             TMP, S.EXE .. " " .. args, TMP))
    return S.slurp(TMP .. "/tty")
  end
  out = on_tty("run " .. p .. " steps=100000000")
  lu.assertStrMatches(out, ".*\rstep %d+/100000000  loss [%d.e+-]+  %d+ steps/s  [%dhms]+ left.*")
  lu.assertStrContains(out, "\27[Kdone") -- print erases the line first
  out = on_tty("run --quiet " .. p)
  lu.assertNotStrContains(out, "steps/s")
  lu.assertStrContains(out, "done")
end

S.finish()
