-- test_man.lua: the manual pages (LuaUnit). backprop(1) is written by hand,
-- so what keeps it in step with the program is this suite: every command of
-- `backprop --help` has its entry, and every option of each command's usage
-- and help text is an option (an mdoc Fl) of that command's part of the page.
-- backprop-lua(3) is made from README.md (man/readme2man.lua): the
-- conversion is checked on a sample, and the page on the module itself:
-- every function and method it has is named. Both pages render with no
-- warning from groff.
local lu = require "luaunit"

local SRC = os.getenv("BP_SOURCE_DIR") or "."
package.path = SRC .. "/tests/lua/?.lua;" .. SRC .. "/man/?.lua;" .. package.path
local S = require "support"
local R = require "readme2man"
local bp = require "backprop"

local PAGE1 = SRC .. "/man/backprop.1"
local PAGE3 = (os.getenv("BP_BINARY_DIR") or "build") .. "/man/backprop-lua.3"

-- The page's mdoc: for each subsection (.Ss), the commands it has an entry
-- for (.It Nm Cm NAME) and the options it marks with Fl, each as typed
-- (`.Fl -seed` is --seed, `.Fl j` is -j); also every option of the page.
local function parse_mdoc(text)
  local sections, all, cur = {}, {}, {commands = {}, options = {}}
  local macro = "^[A-Z][a-z][a-z]?$"
  for line in text:gmatch("[^\n]+") do
    local ss = line:match("^%.Ss (.*)")
    if ss then
      cur = {name = ss, commands = {}, options = {}}
      sections[#sections + 1] = cur
    end
    local cmd = line:match("^%.It Nm Cm (%l+)")
    if cmd then cur.commands[cmd] = true end
    if line:match("^%.") then
      local flags = false
      for word in line:gmatch("%S+") do
        if word == "Fl" then
          flags = true
        elseif word:match(macro) then
          flags = false
        elseif flags and word:match("^%-?%a[%w-]*$") then
          cur.options["-" .. word], all["-" .. word] = true, true
        end
      end
    end
  end
  return sections, all
end

-- The options a usage or help text names: --long ones, and -x ones of one
-- letter (not -inf, not a negative number).
local function options_of(text)
  local got = {}
  for opt in (" " .. text):gmatch("[%s%[%(|,]%f[-](%-%-%a[%w-]*)") do got[opt] = true end
  for opt in (" " .. text .. " "):gmatch("[%s%[%(|,]%f[-](%-%a)%f[^%w]") do got[opt] = true end
  return got
end

local function sorted(set)
  local t = {}
  for k in pairs(set) do t[#t + 1] = k end
  table.sort(t)
  return t
end

-- The text of a man page as a reader sees it: fonts and escapes removed.
local function plain(roff)
  return (roff:gsub("\\f[BIRP]", ""):gsub("\\%-", "-"):gsub("\\e", "\\"))
end

-- groff's warnings about a page (all of them: -ww), "" when none.
local function groff_warnings(path)
  local p = io.popen(string.format("groff -mandoc -Tutf8 -ww -z %q 2>&1", path))
  local out = p:read("a")
  p:close()
  return out
end

TestManual = {}

function TestManual:test_every_command_has_its_entry_in_its_section()
  local usage, err, code = S.backprop("--help")
  lu.assertEquals(code, 0, err)
  local sections = parse_mdoc(S.slurp(PAGE1))
  local commands = {}
  for name in usage:gmatch("\n  backprop (%l+)") do commands[name] = true end
  lu.assertTrue(commands.run and commands.plot and commands.merge, usage)
  for name in pairs(commands) do
    local found = false
    for _, sec in ipairs(sections) do found = found or sec.commands[name] ~= nil end
    lu.assertTrue(found, "backprop(1) has no entry `.It Nm Cm " .. name .. "`")
  end
end

function TestManual:test_every_option_of_the_usage_text_is_in_the_page()
  local usage = S.backprop("--help")
  local sections, all = parse_mdoc(S.slurp(PAGE1))
  -- The general usage's own options (--help, --version) anywhere in the page.
  for _, opt in ipairs(sorted(options_of(usage:match("\n  backprop %-%-help[^\n]*")))) do
    lu.assertTrue(all[opt] ~= nil, "backprop(1) has no option " .. opt)
  end
  local checked = 0
  for name in usage:gmatch("\n  backprop (%l+)") do
    local help, err, code = S.backprop(name .. " --help")
    lu.assertEquals(code, 0, err)
    local sec
    for _, s in ipairs(sections) do if s.commands[name] then sec = s end end
    lu.assertNotNil(sec, "no entry for " .. name)
    for _, opt in ipairs(sorted(options_of(help))) do
      lu.assertTrue(sec.options[opt] ~= nil, string.format(
        "backprop(1): `backprop %s --help` names %s, which the page's section '%s' lacks",
        name, opt, sec.name))
      checked = checked + 1
    end
  end
  lu.assertTrue(checked > 40, "only " .. checked .. " options found in the help texts")
end

function TestManual:test_the_page_names_the_program_version()
  local version = S.backprop("--version"):match("^backprop (%S+)")
  lu.assertEquals(S.slurp(PAGE1):match("\n%.Os backprop (%S+)\n"), version,
                  "man/backprop.1's .Os line names another version than backprop --version")
end

function TestManual:test_the_option_finder()
  lu.assertEquals(sorted(options_of("run [--seed N] [-j N] -o FILE, --log-y x-y -inf (-v) a|--csv")),
                  {"--csv", "--log-y", "--seed", "-j", "-o", "-v"})
  local sections, all = parse_mdoc(".Ss Plots\n.It Nm Cm plot Ar RUN\n" ..
    ".It Fl o Ar FILE , Fl -output Ar FILE\n.Op Fl -csv | -json\nThe Fl word in text\n")
  lu.assertEquals(sorted(sections[1].options), {"--csv", "--json", "--output", "-o"})
  lu.assertEquals(sorted(all), {"--csv", "--json", "--output", "-o"})
  lu.assertTrue(sections[1].commands.plot)
end

function TestManual:test_pages_render_without_warnings()
  lu.assertEquals(groff_warnings(PAGE1), "")
  lu.assertEquals(groff_warnings(PAGE3), "")
end

-- README's Markdown, converted line by line.
function TestManual:test_readme_conversion()
  local md = {
    "## The run log", "", "A *trial* is `bp.run_id()`, see [the lecture](x.md).",
    "More on the next line: `ON DELETE", "CASCADE` \u{2192} **done**.", "",
    "![a picture](docs/x.png)", "", "```lua", ".starts with a dot -- \\n", "```", "",
    "### Schema", "| table | columns | what |", "| --- | --- | --- |",
    "| `runs` | `id`, `name` | one run |", "| x | | y |", "",
    "| fn | what |", "| --- | --- |", "| `bp.seed([n])` | reseeds |", "",
    "- an item", "  going on", "- `-j N`",
  }
  lu.assertEquals(R.convert(md), {
    '.SH "THE RUN LOG"', ".PP",
    "A \\fItrial\\fR is \\fBbp.run_id()\\fR, see the lecture.",
    "More on the next line: \\fBON DELETE", "CASCADE\\fR \\[u2192] \\fBdone\\fR.",
    ".PP", ".RS 4", ".nf", "\\&.starts with a dot \\-\\- \\en", ".fi", ".RE",
    '.SS "Schema"',
    ".TP", "\\fBruns\\fR", "\\fIcolumns\\fR: \\fBid\\fR, \\fBname\\fR; \\fIwhat\\fR: one run",
    ".TP", "x", "\\fIwhat\\fR: y",
    ".TP", "\\fBbp.seed([n])\\fR", "reseeds",
    ".IP \\(bu 2", "an item", "going on", ".IP \\(bu 2", "\\fB\\-j N\\fR",
  })
end

-- Every function of the module and every method of its objects is named in
-- backprop-lua(3) as README's tables name them: bp.f, net:m, opt:m, d:m,
-- loss:m.
function TestManual:test_the_lua_page_names_every_function()
  local page = plain(S.slurp(PAGE3))
  local missing = {}
  local function need(name)
    if not page:find(name, 1, true) then missing[#missing + 1] = name end
  end
  for k in pairs(bp) do need("bp." .. k) end
  local net = bp.net(2):add(1)
  local objects = {
    net = net,
    opt = bp.optimizer(net, "sgd", {lr = 0.1}),
    d = bp.data({{1, 2}}, {{3}}),
    loss = bp.loss("mse"),
  }
  local count = 0
  for prefix, obj in pairs(objects) do
    local index = getmetatable(obj).__index
    lu.assertEquals(type(index), "table", prefix)
    for k in pairs(index) do
      if not k:match("^__") then need(prefix .. ":" .. k); count = count + 1 end
    end
  end
  lu.assertTrue(count > 50, "only " .. count .. " methods")
  table.sort(missing)
  lu.assertEquals(missing, {}, "README.md (hence backprop-lua(3)) does not name these")
end

S.finish()
