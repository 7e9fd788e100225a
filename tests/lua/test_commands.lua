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

S.finish()
