/* fuzz_lua.c: the Lua API, called the way no script should: every function
 * of the module and every method of every type, with arguments of random
 * types and sizes, in random order, on objects closed or collected in
 * between. README's promise is the property under test: "No script,
 * however wrong, can crash the process." Every call runs under lua_pcall,
 * so an error is an ordinary outcome; an ASan or UBSan report, a leak after
 * lua_close, or a crash is a bug.
 *
 * The input is a program for a small interpreter, not Lua source: a random
 * byte string is almost never a valid Lua chunk, but every byte string is a
 * valid program here. It starts with a header (the Lua memory limit, when
 * the engine's allocator starts failing), then each op is a byte choosing
 * what to do (call a method, call a module function, store or drop a value,
 * collect garbage, ...) followed by the bytes its choices need. Values live
 * in a pool of 16 slots, so a net made by one call is used, closed and used
 * again by later ones. Arguments are nil, booleans, small integers, special
 * numbers (NaN, infinities, -0, 2^31, 2^63, ...), raw doubles, names the API
 * knows (loss, activation, optimizer, ... names) and random strings, pool
 * values, matrices shaped like a pooled net's inputs or outputs, option
 * tables, nested tables, tables whose metamethods raise, other userdata,
 * coroutines, and callbacks that run more ops (a net:fit callback that
 * closes the net it is fitting).
 *
 * The functions and methods are discovered from the module table and the
 * metatables, so new ones are fuzzed without a change here; only those
 * that touch the file system or start threads are left out (SKIP below).
 * Sizes are bounded where the work would be: tables are at most 16 x 64,
 * train_steps' count and fit's epochs at most 8, so every input runs in
 * milliseconds; larger sizes (65536, 2^31 - 1) still reach every size
 * argument, where they must fail cleanly (allocations above 64 MB fail,
 * input.h). */
#include "input.h"

#include <math.h>
#include <stdlib.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "bp_lua.h"
#include "bp_net.h"

#define POOL 16     /* value slots */
#define MAX_OPS 256 /* per input, nested ones included */
#define MAX_DEPTH 3 /* of nested tables and of callbacks */
#define MAX_ARGS 7
#define MAX_ROWS 16
#define MAX_COLS 64
#define MAX_COUNT 8 /* train_steps' count, fit's epochs */
#define MAX_NAMES 160

/* Left out: what reads or writes files (the loaders have their own
 * targets, and a fuzzer must not write files named by its input) and what
 * sets the number of BLAS threads (the fuzzer stays on one core). A type
 * of NULL is a module function. */
static const struct {
    const char *type, *name;
} SKIP[] = {{NULL, "load_csv"}, {NULL, "load_idx"}, {NULL, "fashion_mnist"},
            {NULL, "load"},     {NULL, "threads"},  {"backprop.net", "save"},
            {NULL, NULL}};

static int skipped(const char *type, const char *name) {
    for (int k = 0; SKIP[k].name; k++)
        if (!strcmp(SKIP[k].name, name) &&
            (type ? SKIP[k].type && !strcmp(SKIP[k].type, type) : !SKIP[k].type))
            return 1;
    return 0;
}

/* Words the API knows, so that a string argument is often a valid one. */
static const char *const WORDS[] = {"half_se",      "mse",
                                    "bce",          "softmax_ce",
                                    "identity",     "sigmoid",
                                    "tanh",         "relu",
                                    "leaky_relu",   "softmax",
                                    "gelu",         "elu",
                                    "sgd",          "adam",
                                    "adamw",        "rmsprop",
                                    "xavier",       "xavier_normal",
                                    "he",           "he_uniform",
                                    "uniform",      "normal",
                                    "constant",     "none",
                                    "step",         "exponential",
                                    "cosine",       "float64",
                                    "float32",      "standard",
                                    "minmax",       "fixed",
                                    "class",        "output",
                                    "loss",         "lr",
                                    "weights",      "bias",
                                    "alpha",        "dtype",
                                    "momentum",     "nesterov",
                                    "dampening",    "beta1",
                                    "beta2",        "eps",
                                    "centered",     "weight_decay",
                                    "clip_norm",    "schedule",
                                    "gamma",        "step_size",
                                    "t_max",        "eta_min",
                                    "warmup_steps", "start_factor",
                                    "data",         "epochs",
                                    "batch",        "optimizer",
                                    "shuffle",      "drop_last",
                                    "log",          "epoch_log",
                                    "validation",   "val_name",
                                    "confusion",    "callback",
                                    "first_epoch",  "classes",
                                    "shift",        "scale",
                                    "kind",         "exp_avg",
                                    "exp_avg_sq",   "momentum_buffer",
                                    "square_avg",   ""};
#define N_WORDS (sizeof WORDS / sizeof WORDS[0])

/* Option keys whose value is a count of work: kept small. */
static int is_count_key(const char *k) { return !strcmp(k, "epochs"); }

/* ------------------------------------------------------------------------ */
/* What the module offers, found once                                        */

typedef struct callable {
    const char *type; /* metatable name, or NULL for a module function */
    const char *name;
} callable;

static callable names[MAX_NAMES];
static int n_names, n_funcs; /* names[0..n_funcs-1] are module functions */
static const char *types[8];
static int n_types;

static int by_name(const void *a, const void *b) {
    const callable *x = a, *y = b;
    int c = strcmp(x->type ? x->type : "", y->type ? y->type : "");
    return c ? c : strcmp(x->name, y->name);
}

static char *keep(const char *s) {
    char *c = malloc(strlen(s) + 1);
    if (!c) abort();
    return strcpy(c, s);
}

/* Adds the function-valued string keys of the table at the top, sorted (the
 * order of a Lua table is not the same from one state to the next). */
static void add_functions(lua_State *L, const char *type) {
    int first = n_names;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        int skip = lua_type(L, -2) != LUA_TSTRING || !lua_isfunction(L, -1) ||
                   skipped(type, lua_tostring(L, -2));
        if (!skip && n_names < MAX_NAMES)
            names[n_names++] = (callable){type, keep(lua_tostring(L, -2))};
        lua_pop(L, 1);
    }
    qsort(names + first, (size_t)(n_names - first), sizeof *names, by_name);
}

static void discover(void) {
    lua_State *L = luaL_newstate();
    if (!L) abort();
    luaL_requiref(L, "bp", luaopen_backprop, 0);
    add_functions(L, NULL);
    n_funcs = n_names;
    lua_pop(L, 1);
    /* Every metatable the module registered: its methods and metamethods. */
    const char *found[8];
    int n = 0;
    lua_pushnil(L);
    while (lua_next(L, LUA_REGISTRYINDEX)) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_istable(L, -1) && n < 8 &&
            !strncmp(lua_tostring(L, -2), "backprop.", 9) &&
            lua_getfield(L, -1, "__name") == LUA_TSTRING)
            found[n++] = keep(lua_tostring(L, -3));
        lua_settop(L, 2);
        lua_pop(L, 1);
    }
    for (int j = 0; j < n; j++) /* sorted, as the names */
        for (int k = j + 1; k < n; k++)
            if (strcmp(found[k], found[j]) < 0) {
                const char *t = found[j];
                found[j] = found[k];
                found[k] = t;
            }
    for (int j = 0; j < n; j++) {
        types[n_types++] = found[j];
        luaL_getmetatable(L, found[j]);
        add_functions(L, found[j]);
        if (lua_getfield(L, -1, "__index") == LUA_TTABLE) add_functions(L, found[j]);
        lua_pop(L, 2);
    }
    lua_close(L);
    /* FUZZ_LUA_NAMES=1 lists them with their op numbers, to write seeds. */
    if (getenv("FUZZ_LUA_NAMES"))
        for (int k = 0; k < n_names; k++)
            fprintf(stderr, "%s %d %s\n", names[k].type ? names[k].type : "bp",
                    k < n_funcs ? k : k - n_funcs, names[k].name);
}

/* ------------------------------------------------------------------------ */
/* Memory: a Lua limit and engine allocations that fail on demand            */

static size_t lua_used, lua_limit;

static void *lalloc(void *ud, void *p, size_t osize, size_t nsize) {
    (void)ud;
    if (!p) osize = 0;
    if (nsize == 0) {
        free(p);
        lua_used -= osize;
        return NULL;
    }
    if (nsize > osize && lua_used + (nsize - osize) > lua_limit) return NULL;
    void *q = realloc(p, nsize);
    if (q) lua_used += nsize - osize;
    return q;
}

static long engine_countdown; /* the engine's next allocation fails at 1 */

static void *eng_malloc(size_t n) {
    if (engine_countdown > 0 && --engine_countdown == 0) return NULL;
    return malloc(n);
}

static void *eng_calloc(size_t n, size_t size) {
    if (engine_countdown > 0 && --engine_countdown == 0) return NULL;
    return calloc(n, size);
}

static void *eng_realloc(void *p, size_t n) {
    if (engine_countdown > 0 && --engine_countdown == 0) return NULL;
    return realloc(p, n);
}

/* ------------------------------------------------------------------------ */
/* The interpreter                                                           */

static fz in;     /* the program */
static int trace; /* FUZZ_LUA_TRACE is set */
static int ops_left;
static int pool_ref;   /* registry: the pool table */
static int module_ref; /* registry: the module table */

static void run_ops(lua_State *L, int count, int depth);
static void push_value(lua_State *L, int depth);

static void push_pool(lua_State *L, unsigned slot) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, pool_ref);
    lua_rawgeti(L, -1, slot % POOL + 1);
    lua_remove(L, -2);
}

static void store_pool(lua_State *L, unsigned slot) { /* pops the value */
    lua_rawgeti(L, LUA_REGISTRYINDEX, pool_ref);
    lua_insert(L, -2);
    lua_rawseti(L, -2, slot % POOL + 1);
    lua_pop(L, 1);
}

static void push_special(lua_State *L, unsigned k) {
    static const double reals[] = {0.0,
                                   -0.0,
                                   0.5,
                                   -1.5,
                                   1e-310,
                                   1e308,
                                   -1e308,
                                   HUGE_VAL,
                                   -HUGE_VAL,
                                   NAN,
                                   2147483648.0,
                                   9007199254740993.0,
                                   9223372036854775808.0,
                                   1e15};
    static const lua_Integer ints[] = {0,
                                       -1,
                                       1,
                                       2,
                                       65,
                                       65536,
                                       2147483647,
                                       2147483648,
                                       -2147483648LL,
                                       LUA_MAXINTEGER,
                                       LUA_MININTEGER};
    const size_t nr = sizeof reals / sizeof reals[0];
    k %= (unsigned)(nr + sizeof ints / sizeof ints[0]);
    if (k < nr) lua_pushnumber(L, reals[k]);
    else lua_pushinteger(L, ints[k - nr]);
}

/* A number for a cell of a matrix: mostly small (multiples of 1/16 in
 * -8..4.4), sometimes special. */
static void push_cell(lua_State *L) {
    unsigned k = fz_byte(&in);
    if (k < 200) lua_pushnumber(L, ((int)k - 128) / 16.0);
    else if (k < 240) push_special(L, k);
    else lua_pushinteger(L, (lua_Integer)(k - 245));
}

/* Calls obj's method `name` (0 args, 1 integer result) protected; -1 on
 * any failure. The pooled object may be closed, or not an object. */
static int ask(lua_State *L, int obj, const char *name) {
    int top = lua_gettop(L), v = -1;
    if (!lua_getmetatable(L, obj)) return -1;
    int ok = lua_getfield(L, -1, "__index") == LUA_TTABLE &&
             lua_getfield(L, -1, name) == LUA_TFUNCTION;
    if (ok) {
        lua_pushvalue(L, obj);
        if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_isinteger(L, -1)) {
            lua_Integer i = lua_tointeger(L, -1);
            v = i >= 0 && i <= MAX_COLS ? (int)i : -1;
        }
    }
    lua_settop(L, top);
    return v;
}

/* A width for a matrix: a pooled net's or data set's inputs or outputs, or
 * a small number. */
static int width(lua_State *L) {
    unsigned k = fz_byte(&in);
    if (k < 128) return (int)(k % 9);
    push_pool(L, k);
    int w = ask(L, lua_gettop(L), k & 1 ? "outputs" : "inputs");
    lua_pop(L, 1);
    return w >= 0 ? w : (int)(k % 5);
}

/* One sample (a flat list) or a batch (rows), of width from width(). */
static void push_matrix(lua_State *L) {
    int W = width(L);
    unsigned shape = fz_byte(&in);
    int B = (int)(shape % (MAX_ROWS + 1)), flat = shape >= 192;
    if (flat) B = 1;
    lua_createtable(L, flat ? W : B, 0);
    for (int r = 1; r <= B; r++) {
        if (!flat) lua_createtable(L, W, 0);
        for (int c = 1; c <= W; c++) {
            push_cell(L);
            lua_rawseti(L, -2, c);
        }
        if (!flat) lua_rawseti(L, -2, r);
    }
}

/* {key = value, ...} with keys the API knows. */
static void push_options(lua_State *L, int depth) {
    int n = (int)fz_pick(&in, 7);
    lua_createtable(L, 0, n);
    for (int j = 0; j < n; j++) {
        const char *k = WORDS[fz_pick(&in, N_WORDS)];
        if (is_count_key(k)) {
            lua_Integer v = (lua_Integer)fz_pick(&in, MAX_COUNT + 3) - 2;
            lua_pushinteger(L, v);
        } else {
            push_value(L, depth + 1);
        }
        lua_setfield(L, -2, k);
    }
    if (fz_pick(&in, 4) == 0) { /* and an array part: {"cosine", t_max = 3} */
        push_value(L, depth + 1);
        lua_rawseti(L, -2, 1);
    }
}

static int raise_error(lua_State *L) { return luaL_error(L, "metamethod error"); }

static int huge_len(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)lua_tointeger(L, lua_upvalueindex(1)));
    return 1;
}

/* A table whose metamethods lie about it or raise. */
static void push_trap(lua_State *L) {
    push_matrix(L);
    lua_createtable(L, 0, 2);
    unsigned k = fz_byte(&in);
    if (k & 1) {
        lua_pushcfunction(L, raise_error);
        lua_setfield(L, -2, "__index");
    }
    if (k & 2) {
        push_special(L, k >> 2);
        if (!lua_isinteger(L, -1)) {
            lua_pop(L, 1);
            lua_pushinteger(L, LUA_MAXINTEGER);
        }
        lua_pushcclosure(L, huge_len, 1);
        lua_setfield(L, -2, "__len");
    }
    if (k & 4) {
        lua_pushcfunction(L, raise_error);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
}

/* A callback: runs a few more ops, then returns a value or raises. */
static int callback(lua_State *L) {
    int depth = (int)lua_tointeger(L, lua_upvalueindex(1));
    unsigned k = fz_byte(&in);
    if (trace)
        fprintf(stderr, "%*scallback: %u ops%s\n", 2 * depth, "", k % 4,
                k >= 224 ? ", then raises" : "");
    run_ops(L, (int)(k % 4), depth);
    if (k >= 224) return luaL_error(L, "callback error");
    push_value(L, depth);
    return 1;
}

static void push_value(lua_State *L, int depth) {
    char s[17];
    unsigned k = fz_pick(&in, 22);
    if (depth >= MAX_DEPTH && k >= 12) k = 2;
    if (!lua_checkstack(L, 8)) k = 0;
    switch (k) {
        case 0: lua_pushnil(L); break;
        case 1: lua_pushboolean(L, (int)fz_pick(&in, 2)); break;
        case 2:
        case 3:
        case 4: lua_pushinteger(L, (lua_Integer)fz_pick(&in, 70) - 3); break;
        case 5: push_special(L, fz_byte(&in)); break;
        case 6: {
            uint64_t u = fz_u64(&in);
            double d;
            memcpy(&d, &u, sizeof d);
            lua_pushnumber(L, d);
            break;
        }
        case 7:
        case 8: lua_pushstring(L, WORDS[fz_pick(&in, N_WORDS)]); break;
        case 9: lua_pushstring(L, fz_str(&in, s, sizeof s - 1)); break;
        case 10:
        case 11: push_pool(L, fz_byte(&in)); break;
        case 12:
        case 13: push_matrix(L); break;
        case 14:
        case 15: push_options(L, depth); break;
        case 16: { /* a list of anything */
            int n = (int)fz_pick(&in, 5);
            lua_createtable(L, n, 0);
            for (int j = 1; j <= n; j++) {
                push_value(L, depth + 1);
                lua_rawseti(L, -2, j);
            }
            break;
        }
        case 17: push_trap(L); break;
        case 18:
            lua_pushinteger(L, depth + 1);
            lua_pushcclosure(L, callback, 1);
            break;
        case 19: lua_rawgeti(L, LUA_REGISTRYINDEX, module_ref); break;
        case 20: /* userdata of no type of ours */
            if (fz_pick(&in, 2)) lua_newuserdatauv(L, 16, 0);
            else lua_pushlightuserdata(L, &in);
            break;
        default: lua_newthread(L); break;
    }
}

/* Pushes the function to call for op `what` (a method or a module
 * function) and its first argument (self) for a method; returns the
 * number of arguments pushed after the function, and whether the count
 * argument of train_steps is in play (*count_arg). */
static const callable *last; /* for FUZZ_LUA_TRACE */

static int push_callee(lua_State *L, int method, int *count_arg) {
    *count_arg = 0;
    if (method && n_names > n_funcs) {
        const callable *c = last =
            &names[n_funcs + fz_pick(&in, (unsigned)(n_names - n_funcs))];
        luaL_getmetatable(L, c->type);
        if (lua_getfield(L, -1, c->name) != LUA_TFUNCTION) {
            lua_pop(L, 1);
            lua_getfield(L, -1, "__index");
            lua_getfield(L, -1, c->name);
            lua_remove(L, -2);
        }
        lua_remove(L, -2);
        if (!strcmp(c->name, "train_steps")) *count_arg = 6;
        /* self: usually a pooled object, sometimes anything */
        if (fz_pick(&in, 4)) push_pool(L, fz_byte(&in));
        else push_value(L, 1);
        return 1;
    }
    if (!n_funcs) return -1;
    const callable *c = last = &names[fz_pick(&in, (unsigned)n_funcs)];
    lua_rawgeti(L, LUA_REGISTRYINDEX, module_ref);
    lua_getfield(L, -1, c->name);
    lua_remove(L, -2);
    return 0;
}

/* A call: callee, arguments, lua_pcall, and up to 3 results into the pool. */
static void op_call(lua_State *L, int method, int depth) {
    int top = lua_gettop(L), count_arg;
    int nargs = push_callee(L, method, &count_arg);
    if (nargs < 0) return;
    int more = (int)fz_pick(&in, MAX_ARGS);
    for (int a = 0; a < more; a++) {
        if (nargs + 1 == count_arg)
            lua_pushinteger(L, (lua_Integer)fz_pick(&in, MAX_COUNT + 3) - 2);
        else push_value(L, depth);
        nargs++;
    }
    int status = lua_pcall(L, nargs, 3, 0);
    /* FUZZ_LUA_TRACE=1 shows what an input does (to write seeds, to read a
     * crash's input). */
    if (trace)
        fprintf(stderr, "%*s%s.%s: %s (%zu bytes left)\n", 2 * depth, "",
                last->type ? last->type : "bp", last->name,
                status == LUA_OK ? "ok" : lua_tostring(L, -1), in.n);
    if (status == LUA_OK) {
        /* Result 1 goes to slot b % POOL unless bit 4 is set; results 2 and
         * 3 to the next slots when bits 5 and 6 are. */
        unsigned b = fz_byte(&in);
        for (int r = 2; r >= 0; r--) {
            if (((b >> (4 + r)) & 1) == (r > 0)) store_pool(L, b + (unsigned)r);
            else lua_pop(L, 1);
        }
    }
    lua_settop(L, top);
}

static int tostring_len(lua_State *L) {
    luaL_tolstring(L, 1, NULL);
    lua_len(L, 1);
    return 0;
}

static void run_ops(lua_State *L, int count, int depth) {
    for (int j = 0; j < count && in.n && ops_left > 0; j++, ops_left--) {
        unsigned op = fz_pick(&in, 12);
        switch (op) {
            case 0:
            case 1:
            case 2:
            case 3:
            case 4: op_call(L, 1, depth); break;
            case 5:
            case 6: op_call(L, 0, depth); break;
            case 7: /* store a value */
                push_value(L, depth);
                store_pool(L, fz_byte(&in));
                break;
            case 8: /* drop a value, so the collector can find it */
                lua_pushnil(L);
                store_pool(L, fz_byte(&in));
                break;
            case 9: /* call a pooled value (a batches iterator, a callback) */
                push_pool(L, fz_byte(&in));
                push_value(L, depth);
                push_value(L, depth);
                lua_pcall(L, 2, 0, 0) == LUA_OK ? (void)0 : lua_pop(L, 1);
                break;
            case 10:
                lua_pushcfunction(L, tostring_len);
                push_pool(L, fz_byte(&in));
                lua_pcall(L, 1, 0, 0) == LUA_OK ? (void)0 : lua_pop(L, 1);
                break;
            default: lua_gc(L, fz_pick(&in, 2) ? LUA_GCCOLLECT : LUA_GCSTEP, 0); break;
        }
    }
}

static int run(lua_State *L) {
    luaL_requiref(L, "bp", luaopen_backprop, 0);
    module_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_createtable(L, POOL, 0);
    pool_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    run_ops(L, MAX_OPS, 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ready;
    if (!ready) {
        discover();
        bp_set_threads(1, NULL);
        trace = getenv("FUZZ_LUA_TRACE") != NULL;
        bp_set_allocator(eng_malloc, eng_calloc, eng_realloc, free);
        ready = 1;
    }
    in = (fz){data, size};
    static const size_t limits[4] = {64 << 20, 8 << 20, 1 << 20, 256 << 10};
    unsigned header = fz_byte(&in);
    lua_limit = limits[header & 3];
    /* From the header's high bits: the engine's n-th allocation fails. */
    engine_countdown = header >= 192 ? (long)fz_byte(&in) + 1 : 0;
    ops_left = MAX_OPS;
    lua_used = 0;
    lua_State *L = lua_newstate(lalloc, NULL);
    if (!L) return 0;
    lua_pushcfunction(L, run);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) lua_pop(L, 1); /* out of memory */
    lua_close(L);
    engine_countdown = 0;
    return 0;
}
