-- readme2man.lua: makes the manual page backprop-lua(3) from README.md, whose
-- sections on the Lua API, the run log and sweeps are the documentation of
-- record; the page is built from them (cmake/man.cmake) so that the two can
-- never disagree. It turns the little Markdown README uses into man(7):
-- headings, paragraphs, lists, fenced code, tables (a tagged paragraph per
-- row: the first cell, then the others), `code`, **bold** and links.
--
--   backprop lua man/readme2man.lua README.md OUT.3 VERSION "Section" ...
--
-- tests/lua/test_man.lua converts a sample line by line and checks that the
-- page names every function and method the module has.
local M = {}

-- Characters for roff: backslashes escaped, a minus sign that stays a minus
-- sign (options and negative numbers copy and paste), anything beyond ASCII
-- as groff's \[uXXXX] (troff reads bytes, not UTF-8).
local function escape(s)
  s = s:gsub("\\", "\\e"):gsub("%-", "\\-")
  return (s:gsub("[\192-\244][\128-\191]*", function(c)
    return string.format("\\[u%04X]", utf8.codepoint(c))
  end))
end

-- Text for roff: escaped, `code` and **bold** in bold, *this* in italics,
-- [text](link) as its text.
function M.inline(s)
  s = escape(s)
  s = s:gsub("!%[[^%]]*%]%b()", "")
  s = s:gsub("%[([^%]]*)%]%b()", "%1")
  s = s:gsub("%*%*(.-)%*%*", "\\fB%1\\fR")
  s = s:gsub("^%*(%a[%a ]-)%*", "\\fI%1\\fR"):gsub("([%s(])%*(%a[%a ]-)%*", "%1\\fI%2\\fR")
  s = s:gsub("`([^`]*)`", "\\fB%1\\fR")
  return s
end

-- A line of text that roff would take for a request gets a zero-width
-- character in front.
local function text_line(s)
  if s:match("^[.']") then return "\\&" .. s end
  return s
end

-- The lines of a paragraph, converted together so that `code` may run on
-- from one line to the next.
local function add_text(out, lines)
  for l in (M.inline(table.concat(lines, "\n")) .. "\n"):gmatch("(.-)\n") do
    out[#out + 1] = text_line(l)
  end
end

-- A table row's cells; `\|` is a bar inside a cell, as in GitHub's
-- Markdown (|d| in a formula).
local function cells(line)
  local out = {}
  line = line:gsub("\\|", "\0")
  for cell in line:gsub("^%s*|", ""):gsub("|%s*$", ""):gmatch("([^|]*)") do
    out[#out + 1] = cell:match("^%s*(.-)%s*$"):gsub("%z", "|")
  end
  return out
end

-- A table: per row, .TP with the first cell as the tag and the other cells
-- as the paragraph, each after its column's heading when there are more
-- than two columns.
local function table_rows(out, head, rows)
  for _, row in ipairs(rows) do
    out[#out + 1] = ".TP"
    out[#out + 1] = text_line(M.inline(row[1]))
    local body = {}
    for k = 2, #row do
      if row[k] ~= "" then
        local h = #head > 2 and head[k] ~= "" and ("\\fI" .. M.inline(head[k]) .. "\\fR: ") or ""
        body[#body + 1] = h .. M.inline(row[k])
      end
    end
    out[#out + 1] = text_line(table.concat(body, "; "))
  end
end

-- Converts Markdown lines (a list) to man(7) lines (a list):
-- "## " becomes .SH, "### " .SS.
function M.convert(lines)
  local out, k = {}, 1
  while k <= #lines do
    local line = lines[k]
    local h2, h3 = line:match("^## (.*)"), line:match("^### (.*)")
    if h2 then
      out[#out + 1] = '.SH "' .. M.inline(h2):upper() .. '"'
      k = k + 1
    elseif h3 then
      out[#out + 1] = '.SS "' .. M.inline(h3) .. '"'
      k = k + 1
    elseif line:match("^```") then
      out[#out + 1] = ".PP"
      out[#out + 1] = ".RS 4"
      out[#out + 1] = ".nf"
      k = k + 1
      while k <= #lines and not lines[k]:match("^```") do
        out[#out + 1] = text_line(escape(lines[k]))
        k = k + 1
      end
      out[#out + 1] = ".fi"
      out[#out + 1] = ".RE"
      k = k + 1
    elseif line:match("^|") then
      local head = cells(line)
      local rows = {}
      k = k + 2 -- the heading and the |---| line
      while k <= #lines and lines[k]:match("^|") do
        rows[#rows + 1] = cells(lines[k])
        k = k + 1
      end
      table_rows(out, head, rows)
    elseif line:match("^%- ") then
      local item = {line:sub(3)}
      k = k + 1
      while k <= #lines and lines[k]:match("^  %S") do
        item[#item + 1] = lines[k]:sub(3)
        k = k + 1
      end
      out[#out + 1] = ".IP \\(bu 2"
      add_text(out, item)
    elseif line:match("^%s*$") or line:match("^!%[") then
      k = k + 1
    else
      local para = {}
      repeat
        para[#para + 1] = lines[k]
        k = k + 1
      until k > #lines or not lines[k]:match("%S") or lines[k]:match("^#")
        or lines[k]:match("^```") or lines[k]:match("^|") or lines[k]:match("^%- ")
      out[#out + 1] = ".PP"
      add_text(out, para)
    end
  end
  return out
end

-- The lines of README's "## NAME" section, up to the next "## ".
function M.section(lines, name)
  local got, inside = {}, false
  for _, line in ipairs(lines) do
    local h2 = line:match("^## (.*)")
    if h2 then inside = (h2 == name) end
    if inside then got[#got + 1] = line end
  end
  if #got == 0 then error("README.md has no section '## " .. name .. "'", 0) end
  return got
end

function M.page(readme_lines, version, sections)
  local out = {
    '.\\" backprop-lua.3: made from README.md by man/readme2man.lua; edit README.md.',
    '.TH BACKPROP\\-LUA 3 "" "backprop ' .. version .. '" "backprop"',
    ".SH NAME",
    "backprop\\-lua \\- the Lua API of backprop, its run log and sweeps",
    ".SH SYNOPSIS",
    ".nf",
    'local bp = require "backprop"',
    ".fi",
    ".SH DESCRIPTION",
    "The module \\fBbackprop\\fR is loaded by \\fBbackprop run\\fR, \\fBbackprop lua\\fR and",
    "\\fBbackprop repl\\fR (see \\fBbackprop\\fR(1)), and by a stock \\fBlua5.4\\fR(1),",
    "which finds it installed in its module folder. Outside \\fBbackprop run\\fR the",
    "logging functions record nothing and return false.",
  }
  for _, name in ipairs(sections) do
    for _, l in ipairs(M.convert(M.section(readme_lines, name))) do out[#out + 1] = l end
  end
  out[#out + 1] = ".SH \"SEE ALSO\""
  out[#out + 1] = "\\fBbackprop\\fR(1), \\fBlua5.4\\fR(1), \\fBsqlite3\\fR(1)"
  return out
end

if arg and arg[0] and arg[0]:match("readme2man%.lua$") and arg[1] then
  local src, dst, version = arg[1], arg[2], arg[3]
  local lines = {}
  for l in assert(io.open(src)):lines() do lines[#lines + 1] = l end
  local sections = {}
  for k = 4, #arg do sections[#sections + 1] = arg[k] end
  local f = assert(io.open(dst .. ".tmp", "w"))
  f:write(table.concat(M.page(lines, version, sections), "\n"), "\n")
  assert(f:close())
  assert(os.rename(dst .. ".tmp", dst))
end

return M
