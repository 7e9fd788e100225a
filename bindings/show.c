/* show.c: bp.show, the printer of the prompt, a function of the module so
 * that scripts, `backprop lua` and a stock lua5.4 have it too.
 *
 * The printer is Lua, kept here as a string: it is the part a user may want
 * to read or change, and in Lua it is a dozen lines where C would need a
 * hundred. It is compiled once, when the module opens. */
#include <lauxlib.h>
#include <lua.h>

#include "lbackprop.h"

/* bp.show(v): one value as text, readably. Networks list their layers (a
 * graph its tree of modules), as tostring does;
 * lists of numbers print on a line; a small matrix (rows of numbers of one
 * length) prints as aligned rows; other tables as {k = v, ...}, two levels
 * deep and forty entries at most. */
static const char *SHOW =
    "local bp = ...\n"
    "local function num(x)\n"
    "  if math.type(x) == 'integer' then return tostring(x) end\n"
    "  return string.format('%.6g', x)\n"
    "end\n"
    "local function matrix(t)\n"
    "  local n, w = #t, nil\n"
    "  if n == 0 or n > 30 then return false end\n"
    "  for k in pairs(t) do if math.type(k) ~= 'integer' or k < 1 or k > n then return false end end\n"
    "  for _, row in ipairs(t) do\n"
    "    if type(row) ~= 'table' then return false end\n"
    "    w = w or #row\n"
    "    if #row ~= w or w == 0 or w > 12 then return false end\n"
    "    for _, x in ipairs(row) do if type(x) ~= 'number' then return false end end\n"
    "  end\n"
    "  return true\n"
    "end\n"
    "local show\n"
    "local function tablestr(t, depth)\n"
    "  if matrix(t) then\n"
    "    local cells, width = {}, 0\n"
    "    for i, row in ipairs(t) do\n"
    "      cells[i] = {}\n"
    "      for j, x in ipairs(row) do cells[i][j] = num(x); width = math.max(width, #cells[i][j]) end\n"
    "    end\n"
    "    local lines = {}\n"
    "    for i, row in ipairs(cells) do\n"
    "      for j, c in ipairs(row) do row[j] = string.rep(' ', width - #c) .. c end\n"
    "      lines[i] = '  ' .. table.concat(row, '  ')\n"
    "    end\n"
    "    return string.format('%d x %d\\n', #t, #t[1]) .. table.concat(lines, '\\n')\n"
    "  end\n"
    "  if depth > 2 then return '{...}' end\n"
    "  local parts, count = {}, 0\n"
    "  for i, v in ipairs(t) do\n"
    "    count = count + 1\n"
    "    if count > 40 then parts[#parts + 1] = '...'; return '{' .. table.concat(parts, ', ') .. '}' end\n"
    "    parts[#parts + 1] = show(v, depth + 1)\n"
    "  end\n"
    "  local keys = {}\n"
    "  for k in pairs(t) do\n"
    "    if not (math.type(k) == 'integer' and k >= 1 and k <= #t) then keys[#keys + 1] = k end\n"
    "  end\n"
    "  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)\n"
    "  for _, k in ipairs(keys) do\n"
    "    count = count + 1\n"
    "    if count > 40 then parts[#parts + 1] = '...'; break end\n"
    "    local key = type(k) == 'string' and k:match('^[%a_][%w_]*$') and k or '[' .. show(k, depth + 1) .. ']'\n"
    "    parts[#parts + 1] = key .. ' = ' .. show(t[k], depth + 1)\n"
    "  end\n"
    "  return '{' .. table.concat(parts, ', ') .. '}'\n"
    "end\n"
    "show = function(v, depth)\n"
    "  depth = depth or 0\n"
    "  local t = type(v)\n"
    "  if t == 'number' then return num(v) end\n"
    "  if t == 'string' then return depth > 0 and string.format('%q', v) or v end\n"
    "  if t == 'table' and not (getmetatable(v) or {}).__tostring then return tablestr(v, depth) end\n"
    "  local mt = getmetatable(v)\n"
    "  return tostring(v)\n"
    "end\n"
    "bp.show = function(...)\n"
    "  local out = {}\n"
    "  for i = 1, select('#', ...) do out[i] = show((select(i, ...))) end\n"
    "  return table.concat(out, '\\t')\n"
    "end\n";

void bp_lua_open_show(lua_State *L) {
    if (luaL_loadstring(L, SHOW) != LUA_OK) lua_error(L);
    lua_pushvalue(L, -2); /* the module table */
    lua_call(L, 1, 0);
}
