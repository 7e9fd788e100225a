/* fuzz_params.c: the command line's key=value parameters, as a script sees
 * them: bp_lua_set_params (what `backprop run` does with its arguments),
 * then bp.param(key, default) with defaults of every type, bp.params() and
 * bp_lua_unread_params.
 *
 * Input: a count byte, that many pairs (length-prefixed strings, so '=' and
 * any byte but NUL can fall anywhere), then queries: a byte choosing the
 * default's type and one choosing the key (one of the pairs' keys, or a
 * string of its own). Besides the sanitizers, the documented contract is
 * checked: a value read back has the default's type, a missing key gives
 * the default itself, an error names the parameter. */
#include "input.h"

#include <stdlib.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "bp_lua.h"

#define MAX_PAIRS 12
#define MAX_QUERIES 12

#define EXPECT(cond)                                                                     \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "fuzz_params.c:%d: contract broken: %s\n", __LINE__, #cond); \
            abort();                                                                     \
        }                                                                                \
    } while (0)

typedef struct args {
    int n;
    char **pairs;
    int rc;
} args;

/* bp_lua_set_params can raise (out of memory), so it runs protected, as in
 * the host. */
static int set_params(lua_State *L) {
    args *a = lua_touserdata(L, 1);
    lua_settop(L, 0);
    a->rc = bp_lua_set_params(L, a->n, a->pairs);
    if (a->rc) EXPECT(lua_gettop(L) == 1 && lua_type(L, -1) == LUA_TSTRING);
    else EXPECT(lua_gettop(L) == 0);
    return 0;
}

/* Whether two values are the same, NaN being the same as NaN. */
static int same(lua_State *L, int a, int b) {
    if (lua_rawequal(L, a, b)) return 1;
    double x = lua_tonumber(L, a), y = lua_tonumber(L, b);
    return lua_type(L, a) == LUA_TNUMBER && lua_type(L, b) == LUA_TNUMBER && x != x &&
           y != y;
}

/* Pushes a default of kind k (nothing for k == 0: the argument is absent). */
static int push_default(lua_State *L, fz *f, unsigned k) {
    char s[24];
    switch (k) {
        case 0: return 0;
        case 1: lua_pushnil(L); return 1;
        case 2: lua_pushinteger(L, (lua_Integer)fz_u64(f)); return 1;
        case 3: {
            uint64_t u = fz_u64(f);
            double d;
            memcpy(&d, &u, sizeof d);
            lua_pushnumber(L, d);
            return 1;
        }
        case 4: lua_pushboolean(L, (int)fz_pick(f, 2)); return 1;
        case 5: lua_pushstring(L, fz_str(f, s, sizeof s - 1)); return 1;
        default: lua_newtable(L); return 1; /* not a valid default */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz f = {data, size};
    char buf[MAX_PAIRS][48], *pairs[MAX_PAIRS];
    int n = (int)fz_pick(&f, MAX_PAIRS + 1);
    for (int k = 0; k < n; k++) pairs[k] = fz_str(&f, buf[k], sizeof buf[k] - 1);

    lua_State *L = luaL_newstate();
    if (!L) return 0;
    luaL_requiref(L, "bp", luaopen_backprop, 1);
    lua_pop(L, 1);
    args a = {n, pairs, 0};
    lua_pushcfunction(L, set_params);
    lua_pushlightuserdata(L, &a);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        lua_close(L);
        return 0;
    }
    int given = a.rc ? 0 : n;

    for (int q = 0; q < MAX_QUERIES && f.n; q++) {
        unsigned kind = fz_pick(&f, 7), which = fz_byte(&f);
        char own[24];
        const char *key;
        const char *value = NULL; /* what the command line gave for key */
        if (given && which < 192) {
            const char *pair = pairs[which % given];
            const char *eq = strchr(pair, '=');
            lua_pushlstring(L, pair, (size_t)(eq - pair));
            key = lua_tostring(L, -1);
            value = eq + 1;
        } else {
            key = lua_pushstring(L, fz_str(&f, own, sizeof own - 1));
            for (int k = 0; k < given && !value; k++) {
                const char *eq = strchr(pairs[k], '=');
                if ((size_t)(eq - pairs[k]) == strlen(key) &&
                    !strncmp(pairs[k], key, strlen(key)))
                    value = eq + 1;
            }
        }
        int def = 0; /* the default's slot, 0 when absent */
        if (push_default(L, &f, kind)) def = lua_gettop(L);
        int base = def ? def - 1 : lua_gettop(L); /* the key */
        int dtype = def ? lua_type(L, def) : LUA_TNONE;
        lua_getglobal(L, "bp");
        lua_getfield(L, -1, "param");
        lua_remove(L, -2);
        lua_pushvalue(L, base);
        if (def) lua_pushvalue(L, def);
        int status = lua_pcall(L, def ? 2 : 1, 1, 0);
        if (status == LUA_OK) {
            int t = lua_type(L, -1);
            if (value &&
                (dtype == LUA_TNUMBER || dtype == LUA_TBOOLEAN || dtype == LUA_TSTRING))
                EXPECT(t == dtype);
            if (value && dtype == LUA_TNUMBER && lua_isinteger(L, def))
                EXPECT(lua_isinteger(L, -1));
            if (value && dtype == LUA_TSTRING)
                EXPECT(!strcmp(lua_tostring(L, -1), value));
            if (!value) EXPECT(def && same(L, -1, def));
        } else if (status == LUA_ERRRUN && lua_type(L, -1) == LUA_TSTRING) {
            const char *msg = lua_tostring(L, -1);
            /* Either the default's type is refused, or the value does not
             * convert (naming the parameter), or there is neither. */
            EXPECT(dtype == LUA_TTABLE || strstr(msg, "parameter ") != NULL);
        }
        lua_settop(L, base - 1);
    }

    if (!a.rc) {
        lua_getglobal(L, "bp");
        lua_getfield(L, -1, "params");
        if (lua_pcall(L, 0, 1, 0) == LUA_OK) {
            int count = 0;
            lua_pushnil(L);
            while (lua_next(L, -2)) count++, lua_pop(L, 1);
            EXPECT(count == given);
        }
        lua_settop(L, 0);
        int unread = bp_lua_unread_params(L);
        EXPECT(unread >= 0 && unread <= given);
        EXPECT(lua_gettop(L) == (unread ? 1 : 0));
    }
    lua_close(L);
    return 0;
}
