/* ldata.c: data sets in Lua (backprop.data) and the training loop net:fit.
 *
 * A data set stays in C memory (a bp_data, engine/bp_data.h): Lua holds one
 * userdata of a pointer, so Fashion-MNIST's 60,000 x 784 inputs cost their
 * 376 MB of doubles and no table per sample. Everything that walks the rows
 * runs in C as well: net:train_batch trains on a batch in place (a pointer
 * into the data, no copy), net:fit runs whole epochs through the engine's
 * loop (engine/bp_fit.h) and writes each step's loss to the run log from its
 * step callback, so that a script pays no Lua call per step, and
 * net:evaluate and net:predict go over the data in batches.
 *
 * As in lbackprop.c: the userdata is created empty before the bp_data is
 * allocated, one close function serves __gc, __close and :close() and is safe
 * twice; a wrong argument raises, and a failure of the environment (a file
 * that is missing or malformed) returns nil, message. Every function has the
 * module's state as upvalue 1.
 *
 * Lua indexes rows and classes from 1; the engine from 0. The conversion is
 * done here and nowhere else. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "bp_data.h"
#include "bp_fit.h"
#include "bp_progress.h"
#include "bp_util.h"
#include "lbackprop.h"

#define DATA_TYPE "backprop.data"
#define FIT_TYPE "backprop.fit" /* internal: owns a bp_fit while net:fit runs */

/* Rows per forward pass in evaluate and predict: large enough for OpenBLAS
 * to pay off, small enough that the net's buffers stay a few MB. */
#define EVAL_BATCH 500

typedef struct ldata {
    bp_data *d; /* NULL once closed */
} ldata;

static bp_data *check_data(lua_State *L, int i) {
    ldata *u = luaL_checkudata(L, i, DATA_TYPE);
    if (!u->d) luaL_error(L, "attempt to use a closed data set");
    return u->d;
}

/* Pushes an empty data userdata; the caller fills in d. */
static ldata *new_data(lua_State *L) {
    ldata *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->d = NULL;
    luaL_setmetatable(L, DATA_TYPE);
    return u;
}

static int data_close(lua_State *L) {
    ldata *u = luaL_checkudata(L, 1, DATA_TYPE);
    bp_data_free(u->d);
    u->d = NULL;
    return 0;
}

/* Pushes nil, message for a failure of the environment; returns 2. */
static int fail(lua_State *L, const bp_err *e) {
    luaL_pushfail(L);
    lua_pushstring(L, e->msg);
    return 2;
}

static char *dup_str(lua_State *L, const char *s) {
    size_t len = strlen(s) + 1;
    char *copy = malloc(len);
    if (!copy) luaL_error(L, "out of memory");
    memcpy(copy, s, len);
    return copy;
}

/* ------------------------------------------------------------------------ */
/* Option tables                                                             */

/* Raises if the table at arg has a key that is not in names: a misspelt
 * option ("epoch = 10") would otherwise be ignored without a word. */
static void check_keys(lua_State *L, int arg, const char *const names[]) {
    lua_pushnil(L);
    while (lua_next(L, arg)) {
        lua_pop(L, 1);
        int known = 0;
        if (lua_type(L, -1) == LUA_TSTRING)
            for (int j = 0; names[j] && !known; j++)
                known = strcmp(lua_tostring(L, -1), names[j]) == 0;
        if (!known)
            luaL_argerror(
                L, arg,
                lua_pushfstring(L, "unknown option '%s'", luaL_tolstring(L, -1, NULL)));
    }
}

static int field_error(lua_State *L, int arg, const char *name, const char *expected) {
    return luaL_argerror(L, arg,
                         lua_pushfstring(L, "field '%s': %s expected, got %s", name,
                                         expected, luaL_typename(L, -1)));
}

static int opt_bool(lua_State *L, int arg, const char *name, int def) {
    int t = lua_getfield(L, arg, name), v = def;
    if (t != LUA_TNIL) {
        if (t != LUA_TBOOLEAN) field_error(L, arg, name, "boolean");
        v = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

/* An integer field >= lo (def when absent). */
static int opt_int(lua_State *L, int arg, const char *name, int def, int lo) {
    int t = lua_getfield(L, arg, name), v = def;
    if (t != LUA_TNIL) {
        if (!lua_isinteger(L, -1)) field_error(L, arg, name, "integer");
        lua_Integer i = lua_tointeger(L, -1);
        if (i < lo || i > INT32_MAX)
            luaL_argerror(L, arg,
                          lua_pushfstring(L,
                                          "field '%s': must be an integer "
                                          ">= %d, got %I",
                                          name, lo, i));
        v = (int)i;
    }
    lua_pop(L, 1);
    return v;
}

/* A string field (def when absent), copied into buf of size n. */
static const char *opt_str(lua_State *L, int arg, const char *name, const char *def,
                           char *buf, size_t n) {
    int t = lua_getfield(L, arg, name);
    const char *s = def;
    if (t != LUA_TNIL) {
        if (t != LUA_TSTRING) field_error(L, arg, name, "string");
        s = lua_tostring(L, -1);
    }
    if (s && strlen(s) >= n)
        luaL_argerror(
            L, arg,
            lua_pushfstring(L, "field '%s': at most %d characters", name, (int)n - 1));
    if (s) {
        memcpy(buf, s, strlen(s) + 1);
        s = buf;
    }
    lua_pop(L, 1);
    return s;
}

/* The option table's dtype field: float64 when absent. */
static bp_dtype opt_dtype(lua_State *L, int arg) {
    bp_dtype t = BP_F64;
    if (lua_getfield(L, arg, "dtype") != LUA_TNIL)
        t = bp_lua_dtype_at_top(L, arg, "dtype");
    lua_pop(L, 1);
    return t;
}

/* ------------------------------------------------------------------------ */
/* Loading                                                                   */

static const char *const csv_options[] = {"target", "delim", "classify", "dtype", NULL};

/* bp.load_csv(path [, {target =, delim =, classify =, dtype =}]) -> data, or
 * nil, message. target: the target column's name (default: the last column);
 * delim: one character (default ","); classify: the target is a class label
 * (default true), else a number; dtype: of the inputs (default float64). */
static int l_load_csv(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    char target[256], delim = ',';
    const char *tgt = NULL;
    int classify = 1;
    bp_dtype dtype = BP_F64;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        check_keys(L, 2, csv_options);
        tgt = opt_str(L, 2, "target", NULL, target, sizeof target);
        char dl[8];
        const char *ds = opt_str(L, 2, "delim", ",", dl, sizeof dl);
        if (strlen(ds) != 1)
            luaL_argerror(L, 2,
                          lua_pushfstring(L,
                                          "field 'delim': one character "
                                          "expected, got '%s'",
                                          ds));
        delim = ds[0];
        classify = opt_bool(L, 2, "classify", 1);
        dtype = opt_dtype(L, 2);
    }
    ldata *u = new_data(L);
    bp_err e;
    if (!(u->d = bp_data_load_csv(path, tgt, delim, classify, &e)) ||
        bp_data_set_dtype(u->d, dtype, &e))
        return fail(L, &e);
    return 1;
}

static const char *const idx_options[] = {"dtype", NULL};

/* bp.load_idx(images, labels [, classes] [, {dtype =}]) -> data, or nil,
 * message */
static int l_load_idx(lua_State *L) {
    const char *images = luaL_checkstring(L, 1), *labels = luaL_checkstring(L, 2);
    int classes = 0, opts = 3;
    bp_dtype dtype = BP_F64;
    if (!lua_isnoneornil(L, 3) && !lua_istable(L, 3)) {
        classes = bp_lua_check_int(L, 3, "number of classes");
        opts = 4;
    }
    if (!lua_isnoneornil(L, opts)) {
        luaL_checktype(L, opts, LUA_TTABLE);
        check_keys(L, opts, idx_options);
        dtype = opt_dtype(L, opts);
    }
    ldata *u = new_data(L);
    bp_err e;
    if (!(u->d = bp_data_load_idx(images, labels, classes, dtype, &e)))
        return fail(L, &e);
    return 1;
}

static const char *const fashion_options[] = {"train", "dir", "dtype", NULL};

/* bp.fashion_mnist([{train = true, dir = nil, dtype = "float64"}]) -> data,
 * or nil, message */
static int l_fashion_mnist(lua_State *L) {
    int train = 1;
    char dir[4096];
    const char *d = NULL;
    bp_dtype dtype = BP_F64;
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        check_keys(L, 1, fashion_options);
        train = opt_bool(L, 1, "train", 1);
        d = opt_str(L, 1, "dir", NULL, dir, sizeof dir);
        dtype = opt_dtype(L, 1);
    }
    ldata *u = new_data(L);
    bp_err e;
    if (!(u->d = bp_data_fashion_mnist(d, train, dtype, &e))) return fail(L, &e);
    return 1;
}

/* One number of a row table (at the top of the stack), or an argument error. */
static double cell(lua_State *L, int arg, int row, int col) {
    if (lua_rawgeti(L, -1, col) != LUA_TNUMBER)
        luaL_argerror(L, arg,
                      lua_pushfstring(L,
                                      "row %d, column %d: number expected, "
                                      "got %s",
                                      row, col, luaL_typename(L, -1)));
    double v = lua_tonumber(L, -1);
    lua_pop(L, 1);
    return v;
}

/* Width of row 1 of the table at arg (a row table, or 1 for a number when
 * numbers are allowed). */
static int first_width(lua_State *L, int arg, int numbers) {
    luaL_checktype(L, arg, LUA_TTABLE);
    if (luaL_len(L, arg) < 1) luaL_argerror(L, arg, "empty table");
    int t = lua_rawgeti(L, arg, 1), w = 1;
    if (t == LUA_TTABLE) w = (int)luaL_len(L, -1);
    else if (!(numbers && t == LUA_TNUMBER))
        luaL_argerror(
            L, arg,
            lua_pushfstring(L, "row 1: table expected, got %s", luaL_typename(L, -1)));
    lua_pop(L, 1);
    if (w < 1) luaL_argerror(L, arg, "row 1 is empty");
    return w;
}

/* Reads n rows of w numbers (or n numbers when w is 1 and they are bare)
 * from the table at arg into m. */
static void read_rows(lua_State *L, int arg, int n, int w, double *m) {
    if ((int)luaL_len(L, arg) != n)
        luaL_argerror(
            L, arg,
            lua_pushfstring(L, "expected %d rows, got %d", n, (int)luaL_len(L, arg)));
    for (int r = 1; r <= n; r++) {
        int t = lua_rawgeti(L, arg, r);
        if (t == LUA_TNUMBER && w == 1) {
            m[r - 1] = lua_tonumber(L, -1);
        } else if (t == LUA_TTABLE) {
            if ((int)luaL_len(L, -1) != w)
                luaL_argerror(L, arg,
                              lua_pushfstring(L,
                                              "row %d: expected %d values, "
                                              "got %d",
                                              r, w, (int)luaL_len(L, -1)));
            for (int c = 1; c <= w; c++)
                m[(size_t)(r - 1) * w + c - 1] = cell(L, arg, r, c);
        } else {
            luaL_argerror(L, arg,
                          lua_pushfstring(L, "row %d: table expected, got %s", r,
                                          luaL_typename(L, -1)));
        }
        lua_pop(L, 1);
    }
}

static const char *const data_options[] = {"classes", "dtype", NULL};

/* bp.data(x, y [, {classes = C | {names}, dtype =}]) -> data, from Lua
 * tables: x a list of rows, y a list of target rows (or of numbers, one
 * target each), or with `classes`, a list of class labels 1..C (one-hot
 * targets); dtype: of the inputs (default float64). */
/* Converts a new data set's inputs to dtype; raises on failure. Returns 1,
 * the data set being at the top of the stack. */
static int with_dtype(lua_State *L, bp_data *data, bp_dtype dtype) {
    bp_err e;
    if (bp_data_set_dtype(data, dtype, &e)) return luaL_error(L, "%s", e.msg);
    return 1;
}

static int l_data(lua_State *L) {
    int d = first_width(L, 1, 0);
    lua_Integer n = luaL_len(L, 1);
    if (n > INT32_MAX) luaL_argerror(L, 1, "too many rows");
    int C = 0, named = 0;
    bp_dtype dtype = BP_F64;
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        check_keys(L, 3, data_options);
        dtype = opt_dtype(L, 3);
        int t = lua_getfield(L, 3, "classes");
        if (t == LUA_TTABLE) {
            C = (int)luaL_len(L, -1);
            named = 1;
        } else if (t == LUA_TNUMBER && lua_isinteger(L, -1)) {
            lua_Integer c = lua_tointeger(L, -1);
            C = c >= 1 && c <= BP_DATA_MAX_CLASSES ? (int)c : -1;
        } else if (t != LUA_TNIL) {
            field_error(L, 3, "classes", "integer or list of names");
        }
        if (C < 0 || (named && C < 1))
            luaL_argerror(L, 3,
                          lua_pushfstring(L, "field 'classes': 1 to %d classes",
                                          BP_DATA_MAX_CLASSES));
        lua_pop(L, 1);
    }
    int k = C ? C : first_width(L, 2, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    ldata *u = new_data(L);
    int result = lua_gettop(L);
    bp_err e;
    if (!(u->d = bp_data_new((int)n, d, k, C, &e))) return luaL_error(L, "%s", e.msg);
    bp_data *data = u->d;
    read_rows(L, 1, (int)n, d, data->x);
    if (!C) {
        read_rows(L, 2, (int)n, k, data->y);
        return with_dtype(L, data, dtype);
    }
    if ((int)luaL_len(L, 2) != n)
        luaL_argerror(L, 2,
                      lua_pushfstring(L, "expected %d labels, got %d", (int)n,
                                      (int)luaL_len(L, 2)));
    for (int r = 1; r <= n; r++) {
        lua_rawgeti(L, 2, r);
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 || lua_tointeger(L, -1) > C)
            luaL_argerror(L, 2,
                          lua_pushfstring(L,
                                          "label %d: an integer 1..%d expected, "
                                          "got %s",
                                          r, C, luaL_tolstring(L, -1, NULL)));
        data->label[r - 1] = (int)lua_tointeger(L, -1) - 1;
        lua_pop(L, 1);
    }
    bp_data_onehot(data, NULL);
    if (!(data->classes = calloc((size_t)C, sizeof(char *))))
        return luaL_error(L, "out of memory");
    for (int c = 1; c <= C; c++) {
        if (named) {
            lua_getfield(L, 3, "classes");
            if (lua_rawgeti(L, -1, c) != LUA_TSTRING)
                luaL_argerror(L, 3,
                              lua_pushfstring(L,
                                              "field 'classes': name %d is not "
                                              "a string",
                                              c));
            data->classes[c - 1] = dup_str(L, lua_tostring(L, -1));
            lua_pop(L, 2);
        } else {
            char num[16];
            snprintf(num, sizeof num, "%d", c);
            data->classes[c - 1] = dup_str(L, num);
        }
    }
    lua_settop(L, result);
    return with_dtype(L, data, dtype);
}

/* ------------------------------------------------------------------------ */
/* Looking at a data set                                                     */

static int data_len(lua_State *L) {
    lua_pushinteger(L, check_data(L, 1)->n);
    return 1;
}
static int data_inputs(lua_State *L) {
    lua_pushinteger(L, check_data(L, 1)->d);
    return 1;
}
static int data_outputs(lua_State *L) {
    lua_pushinteger(L, check_data(L, 1)->k);
    return 1;
}

static void push_strings(lua_State *L, char *const *v, int count) {
    if (!v) {
        lua_pushnil(L);
        return;
    }
    lua_createtable(L, count, 0);
    for (int j = 0; j < count; j++) {
        lua_pushstring(L, v[j]);
        lua_rawseti(L, -2, j + 1);
    }
}

/* d:classes() -> the class names (class c is names[c]), or nil without
 * class labels */
static int data_classes(lua_State *L) {
    bp_data *d = check_data(L, 1);
    if (d->n_classes) push_strings(L, d->classes, d->n_classes);
    else lua_pushnil(L);
    return 1;
}

/* d:names() -> the input columns' names, the target's name (nil if unknown) */
static int data_names(lua_State *L) {
    bp_data *d = check_data(L, 1);
    push_strings(L, d->names, d->d);
    if (d->target) lua_pushstring(L, d->target);
    else lua_pushnil(L);
    return 2;
}

static void push_row(lua_State *L, const double *v, int w) {
    lua_createtable(L, w, 0);
    for (int c = 0; c < w; c++) {
        lua_pushnumber(L, v[c]);
        lua_rawseti(L, -2, c + 1);
    }
}

/* Row r of d's inputs, in either dtype, as a list of numbers. */
static void push_inputs(lua_State *L, const bp_data *d, size_t r) {
    lua_createtable(L, d->d, 0);
    for (int c = 0; c < d->d; c++) {
        lua_pushnumber(L, bp_data_get(d, r * d->d + c));
        lua_rawseti(L, -2, c + 1);
    }
}

/* d:row(i) -> x, y (lists), and the class 1..C when there are labels */
static int data_row(lua_State *L) {
    bp_data *d = check_data(L, 1);
    lua_Integer i = luaL_checkinteger(L, 2);
    if (i < 1 || i > d->n)
        return luaL_argerror(L, 2,
                             lua_pushfstring(L, "row %I out of range 1..%d", i, d->n));
    size_t r = (size_t)i - 1;
    push_inputs(L, d, r);
    push_row(L, d->y + r * d->k, d->k);
    if (!d->label) return 2;
    lua_pushinteger(L, d->label[r] + 1);
    return 3;
}

static int data_tostring(lua_State *L) {
    ldata *u = luaL_checkudata(L, 1, DATA_TYPE);
    bp_data *d = u->d;
    const char *t = d && d->dtype == BP_F32 ? " float32" : "";
    if (!d) lua_pushliteral(L, "data (closed)");
    else if (d->n_classes)
        lua_pushfstring(L, "data %d x %d%s, %d classes", d->n, d->d, t, d->n_classes);
    else
        lua_pushfstring(L, "data %d x %d%s, %d target%s", d->n, d->d, t, d->k,
                        d->k == 1 ? "" : "s");
    return 1;
}

/* d:dtype() -> "float64" or "float32"; d:dtype(name) -> d, its inputs
 * converted in place, or nil, message when memory runs out */
static int data_dtype(lua_State *L) {
    bp_data *d = check_data(L, 1);
    if (lua_isnoneornil(L, 2)) {
        lua_pushstring(L, bp_dtype_name(d->dtype));
        return 1;
    }
    luaL_checkany(L, 2);
    lua_pushvalue(L, 2);
    bp_dtype t = bp_lua_dtype_at_top(L, 2, NULL);
    bp_err e;
    if (bp_data_set_dtype(d, t, &e)) return fail(L, &e);
    lua_settop(L, 1);
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Preparing                                                                 */

/* d:shuffle() -> d: rows shuffled in place by the module's generator */
static int data_shuffle(lua_State *L) {
    bp_data *d = check_data(L, 1);
    bp_err e;
    if (bp_data_shuffle(d, &STATE(L)->rng, &e)) return luaL_error(L, "%s", e.msg);
    lua_settop(L, 1);
    return 1;
}

/* d:split(train [, val]) -> train, val, test: copies of the first
 * round(train * n) rows, the next round(val * n), and the rest */
static int data_split(lua_State *L) {
    bp_data *d = check_data(L, 1);
    double ft = luaL_checknumber(L, 2), fv = luaL_optnumber(L, 3, 0);
    lua_settop(L, 3);
    ldata *parts[3];
    for (int j = 0; j < 3; j++) parts[j] = new_data(L);
    bp_err e;
    if (bp_data_split(d, ft, fv, &parts[0]->d, &parts[1]->d, &parts[2]->d, &e)) {
        if (!(ft >= 0 && fv >= 0 && ft + fv <= 1 + 1e-9))
            return luaL_argerror(L, 2, e.msg);
        return luaL_error(L, "%s", e.msg);
    }
    return 3;
}

/* d:slice(i [, j]) -> a copy of rows i..j (j defaults to the last; j = i - 1
 * gives an empty data set) */
static int data_slice(lua_State *L) {
    bp_data *d = check_data(L, 1);
    lua_Integer i = luaL_checkinteger(L, 2), j = luaL_optinteger(L, 3, d->n);
    if (i < 1 || i > (lua_Integer)d->n + 1)
        return luaL_argerror(L, 2,
                             lua_pushfstring(L, "row %I out of range 1..%d", i, d->n));
    if (j < i - 1 || j > d->n)
        return luaL_argerror(
            L, 3, lua_pushfstring(L, "last row %I out of range %I..%d", j, i - 1, d->n));
    ldata *u = new_data(L);
    bp_err e;
    if (!(u->d = bp_data_slice(d, (int)i - 1, (int)(j - i + 1), &e)))
        return luaL_error(L, "%s", e.msg);
    return 1;
}

static void set_list(lua_State *L, const char *name, const double *v, int n) {
    push_row(L, v, n);
    lua_setfield(L, -2, name);
}

/* d:scaler("standard" | "minmax") -> {kind =, shift = {...}, scale = {...}}:
 * statistics of d's inputs, to scale this and other data sets with */
static int data_scaler(lua_State *L) {
    bp_data *d = check_data(L, 1);
    const char *name = luaL_checkstring(L, 2);
    int kind = bp_scale_parse(name);
    if (kind != BP_SCALE_STANDARD && kind != BP_SCALE_MINMAX)
        return luaL_argerror(L, 2,
                             lua_pushfstring(L,
                                             "unknown scaler '%s' (expected "
                                             "standard or minmax)",
                                             name));
    /* The buffer first: pushing can raise, and the scaler must be freed. */
    double *v = lua_newuserdatauv(L, sizeof(double) * 2 * (size_t)d->d, 0);
    bp_err e;
    bp_scaler *s = bp_scaler_fit(d, kind, &e);
    if (!s) return luaL_error(L, "%s", e.msg);
    int w = s->d;
    memcpy(v, s->shift, sizeof(double) * (size_t)w);
    memcpy(v + w, s->scale, sizeof(double) * (size_t)w);
    bp_scaler_free(s);
    lua_createtable(L, 0, 3);
    lua_pushstring(L, bp_scale_name(kind));
    lua_setfield(L, -2, "kind");
    set_list(L, "shift", v, w);
    set_list(L, "scale", v + w, w);
    return 1;
}

/* Reads field name of the scaler table at arg: a number for every column,
 * or a list of d numbers, each finite (and non-zero for the scale). */
static void scaler_field(lua_State *L, int arg, const char *name, int d, double *v) {
    int t = lua_getfield(L, arg, name);
    if (t == LUA_TNUMBER) {
        for (int i = 0; i < d; i++) v[i] = lua_tonumber(L, -1);
    } else if (t == LUA_TTABLE) {
        if ((int)luaL_len(L, -1) != d)
            luaL_argerror(L, arg,
                          lua_pushfstring(L,
                                          "field '%s': expected %d numbers, "
                                          "got %d",
                                          name, d, (int)luaL_len(L, -1)));
        for (int i = 0; i < d; i++) {
            if (lua_rawgeti(L, -1, i + 1) != LUA_TNUMBER)
                luaL_argerror(L, arg,
                              lua_pushfstring(L,
                                              "field '%s': element %d is not "
                                              "a number",
                                              name, i + 1));
            v[i] = lua_tonumber(L, -1);
            lua_pop(L, 1);
        }
    } else {
        field_error(L, arg, name, "number or list of numbers");
    }
    lua_pop(L, 1);
    int scale = name[1] == 'c';
    for (int i = 0; i < d; i++)
        if (!isfinite(v[i]) || (scale && v[i] == 0))
            luaL_argerror(L, arg,
                          lua_pushfstring(L,
                                          "field '%s': element %d must be "
                                          "finite%s",
                                          name, i + 1, scale ? " and non-zero" : ""));
}

/* d:scale(scaler) -> d: x = (x - shift) / scale, column by column, in
 * place. scaler is what d:scaler returned (fitted on the training part), or
 * {shift = a, scale = b} with numbers for every column ({shift = 0,
 * scale = 255} for pixels). */
static int data_scale(lua_State *L) {
    bp_data *d = check_data(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    double *v = lua_newuserdatauv(L, sizeof(double) * 2 * (size_t)d->d, 0);
    scaler_field(L, 2, "shift", d->d, v);
    scaler_field(L, 2, "scale", d->d, v + d->d);
    bp_scaler s = {BP_SCALE_FIXED, d->d, v, v + d->d};
    bp_err e;
    if (bp_scaler_apply(&s, d, &e)) return luaL_error(L, "%s", e.msg);
    lua_settop(L, 1);
    return 1;
}

static int batches_next(lua_State *L) {
    bp_data *d = check_data(L, 1);
    lua_Integer size = lua_tointeger(L, lua_upvalueindex(1));
    lua_Integer prev = luaL_checkinteger(L, 2);
    /* A control value the loop never passes (the iterator called by hand)
     * ends it, before prev + size or n - first could overflow. */
    if (prev < 1 - size || prev >= d->n) return 0;
    lua_Integer first = prev + size;
    if (first > d->n) return 0;
    lua_pushinteger(L, first);
    lua_pushinteger(L, d->n - first + 1 < size ? d->n - first + 1 : size);
    return 2;
}

/* d:batches(size) -> for first, count in d:batches(64) do ... end: the rows
 * of each mini-batch in order, the last one shorter when size does not
 * divide #d; net:train_batch(d, first, count, ...) trains on them in place */
static int data_batches(lua_State *L) {
    check_data(L, 1);
    int size = bp_lua_check_int(L, 2, "batch size");
    lua_pushinteger(L, size);
    lua_pushcclosure(L, batches_next, 1);
    lua_pushvalue(L, 1);
    lua_pushinteger(L, 1 - (lua_Integer)size);
    return 3;
}

/* ------------------------------------------------------------------------ */
/* Training and scoring: methods of backprop.net                             */

static double check_lr(lua_State *L, int arg) {
    double lr = luaL_checknumber(L, arg);
    if (!(isfinite(lr) && lr >= 0))
        luaL_argerror(L, arg,
                      lua_pushfstring(L,
                                      "learning rate must be a finite "
                                      "number >= 0, got %s",
                                      isnan(lr) ? "nan" : lua_tostring(L, arg)));
    return lr;
}

/* net:train_batch(d, first, count, loss, lr | optimizer) -> loss: one step,
 * as net:train_step, on rows first..first+count-1 of d (fewer at the end),
 * read where they lie */
static int net_train_batch(lua_State *L) {
    lnet *n = bp_lua_check_lnet(L, 1);
    bp_net *net = n->net;
    bp_data *d = check_data(L, 2);
    lua_Integer first = luaL_checkinteger(L, 3);
    if (first < 1 || first > d->n)
        return luaL_argerror(
            L, 3, lua_pushfstring(L, "row %I out of range 1..%d", first, d->n));
    int count = bp_lua_check_int(L, 4, "batch size");
    int kind = bp_lua_check_loss_arg(L, 5);
    bp_optim *opt = bp_lua_test_optim(L, 6);
    double lr = opt ? 0 : check_lr(L, 6);
    if (net->n_layers == 0)
        return luaL_error(L, "the network has no layers: call net:add first");
    if (net->inputs != d->d || bp_net_outputs(net) != d->k)
        return luaL_argerror(L, 2,
                             lua_pushfstring(L,
                                             "the network maps %d inputs to %d "
                                             "outputs, the data %d to %d",
                                             net->inputs, bp_net_outputs(net), d->d,
                                             d->k));
    const double *y;
    int B = bp_data_batch(d, (int)first - 1, count, NULL, &y, NULL);
    bp_err e;
    double loss;
    /* the rows in either dtype; lr -1: gradients only, for the optimiser */
    int rc = bp_net_step_rows(net, bp_data_row(d, (int)first - 1), d->dtype, NULL, y, B,
                              kind, opt ? -1 : lr, &loss, &e) ||
             (opt && bp_optim_step(opt, net, &e));
    if (rc) return luaL_error(L, "%s", e.msg);
    n->single = 0;
    n->steps++;
    STATE(L)->step++;
    if (n->log_name[0]) bp_lua_log_metric(L, n->log_name, n->steps, loss);
    if (!isfinite(loss)) bp_lua_diverge(L, "loss", loss, n->steps);
    lua_pushnumber(L, loss);
    return 1;
}

/* Pushes an O x O confusion matrix (m[true * O + predicted]) as rows. */
static void push_confusion(lua_State *L, const int *m, int O) {
    lua_createtable(L, O, 0);
    for (int t = 0; t < O; t++) {
        lua_createtable(L, O, 0);
        for (int p = 0; p < O; p++) {
            lua_pushinteger(L, m[t * O + p]);
            lua_rawseti(L, -2, p + 1);
        }
        lua_rawseti(L, -2, t + 1);
    }
}

/* net:evaluate(d [, loss]) -> {loss =, accuracy =, confusion = {{...}}}:
 * loss when a loss is given; accuracy and confusion (rows: true class,
 * columns: predicted) when d has class labels */
static int net_evaluate(lua_State *L) {
    lnet *n = bp_lua_check_lnet(L, 1);
    bp_data *d = check_data(L, 2);
    int with_loss = !lua_isnoneornil(L, 3);
    int kind = with_loss ? bp_lua_check_loss_arg(L, 3) : 0;
    int O = d->k, labels = d->label != NULL;
    int *m = labels ? lua_newuserdatauv(L, sizeof(int) * (size_t)O * O, 0) : NULL;
    double loss, acc;
    bp_err e;
    if (bp_fit_evaluate(n->net, d, EVAL_BATCH, kind, with_loss ? &loss : NULL,
                        labels ? &acc : NULL, m, &e))
        return luaL_error(L, "%s", e.msg);
    n->single = 0;
    lua_createtable(L, 0, 3);
    if (with_loss) {
        lua_pushnumber(L, loss);
        lua_setfield(L, -2, "loss");
    }
    if (labels) {
        lua_pushnumber(L, acc);
        lua_setfield(L, -2, "accuracy");
        push_confusion(L, m, O);
        lua_setfield(L, -2, "confusion");
    }
    return 1;
}

/* net:predict(d [, "class" | "output"]) -> a list of predicted classes 1..C
 * (the default when d has class labels), or of output rows */
static int net_predict(lua_State *L) {
    lnet *n = bp_lua_check_lnet(L, 1);
    bp_net *net = n->net;
    bp_data *d = check_data(L, 2);
    static const char *const what[] = {"class", "output", NULL};
    int outputs = luaL_checkoption(L, 3, d->label ? "class" : "output", what);
    if (net->n_layers == 0)
        return luaL_error(L, "the network has no layers: call net:add first");
    if (net->inputs != d->d)
        return luaL_argerror(L, 2,
                             lua_pushfstring(L,
                                             "the network takes %d inputs, the "
                                             "data has %d",
                                             net->inputs, d->d));
    int O = bp_net_outputs(net);
    lua_createtable(L, d->n, 0);
    for (int s = 0; s < d->n; s += EVAL_BATCH) {
        int B = d->n - s < EVAL_BATCH ? d->n - s : EVAL_BATCH;
        bp_err e;
        const double *out = bp_net_forward_as(net, bp_data_row(d, s), d->dtype, B, &e);
        if (!out) return luaL_error(L, "%s", e.msg);
        for (int b = 0; b < B; b++) {
            if (outputs) push_row(L, out + (size_t)b * O, O);
            else lua_pushinteger(L, bp_argmax(out + (size_t)b * O, O) + 1);
            lua_rawseti(L, -2, s + b + 1);
        }
    }
    n->single = 0;
    return 1;
}

/* The bp_fit of a running net:fit, freed by __gc if an error leaves early. */
typedef struct fitbox {
    bp_fit *f;
} fitbox;

static int fitbox_gc(lua_State *L) {
    fitbox *b = luaL_checkudata(L, 1, FIT_TYPE);
    bp_fit_free(b->f);
    b->f = NULL;
    return 0;
}

/* What the step callback needs: it runs inside the engine's loop, so it
 * never raises; a failure is kept and raised once the epoch returns. */
typedef struct fit_ctx {
    state *st;
    lnet *n;
    const char *log; /* metric name of each step's loss, or NULL */
    int failed, interrupted;
    bp_err e;
} fit_ctx;

static int fit_step(void *ud, int64_t step, double loss) {
    (void)step;
    fit_ctx *c = ud;
    c->n->steps++;
    c->st->step++;
    bp_progress_step(c->st->progress, c->st->step, loss);
    if (c->log && c->st->log &&
        bp_runlog_metric(c->st->log, c->st->run, c->log, c->n->steps, loss, &c->e)) {
        c->failed = 1;
        return 1;
    }
    if (c->st->stop && *c->st->stop) {
        c->interrupted = 1;
        return 1;
    }
    return 0;
}

static const char *const fit_options[] = {
    "data",      "epochs",    "batch",       "loss",      "lr",         "optimizer",
    "shuffle",   "drop_last", "log",         "epoch_log", "validation", "val_name",
    "confusion", "callback",  "first_epoch", NULL};

/* Stack slots of net:fit, so that what the options name stays anchored even
 * if a callback changes the table. */
enum { S_NET = 1, S_OPTS, S_DATA, S_OPT, S_VAL, S_CB, S_LOSS, S_BOX, S_CONF, S_HIST };

/* A userdata field of the options into its slot (nil allowed if optional). */
static void udata_field(lua_State *L, const char *name, const char *type, int required) {
    int t = lua_getfield(L, S_OPTS, name);
    if (t == LUA_TNIL && !required) return;
    if (!luaL_testudata(L, -1, type)) field_error(L, S_OPTS, name, type);
}

/* net:fit{data =, loss =, lr = | optimizer =, epochs = 1, batch = 32,
 * shuffle = true, drop_last = false, log = (net:log_loss's name), epoch_log
 * = true, validation =, val_name = "val", confusion = false, callback =,
 * first_epoch = 1} -> a list of each epoch's stats */
static int net_fit(lua_State *L) {
    lnet *n = bp_lua_check_lnet(L, 1);
    state *st = STATE(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    check_keys(L, S_OPTS, fit_options);
    udata_field(L, "data", DATA_TYPE, 1);       /* S_DATA */
    udata_field(L, "optimizer", OPTIM_TYPE, 0); /* S_OPT */
    udata_field(L, "validation", DATA_TYPE, 0); /* S_VAL */
    if (lua_getfield(L, S_OPTS, "callback") != LUA_TNIL && !lua_isfunction(L, -1))
        field_error(L, S_OPTS, "callback", "function"); /* S_CB */
    int t = lua_getfield(L, S_OPTS, "loss");            /* S_LOSS */
    if (t == LUA_TNIL) luaL_argerror(L, S_OPTS, "field 'loss' is required");
    if (t != LUA_TSTRING && !luaL_testudata(L, -1, LOSS_TYPE))
        field_error(L, S_OPTS, "loss", "loss name or " LOSS_TYPE);
    if (t == LUA_TSTRING && bp_loss_parse(lua_tostring(L, -1)) < 0)
        luaL_argerror(L, S_OPTS,
                      lua_pushfstring(L,
                                      "field 'loss': unknown loss '%s' "
                                      "(expected half_se, mse, bce or "
                                      "softmax_ce)",
                                      lua_tostring(L, -1)));
    bp_fit_config c = {0};
    c.loss = bp_lua_check_loss_arg(L, S_LOSS);
    c.batch = opt_int(L, S_OPTS, "batch", 32, 1);
    int epochs = opt_int(L, S_OPTS, "epochs", 1, 1);
    int first_epoch = opt_int(L, S_OPTS, "first_epoch", 1, 1);
    c.shuffle = opt_bool(L, S_OPTS, "shuffle", 1);
    c.drop_last = opt_bool(L, S_OPTS, "drop_last", 0);
    c.rng = &st->rng;
    int epoch_log = opt_bool(L, S_OPTS, "epoch_log", 1);
    int log_confusion = opt_bool(L, S_OPTS, "confusion", 0);
    char val_name[32], log_name[64];
    opt_str(L, S_OPTS, "val_name", "val", val_name, sizeof val_name);
    const char *log = n->log_name[0] ? n->log_name : NULL;
    if (lua_getfield(L, S_OPTS, "log") == LUA_TBOOLEAN && !lua_toboolean(L, -1))
        log = NULL;
    else if (!lua_isnil(L, -1) && !lua_isstring(L, -1))
        field_error(L, S_OPTS, "log", "string or false");
    else if (lua_isstring(L, -1))
        log = opt_str(L, S_OPTS, "log", NULL, log_name, sizeof log_name);
    lua_pop(L, 1);
    if (log && !log[0])
        luaL_argerror(L, S_OPTS, "field 'log': metric name must not be empty");
    int has_lr = lua_getfield(L, S_OPTS, "lr") != LUA_TNIL;
    lua_pop(L, 1);
    if (has_lr == !lua_isnil(L, S_OPT))
        luaL_argerror(L, S_OPTS,
                      has_lr ? "give lr or optimizer, not both"
                             : "field 'lr' or 'optimizer' is required");
    if (has_lr) {
        lua_getfield(L, S_OPTS, "lr");
        if (lua_type(L, -1) != LUA_TNUMBER) field_error(L, S_OPTS, "lr", "number");
        c.lr = lua_tonumber(L, -1);
        if (!(isfinite(c.lr) && c.lr >= 0))
            luaL_argerror(L, S_OPTS,
                          lua_pushfstring(L,
                                          "field 'lr': must be a finite "
                                          "number >= 0, got %s",
                                          isnan(c.lr) ? "nan" : lua_tostring(L, -1)));
        lua_pop(L, 1);
    }
    c.opt = lua_isnil(L, S_OPT) ? NULL : bp_lua_test_optim(L, S_OPT);
    fit_ctx ctx = {.st = st, .n = n, .log = log};
    if (st->progress) { /* the progress line can count down to the end */
        const bp_data *d = check_data(L, S_DATA);
        int64_t per = c.drop_last ? d->n / c.batch : (d->n + c.batch - 1) / c.batch;
        atomic_store_explicit(&st->progress->total, st->step + per * epochs,
                              memory_order_relaxed);
        atomic_store_explicit(&st->progress->epochs, first_epoch + epochs - 1,
                              memory_order_relaxed);
    }
    c.on_step = fit_step;
    c.ud = &ctx;

    bp_data *data = check_data(L, S_DATA);
    fitbox *box = lua_newuserdatauv(L, sizeof *box, 0); /* S_BOX */
    box->f = NULL;
    luaL_setmetatable(L, FIT_TYPE);
    bp_err e;
    if (!(box->f = bp_fit_new(data, &c, &e))) return luaL_argerror(L, S_OPTS, e.msg);
    int O = data->k;
    int *conf = lua_newuserdatauv(L, sizeof(int) * (size_t)O * O, 0); /* S_CONF */
    lua_newtable(L);                                                  /* S_HIST */

    for (int epoch = first_epoch; epoch < first_epoch + epochs; epoch++) {
        if (st->progress)
            atomic_store_explicit(&st->progress->epoch, epoch, memory_order_relaxed);
        /* A callback may have closed any of these: look again each time. */
        bp_net *net = bp_lua_check_lnet(L, S_NET)->net;
        data = check_data(L, S_DATA);
        if (!lua_isnil(L, S_OPT)) bp_lua_test_optim(L, S_OPT); /* raises if closed */
        bp_data *val = lua_isnil(L, S_VAL) ? NULL : check_data(L, S_VAL);
        double t0 = bp_clock(), mean;
        int rc = bp_fit_epoch(box->f, net, data, &mean, &e);
        double seconds = bp_clock() - t0;
        if (ctx.failed) return luaL_error(L, "%s", ctx.e.msg);
        if (ctx.interrupted) return luaL_error(L, "interrupted");
        if (rc < 0) {
            if (!bp_fit_diverged(box->f)) return luaL_error(L, "%s", e.msg);
            double last = bp_fit_last_loss(box->f);
            if (log) bp_lua_log_metric(L, log, n->steps + 1, last);
            return bp_lua_diverge(L, "loss", last, n->steps + 1);
        }
        n->single = 0;
        lua_createtable(L, 0, 8);
        lua_pushinteger(L, epoch);
        lua_setfield(L, -2, "epoch");
        lua_pushinteger(L, n->steps);
        lua_setfield(L, -2, "steps");
        lua_pushnumber(L, seconds);
        lua_setfield(L, -2, "seconds");
        lua_pushnumber(L, mean);
        lua_setfield(L, -2, "train_loss");
        if (epoch_log) bp_lua_log_metric(L, "train_loss", epoch, mean);
        if (val) {
            double vl, va;
            int labels = val->label != NULL;
            if (bp_fit_evaluate(net, val, EVAL_BATCH, c.loss, &vl, labels ? &va : NULL,
                                labels ? conf : NULL, &e))
                return luaL_error(L, "validation: %s", e.msg);
            char name[96];
            snprintf(name, sizeof name, "%s_loss", val_name);
            lua_pushnumber(L, vl);
            lua_setfield(L, -2, name);
            if (epoch_log) bp_lua_log_metric(L, name, epoch, vl);
            if (labels) {
                snprintf(name, sizeof name, "%s_accuracy", val_name);
                lua_pushnumber(L, va);
                lua_setfield(L, -2, name);
                if (epoch_log) bp_lua_log_metric(L, name, epoch, va);
                snprintf(name, sizeof name, "%s_confusion", val_name);
                push_confusion(L, conf, O);
                lua_setfield(L, -2, name);
                for (int j = 0; epoch_log && log_confusion && j < O * O; j++) {
                    snprintf(name, sizeof name, "%s_confusion_%d_%d", val_name, j / O + 1,
                             j % O + 1);
                    bp_lua_log_metric(L, name, epoch, conf[j]);
                }
            }
        }
        lua_pushvalue(L, -1);
        lua_rawseti(L, S_HIST, (lua_Integer)lua_rawlen(L, S_HIST) + 1);
        if (lua_isnil(L, S_CB)) {
            lua_pop(L, 1);
            continue;
        }
        lua_pushvalue(L, S_CB);
        lua_insert(L, -2);
        lua_pushinteger(L, epoch);
        lua_insert(L, -2);
        lua_call(L, 2, 1);
        int stop = lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1);
        lua_pop(L, 1);
        if (stop) break;
    }
    bp_fit_free(box->f);
    box->f = NULL;
    lua_settop(L, S_HIST);
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Registration                                                              */

static const luaL_Reg funcs[] = {{"load_csv", l_load_csv},
                                 {"load_idx", l_load_idx},
                                 {"fashion_mnist", l_fashion_mnist},
                                 {"data", l_data},
                                 {NULL, NULL}};

static const luaL_Reg data_methods[] = {
    {"inputs", data_inputs},   {"outputs", data_outputs},
    {"classes", data_classes}, {"names", data_names},
    {"row", data_row},         {"dtype", data_dtype},
    {"shuffle", data_shuffle}, {"split", data_split},
    {"slice", data_slice},     {"scaler", data_scaler},
    {"scale", data_scale},     {"batches", data_batches},
    {"close", data_close},     {NULL, NULL}};

static const luaL_Reg data_metamethods[] = {{"__gc", data_close},
                                            {"__close", data_close},
                                            {"__len", data_len},
                                            {"__tostring", data_tostring},
                                            {NULL, NULL}};

static const luaL_Reg net_methods[] = {{"train_batch", net_train_batch},
                                       {"fit", net_fit},
                                       {"evaluate", net_evaluate},
                                       {"predict", net_predict},
                                       {NULL, NULL}};

/* Called by luaopen_backprop with the module table at the top of the stack,
 * after the net's metatable exists; leaves the stack as it found it. Every
 * function gets the module's state (the registry's "backprop.state") as
 * upvalue 1, as lbackprop.c's do. */
void bp_lua_open_data(lua_State *L) {
    lua_getfield(L, LUA_REGISTRYINDEX, "backprop.state");
    int st = lua_gettop(L);

    luaL_newmetatable(L, DATA_TYPE);
    lua_pushvalue(L, st);
    luaL_setfuncs(L, data_metamethods, 1);
    lua_newtable(L);
    lua_pushvalue(L, st);
    luaL_setfuncs(L, data_methods, 1);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);

    luaL_newmetatable(L, FIT_TYPE);
    lua_pushcfunction(L, fitbox_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);

    lua_pushvalue(L, st - 1); /* the module table */
    lua_pushvalue(L, st);
    luaL_setfuncs(L, funcs, 1);
    lua_pop(L, 1);

    luaL_getmetatable(L, NET_TYPE);
    lua_getfield(L, -1, "__index");
    lua_pushvalue(L, st);
    luaL_setfuncs(L, net_methods, 1);
    lua_pop(L, 3); /* __index, the metatable, the state */
}
