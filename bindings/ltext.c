/* ltext.c: text corpora in Lua (bp.data.text): a corpus as ids in C
 * memory (engine/bp_text.h), its vocabulary, encode and decode, and
 * batches of sequences as data sets, which net:train_batch and
 * net:evaluate take as they are.
 *
 * bp.data was a function (bp.data(x, y), ldata.c); it becomes a table
 * that is still called so (its __call) and holds `text`, so that the data
 * constructors sit under one name as the issue writes them.
 *
 * As for every type of the module: the userdata is created empty before
 * the corpus is read, one close function serves __gc, __close and
 * :close() and is safe twice; a wrong argument raises, and a failure of
 * the environment (a file missing, invalid UTF-8, an empty corpus)
 * returns nil, message. Ids are 1..V, as Lua counts. */
#include <lauxlib.h>
#include <lua.h>

#include "bp_text.h"
#include "lbackprop.h"

typedef struct ltext {
    bp_text *t; /* NULL once closed */
} ltext;

static bp_text *check_text(lua_State *L, int i) {
    ltext *u = luaL_checkudata(L, i, TEXT_TYPE);
    if (!u->t) luaL_error(L, "attempt to use a closed text corpus");
    return u->t;
}

static int text_close(lua_State *L) {
    ltext *u = luaL_checkudata(L, 1, TEXT_TYPE);
    bp_text_free(u->t);
    u->t = NULL;
    return 0;
}

static const char *const text_options[] = {"utf8", "val", NULL};

/* bp.data.text(paths [, {utf8 = false, val = 0.1}]) -> corpus, or nil,
 * message. paths: a path or a list of them, each a file or a directory
 * (its files without an extension, sorted by name). */
static int l_text(lua_State *L) {
    int utf8 = 0;
    double val = 0.1;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        bp_lua_check_options(L, 2, text_options, 0);
        utf8 = bp_lua_opt_bool(L, 2, "utf8", 0);
        if (lua_getfield(L, 2, "val") != LUA_TNIL) {
            if (!lua_isnumber(L, -1)) bp_lua_field_error(L, 2, "val", "number");
            val = lua_tonumber(L, -1);
            if (!(val >= 0 && val < 1))
                luaL_argerror(L, 2, lua_pushfstring(L, "field 'val': expected a fraction "
                                                       "in [0, 1), got %f", val));
        }
        lua_pop(L, 1);
    }
    int n = lua_type(L, 1) == LUA_TSTRING ? 1 : (luaL_checktype(L, 1, LUA_TTABLE),
                                                 (int)luaL_len(L, 1));
    if (n < 1) return luaL_argerror(L, 1, "expected a path or a list of paths");
    const char **paths = lua_newuserdatauv(L, sizeof *paths * (size_t)n, 0);
    for (int k = 0; k < n; k++) {
        if (lua_type(L, 1) == LUA_TSTRING) lua_pushvalue(L, 1);
        else lua_rawgeti(L, 1, k + 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_argerror(L, 1, lua_pushfstring(L, "path %d is a %s, not a string", k + 1,
                                                luaL_typename(L, -1)));
        paths[k] = lua_tostring(L, -1); /* kept alive: left on the stack */
    }
    ltext *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->t = NULL;
    luaL_setmetatable(L, TEXT_TYPE);
    bp_err e;
    if (!(u->t = bp_text_load(paths, n, utf8, val, &e))) return bp_lua_fail(L, e.msg);
    return 1;
}

/* "train" (the default) or "val", at arg (an options field at the top). */
static bp_text_part check_part(lua_State *L, int arg) {
    static const char *const parts[] = {"train", "val", NULL};
    return (bp_text_part)luaL_checkoption(L, arg, "train", parts);
}

/* c:vocab() -> the V tokens, id order, as strings */
static int text_vocab(lua_State *L) {
    bp_text *t = check_text(L, 1);
    int V = bp_text_vocab(t);
    lua_createtable(L, V, 0);
    for (int id = 1; id <= V; id++) {
        size_t len;
        const char *s = bp_text_token(t, id, &len);
        lua_pushlstring(L, s, len);
        lua_rawseti(L, -2, id);
    }
    return 1;
}

/* c:vocab_size() -> V */
static int text_vocab_size(lua_State *L) {
    lua_pushinteger(L, bp_text_vocab(check_text(L, 1)));
    return 1;
}

/* #c, c:length([part]) -> ids of the whole, or of "train" or "val" */
static int text_len(lua_State *L) {
    bp_text *t = check_text(L, 1);
    lua_pushinteger(L, (lua_Integer)bp_text_length(t, -1));
    return 1;
}
static int text_length(lua_State *L) {
    bp_text *t = check_text(L, 1);
    if (lua_isnoneornil(L, 2)) return text_len(L);
    lua_pushinteger(L, (lua_Integer)bp_text_length(t, (int)check_part(L, 2)));
    return 1;
}

/* c:encode(s) -> the ids of s; a token not in the vocabulary raises */
static int text_encode(lua_State *L) {
    bp_text *t = check_text(L, 1);
    size_t len;
    const char *s = luaL_checklstring(L, 2, &len);
    int32_t *ids = lua_newuserdatauv(L, sizeof *ids * (len ? len : 1), 0);
    bp_err e;
    long n = bp_text_encode(t, s, len, ids, &e);
    if (n < 0) return luaL_argerror(L, 2, e.msg);
    lua_createtable(L, (int)n, 0);
    for (long k = 0; k < n; k++) {
        lua_pushinteger(L, ids[k]);
        lua_rawseti(L, -2, k + 1);
    }
    return 1;
}

/* c:decode(ids) -> the text of a list of ids (numbers, whole, 1..V) */
static int text_decode(lua_State *L) {
    bp_text *t = check_text(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 2);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (lua_Integer k = 1; k <= n; k++) {
        int isint;
        lua_rawgeti(L, 2, k);
        lua_Integer id = lua_tointegerx(L, -1, &isint);
        lua_pop(L, 1);
        size_t len;
        const char *s = isint ? bp_text_token(t, (int)(id > INT32_MAX ? 0 : id), &len) : NULL;
        if (!s)
            return luaL_argerror(L, 2, lua_pushfstring(L, "id %I at position %I is not in "
                                                          "1..%d",
                                                       isint ? id : -1, k, bp_text_vocab(t)));
        luaL_addlstring(&b, s, len);
    }
    luaL_pushresult(&b);
    return 1;
}

/* c:batches(B, T [, part]) -> how many sequential batches the part has */
static int text_batches(lua_State *L) {
    bp_text *t = check_text(L, 1);
    int B = bp_lua_check_int(L, 2, "batch size"), T = bp_lua_check_int(L, 3, "steps");
    lua_pushinteger(L, bp_text_batches(t, check_part(L, 4), B, T));
    return 1;
}

static const char *const batch_options[] = {"part", "index", "dtype", "into", NULL};

/* c:batch(B, T [, {part = "train", index =, dtype = "float64", into = d}])
 * -> a data set of B rows of T ids and their T targets one step ahead:
 * at offsets drawn from the module's generator, or batch `index` of
 * c:batches (1-based); into: a data set of that shape refilled instead of
 * a new one (so a loop allocates nothing). Errors raise. */
static int text_batch(lua_State *L) {
    bp_text *t = check_text(L, 1);
    int B = bp_lua_check_int(L, 2, "batch size"), T = bp_lua_check_int(L, 3, "steps");
    bp_text_part part = BP_TEXT_TRAIN;
    long index = -1;
    bp_dtype dtype = BP_F64;
    int into = 0;
    if (!lua_isnoneornil(L, 4)) {
        luaL_checktype(L, 4, LUA_TTABLE);
        bp_lua_check_options(L, 4, batch_options, 0);
        dtype = bp_lua_opt_dtype(L, 4);
        lua_getfield(L, 4, "part");
        if (!lua_isnil(L, -1)) part = check_part(L, lua_gettop(L));
        lua_pop(L, 1);
        index = bp_lua_opt_int(L, 4, "index", 0, 1) - 1;
        if (lua_getfield(L, 4, "into") != LUA_TNIL) into = lua_gettop(L);
        else lua_pop(L, 1);
    }
    bp_data *d;
    if (into) {
        d = bp_lua_check_data(L, into);
        if (d->n != B || d->d != T || d->k != T)
            return luaL_argerror(L, 4, lua_pushfstring(L, "field 'into': a data set of %d x "
                                                          "%d, %d targets, is not one of "
                                                          "%d x %d, %d",
                                                       d->n, d->d, d->k, B, T, T));
    } else {
        bp_data **slot = bp_lua_new_data(L);
        bp_err e;
        if (!(*slot = bp_data_new(B, T, T, 0, &e)) || bp_data_set_dtype(*slot, dtype, &e))
            return luaL_error(L, "%s", e.msg);
        d = *slot;
    }
    bp_err e;
    if (bp_text_batch(t, d, part, index, &STATE(L)->rng, &e)) return luaL_error(L, "%s", e.msg);
    return 1;
}

static int text_tostring(lua_State *L) {
    ltext *u = luaL_checkudata(L, 1, TEXT_TYPE);
    if (!u->t) {
        lua_pushliteral(L, "text corpus (closed)");
        return 1;
    }
    const char *what = bp_text_utf8(u->t) ? "characters" : "bytes";
    lua_pushfstring(L, "text corpus of %I %s, %d distinct; %I for training, %I for validation",
                    (lua_Integer)bp_text_length(u->t, -1), what, bp_text_vocab(u->t),
                    (lua_Integer)bp_text_length(u->t, BP_TEXT_TRAIN),
                    (lua_Integer)bp_text_length(u->t, BP_TEXT_VAL));
    return 1;
}

/* bp.data(x, y [, opts]) as before: the table's __call, the table
 * dropped, so that arguments keep their numbers in error messages. */
static int data_call(lua_State *L) {
    lua_remove(L, 1);
    return bp_lua_data_new(L);
}

static const luaL_Reg text_methods[] = {
    {"vocab", text_vocab},     {"vocab_size", text_vocab_size}, {"length", text_length},
    {"encode", text_encode},   {"decode", text_decode},         {"batches", text_batches},
    {"batch", text_batch},     {"close", text_close},           {NULL, NULL}};

static const luaL_Reg text_metamethods[] = {
    {"__index", NULL},   {"__gc", text_close},          {"__close", text_close},
    {"__len", text_len}, {"__tostring", text_tostring}, {NULL, NULL}};

static const luaL_Reg data_funcs[] = {{"text", l_text}, {NULL, NULL}};

/* Stack: the state, the module's table. */
void bp_lua_open_text(lua_State *L) {
    bp_lua_new_type(L, TEXT_TYPE, text_metamethods, text_methods);
    lua_newtable(L); /* bp.data */
    lua_pushvalue(L, -3);
    luaL_setfuncs(L, data_funcs, 1);
    lua_newtable(L); /* its metatable */
    lua_pushvalue(L, -4);
    lua_pushcclosure(L, data_call, 1);
    lua_setfield(L, -2, "__call");
    lua_setmetatable(L, -2);
    lua_setfield(L, -2, "data");
}
