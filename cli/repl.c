/* repl.c: the interactive prompt (see bp_repl.h), in the manner of lua.c's
 * doREPL: a line is tried first as an expression ("return " .. line), then as
 * a statement; while the parser says the input ends too early ("<eof>") more
 * lines are read. The printer that shows values is Lua, kept here as a
 * string: it is the part a user may want to read or change, and in Lua it
 * is a dozen lines where C would need a hundred. */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <editline/readline.h>
#include <lauxlib.h>
#include <lua.h>

#include "bp_lua.h"
#include "bp_progress.h"
#include "bp_repl.h"

static int interactive;

/* The progress line while a line runs, as `backprop run` draws it, when
 * stderr is a terminal: net:fit at the prompt shows it and returns its
 * statistics, which bp.show prints as one line. */
static bp_progress progress;
static int show_progress;

/* Tab completion, as Torch7's th had: a name of the globals, a field of
 * a table (`bp.ne` -> `bp.net`), a method of a value (`net:tr` ->
 * `net:train_step`, from its metatable's __index). The candidates come from
 * this Lua function, which looks values up by their path without calling
 * anything but a table's own __index. */
static const char *COMPLETE =
    "local keywords = {'and', 'break', 'do', 'else', 'elseif', 'end', 'false', 'for',\n"
    "  'function', 'goto', 'if', 'in', 'local', 'nil', 'not', 'or', 'repeat', 'return',\n"
    "  'then', 'true', 'until', 'while'}\n"
    "return function(word)\n"
    "  local path, sep, prefix = word:match('^([%a_][%w_.:]-)([.:])([%a_]?[%w_]*)$')\n"
    "  local seen, out = {}, {}\n"
    "  local function add(k, v)\n"
    "    if type(k) == 'string' and k:sub(1, #prefix) == prefix and not seen[k]\n"
    "       and (sep ~= ':' or type(v) == 'function') and not k:match('^__') then\n"
    "      seen[k] = true; out[#out + 1] = (path and path .. sep or '') .. k\n"
    "    end\n"
    "  end\n"
    "  local function fields(v)\n"
    "    for _ = 1, 4 do\n"
    "      if type(v) == 'table' then for k, x in pairs(v) do add(k, x) end end\n"
    "      local mt = getmetatable(v)\n"
    "      v = type(mt) == 'table' and rawget(mt, '__index') or nil\n"
    "      if v == nil then break end\n"
    "    end\n"
    "  end\n"
    "  if not path then\n"
    "    prefix = word\n"
    "    fields(_G)\n"
    "    for _, k in ipairs(keywords) do add(k) end\n"
    "  else\n"
    "    if path:find(':') then return out end\n"
    "    local v = _G\n"
    "    for name in path:gmatch('[^.]+') do\n"
    "      local ok, r = pcall(function() return v[name] end)\n"
    "      if not ok or r == nil then return out end\n"
    "      v = r\n"
    "    end\n"
    "    fields(v)\n"
    "  end\n"
    "  table.sort(out)\n"
    "  return out\n"
    "end\n";

static lua_State *completing; /* the prompt's state, for libedit's callbacks */

#define COMPLETE_KEY "backprop.repl.complete"

/* libedit's generator: the state-th candidate for text, malloc'd. */
static char *candidate(const char *text, int state) {
    lua_State *L = completing;
    static int n, next;
    if (state == 0) {
        next = 0;
        n = 0;
        lua_getfield(L, LUA_REGISTRYINDEX, COMPLETE_KEY);
        lua_pushstring(L, text);
        if (lua_pcall(L, 1, 1, 0) != LUA_OK || !lua_istable(L, -1)) {
            lua_pop(L, 1);
            return NULL;
        }
        n = (int)lua_rawlen(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, COMPLETE_KEY ".list");
    }
    if (next >= n) return NULL;
    lua_getfield(L, LUA_REGISTRYINDEX, COMPLETE_KEY ".list");
    lua_rawgeti(L, -1, ++next);
    char *s = strdup(lua_tostring(L, -1));
    lua_pop(L, 2);
    return s;
}

static char **complete(const char *text, int start, int end) {
    (void)start;
    (void)end;
    rl_attempted_completion_over = 1; /* no file names */
    return rl_completion_matches(text, candidate);
}

/* Sets up completion for the prompt's state L. */
static void completion_init(lua_State *L) {
    if (luaL_loadstring(L, COMPLETE) != LUA_OK) lua_error(L);
    lua_call(L, 0, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, COMPLETE_KEY);
    completing = L;
    rl_completer_word_break_characters = " \t\n\"'()[]{},;=+-*/<>~^%#&|";
    rl_attempted_completion_function = complete;
}

/* A line of input without its newline, pushed; 0 at end of input. */
static int push_line(lua_State *L, int first) {
    if (interactive) {
        char *line = readline(first ? "bp> " : ">> ");
        if (!line) return 0;
        if (*line) add_history(line);
        lua_pushstring(L, line);
        free(line);
        return 1;
    }
    char buf[4096];
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    int any = 0;
    while (fgets(buf, sizeof buf, stdin)) {
        any = 1;
        size_t n = strlen(buf);
        int end = n > 0 && buf[n - 1] == '\n';
        luaL_addlstring(&b, buf, end ? n - 1 : n);
        if (end) break;
    }
    luaL_pushresult(&b);
    if (!any) {
        lua_pop(L, 1);
        return 0;
    }
    return 1;
}

/* Is the error at the top an "input ends too early" one? */
static int incomplete(lua_State *L, int status) {
    if (status != LUA_ERRSYNTAX) return 0;
    size_t len;
    const char *msg = lua_tolstring(L, -1, &len);
    return len >= 5 && strcmp(msg + len - 5, "<eof>") == 0;
}

/* Compiles the chunk being read (the string at the top), reading more lines
 * while it is incomplete. Leaves the function (or an error message) on top
 * and returns the load status, or -1 at end of input. */
static int load_chunk(lua_State *L) {
    if (!push_line(L, 1)) return -1;
    /* An expression first, so that `net` or `1 + 1` prints its value. */
    const char *expr = lua_pushfstring(L, "return %s;", lua_tostring(L, -1));
    if (luaL_loadbuffer(L, expr, strlen(expr), "=stdin") == LUA_OK) {
        lua_remove(L, -2); /* the expression's text */
        lua_remove(L, -2); /* the line */
        return LUA_OK;
    }
    lua_pop(L, 2);
    for (int first = 1;; first = 0) {
        size_t len;
        const char *text = lua_tolstring(L, -1, &len);
        if (!first) { /* lines joined: an expression again first */
            const char *e = lua_pushfstring(L, "return %s;", text);
            if (luaL_loadbuffer(L, e, strlen(e), "=stdin") == LUA_OK) {
                lua_remove(L, -2);
                lua_remove(L, -2);
                return LUA_OK;
            }
            lua_pop(L, 2);
        }
        int status = luaL_loadbuffer(L, text, len, "=stdin");
        if (!incomplete(L, status)) {
            lua_remove(L, -2);
            return status;
        }
        lua_pop(L, 1);
        if (!push_line(L, 0)) { /* input ended inside a chunk */
            lua_pop(L, 1);
            lua_pushliteral(L, "stdin: input ended inside an unfinished chunk");
            return LUA_ERRSYNTAX;
        }
        lua_pushliteral(L, "\n");
        lua_insert(L, -2);
        lua_concat(L, 3);
    }
}

static int traceback(lua_State *L) {
    const char *msg = lua_tostring(L, 1);
    if (!msg)
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    luaL_traceback(L, L, msg, 1);
    return 1;
}

int bp_repl(lua_State *L, void (*signals)(lua_State *L, int running)) {
    interactive = isatty(STDIN_FILENO);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "backprop");
    lua_call(L, 1, 1);
    lua_pushvalue(L, -1);
    lua_setglobal(L, "bp");
    lua_pop(L, 1);
    if ((show_progress = isatty(STDERR_FILENO))) {
        bp_progress_init(&progress);
        bp_lua_set_progress(L, &progress);
    }
    if (interactive) completion_init(L);
    if (interactive)
        printf("backprop %s: the module is `bp`; bp.show(x) prints x; Ctrl-D leaves.\n",
               BP_VERSION);
    int status;
    for (;;) {
        signals(L, 0);
        if ((status = load_chunk(L)) == -1) break;
        int base = lua_gettop(L);
        if (status == LUA_OK) {
            lua_pushcfunction(L, traceback);
            lua_insert(L, base);
            signals(L, 1);
            if (show_progress) { /* a line that trains nothing draws nothing */
                bp_progress_init(&progress);
                bp_progress_start(&progress, stderr);
            }
            status = lua_pcall(L, 0, LUA_MULTRET, base);
            bp_progress_stop();
            signals(L, 0);
            lua_remove(L, base);
        }
        if (status != LUA_OK) {
            fprintf(stderr, "%s\n", lua_tostring(L, -1));
            fflush(stderr);
            lua_settop(L, base - 1);
            continue;
        }
        int n = lua_gettop(L) - base + 1;
        if (n > 0) { /* print the results through bp.show */
            lua_getglobal(L, "bp");
            lua_getfield(L, -1, "show");
            lua_remove(L, -2);
            lua_insert(L, base);
            if (lua_pcall(L, n, 1, 0) != LUA_OK)
                fprintf(stderr, "%s\n", lua_tostring(L, -1));
            else printf("%s\n", lua_tostring(L, -1));
            fflush(stdout);
        }
        lua_settop(L, base - 1);
    }
    if (interactive) printf("\n");
    return 0;
}
