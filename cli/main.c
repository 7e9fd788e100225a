/* main.c: the `backprop` command, a host for Lua scripts in the manner of
 * lua.c.
 *
 * Everything runs inside one protected call with a message handler that
 * keeps the traceback, so any error, a script's or our own, ends as
 * "backprop: message" on stderr and EXIT_FAILURE, never as a crash. A SIGINT
 * or SIGTERM only sets a hook (as lua.c does) that raises "interrupted" at
 * the script's next instruction, so the run is closed from ordinary code.
 *
 * `backprop sweep` runs each trial as `backprop run --sweep ID --trial I`,
 * this same program in a process of its own (bp_sweeprun.h); `sweep` and
 * `merge` print their own errors and return their own exit status. */
#define _XOPEN_SOURCE 700 /* readlink */
#include <errno.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "bp_cli.h"
#include "bp_lua.h"
#include "bp_net.h"
#include "bp_runlog.h"
#include "bp_plot.h"
#include "bp_progress.h"
#include "bp_repl.h"
#include "bp_sweeprun.h"

static const char *progname = "backprop";

static void usage(FILE *f) {
    fprintf(
        f,
        "usage: backprop COMMAND [options] [arguments]\n"
        "\n"
        "experiments:\n"
        "  backprop run [--seed N] [--name NAME] [--db PATH] [--quiet] SCRIPT [key=value ...]\n"
        "      run an experiment and record it; each key=value reaches the script\n"
        "      through bp.param(key, default); on a terminal a progress line shows\n"
        "      on stderr (--quiet: none). Limits: --max-memory SIZE (512M, 2G) and\n"
        "      --time-limit T (90, 30s, 5m, 2h) stop the script with a clear error\n"
        "  backprop run --resume ID [--db PATH]\n"
        "      go on with a killed or interrupted run from its latest bp.checkpoint\n"
        "  backprop lua FILE [args ...]\n"
        "      run a plain Lua file with the backprop module (nothing is recorded)\n"
        "  backprop repl   (or backprop alone, on a terminal)\n"
        "      an interactive Lua prompt with the module loaded as bp\n"
        "\n"
        "sweeps (each trial a run of its own; README.md has the details):\n"
        "  backprop sweep [--db PATH] [--name NAME] [-j N] [--trials N] [--seed S]\n"
        "                 [--objective [min:|max:]METRIC] [--prune median[:K]|halving[:S[:ETA]]]\n"
        "                 [--spec FILE.lua] [-v] SCRIPT key=SPEC ...\n"
        "      SPEC: a,b,c (grid), uniform:LO:HI, loguniform:LO:HI, int:LO:HI or choice:a,b,c\n"
        "      (random search, with --trials N)\n"
        "  backprop sweep --resume ID [--db PATH] [-j N]\n"
        "  backprop sweep show [ID] [--csv] [--db PATH]\n"
        "  backprop sweep --plan [--shard-db PATTERN] [--shards N] [options] SCRIPT key=SPEC ...\n"
        "  backprop sweep --trial I [options] SCRIPT key=SPEC ...\n"
        "  backprop merge OUT.db IN.db ...\n"
        "\n"
        "the run log (--db PATH, else $BACKPROP_DB, else results/runs.db):\n");
    bp_cli_usage(f);
    fprintf(f, "\nplots (PNG or SVG, by the file's extension):\n");
    bp_plot_usage(f);
    fprintf(f,
            "\n"
            "  backprop --help | --version\n"
            "\n"
            "The Lua API, the database schema and example queries are in README.md.\n");
}

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

/* The prompt's signals: while a line runs, SIGINT stops it (laction); while
 * the prompt waits, it is ignored, and the flag of a line it stopped is
 * cleared so that the next line, and the exit status, start afresh. */
static void repl_signals(lua_State *L, int running) {
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
    fprintf(stderr, "%s: unprotected error in a call to Lua: %s\n", progname,
            msg ? msg : "(no message)");
    return 0; /* Lua aborts after this: nothing here raises outside a pcall */
}

/* The engine's blocks carry their size in front, so free can count. */
typedef union block {
    size_t n;
    max_align_t align;
} block;

static void *engine_malloc(size_t n) {
    if (mem_over(n)) return NULL;
    block *b = malloc(sizeof(block) + n);
    if (!b) return NULL;
    b->n = n;
    mem_used += n;
    return b + 1;
}

static void *engine_realloc(void *p, size_t n) {
    if (!p) return engine_malloc(n);
    block *b = (block *)p - 1;
    size_t old = b->n;
    if (n > old && mem_over(n - old)) return NULL;
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

/* "512M", "2G", "1.5G", "100000" (bytes) */
static size_t parse_size(lua_State *L, const char *s) {
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
                   "512M or 2G",
                   s);
    return (size_t)(v * unit);
}

/* "30", "30s", "5m", "2h" */
static unsigned parse_seconds(lua_State *L, const char *s) {
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
    /* An error re-raised by the host after a script's (run_recorded) keeps
     * the script's traceback, not the host's. */
    if (lua_getfield(L, LUA_REGISTRYINDEX, "backprop.traceback") == LUA_TNIL) {
        luaL_traceback(L, L, NULL, 1);
        lua_setfield(L, LUA_REGISTRYINDEX, "backprop.traceback");
    }
    lua_pop(L, 1);
    lua_pushstring(L, msg);
    return 1;
}

static int docall(lua_State *L, int narg, int nres) {
    int base = lua_gettop(L) - narg;
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, "backprop.traceback");
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

/* The global `arg`, as lua.c builds it: arg[0] the script, then its args. */
static void create_arg_table(lua_State *L, char **argv, int argc, int script) {
    lua_createtable(L, argc - script - 1, script + 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
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
    fprintf(stderr, "%s: %s\n", progname, msg ? msg : "(no message)");
    if (lua_getfield(L, LUA_REGISTRYINDEX, "backprop.traceback") == LUA_TSTRING &&
        has_lua_frame(lua_tostring(L, -1)))
        fprintf(stderr, "%s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
    fflush(stderr);
}

/* ------------------------------------------------------------------------ */
/* Commands                                                                  */

typedef struct opts {
    const char *seed, *name, *db, *sweep, *trial, *resume, *max_memory, *time_limit;
    int quiet;
} opts;

static uint64_t parse_seed(lua_State *L, const char *s) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || !*s || *s == '-' || v > INT64_MAX)
        luaL_error(L, "bad --seed '%s': expected an integer from 0 to 2^63-1", s);
    return (uint64_t)v;
}

/* A whole number >= 0 given to option `opt`, or raises. */
static int64_t parse_count(lua_State *L, const char *opt, const char *s) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || !*s || v < 0)
        luaL_error(L, "run: bad %s '%s': expected a whole number", opt, s);
    return (int64_t)v;
}

/* Reads a whole file into a Lua string on the stack, or raises. */
static const char *push_file(lua_State *L, const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) luaL_error(L, "cannot open %s: %s", path, strerror(errno));
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    size_t n;
    char chunk[8192];
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) luaL_addlstring(&b, chunk, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) luaL_error(L, "cannot read %s", path);
    luaL_pushresult(&b);
    return lua_tolstring(L, -1, len);
}

/* The run being recorded, so that its end can be written whatever happens. */
typedef struct run_ctx {
    bp_runlog *log;
    int64_t id;
} run_ctx;

static int run_ctx_close(lua_State *L) {
    run_ctx *r = lua_touserdata(L, 1);
    bp_runlog_close(r->log);
    r->log = NULL;
    return 0;
}

/* Runs the loaded chunk at the top of the stack under its own protected call
 * and records how it ended. Returns normally if the script completed;
 * re-raises its error otherwise, after the run is marked. */
static void run_recorded(lua_State *L, run_ctx *r, const char *script) {
    int status = docall(L, 0, 0);
    bp_progress_stop(); /* before anything more is written to stderr */
    const char *outcome = "completed", *msg = NULL, *tb = NULL;
    if (status == LUA_OK && bp_lua_unread_params(L)) {
        lua_pushfstring(L, "parameter given but never read by %s: %s (a typo?)", script,
                        lua_tostring(L, -1));
        status = LUA_ERRRUN;
        lua_pushnil(L);
        lua_setfield(L, LUA_REGISTRYINDEX, "backprop.traceback");
    }
    alarm(0);
    if (status != LUA_OK) {
        /* A C loop stopped by the alarm says "interrupted"; the memory
         * limit shows as "not enough memory": say which limit it was. */
        if (interrupted == SIGALRM)
            lua_pushfstring(L, "time limit of %s reached (--time-limit)",
                            time_limit_text);
        else if (mem_hit)
            lua_pushfstring(L, "%s: the --max-memory limit of %d MB was reached",
                            lua_tostring(L, -1), (int)(mem_limit >> 20));
        else lua_pushvalue(L, -1);
        lua_replace(L, -2);
        msg = lua_tostring(L, -1);
        if (lua_getfield(L, LUA_REGISTRYINDEX, "backprop.traceback") == LUA_TSTRING)
            tb = lua_tostring(L, -1);
        lua_pop(L, 1);
        outcome = interrupted == SIGALRM   ? "failed"
                  : interrupted            ? "interrupted"
                  : bp_lua_sweep_pruned(L) ? "pruned"
                  : bp_lua_diverged(L)     ? "diverged"
                                           : "failed";
    }
    bp_err e;
    if (bp_runlog_end(r->log, r->id, outcome, msg, tb, &e)) {
        if (status == LUA_OK) luaL_error(L, "%s", e.msg);
        fprintf(stderr, "%s: %s\n", progname, e.msg);
    }
    if (status != LUA_OK) lua_error(L);
}

/* The progress line, drawn while a script runs when stderr is a terminal
 * and --quiet was not given. */
static bp_progress progress;

static int print_over_progress(lua_State *L) {
    fputs("\r\033[K", stderr);
    fflush(stderr);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 0);
    return 0;
}

/* Loads the script's text as its file and runs it as run r; closes the run
 * log after. */
static int execute(lua_State *L, run_ctx *r, const char *script, const char *text,
                   size_t len, const opts *o) {
    if (o->max_memory) {
        mem_limit = parse_size(L, o->max_memory);
        bp_set_allocator(engine_malloc, engine_realloc, engine_free);
    }
    if (o->time_limit) {
        unsigned t = parse_seconds(L, o->time_limit);
        snprintf(time_limit_text, sizeof time_limit_text, "%us", t);
        signal(SIGALRM, laction);
        alarm(t);
    }
    int quiet = o->quiet;
    if (!quiet && isatty(STDERR_FILENO)) {
        bp_progress_init(&progress);
        bp_lua_set_progress(L, &progress);
        bp_progress_start(&progress, stderr);
        /* print clears the progress line first, so the two do not share a
         * line of the terminal; the next redraw puts it back below. */
        lua_getglobal(L, "print");
        lua_pushcclosure(L, print_over_progress, 1);
        lua_setglobal(L, "print");
    }
    lua_createtable(L, 0, 1);
    lua_pushstring(L, script);
    lua_rawseti(L, -2, 0);
    lua_setglobal(L, "arg");
    lua_pushfstring(L, "@%s", script);
    if (luaL_loadbufferx(L, text, len, lua_tostring(L, -1), "t") != LUA_OK) {
        const char *m = lua_tostring(L, -1);
        bp_runlog_end(r->log, r->id, "failed", m, NULL, NULL);
        return lua_error(L);
    }
    run_recorded(L, r, script);
    bp_runlog_close(r->log);
    r->log = NULL;
    return 0;
}

/* The run log in a userdata whose __gc closes it, so that an error anywhere
 * after still commits what was logged. */
static run_ctx *push_run_ctx(lua_State *L) {
    run_ctx *r = lua_newuserdatauv(L, sizeof *r, 0);
    memset(r, 0, sizeof *r);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, run_ctx_close);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    return r;
}

/* backprop run --resume ID: the run again, from its own record (the script's
 * text as it was stored, its parameters, its seed), as the same run; the
 * script's bp.resume{...} puts back its latest checkpoint. */
static int resume_run(lua_State *L, const opts *o) {
    int64_t id = parse_count(L, "--resume", o->resume);
    if (id < 1)
        return luaL_error(L, "run: bad --resume '%s': expected a run id", o->resume);
    run_ctx *r = push_run_ctx(L);
    bp_err e;
    const char *db = bp_runlog_default_path(o->db);
    if (!(r->log = bp_runlog_open(db, BP_RUNLOG_MUSTEXIST, &e)))
        return luaL_error(L, "%s", e.msg);
    bp_run_record rec;
    if (bp_runlog_run_get(r->log, id, &rec, &e)) return luaL_error(L, "%s", e.msg);
    const char *refuse = !strcmp(rec.status, "running") ? "is still running"
                         : !strcmp(rec.status, "completed")
                             ? "completed: there is nothing to resume"
                         : !rec.script_text ? "has no stored script"
                                            : NULL;
    if (refuse) {
        lua_pushfstring(L, "run: run %I %s", (lua_Integer)id, refuse);
        bp_run_record_free(&rec);
        return lua_error(L);
    }
    const char *script = lua_pushstring(L, rec.script_path ? rec.script_path : rec.name);
    size_t len = strlen(rec.script_text);
    const char *text = lua_pushlstring(L, rec.script_text, len);
    uint64_t seed = rec.has_seed ? (uint64_t)rec.seed : 1;
    int bad = bp_lua_set_params(L, rec.n_params, rec.params);
    bp_run_record_free(&rec);
    if (bad) return lua_error(L);
    r->id = id;
    if (bp_runlog_reopen(r->log, id, &e)) return luaL_error(L, "%s", e.msg);
    bp_lua_attach_run(L, r->log, id, seed);
    bp_lua_set_resuming(L);
    return execute(L, r, script, text, len, o);
}

/* backprop run [options] SCRIPT [key=value ...]: options may come anywhere,
 * the first other word is the script, and the rest are its parameters. */
static int cmd_run(lua_State *L, int argc, char **argv) {
    opts o = {0};
    const char *script = NULL;
    char **pairs = lua_newuserdatauv(L, sizeof(char *) * (size_t)argc, 0);
    int npairs = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--quiet")) {
            o.quiet = 1;
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            const char **slot = !strcmp(argv[i], "--seed")         ? &o.seed
                                : !strcmp(argv[i], "--name")       ? &o.name
                                : !strcmp(argv[i], "--db")         ? &o.db
                                : !strcmp(argv[i], "--sweep")      ? &o.sweep
                                : !strcmp(argv[i], "--trial")      ? &o.trial
                                : !strcmp(argv[i], "--resume")     ? &o.resume
                                : !strcmp(argv[i], "--max-memory") ? &o.max_memory
                                : !strcmp(argv[i], "--time-limit") ? &o.time_limit
                                                                   : NULL;
            if (!slot)
                return luaL_error(L, "run: unknown option '%s' (see backprop --help)",
                                  argv[i]);
            if (i + 1 >= argc)
                return luaL_error(L, "run: option '%s' needs a value", argv[i]);
            *slot = argv[++i];
        } else if (!script) {
            script = argv[i];
        } else {
            pairs[npairs++] = argv[i];
        }
    }
    if (o.resume) {
        if (script || o.seed || o.name || o.sweep)
            return luaL_error(
                L, "run: --resume ID takes no script, parameters, --seed, --name "
                   "or --sweep: the run's own are used");
        return resume_run(L, &o);
    }
    if (!script)
        return luaL_error(
            L, "run: no script given (usage: backprop run SCRIPT [key=value ...])");
    if (bp_lua_set_params(L, npairs, pairs)) return lua_error(L);
    uint64_t seed = o.seed ? parse_seed(L, o.seed) : 1;
    /* --sweep ID --trial I: how `backprop sweep` starts a trial. */
    int64_t sweep = 0, trial = 0;
    if (!o.sweep != !o.trial)
        return luaL_error(L, "run: --sweep and --trial go together");
    if (o.sweep && ((sweep = parse_count(L, "--sweep", o.sweep)) < 1))
        return luaL_error(L, "run: bad --sweep '%s': expected a sweep id", o.sweep);
    if (o.trial) trial = parse_count(L, "--trial", o.trial);
    size_t len;
    const char *text = push_file(L, script, &len);

    run_ctx *r = push_run_ctx(L);
    bp_err e;
    const char *db = bp_runlog_default_path(o.db);
    if (!(r->log = bp_runlog_open(db, 0, &e))) return luaL_error(L, "%s", e.msg);

    luaL_Buffer cmd;
    luaL_buffinit(L, &cmd);
    for (int i = 0; i < argc; i++) {
        if (i) luaL_addchar(&cmd, ' ');
        luaL_addstring(&cmd, argv[i]);
    }
    luaL_pushresult(&cmd);
    bp_run_info info = {.name = o.name,
                        .script_path = script,
                        .script_text = text,
                        .command = lua_tostring(L, -1),
                        .has_seed = 1,
                        .seed = (int64_t)seed,
                        .sweep_id = sweep,
                        .trial = trial};
    if ((r->id = bp_runlog_begin(r->log, &info, &e)) < 0)
        return luaL_error(L, "%s", e.msg);
    bp_lua_attach_run(L, r->log, r->id, seed);
    if (sweep && bp_lua_sweep_attach(L, r->log, sweep, trial, &e)) {
        bp_runlog_end(r->log, r->id, "failed", e.msg, NULL, NULL);
        return luaL_error(L, "%s", e.msg);
    }

    return execute(L, r, script, text, len, &o);
}

/* ------------------------------------------------------------------------ */
/* Sweeps                                                                    */

static int exit_code; /* of a command that prints its own errors */

/* The backprop executable, for the trials' processes: this very program. */
static const char *self_exe(const char *argv0) {
    static char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0) return argv0;
    path[n] = '\0';
    return path;
}

/* backprop sweep ...: a sweep written in Lua (--spec FILE) becomes the
 * arguments it stands for, placed before the command line's, so that the
 * command line's options win. */
static int cmd_sweep(lua_State *L, int argc, char **argv) {
    int n = 0;
    char **args = lua_newuserdatauv(L, sizeof(char *) * (size_t)(argc + 1), 0);
    const char *spec = NULL;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--spec")) {
            if (i + 1 >= argc)
                return luaL_error(L, "sweep: option '--spec' needs a value");
            spec = argv[++i];
        } else if (!strncmp(argv[i], "--spec=", 7)) {
            spec = argv[i] + 7;
        } else {
            args[n++] = argv[i];
        }
    }
    if (spec) {
        bp_lua_sweep_file(L, spec);
        int list = lua_gettop(L);
        int m = (int)lua_rawlen(L, list);
        char **all = lua_newuserdatauv(L, sizeof(char *) * (size_t)(m + n + 1), 0);
        for (int k = 0; k < m; k++) {
            lua_rawgeti(L, list, k + 1);
            all[k] = (char *)lua_tostring(L, -1); /* anchored in the list */
            lua_pop(L, 1);
        }
        memcpy(all + m, args, sizeof(char *) * (size_t)n);
        args = all, n += m;
    }
    bp_sweep_host h = {
        .exe = self_exe(argv[0]), .argv0 = argv[0], .out = stdout, .err = stderr};
    exit_code = bp_sweep_main(n, args, &h);
    return 0;
}

/* backprop lua FILE [args ...] */
static int cmd_lua(lua_State *L, int argc, char **argv) {
    if (argc < 3)
        return luaL_error(L, "lua: no file given (usage: backprop lua FILE [args ...])");
    create_arg_table(L, argv, argc, 2);
    if (luaL_loadfile(L, argv[2]) != LUA_OK) return lua_error(L);
    for (int i = 3; i < argc; i++) lua_pushstring(L, argv[i]);
    lua_call(L, argc - 3, 0);
    return 0;
}

static int pmain(lua_State *L) {
    int argc = (int)lua_tointeger(L, 1);
    char **argv = lua_touserdata(L, 2);
    luaL_checkversion(L);
    luaL_openlibs(L);
    preload_module(L);
    bp_lua_set_stop_flag(L, &interrupted);
    const char *cmd = argv[1];
    if (!strcmp(cmd, "run")) return cmd_run(L, argc, argv);
    if (!strcmp(cmd, "lua")) return cmd_lua(L, argc, argv);
    if (!strcmp(cmd, "sweep")) return cmd_sweep(L, argc, argv);
    if (!strcmp(cmd, "repl")) return bp_repl(L, repl_signals);
    return luaL_error(L, "unknown command '%s' (see backprop --help)", cmd);
}

int main(int argc, char **argv) {
    /* `backprop` alone: the prompt on a terminal, the usage elsewhere. */
    char *repl_argv[] = {argv[0], "repl", NULL};
    if (argc < 2 && isatty(STDIN_FILENO)) {
        argc = 2;
        argv = repl_argv;
    }
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_FAILURE : EXIT_SUCCESS;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("backprop %s (%s)\n", BP_VERSION, LUA_RELEASE);
        return EXIT_SUCCESS;
    }
    /* The database commands need no Lua. */
    int rc = bp_cli_main(argv[1], NULL, argc - 2, argv + 2, stdout, stderr);
    if (rc >= 0) return rc ? EXIT_FAILURE : EXIT_SUCCESS;
    if (!strcmp(argv[1], "merge"))
        return bp_merge_main(argc - 2, argv + 2, stdout, stderr) ? EXIT_FAILURE
                                                                 : EXIT_SUCCESS;
    if (!strcmp(argv[1], "plot"))
        return bp_plot_main(argc - 2, argv + 2, stdout, stderr) ? EXIT_FAILURE
                                                                : EXIT_SUCCESS;
    lua_State *L = lua_newstate(lua_alloc, NULL);
    if (L) lua_atpanic(L, lua_panic);
    if (!L) {
        fprintf(stderr, "%s: cannot create Lua state: not enough memory\n", progname);
        return EXIT_FAILURE;
    }
    lua_pushcfunction(L, pmain);
    lua_pushinteger(L, argc);
    lua_pushlightuserdata(L, argv);
    int status = docall(L, 2, 0);
    if (status != LUA_OK) report(L);
    lua_close(L);
    if (status == LUA_OK) return exit_code;
    return interrupted && interrupted != SIGALRM ? 128 + interrupted : EXIT_FAILURE;
}
