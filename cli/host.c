/* host.c: the Lua host of the `backprop` program (see bp_host.h).
 *
 * What lua.c does for the stock interpreter, done once for every command
 * that runs Lua: the state, the message handler that keeps the traceback
 * apart (so that a run records message and traceback separately), the
 * signal hook, and the two limits of `backprop run`. The limits are the
 * host's because only the host sees every allocation (Lua's allocator and
 * the engine's, bp_alloc.h) and owns the process's alarm. */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "bp_host.h"
#include "bp_lua.h"
#include "bp_net.h"
#include "bp_util.h"

#define TRACEBACK_KEY "backprop.traceback"

/* ------------------------------------------------------------------------ */
/* Signals: as lua.c's laction/lstop                                         */

static lua_State *globalL;
static volatile sig_atomic_t interrupted;

/* --time-limit: SIGALRM stops the script the way SIGINT does, with its own
 * message; the text is kept here for it. */
static char time_limit_text[32];

static void lstop(lua_State *L, lua_Debug *ar) {
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    if (interrupted == SIGALRM)
        luaL_error(L, "time limit of %s reached", time_limit_text);
    luaL_error(L, "interrupted");
}

static void laction(int sig) {
    int flag = LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT;
    signal(sig, SIG_DFL); /* a second signal ends the process for good */
    interrupted = sig;
    if (globalL) lua_sethook(globalL, lstop, flag, 1);
}

/* While the prompt waits, SIGINT is ignored, and the flag of a line it
 * stopped is cleared so that the next line, and the exit status, start
 * afresh. */
void bp_host_repl_signals(lua_State *L, int running) {
    globalL = L;
    interrupted = 0;
    signal(SIGINT, running ? laction : SIG_IGN);
}

/* ------------------------------------------------------------------------ */
/* --max-memory: what Lua and the engine allocate, counted against a limit    */

/* Counted: every allocation of the Lua state (tables, strings, userdata) and
 * of the engine (networks, data sets, optimisers: bp_set_allocator). Not
 * counted: SQLite's page cache, OpenBLAS's buffers, the C library's own:
 * they are bounded and small beside what a script can make. At the limit an
 * allocation fails as if memory had run out, and each caller already turns
 * that into an error ("not enough memory", "out of memory for a batch"). */
static size_t mem_limit, mem_used;
static int mem_hit;

static int mem_over(size_t more) {
    if (mem_limit && more > mem_limit - (mem_used < mem_limit ? mem_used : mem_limit)) {
        mem_hit = 1;
        return 1;
    }
    return 0;
}

static void *lua_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    (void)ud;
    size_t old = ptr ? osize : 0; /* without ptr, osize is a type code */
    if (nsize == 0) {
        mem_used -= old;
        free(ptr);
        return NULL;
    }
    if (nsize > old && mem_over(nsize - old)) return NULL;
    void *p = realloc(ptr, nsize);
    if (p) mem_used = mem_used - old + nsize;
    return p;
}

static int lua_panic(lua_State *L) {
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "backprop: unprotected error in a call to Lua: %s\n",
            msg ? msg : "(no message)");
    return 0; /* Lua aborts after this: nothing here raises outside a pcall */
}

/* The engine's blocks carry their size in front, so free can count. */
typedef union block {
    size_t n;
    max_align_t align;
} block;

static void *engine_malloc(size_t n) {
    if (n > SIZE_MAX - sizeof(block) || mem_over(n)) return NULL;
    block *b = malloc(sizeof(block) + n);
    if (!b) return NULL;
    b->n = n;
    mem_used += n;
    return b + 1;
}

/* calloc, not malloc and a memset: a large block comes as fresh pages of
 * zeros, untouched until written (bp_alloc.h says why that matters). */
static void *engine_calloc(size_t count, size_t size) {
    size_t n;
    if (bp_size_mul(&n, count, size) || n > SIZE_MAX - sizeof(block) || mem_over(n))
        return NULL;
    block *b = calloc(1, sizeof(block) + n);
    if (!b) return NULL;
    b->n = n;
    mem_used += n;
    return b + 1;
}

static void *engine_realloc(void *p, size_t n) {
    if (!p) return engine_malloc(n);
    block *b = (block *)p - 1;
    size_t old = b->n;
    if (n > SIZE_MAX - sizeof(block) || (n > old && mem_over(n - old))) return NULL;
    block *grown = realloc(b, sizeof(block) + n);
    if (!grown) return NULL;
    grown->n = n;
    mem_used = mem_used - old + n;
    return grown + 1;
}

static void engine_free(void *p) {
    if (!p) return;
    block *b = (block *)p - 1;
    mem_used -= b->n;
    free(b);
}

/* The machine's memory in bytes, from sysconf or else /proc/meminfo; 0 when
 * neither says. */
static size_t physical_memory(void) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0) return (size_t)pages * (size_t)page;
    FILE *f = fopen("/proc/meminfo", "r");
    unsigned long long kb = 0;
    char line[128];
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemTotal: %llu kB", &kb) == 1) break;
    if (f) fclose(f);
    return kb > SIZE_MAX / 1024 ? SIZE_MAX : (size_t)kb * 1024;
}

/* Whether the limit in force is the default one (its message says so). */
static int mem_default;

/* "0" or "none": 0, no limit. Else "512M", "2G", "1.5G", "100000" (bytes),
 * at least 1M; raises otherwise. */
static size_t parse_size(lua_State *L, const char *s) {
    if (!strcmp(s, "none") || !strcmp(s, "0")) return 0;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    double unit = !strcmp(end, "")                         ? 1
                  : !strcmp(end, "K") || !strcmp(end, "k") ? 1024.0
                  : !strcmp(end, "M")                      ? 1048576.0
                  : !strcmp(end, "G")                      ? 1073741824.0
                                                           : 0;
    if (errno || end == s || unit == 0 || !(v * unit >= 1048576.0) || v * unit > 1e18)
        luaL_error(L,
                   "run: bad --max-memory '%s': expected a size of at least 1M, such as "
                   "512M or 2G, or none",
                   s);
    return (size_t)(v * unit);
}

/* "30", "30s", "5m", "2h": whole seconds, at least 1; raises otherwise. */
static unsigned parse_duration(lua_State *L, const char *s) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    double unit = !strcmp(end, "") || !strcmp(end, "s") ? 1
                  : !strcmp(end, "m")                   ? 60
                  : !strcmp(end, "h")                   ? 3600
                                                        : 0;
    if (errno || end == s || unit == 0 || !(v * unit >= 1) || v * unit > 1e7)
        luaL_error(L,
                   "run: bad --time-limit '%s': expected a duration of at least 1s, such "
                   "as 90, 30s, 5m or 2h",
                   s);
    return (unsigned)(v * unit + 0.5);
}

void bp_host_check_limits(lua_State *L, const char *size, const char *duration) {
    if (size) parse_size(L, size);
    if (duration) parse_duration(L, duration);
}

/* NULL: the default, three quarters of the machine's memory, so that a
 * script asking for more than there is fails with a message instead of
 * being killed by the kernel (or killing its neighbours) once the pages it
 * asked for are touched. */
void bp_host_limit_memory(lua_State *L, const char *s) {
    mem_default = !s;
    mem_limit = s ? parse_size(L, s) : physical_memory() / 4 * 3;
    if (mem_limit)
        bp_set_allocator(engine_malloc, engine_calloc, engine_realloc, engine_free);
}

void bp_host_limit_time(lua_State *L, const char *s) {
    unsigned t = parse_duration(L, s);
    snprintf(time_limit_text, sizeof time_limit_text, "%us", t);
    signal(SIGALRM, laction);
    alarm(t);
}

const char *bp_host_outcome(lua_State *L, int status) {
    alarm(0);
    if (status == LUA_OK) return "completed";
    /* A C loop stopped by the alarm says "interrupted"; the memory limit
     * shows as "not enough memory": say which limit it was. */
    if (interrupted == SIGALRM)
        lua_pushfstring(L, "time limit of %s reached (--time-limit)", time_limit_text);
    else if (mem_hit && mem_default)
        lua_pushfstring(L,
                        "%s: the default --max-memory limit of %d MB (3/4 of the "
                        "machine's memory) was reached",
                        lua_tostring(L, -1), (int)(mem_limit >> 20));
    else if (mem_hit)
        lua_pushfstring(L, "%s: the --max-memory limit of %d MB was reached",
                        lua_tostring(L, -1), (int)(mem_limit >> 20));
    else lua_pushvalue(L, -1);
    lua_replace(L, -2);
    return interrupted == SIGALRM   ? "failed"
           : interrupted            ? "interrupted"
           : bp_lua_sweep_pruned(L) ? "pruned"
           : bp_lua_diverged(L)     ? "diverged"
                                    : "failed";
}

/* ------------------------------------------------------------------------ */
/* Running a chunk                                                           */

/* The message handler: turns any error value into a string and stores the
 * traceback in the registry, apart, so that it can be reported (and
 * recorded) separately from the message. */
static int msghandler(lua_State *L) {
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            msg = lua_tostring(L, -1);
        else
            msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    /* An error re-raised by the host after a script's (run.c) keeps the
     * script's traceback, not the host's. */
    if (lua_getfield(L, LUA_REGISTRYINDEX, TRACEBACK_KEY) == LUA_TNIL) {
        luaL_traceback(L, L, NULL, 1);
        lua_setfield(L, LUA_REGISTRYINDEX, TRACEBACK_KEY);
    }
    lua_pop(L, 1);
    lua_pushstring(L, msg);
    return 1;
}

int bp_host_pcall(lua_State *L, int narg, int nres) {
    int base = lua_gettop(L) - narg;
    bp_host_forget_traceback(L);
    lua_pushcfunction(L, msghandler);
    lua_insert(L, base);
    globalL = L;
    signal(SIGINT, laction);
    signal(SIGTERM, laction);
    int status = lua_pcall(L, narg, nres, base);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    lua_remove(L, base);
    return status;
}

const char *bp_host_traceback(lua_State *L) {
    const char *tb = NULL;
    if (lua_getfield(L, LUA_REGISTRYINDEX, TRACEBACK_KEY) == LUA_TSTRING)
        tb = lua_tostring(L, -1); /* anchored in the registry */
    lua_pop(L, 1);
    return tb;
}

void bp_host_forget_traceback(lua_State *L) {
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, TRACEBACK_KEY);
}

/* Makes `require "backprop"` find the module linked into this program. */
static void preload_module(lua_State *L) {
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_backprop);
    lua_setfield(L, -2, "backprop");
    lua_pop(L, 1);
    /* Open it now as well, so the host can hand it parameters and a run. */
    luaL_requiref(L, "backprop", luaopen_backprop, 0);
    lua_pop(L, 1);
}

/* Does the traceback show any Lua code? If the error came from the host
 * itself (a bad option), every frame is C and the traceback is noise. */
static int has_lua_frame(const char *tb) {
    for (const char *p = strchr(tb, '\n'); p; p = strchr(p + 1, '\n'))
        if (p[1] == '\t' && strncmp(p + 2, "[C]", 3) != 0) return 1;
    return 0;
}

/* Prints the error at the top of the stack and, when it came from a script,
 * the traceback the handler kept. */
static void report(lua_State *L) {
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "backprop: %s\n", msg ? msg : "(no message)");
    const char *tb = bp_host_traceback(L);
    if (tb && has_lua_frame(tb)) fprintf(stderr, "%s\n", tb);
    fflush(stderr);
}

/* The protected call's body: the libraries, the module, then the command. */
static int pmain(lua_State *L) {
    int argc = (int)lua_tointeger(L, 1);
    char **argv = lua_touserdata(L, 2);
    bp_host_fn fn = *(bp_host_fn *)lua_touserdata(L, 3);
    luaL_checkversion(L);
    luaL_openlibs(L);
    preload_module(L);
    bp_lua_set_stop_flag(L, &interrupted);
    lua_pushinteger(L, fn(L, argc, argv));
    return 1;
}

int bp_host_main(int argc, char **argv, bp_host_fn fn) {
    lua_State *L = lua_newstate(lua_alloc, NULL);
    if (!L) {
        fprintf(stderr, "backprop: cannot create Lua state: not enough memory\n");
        return EXIT_FAILURE;
    }
    lua_atpanic(L, lua_panic);
    lua_pushcfunction(L, pmain);
    lua_pushinteger(L, argc);
    lua_pushlightuserdata(L, argv);
    lua_pushlightuserdata(L, &fn);
    int status = bp_host_pcall(L, 3, 1);
    int rc = status == LUA_OK ? (int)lua_tointeger(L, -1) : EXIT_FAILURE;
    if (status != LUA_OK) report(L);
    lua_close(L);
    if (status == LUA_OK) return rc;
    return interrupted && interrupted != SIGALRM ? 128 + interrupted : EXIT_FAILURE;
}
