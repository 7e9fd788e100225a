/* module.c: the Lua module `backprop`: luaopen_backprop and the bp.*
 * functions that belong to no type: parameters, the seed and random numbers,
 * threads, the clock.
 *
 * The module is bound as Lua's own liolib.c binds files: each type has one
 * metatable, its methods[] and metamethods[] tables in its own file, and is
 * created empty before its C object is allocated, so an allocation failure
 * leaves nothing to leak; one close function serves __gc, __close and
 * :close(), safe to call twice.
 *
 * Two error channels: a wrong argument is a programming error and raises
 * (luaL_argerror names the function and the argument); a failure of the
 * environment (a file, the run log's database) returns nil, message.
 *
 * Every function of the module and every method shares one upvalue, the
 * module's state (generator, run log, parameters' bookkeeping), so the hot
 * path (net:train_step) never looks anything up in a table. The state is a
 * userdata kept in the registry too, where the host's calls find it. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "bp_gemm.h"
#include "bp_lua.h"
#include "bp_util.h"
#include "lbackprop.h"

#define STATE_KEY "backprop.state"      /* registry: the module's state */
#define PARAMS_KEY "backprop.params"    /* registry: key -> given string */
/* registry: name -> true once read; false for a name given that need not
 * be read (a sweep's conditional or suggested parameter: bp_lua_param_exempt) */
#define READ_KEY "backprop.params_read"

state *bp_lua_state(lua_State *L) {
    lua_getfield(L, LUA_REGISTRYINDEX, STATE_KEY);
    state *st = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Parameters                                                                */

/* Whether s, which Lua read as an integer, is a hexadecimal one of more
 * than 16 significant digits: Lua wraps those around modulo 2^64. */
static int hex_wraps(const char *s) {
    while (*s == ' ' || *s == '\t' || *s == '-' || *s == '+') s++;
    if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) return 0;
    for (s += 2; *s == '0'; s++) {}
    size_t digits = strspn(s, "0123456789abcdefABCDEF");
    return digits > 16;
}

/* Whether s is a whole decimal number (blanks and a sign around it): one
 * that Lua reads as a float only because it is beyond 64 bits. */
static int decimal_integer(const char *s) {
    s += strspn(s, " \t");
    if (*s == '-' || *s == '+') s++;
    size_t digits = strspn(s, "0123456789");
    return digits > 0 && s[digits + strspn(s + digits, " \t")] == '\0';
}

/* Pushes the number s, as Lua reads a numeral, or raises. Out of range is
 * refused rather than rounded, since Lua alone would take 1e309 for inf
 * (while it refuses "inf"), 1e-400 for 0 and 0x1ffffffffffffffff for -1:
 * a parameter silently changed is worse than one refused. wants_int: the
 * default is an integer. */
static void push_param_number(lua_State *L, const char *name, const char *s,
                              int wants_int, lua_Integer dflt) {
    if (!lua_stringtonumber(L, s))
        luaL_error(L, "parameter %s: '%s' is not a number", name, s);
    if (lua_isinteger(L, -1)) {
        if (hex_wraps(s))
            luaL_error(L, "parameter %s: '%s' is out of range: more than 64 bits", name,
                       s);
        return;
    }
    if (wants_int && decimal_integer(s))
        luaL_error(L,
                   "parameter %s: '%s' is out of range: an integer lies in -2^63..2^63-1",
                   name, s);
    if (wants_int)
        luaL_error(L, "parameter %s: '%s' is not an integer (the default is %I)", name, s,
                   dflt);
    /* A subnormal result is kept (it is the nearest number); only infinity
     * and 0 from a non-zero numeral are refused. */
    const char *range = bp_numeral_range(s);
    if (range) luaL_error(L, "parameter %s: '%s' is %s", name, s, range);
}

/* Converts the given string s to the type of the default at index d. */
static void push_param_value(lua_State *L, const char *name, const char *s, int d) {
    switch (lua_type(L, d)) {
        case LUA_TNUMBER:
            push_param_number(L, name, s, lua_isinteger(L, d), lua_tointeger(L, d));
            return;
        case LUA_TBOOLEAN:
            if (!strcmp(s, "true") || !strcmp(s, "1") || !strcmp(s, "yes") ||
                !strcmp(s, "on"))
                lua_pushboolean(L, 1);
            else if (!strcmp(s, "false") || !strcmp(s, "0") || !strcmp(s, "no") ||
                     !strcmp(s, "off"))
                lua_pushboolean(L, 0);
            else
                luaL_error(L, "parameter %s: '%s' is not a boolean (true or false)", name,
                           s);
            return;
        case LUA_TSTRING: lua_pushstring(L, s); return;
        default: /* no default: a number if it reads as one, else the string */
            if (lua_stringtonumber(L, s)) {
                lua_pop(L, 1);
                push_param_number(L, name, s, 0, 0);
            } else {
                lua_pushstring(L, s);
            }
            return;
    }
}

void bp_lua_push_param(lua_State *L, const char *name, const char *s, int d) {
    push_param_value(L, name, s, lua_absindex(L, d));
}

const char *bp_lua_param_read(lua_State *L, const char *name) {
    lua_getfield(L, LUA_REGISTRYINDEX, PARAMS_KEY);
    const char *given = NULL;
    if (lua_istable(L, -1) && lua_getfield(L, -1, name) == LUA_TSTRING)
        given = lua_tostring(L, -1);
    /* Every name read, given or not: the gate's message lists them. */
    if (lua_getfield(L, LUA_REGISTRYINDEX, READ_KEY) == LUA_TTABLE) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, name);
    }
    lua_pop(L, 1);
    return given;
}

void bp_lua_param_set(lua_State *L, const char *name, const char *value) {
    if (lua_getfield(L, LUA_REGISTRYINDEX, PARAMS_KEY) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, PARAMS_KEY);
    }
    lua_pushstring(L, value);
    lua_setfield(L, -2, name);
    lua_pop(L, 1);
}

void bp_lua_param_exempt(lua_State *L, const char *name) {
    int top = lua_gettop(L);
    if (lua_getfield(L, LUA_REGISTRYINDEX, READ_KEY) == LUA_TTABLE &&
        lua_getfield(L, top + 1, name) == LUA_TNIL) {
        lua_pushboolean(L, 0); /* not read, yet no typo: not listed as read */
        lua_setfield(L, top + 1, name);
    }
    lua_settop(L, top);
}

/* bp.param(name [, default]) -> the value given on the command line
 * (name=value), converted to the default's type, or the default. */
static int l_param(lua_State *L) {
    const char *name = luaL_checkstring(L, 1);
    int d = 2;
    if (lua_type(L, 2) != LUA_TNONE && lua_type(L, 2) != LUA_TNIL &&
        lua_type(L, 2) != LUA_TNUMBER && lua_type(L, 2) != LUA_TSTRING &&
        lua_type(L, 2) != LUA_TBOOLEAN)
        return luaL_typeerror(L, 2, "number, string or boolean");
    lua_settop(L, 2);
    const char *given = bp_lua_param_read(L, name); /* left on the stack */
    if (given) {
        push_param_value(L, name, given, d);
    } else if (lua_isnil(L, d)) {
        return luaL_error(L, "parameter %s was not given (%s=VALUE) and has no default",
                          name, name);
    } else {
        lua_pushvalue(L, d);
    }
    bp_lua_record_param(L, name, lua_gettop(L));
    return 1;
}

static void params_check(lua_State *L, state *st, const char *what, const char *read);

/* bp.params{name = default, ...} -> {name = value, ...}: the script's
 * parameters declared at once, each read as bp.param(name, default) reads
 * it; a parameter given on the command line that is not among them is an
 * error here, before the script does anything else. */
static int declare_params(lua_State *L) {
    lua_settop(L, 1);
    lua_newtable(L); /* 2: the values */
    lua_pushvalue(L, lua_upvalueindex(1)); /* 3: bp.param, with the state */
    lua_pushcclosure(L, l_param, 1);
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            return luaL_argerror(L, 1, "the keys must be parameters' names");
        lua_pushvalue(L, 3); /* bp.param */
        lua_pushvalue(L, -3);
        lua_pushvalue(L, -3);
        lua_call(L, 2, 1);
        lua_pushvalue(L, -3);
        lua_insert(L, -2);
        lua_settable(L, 2);
        lua_pop(L, 1);
    }
    params_check(L, STATE(L), "not declared by bp.params{...}", "it declares");
    lua_settop(L, 2);
    return 1;
}

/* bp.params() -> a table of the parameters given on the command line;
 * bp.params{...}: declare_params */
static int l_params(lua_State *L) {
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        return declare_params(L);
    }
    lua_newtable(L);
    if (lua_getfield(L, LUA_REGISTRYINDEX, PARAMS_KEY) == LUA_TTABLE) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_settable(L, -5);
        }
    }
    lua_pop(L, 1);
    return 1;
}

int bp_lua_set_params(lua_State *L, int n, char **pairs) {
    lua_newtable(L);
    for (int k = 0; k < n; k++) {
        const char *eq = strchr(pairs[k], '=');
        if (!eq || eq == pairs[k]) {
            lua_pop(L, 1);
            lua_pushfstring(L, "bad parameter '%s': expected key=value", pairs[k]);
            return -1;
        }
        lua_pushlstring(L, pairs[k], (size_t)(eq - pairs[k]));
        if (lua_rawget(L, -2) != LUA_TNIL) {
            lua_pop(L, 2);
            lua_pushfstring(L, "parameter '%s' given twice", pairs[k]);
            return -1;
        }
        lua_pop(L, 1);
        lua_pushlstring(L, pairs[k], (size_t)(eq - pairs[k]));
        lua_pushstring(L, eq + 1);
        lua_rawset(L, -3);
    }
    lua_setfield(L, LUA_REGISTRYINDEX, PARAMS_KEY);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, READ_KEY);
    state *st = bp_lua_state(L);
    if (st) st->params_gate = n > 0;
    return 0;
}

void bp_lua_trust_params(lua_State *L) {
    state *st = bp_lua_state(L);
    if (st) st->params_gate = 0;
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Pushes the string keys of the table at index t that are not keys of the
 * table at index `without` (0: none), sorted and joined by ", "; returns
 * how many. The keys stay anchored in t while they are sorted. */
static int push_keys(lua_State *L, int t, int without) {
    t = lua_absindex(L, t);
    if (without) without = lua_absindex(L, without);
    int n = 0, cap = 0;
    const char **v = NULL;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        int exempt = lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1);
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING || (exempt && !without)) continue;
        lua_pushvalue(L, -1);
        int absent = !without || lua_rawget(L, without) == LUA_TNIL;
        lua_pop(L, 1);
        if (!absent) continue;
        if (n == cap) {
            const char **w = realloc(v, sizeof *v * (size_t)(cap = cap ? 2 * cap : 8));
            if (!w) {
                free(v);
                lua_pop(L, 1);
                luaL_error(L, "not enough memory");
            }
            v = w;
        }
        v[n++] = lua_tostring(L, -1);
    }
    if (n) qsort(v, (size_t)n, sizeof *v, by_name);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int k = 0; k < n; k++) {
        if (k) luaL_addstring(&b, ", ");
        luaL_addstring(&b, v[k]);
    }
    free(v);
    luaL_pushresult(&b);
    return n;
}

int bp_lua_unread_params(lua_State *L) {
    int top = lua_gettop(L);
    if (lua_getfield(L, LUA_REGISTRYINDEX, PARAMS_KEY) != LUA_TTABLE ||
        lua_getfield(L, LUA_REGISTRYINDEX, READ_KEY) != LUA_TTABLE) {
        lua_settop(L, top);
        return 0;
    }
    int count = push_keys(L, top + 1, top + 2);
    lua_replace(L, top + 1);
    lua_settop(L, count ? top + 1 : top);
    return count;
}

/* Raises "parameter given but <what>: hiden (a typo? <read> epochs, lr)" if
 * a parameter given on the command line was not read; the gate closes
 * either way. */
static void params_check(lua_State *L, state *st, const char *what, const char *read) {
    st->params_gate = 0;
    int n = bp_lua_unread_params(L);
    if (!n) return;
    lua_getfield(L, LUA_REGISTRYINDEX, READ_KEY);
    int m = push_keys(L, -1, 0);
    luaL_error(L, "parameter%s given but %s: %s (%s? %s %s)", n > 1 ? "s" : "", what,
               lua_tostring(L, -3), n > 1 ? "typos" : "a typo", read,
               m ? lua_tostring(L, -1) : "none");
}

void bp_lua_params_check(lua_State *L, state *st) {
    params_check(L, st, "never read before the script began to train or log",
                 "it read");
}

/* ------------------------------------------------------------------------ */
/* Seed, random numbers                                                      */

void bp_lua_seed(lua_State *L, uint64_t seed) {
    state *st = bp_lua_state(L);
    if (!st) return;
    st->seed = seed;
    bp_rng_seed(&st->rng, seed);
}

/* bp.seed("data" [, n]) -> the data seed; with n, sets it first. A seed
 * for the data alone (its split, its noise), so that the run's seed can
 * differ between trials without moving their validation sets. */
static int data_seed(lua_State *L, state *st) {
    if (strcmp(lua_tostring(L, 1), "data"))
        return luaL_argerror(L, 1,
                             lua_pushfstring(L,
                                             "unknown seed '%s' (expected \"data\" or"
                                             " an integer)",
                                             lua_tostring(L, 1)));
    if (!lua_isnoneornil(L, 2)) {
        int isint;
        lua_Integer s = lua_tointegerx(L, 2, &isint);
        if (!isint) return luaL_typeerror(L, 2, "integer");
        st->data_seed = (uint64_t)s;
    }
    lua_pushinteger(L, (lua_Integer)st->data_seed);
    return 1;
}

/* bp.seed([n]) -> the seed; with n, reseeds the module's generator.
 * bp.seed("data" [, n]): the data seed (data_seed above). */
static int l_seed(lua_State *L) {
    state *st = STATE(L);
    if (lua_type(L, 1) == LUA_TSTRING) return data_seed(L, st);
    if (!lua_isnoneornil(L, 1)) {
        int isint;
        lua_Integer s = lua_tointegerx(L, 1, &isint);
        if (!isint) return luaL_typeerror(L, 1, "integer");
        st->seed = (uint64_t)s;
        bp_rng_seed(&st->rng, st->seed);
        bp_err e;
        if (st->log && bp_runlog_set_seed(st->log, st->run, (int64_t)st->seed, &e))
            return luaL_error(L, "%s", e.msg);
    }
    lua_pushinteger(L, (lua_Integer)st->seed);
    return 1;
}

/* bp.uniform([a, b]) -> uniform in [a, b), default [0, 1) */
static int l_uniform(lua_State *L) {
    double a = luaL_optnumber(L, 1, 0), b = luaL_optnumber(L, 2, 1);
    lua_pushnumber(L, a + (b - a) * bp_rng_uniform(&STATE(L)->rng));
    return 1;
}

/* bp.normal([mean, std]) */
static int l_normal(lua_State *L) {
    double m = luaL_optnumber(L, 1, 0), s = luaL_optnumber(L, 2, 1);
    luaL_argcheck(L, s >= 0, 2, "std must be >= 0");
    lua_pushnumber(L, bp_rng_normal(&STATE(L)->rng, m, s));
    return 1;
}

/* bp.randint(n) -> uniform integer in 1..n */
static int l_randint(lua_State *L) {
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n >= 1, 1, "n must be >= 1");
    lua_pushinteger(L, 1 + (lua_Integer)bp_rng_below(&STATE(L)->rng, (uint64_t)n));
    return 1;
}

/* bp.threads([n]) -> the threads a matrix product may use (OpenBLAS's count:
 * OPENBLAS_NUM_THREADS, or the cores); with n, sets it first. */
static int l_threads(lua_State *L) {
    if (!lua_isnoneornil(L, 1)) {
        bp_err e;
        if (bp_set_threads(bp_lua_check_int(L, 1, "threads"), &e))
            return luaL_argerror(L, 1, e.msg);
    }
    lua_pushinteger(L, bp_threads());
    return 1;
}

/* bp.reproducible([isa]) -> isa: pins oneDNN's float32 kernels to the
 * instruction set isa (default "avx2") or below, so that machines with it
 * give the same bits (bp_gemm.h). Raises for an unknown name, or once a
 * float32 product has been made (too late: oneDNN has chosen). */
static int l_reproducible(lua_State *L) {
    const char *isa = luaL_optstring(L, 1, "avx2");
    bp_err e;
    if (bp_gemm_pin_isa(isa, &e)) return luaL_error(L, "bp.reproducible: %s", e.msg);
    lua_pushstring(L, bp_gemm_pinned());
    return 1;
}

/* bp.clock() -> seconds on a monotonic wall clock (os.clock is processor
 * time, which counts every thread of a parallel product), for timing. */
static int l_clock(lua_State *L) {
    lua_pushnumber(L, bp_clock());
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Registration                                                              */

void bp_lua_new_type(lua_State *L, const char *name, const luaL_Reg *meta,
                     const luaL_Reg *methods) {
    luaL_newmetatable(L, name);
    lua_pushvalue(L, -3); /* the state */
    luaL_setfuncs(L, meta, 1);
    if (methods) {
        lua_newtable(L);
        lua_pushvalue(L, -4);
        luaL_setfuncs(L, methods, 1);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
}

void bp_lua_add_methods(lua_State *L, const char *name, const luaL_Reg *methods) {
    luaL_getmetatable(L, name);
    lua_getfield(L, -1, "__index");
    lua_pushvalue(L, -4); /* the state */
    luaL_setfuncs(L, methods, 1);
    lua_pop(L, 2);
}

void bp_lua_add_funcs(lua_State *L, const luaL_Reg *funcs) {
    lua_pushvalue(L, -2); /* the state */
    luaL_setfuncs(L, funcs, 1);
}

static const luaL_Reg funcs[] = {{"param", l_param},     {"params", l_params},
                                 {"seed", l_seed},       {"uniform", l_uniform},
                                 {"normal", l_normal},   {"randint", l_randint},
                                 {"threads", l_threads}, {"reproducible", l_reproducible},
                                 {"clock", l_clock},     {NULL, NULL}};

int luaopen_backprop(lua_State *L) {
    /* One state per Lua state: a second require reuses it. */
    if (lua_getfield(L, LUA_REGISTRYINDEX, STATE_KEY) != LUA_TUSERDATA) {
        lua_pop(L, 1);
        state *st = lua_newuserdatauv(L, sizeof *st, 0);
        memset(st, 0, sizeof *st);
        st->seed = 1;
        st->data_seed = 1;
        bp_rng_seed(&st->rng, st->seed);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, STATE_KEY);
    }
    luaL_newlibtable(L, funcs);
    bp_lua_add_funcs(L, funcs);
    /* The net first: the files after it add methods to it. */
    bp_lua_open_net(L);
    bp_lua_open_module(L);
    bp_lua_open_params(L);
    bp_lua_open_loss(L);
    bp_lua_open_optim(L);
    bp_lua_open_train(L);
    bp_lua_open_data(L);
    bp_lua_open_text(L);
    bp_lua_open_state(L);
    bp_lua_open_sample(L);
    bp_lua_open_fit(L);
    bp_lua_open_model(L);
    bp_lua_open_runlog(L);
    bp_lua_open_sweep(L);
    bp_lua_open_progress(L);
    bp_lua_open_show(L);
    bp_lua_open_tensor(L);
    bp_lua_open_host(L);
    bp_lua_open_script(L);
    lua_pushliteral(L, BP_VERSION);
    lua_setfield(L, -2, "version");
    return 1;
}
