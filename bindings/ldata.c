/* ldata.c: data sets in Lua (backprop.data): loading, looking, preparing.
 *
 * A data set stays in C memory (a bp_data, engine/bp_data.h): Lua holds one
 * userdata of a pointer, so Fashion-MNIST's 60,000 x 784 inputs cost their
 * 376 MB of doubles and no table per sample. Everything that walks the rows
 * runs in C as well: shuffling, splitting, scaling here; training and
 * scoring on them in ltrain.c (net:train_batch) and lfit.c (net:fit,
 * evaluate, predict).
 *
 * As for every type of the module: the userdata is created empty before the
 * bp_data is allocated, one close function serves __gc, __close and
 * :close() and is safe twice; a wrong argument raises, and a failure of the
 * environment (a file that is missing or malformed) returns nil, message.
 *
 * Lua indexes rows and classes from 1; the engine from 0. The conversion is
 * done here, in ltrain.c and in lfit.c, and nowhere else. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "bp_data.h"
#include "lbackprop.h"

typedef struct ldata {
    bp_data *d; /* NULL once closed */
} ldata;

bp_data *bp_lua_check_data(lua_State *L, int i) {
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

bp_data **bp_lua_new_data(lua_State *L) { return &new_data(L)->d; }

static int data_close(lua_State *L) {
    ldata *u = luaL_checkudata(L, 1, DATA_TYPE);
    bp_data_free(u->d);
    u->d = NULL;
    return 0;
}

/* A copy in the engine's memory (bp_malloc), since bp_data_free frees it
 * there: under --max-memory that is the host's allocator, not malloc. */
static char *dup_str(lua_State *L, const char *s) {
    size_t len = strlen(s) + 1;
    char *copy = bp_malloc(len);
    if (!copy) luaL_error(L, "out of memory");
    memcpy(copy, s, len);
    return copy;
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
        bp_lua_check_options(L, 2, csv_options, 0);
        tgt = bp_lua_opt_str(L, 2, "target", NULL, target, sizeof target);
        char dl[8];
        const char *ds = bp_lua_opt_str(L, 2, "delim", ",", dl, sizeof dl);
        if (strlen(ds) != 1)
            luaL_argerror(L, 2,
                          lua_pushfstring(L,
                                          "field 'delim': one character "
                                          "expected, got '%s'",
                                          ds));
        delim = ds[0];
        classify = bp_lua_opt_bool(L, 2, "classify", 1);
        dtype = bp_lua_opt_dtype(L, 2);
    }
    ldata *u = new_data(L);
    bp_err e;
    if (!(u->d = bp_data_load_csv(path, tgt, delim, classify, &e)) ||
        bp_data_set_dtype(u->d, dtype, &e))
        return bp_lua_fail(L, e.msg);
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
        bp_lua_check_options(L, opts, idx_options, 0);
        dtype = bp_lua_opt_dtype(L, opts);
    }
    ldata *u = new_data(L);
    bp_err e;
    if (!(u->d = bp_data_load_idx(images, labels, classes, dtype, &e)))
        return bp_lua_fail(L, e.msg);
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
        bp_lua_check_options(L, 1, fashion_options, 0);
        train = bp_lua_opt_bool(L, 1, "train", 1);
        d = bp_lua_opt_str(L, 1, "dir", NULL, dir, sizeof dir);
        dtype = bp_lua_opt_dtype(L, 1);
    }
    ldata *u = new_data(L);
    bp_err e;
    if (!(u->d = bp_data_fashion_mnist(d, train, dtype, &e)))
        return bp_lua_fail(L, e.msg);
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

/* Converts a new data set's inputs to dtype; raises on failure. Returns 1,
 * the data set being at the top of the stack. */
static int with_dtype(lua_State *L, bp_data *data, bp_dtype dtype) {
    bp_err e;
    if (bp_data_set_dtype(data, dtype, &e)) return luaL_error(L, "%s", e.msg);
    return 1;
}

/* Field classes of the options at 3: a count, or a list of names (*named
 * set); 0 when absent. */
static int classes_option(lua_State *L, int *named) {
    int t = lua_getfield(L, 3, "classes"), C = 0;
    if (t == LUA_TTABLE) {
        C = (int)luaL_len(L, -1);
        *named = 1;
    } else if (t == LUA_TNUMBER && lua_isinteger(L, -1)) {
        lua_Integer c = lua_tointeger(L, -1);
        C = c >= 1 && c <= BP_DATA_MAX_CLASSES ? (int)c : -1;
    } else if (t != LUA_TNIL) {
        bp_lua_field_error(L, 3, "classes", "integer or list of names");
    }
    if (C < 0 || (*named && C < 1))
        luaL_argerror(
            L, 3,
            lua_pushfstring(L, "field 'classes': 1 to %d classes", BP_DATA_MAX_CLASSES));
    lua_pop(L, 1);
    return C;
}

/* The n labels 1..C of the list at 2 into data, as one-hot targets. */
static void read_labels(lua_State *L, bp_data *data, int n, int C) {
    if ((int)luaL_len(L, 2) != n)
        luaL_argerror(
            L, 2,
            lua_pushfstring(L, "expected %d labels, got %d", n, (int)luaL_len(L, 2)));
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
}

/* The C class names: field classes' (named), else "1" to "C". */
static void class_names(lua_State *L, bp_data *data, int C, int named) {
    if (!(data->classes = bp_calloc((size_t)C, sizeof(char *))))
        luaL_error(L, "out of memory");
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
}

/* bp.data(x, y [, {classes = C | {names}, dtype =}]) -> data, from Lua
 * tables: x a list of rows, y a list of target rows (or of numbers, one
 * target each), or with `classes`, a list of class labels 1..C (one-hot
 * targets); dtype: of the inputs (default float64). */
int bp_lua_data_new(lua_State *L) {
    int d = first_width(L, 1, 0);
    lua_Integer n = luaL_len(L, 1);
    if (n > INT32_MAX) luaL_argerror(L, 1, "too many rows");
    int C = 0, named = 0;
    bp_dtype dtype = BP_F64;
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        bp_lua_check_options(L, 3, data_options, 0);
        dtype = bp_lua_opt_dtype(L, 3);
        C = classes_option(L, &named);
    }
    int k = C ? C : first_width(L, 2, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    ldata *u = new_data(L);
    bp_err e;
    if (!(u->d = bp_data_new((int)n, d, k, C, &e))) return luaL_error(L, "%s", e.msg);
    bp_data *data = u->d;
    read_rows(L, 1, (int)n, d, data->x);
    if (!C) {
        read_rows(L, 2, (int)n, k, data->y);
        return with_dtype(L, data, dtype);
    }
    read_labels(L, data, (int)n, C);
    class_names(L, data, C, named);
    return with_dtype(L, data, dtype);
}

/* ------------------------------------------------------------------------ */
/* Looking at a data set                                                     */

static int data_len(lua_State *L) {
    lua_pushinteger(L, bp_lua_check_data(L, 1)->n);
    return 1;
}
static int data_inputs(lua_State *L) {
    lua_pushinteger(L, bp_lua_check_data(L, 1)->d);
    return 1;
}
static int data_outputs(lua_State *L) {
    lua_pushinteger(L, bp_lua_check_data(L, 1)->k);
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

/* d:classes() -> the number of classes, or nil without class labels (so
 * that net:add(d:classes()) makes the output layer) */
static int data_classes(lua_State *L) {
    bp_data *d = bp_lua_check_data(L, 1);
    if (d->n_classes) lua_pushinteger(L, d->n_classes);
    else lua_pushnil(L);
    return 1;
}

/* d:class_names() -> the class names (class c is names[c]), or nil without
 * class labels */
static int data_class_names(lua_State *L) {
    bp_data *d = bp_lua_check_data(L, 1);
    if (d->n_classes) push_strings(L, d->classes, d->n_classes);
    else lua_pushnil(L);
    return 1;
}

/* d:names() -> the input columns' names, the target's name (nil if unknown) */
static int data_names(lua_State *L) {
    bp_data *d = bp_lua_check_data(L, 1);
    push_strings(L, d->names, d->d);
    if (d->target) lua_pushstring(L, d->target);
    else lua_pushnil(L);
    return 2;
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
    bp_data *d = bp_lua_check_data(L, 1);
    lua_Integer i = luaL_checkinteger(L, 2);
    if (i < 1 || i > d->n)
        return luaL_argerror(L, 2,
                             lua_pushfstring(L, "row %I out of range 1..%d", i, d->n));
    size_t r = (size_t)i - 1;
    push_inputs(L, d, r);
    bp_lua_push_matrix(L, d->y + r * d->k, 1, d->k, 1);
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
    bp_data *d = bp_lua_check_data(L, 1);
    if (lua_isnoneornil(L, 2)) {
        lua_pushstring(L, bp_dtype_name(d->dtype));
        return 1;
    }
    luaL_checkany(L, 2);
    lua_pushvalue(L, 2);
    bp_dtype t = bp_lua_dtype_at_top(L, 2, NULL);
    bp_err e;
    if (bp_data_set_dtype(d, t, &e)) return bp_lua_fail(L, e.msg);
    lua_settop(L, 1);
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Preparing                                                                 */

/* d:shuffle([seed]) -> d: rows shuffled in place by the module's
 * generator, or with seed (d:shuffle(bp.seed("data"))) by a generator of
 * its own seeded so, which leaves the module's stream where it was. */
static int data_shuffle(lua_State *L) {
    bp_data *d = bp_lua_check_data(L, 1);
    bp_rng own, *r = &STATE(L)->rng;
    if (!lua_isnoneornil(L, 2)) {
        int isint;
        lua_Integer s = lua_tointegerx(L, 2, &isint);
        if (!isint) return luaL_typeerror(L, 2, "integer seed");
        bp_rng_seed(&own, (uint64_t)s);
        r = &own;
    }
    bp_err e;
    if (bp_data_shuffle(d, r, &e)) return luaL_error(L, "%s", e.msg);
    lua_settop(L, 1);
    return 1;
}

/* d:split(train) -> train, rest: copies of the first round(train * n)
 * rows and of the others, as `local train, val = d:split(0.8)` reads;
 * d:split(train, val) -> train, val, test: the first round(train * n), the
 * next round(val * n), and the rest */
static int data_split(lua_State *L) {
    bp_data *d = bp_lua_check_data(L, 1);
    double ft = luaL_checknumber(L, 2), fv = luaL_optnumber(L, 3, 0);
    int three = !lua_isnoneornil(L, 3);
    lua_settop(L, 3);
    ldata *parts[3];
    for (int j = 0; j < 3; j++) parts[j] = new_data(L);
    bp_err e;
    if (bp_data_split(d, ft, fv, &parts[0]->d, &parts[1]->d, &parts[2]->d, &e)) {
        if (!(ft >= 0 && fv >= 0 && ft + fv <= 1 + 1e-9))
            return luaL_argerror(L, 2, e.msg);
        return luaL_error(L, "%s", e.msg);
    }
    if (three) return 3;
    lua_remove(L, -2); /* the empty middle part, which __gc frees */
    return 2;
}

/* d:slice(i [, j]) -> a copy of rows i..j (j defaults to the last; j = i - 1
 * gives an empty data set) */
static int data_slice(lua_State *L) {
    bp_data *d = bp_lua_check_data(L, 1);
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
    bp_lua_push_matrix(L, v, 1, n, 1);
    lua_setfield(L, -2, name);
}

/* d:scaler("standard" | "minmax") -> {kind =, shift = {...}, scale = {...}}:
 * statistics of d's inputs, to scale this and other data sets with */
static int data_scaler(lua_State *L) {
    bp_data *d = bp_lua_check_data(L, 1);
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
        bp_lua_field_error(L, arg, name, "number or list of numbers");
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
    bp_data *d = bp_lua_check_data(L, 1);
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
    bp_data *d = bp_lua_check_data(L, 1);
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
    bp_lua_check_data(L, 1);
    int size = bp_lua_check_int(L, 2, "batch size");
    lua_pushinteger(L, size);
    lua_pushcclosure(L, batches_next, 1);
    lua_pushvalue(L, 1);
    lua_pushinteger(L, 1 - (lua_Integer)size);
    return 3;
}

/* ------------------------------------------------------------------------ */
/* Registration                                                              */

static const luaL_Reg funcs[] = {{"load_csv", l_load_csv},
                                 {"load_idx", l_load_idx},
                                 {"fashion_mnist", l_fashion_mnist},
                                                                  {NULL, NULL}};

static const luaL_Reg data_methods[] = {
    {"inputs", data_inputs},   {"outputs", data_outputs},
    {"classes", data_classes}, {"class_names", data_class_names},
    {"names", data_names},
    {"row", data_row},         {"dtype", data_dtype},
    {"shuffle", data_shuffle}, {"split", data_split},
    {"slice", data_slice},     {"scaler", data_scaler},
    {"scale", data_scale},     {"batches", data_batches},
    {"close", data_close},     {NULL, NULL}};

static const luaL_Reg data_metamethods[] = {
    {"__index", NULL},   {"__gc", data_close},          {"__close", data_close},
    {"__len", data_len}, {"__tostring", data_tostring}, {NULL, NULL}};

void bp_lua_open_data(lua_State *L) {
    bp_lua_new_type(L, DATA_TYPE, data_metamethods, data_methods);
    bp_lua_add_funcs(L, funcs);
}
