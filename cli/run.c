/* run.c: the commands that run Lua: `backprop run` (and --resume),
 * `backprop lua`, and the Lua side of `backprop sweep` (a sweep written in
 * Lua, --spec FILE).
 *
 * A run is recorded from its first instruction to its end whatever happens:
 * the run log lives in a userdata whose __gc closes it, so that an error
 * anywhere still commits what was logged, and the script runs in a
 * protected call of its own (run_recorded) so that its end (completed,
 * failed, interrupted, diverged, pruned) is written before the error goes
 * on to the host. `backprop sweep` runs each trial as `backprop run --sweep
 * ID --trial I`, this same program in a process of its own (bp_sweeprun.h). */
#define _XOPEN_SOURCE 700 /* readlink */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "bp_alloc.h"
#include "bp_host.h"
#include "bp_lua.h"
#include "bp_progress.h"
#include "bp_runlog.h"
#include "bp_sweeprun.h"
#include "bp_util.h"

/* ------------------------------------------------------------------------ */
/* backprop run                                                              */

typedef struct opts {
    const char *seed, *name, *db, *sweep, *trial, *resume, *max_memory, *time_limit;
    int quiet;
} opts;

static uint64_t parse_seed(lua_State *L, const char *s) {
    int64_t v = 0; /* set for clang, which cannot see that luaL_error never returns */
    if (*s == '-' || bp_parse_i64(s, 0, INT64_MAX, &v))
        luaL_error(L, "bad --seed '%s': expected an integer from 0 to 2^63-1", s);
    return (uint64_t)v;
}

/* A whole number >= 0 given to option `opt`, or raises. */
static int64_t parse_count(lua_State *L, const char *opt, const char *s) {
    int64_t v = 0;
    if (bp_parse_i64(s, 0, INT64_MAX, &v))
        luaL_error(L, "run: bad %s '%s': expected a whole number", opt, s);
    return (int64_t)v;
}

/* Reads a whole file into a Lua string on the stack, or raises (through
 * bp_read_file, so a script that is /dev/zero or a FIFO is refused for what
 * it is and a huge one meets the memory limit). */
static const char *push_file(lua_State *L, const char *path, size_t *len) {
    bp_err e;
    char *text = bp_read_file(path, len, &e);
    if (!text) luaL_error(L, "%s", e.msg);
    const char *s = lua_pushlstring(L, text, *len);
    bp_free(text);
    return s;
}

/* The registry's key of the run being recorded (its run_ctx userdata). */
#define RUN_KEY "backprop.run"

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

/* A parameter given but never read is caught by the module when the
 * script first trains or logs (bp_lua.h). A script that did neither and
 * ended well has done its work all the same: it stays completed, and the
 * parameter is said on stderr and kept as a note of the run. */
static void warn_unread(lua_State *L, run_ctx *r, const char *script) {
    if (!bp_lua_unread_params(L)) return;
    const char *msg =
        lua_pushfstring(L, "parameter given but never read by %s: %s (a typo?)", script,
                        lua_tostring(L, -1));
    fprintf(stderr, "backprop: warning: %s\n", msg);
    bp_runlog_note(r->log, r->id, msg, NULL);
    lua_pop(L, 2);
}

/* Runs the loaded chunk at the top of the stack under its own protected call
 * and records how it ended. Returns normally if the script completed;
 * re-raises its error otherwise, after the run is marked. */
static void run_recorded(lua_State *L, run_ctx *r, const char *script) {
    int status = bp_host_pcall(L, 0, 0);
    bp_progress_stop(); /* before anything more is written to stderr */
    const char *msg = NULL, *tb = NULL;
    if (status == LUA_OK) warn_unread(L, r, script);
    const char *outcome = bp_host_outcome(L, status);
    if (status != LUA_OK) {
        msg = lua_tostring(L, -1);
        tb = bp_host_traceback(L);
    }
    bp_err e;
    if (bp_runlog_end(r->log, r->id, outcome, msg, tb, &e)) {
        if (status == LUA_OK) luaL_error(L, "%s", e.msg);
        fprintf(stderr, "backprop: %s\n", e.msg);
    }
    if (status != LUA_OK) lua_error(L);
}

/* The exit status os.exit(v) asks for: true 0, false 1, a number itself,
 * but never one the shell would read as 0 (exit(256) would). The text of v
 * is pushed, for the run's message. */
static int exit_code(lua_State *L) {
    if (lua_isboolean(L, 1)) {
        lua_pushstring(L, lua_toboolean(L, 1) ? "true" : "false");
        return lua_toboolean(L, 1) ? EXIT_SUCCESS : EXIT_FAILURE;
    }
    lua_Integer v = luaL_optinteger(L, 1, EXIT_SUCCESS);
    lua_pushfstring(L, "%I", v);
    return v != 0 && (v & 0xff) == 0 ? EXIT_FAILURE : (int)v;
}

/* os.exit inside `backprop run`. The stock one leaves the run 'running' (so
 * it shows as crashed) and drops the metrics still buffered; this one ends
 * the run as the script's end would (completed for os.exit(), os.exit(0)
 * or os.exit(true), the parameters' check included; failed with "the
 * script called os.exit(3)" and where, otherwise), closes the run log, then
 * exits as the stock one does (closing the state first if asked). It ends
 * the process from where it is called, so no pcall, coroutine or net:fit
 * callback around it can catch it, as none can catch the stock one. */
static int run_exit(lua_State *L) {
    run_ctx *r = lua_touserdata(L, lua_upvalueindex(1));
    const char *script = lua_tostring(L, lua_upvalueindex(2));
    int code = exit_code(L), close = lua_toboolean(L, 2);
    if (r->log) {
        alarm(0); /* --time-limit: nothing more to stop */
        bp_progress_stop();
        const char *outcome = "completed", *msg = NULL, *tb = NULL;
        if (code == 0) {
            warn_unread(L, r, script);
        } else {
            msg =
                lua_pushfstring(L, "the script called os.exit(%s)", lua_tostring(L, -1));
            luaL_traceback(L, L, NULL, 1);
            tb = lua_tostring(L, -1);
            outcome = "failed";
        }
        bp_err e;
        if (bp_runlog_end(r->log, r->id, outcome, msg, tb, &e)) {
            fprintf(stderr, "backprop: %s\n", e.msg);
            if (code == 0) code = EXIT_FAILURE;
        }
        bp_runlog_close(r->log);
        r->log = NULL;
    }
    fflush(NULL);
    if (close) lua_close(L);
    exit(code);
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
    bp_host_limit_memory(L, o->max_memory); /* NULL: the default limit */
    if (o->time_limit) bp_host_limit_time(L, o->time_limit);
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
    if (lua_getglobal(L, "os") == LUA_TTABLE) {
        lua_getfield(L, LUA_REGISTRYINDEX, RUN_KEY);
        lua_pushstring(L, script);
        lua_pushcclosure(L, run_exit, 2);
        lua_setfield(L, -2, "exit");
    }
    lua_pop(L, 1);
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
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, RUN_KEY); /* for os.exit (run_exit) */
    return r;
}

static int given_pairs(lua_State *L, const bp_run_record *rec, char ***out);

/* backprop run --resume ID: the run again, from its own record (the script's
 * text as it was stored, its parameters, its seed, its sweep), as the same run; the
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
    /* A run still running is refused by bp_runlog_reopen, which takes it. */
    const char *refuse = !strcmp(rec.status, "completed")
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
    int64_t sweep = rec.sweep_id, trial = rec.trial;
    char **pairs;
    int npairs = given_pairs(L, &rec, &pairs);
    int bad = bp_lua_set_params(L, npairs, pairs);
    bp_run_record_free(&rec);
    if (bad) return lua_error(L);
    bp_lua_trust_params(L);
    r->id = id;
    int held = bp_runlog_reopen(r->log, id, &e);
    if (held) return luaL_error(L, held > 0 ? "run: %s" : "%s", e.msg);
    bp_lua_attach_run(L, r->log, id, seed);
    /* A sweep's trial goes on as one: its objective, its rule, its data. */
    if (sweep > 0 && bp_lua_sweep_attach(L, r->log, sweep, trial, &e))
        return luaL_error(L, "%s", e.msg);
    bp_lua_set_resuming(L);
    if (!o->quiet) fprintf(stderr, "run %lld resumed (%s)\n", (long long)id, db);
    return execute(L, r, script, text, len, o);
}

/* backprop run's arguments: options may come anywhere, the first other word
 * is the script, and the rest are its parameters (pairs, *npairs of them).
 * Raises on an unknown option or one without its value. */
static void parse_run_args(lua_State *L, int argc, char **argv, opts *o,
                           const char **script, char **pairs, int *npairs) {
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--quiet")) {
            o->quiet = 1;
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            const char **slot = !strcmp(argv[i], "--seed")         ? &o->seed
                                : !strcmp(argv[i], "--name")       ? &o->name
                                : !strcmp(argv[i], "--db")         ? &o->db
                                : !strcmp(argv[i], "--sweep")      ? &o->sweep
                                : !strcmp(argv[i], "--trial")      ? &o->trial
                                : !strcmp(argv[i], "--resume")     ? &o->resume
                                : !strcmp(argv[i], "--max-memory") ? &o->max_memory
                                : !strcmp(argv[i], "--time-limit") ? &o->time_limit
                                                                   : NULL;
            if (!slot)
                luaL_error(L, "run: unknown option '%s' (see backprop --help)", argv[i]);
            if (i + 1 >= argc) luaL_error(L, "run: option '%s' needs a value", argv[i]);
            *slot = argv[++i];
        } else if (!*script) {
            *script = argv[i];
        } else {
            pairs[(*npairs)++] = argv[i];
        }
    }
}

/* The command line as one string on the stack, for the run's record: the
 * words joined by spaces, one with a space or a quote in it single-quoted
 * as a shell reads it, so that `run --resume` can split it back
 * (given_pairs). */
static const char *push_command(lua_State *L, int argc, char **argv) {
    luaL_Buffer cmd;
    luaL_buffinit(L, &cmd);
    for (int i = 0; i < argc; i++) {
        if (i) luaL_addchar(&cmd, ' ');
        if (!argv[i][0] || strpbrk(argv[i], " \t\n'\"\\")) {
            luaL_addchar(&cmd, '\'');
            for (const char *c = argv[i]; *c; c++)
                if (*c == '\'') luaL_addstring(&cmd, "'\\''");
                else luaL_addchar(&cmd, *c);
            luaL_addchar(&cmd, '\'');
        } else {
            luaL_addstring(&cmd, argv[i]);
        }
    }
    luaL_pushresult(&cmd);
    return lua_tostring(L, -1);
}

/* Splits the command line s in place into words as push_command wrote
 * them (single quotes, a backslash outside them escaping one character):
 * returns how many, at most max. */
static int split_command(char *s, char **words, int max) {
    int n = 0;
    char *out = s;
    while (*s && n < max) {
        while (*s == ' ') s++;
        if (!*s) break;
        words[n++] = out;
        for (int quoted = 0; *s && (quoted || *s != ' '); s++) {
            if (*s == '\'') quoted = !quoted;
            else if (*s == '\\' && !quoted && s[1]) *out++ = *++s;
            else *out++ = *s;
        }
        if (*s) s++;
        *out++ = '\0';
    }
    return n;
}

/* The parameters a resumed run is given: the ones it read (rec's), then
 * those of the command line that started it that it had not read yet (a
 * parameter read first after its checkpoint keeps its value, not the
 * default); the command's are left out unless its script word is rec's
 * script. Into a userdata on the stack; returns how many. */
static int given_pairs(lua_State *L, const bp_run_record *rec, char ***out) {
    size_t len = rec->command ? strlen(rec->command) : 0;
    int max = (int)len / 2 + 2, n = rec->n_params, npairs = 0;
    char *text = lua_newuserdatauv(L, len + 1, 0);
    char **words = lua_newuserdatauv(L, sizeof *words * (size_t)max, 0);
    char **pairs = lua_newuserdatauv(L, sizeof *pairs * (size_t)max, 0);
    char **all = lua_newuserdatauv(L, sizeof *all * (size_t)(n + max), 0);
    for (int k = 0; k < n; k++) all[k] = rec->params[k];
    *out = all;
    if (!rec->command || !rec->script_path) return n;
    memcpy(text, rec->command, len + 1);
    const char *script = NULL;
    int nw = split_command(text, words, max);
    for (int i = 2; i < nw; i++) /* past "backprop run", as parse_run_args reads */
        if (words[i][0] == '-' && words[i][1] == '-')
            i += strcmp(words[i], "--quiet") != 0;
        else if (!script) script = words[i];
        else pairs[npairs++] = words[i];
    if (!script || strcmp(script, rec->script_path)) return n;
    for (int j = 0, m = n; j < npairs; j++) {
        const char *eq = strchr(pairs[j], '=');
        int read = !eq;
        for (int k = 0; k < m && !read; k++)
            read = !strncmp(all[k], pairs[j], (size_t)(eq - pairs[j]) + 1);
        if (!read) all[n++] = pairs[j];
    }
    return n;
}

int bp_cmd_run(lua_State *L, int argc, char **argv) {
    opts o = {0};
    const char *script = NULL;
    char **pairs = lua_newuserdatauv(L, sizeof(char *) * (size_t)argc, 0);
    int npairs = 0;
    parse_run_args(L, argc, argv, &o, &script, pairs, &npairs);
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
    bp_host_check_limits(L, o.max_memory, o.time_limit);
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

    bp_run_info info = {.name = o.name,
                        .script_path = script,
                        .script_text = text,
                        .command = push_command(L, argc, argv),
                        .has_seed = 1,
                        .seed = (int64_t)seed,
                        .sweep_id = sweep,
                        .trial = trial};
    if ((r->id = bp_runlog_begin(r->log, &info, &e)) < 0)
        return luaL_error(L, "%s", e.msg);
    /* The id, for the next command (`backprop show 17`); a sweep's trials
     * are the supervisor's to name. */
    if (!sweep && !o.quiet)
        fprintf(stderr, "run %lld started (%s)\n", (long long)r->id, db);
    bp_lua_attach_run(L, r->log, r->id, seed);
    if (sweep && bp_lua_sweep_attach(L, r->log, sweep, trial, &e)) {
        bp_runlog_end(r->log, r->id, "failed", e.msg, NULL, NULL);
        return luaL_error(L, "%s", e.msg);
    }

    return execute(L, r, script, text, len, &o);
}

/* ------------------------------------------------------------------------ */
/* backprop sweep --spec, backprop lua                                       */

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
int bp_cmd_sweep(lua_State *L, int argc, char **argv) {
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
    return bp_sweep_main(n, args, &h);
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

/* backprop lua FILE [args ...] */
int bp_cmd_lua(lua_State *L, int argc, char **argv) {
    if (argc < 3)
        return luaL_error(L, "lua: no file given (usage: backprop lua FILE [args ...])");
    create_arg_table(L, argv, argc, 2);
    if (luaL_loadfile(L, argv[2]) != LUA_OK) return lua_error(L);
    for (int i = 3; i < argc; i++) lua_pushstring(L, argv[i]);
    lua_call(L, argc - 3, 0);
    return 0;
}
