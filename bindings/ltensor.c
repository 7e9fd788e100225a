/* ltensor.c: bp.tensor, numbers in C memory for layers written in Lua.
 *
 * Built as liolib.c: one metatable (TENSOR_TYPE), methods[] and
 * metamethods[], the userdata created empty before the bp_tensor
 * (engine/bp_tensor.h) it points to, one close function for __gc, __close
 * and :close(), safe twice. The math is the engine's; this file only reads
 * arguments, makes result tensors and turns the engine's messages into
 * errors (a wrong shape is a programming error: it raises).
 *
 * A small tensor (SMALL_BYTES of numbers at most: a loss's 64 x 10, a
 * layer's batch of activations) is one userdata holding its bp_tensor and
 * its numbers, with a metatable of its own that has no __gc: every `+` or
 * `:exp()` of a script makes one, and a malloc, a calloc's zeros and a
 * finalizer each had cost more than the arithmetic (scripts/bench/NOTES.md,
 * issue 15). test_ud accepts either metatable wherever a tensor is taken.
 *
 * Views (reshape) share their owner's numbers. A view holds its owner as
 * its user value, so the collector never frees the owner first; and the
 * owner counts its open views, so an explicit owner:close() while a view is
 * open only marks the owner closed, freeing the numbers when the last view
 * closes. A view therefore never reads freed memory.
 *
 * Host views (lhost.c) are tensors over a graph node's buffers, handed to
 * a Lua module's forward and backward: re-pointed at each call (the batch
 * size and the buffers may change between calls) and usable only during
 * it. A reshape of one is usable only during the call it was made in (its
 * gen). The module's context frees them; close only marks them closed.
 *
 * Views of a net's parameters and gradients (net:tensor, net:grad_tensor),
 * of its modules' outputs (net:activation) and of a data set's rows
 * (d:x(), d:y()) hold the net or the set as their
 * user value and check, at every use, that it is open and still holds
 * those numbers where the view points, so a view outliving either is
 * refused, never a read of freed memory.
 *
 * Lua indexes from 1, the engine from 0: the conversion is made here only.
 * A method's result goes into a new tensor, or into `out`, its optional last
 * argument, so that a hot loop allocates nothing. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "bp_tensor.h"
#include "lbackprop.h"

typedef struct ltensor {
    bp_tensor *t;         /* NULL once closed and freed */
    int closed;           /* closed from Lua: refuse any use */
    int views;            /* open views of this owner's numbers */
    struct ltensor *base; /* the owner, for a view; else NULL */
    lnet *net;            /* for a view of a net's parameter (its user value) */
    int param;            /* which of bp_net_param_list, and whether its grad */
    int grad;
    lnet *act;            /* for a view of a module's output (its user value), */
    int act_id, act_field; /* the node, or a stack's layer and field (h, o) */
    bp_data **data;       /* for a view of a data set's rows (its user value):
                             the userdata's pointer to its set, NULL once closed */
    int targets;          /* which rows: the inputs (0) or the targets (1) */
    int host, live;       /* a host view, and whether its call is running */
    unsigned gen;         /* the owner's calls so far; a view's at its making */
    bp_tensor own;        /* t for a small tensor, its numbers after the struct */
} ltensor;

/* A tensor of at most this many bytes of numbers is one userdata: the
 * struct, then the numbers (on a 64-byte line), freed by the collector with
 * it. No malloc and free per result, nothing zeroed that the operation
 * overwrites, and the collector counts what the tensor holds (a malloc'd
 * block it does not see, so a loop of small results once let megabytes of
 * them pile up between cycles). Well under glibc's mmap threshold (128 KiB);
 * larger tensors keep their own block, calloc's, which gives fresh pages of
 * zeros without touching them. */
#define SMALL_BYTES 65536
#define SMALL_ALIGN 64

/* Registry keys (their addresses) of the two metatables: TENSOR_TYPE's,
 * and the small tensors' own, the same but without __gc. A small tensor
 * that is no view has nothing to free but its userdata, and a finalizer
 * would keep it a cycle longer for nothing: the collector calls a few
 * finalizers a step, and a loop making results faster than that grew the
 * heap without bound (18 MB after 10,000 steps of a loss of 64 x 10). */
static const char tensor_key, small_key;

static ltensor *new_ltensor(lua_State *L) {
    ltensor *u = lua_newuserdatauv(L, sizeof *u, 1);
    memset(u, 0, sizeof *u);
    luaL_setmetatable(L, TENSOR_TYPE);
    return u;
}

/* A view of a net's parameter is refused once the net is closed, or once
 * the net's parameters moved (a module added after the view was taken). */
static void check_net_view(lua_State *L, const ltensor *u) {
    int n = 0;
    const bp_param *p = u->net->net ? bp_net_param_list(u->net->net, &n) : NULL;
    if (!p) luaL_error(L, "attempt to use a view of a closed network");
    if (u->param >= n || (u->grad ? p[u->param].grad : p[u->param].data) != u->t->data ||
        p[u->param].count != u->t->n)
        luaL_error(L, "attempt to use a view of parameters the network has since replaced");
}

/* The rows a view of a data set's inputs or targets looks at, as the set
 * holds them now (NULL, n 0: closed). */
static void *data_rows(const bp_data *d, int targets, bp_dtype *dtype, size_t *n) {
    *dtype = targets ? BP_F64 : d->dtype;
    *n = (size_t)d->n * (size_t)(targets ? d->k : d->d);
    return targets ? (void *)d->y : d->dtype == BP_F32 ? (void *)d->x32 : (void *)d->x;
}

/* A view of a data set's rows is refused once the set is closed, or once
 * its rows moved (a conversion to another dtype). */
static void check_data_view(lua_State *L, const ltensor *u) {
    const bp_data *d = *u->data;
    if (!d) luaL_error(L, "attempt to use a view of a closed data set");
    bp_dtype dtype;
    size_t n;
    if (data_rows(d, u->targets, &dtype, &n) != u->t->data || n != u->t->n ||
        dtype != u->t->dtype)
        luaL_error(L, "attempt to use a view of rows the data set has since replaced");
}

/* The values of a module's output a view looks at, as the net holds them
 * now, and how many (0: no forward since the net last changed; NULL with
 * n > 0: a module the last forward ran in a chain, bp_graph_node_value). A graph's
 * node id; a stack's layer id (from 0) and field (BP_FIELD_H or _O). */
static const void *act_rows(const bp_net *net, int id, int field, size_t *n) {
    *n = 0;
    if (!net->graph) {
        if (net->B == 0 || id >= net->n_layers) return NULL;
        *n = (size_t)net->B * (size_t)net->layers[id].O;
        return net->layers[id].mem[field];
    }
    int ndim, shape[BP_GRAPH_MAX_DIMS];
    bp_graph_node_shape(net->graph, id, &ndim, shape);
    *n = (size_t)bp_graph_batch(net->graph);
    for (int d = 0; d < ndim; d++) *n *= (size_t)shape[d];
    return bp_graph_node_value(net->graph, id);
}

/* A view of a module's output is refused once the net is closed, or once
 * the output moved or changed size (a forward of more rows, a module
 * added). */
static void check_act_view(lua_State *L, const ltensor *u) {
    const bp_net *net = u->act->net;
    if (!net) luaL_error(L, "attempt to use a view of a closed network");
    size_t n;
    if (act_rows(net, u->act_id, u->act_field, &n) != u->t->data || n != u->t->n)
        luaL_error(L, "attempt to use a view of outputs the network has since replaced (a "
                      "forward of another batch size, or a module added)");
}

/* The tensor userdata at i (either metatable), or NULL. */
static ltensor *test_ud(lua_State *L, int i) {
    ltensor *u = lua_touserdata(L, i);
    if (!u || !lua_getmetatable(L, i)) return NULL;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &small_key); /* the more common */
    int is = lua_rawequal(L, -1, -2);
    lua_pop(L, 1);
    if (!is) {
        lua_rawgetp(L, LUA_REGISTRYINDEX, &tensor_key);
        is = lua_rawequal(L, -1, -2);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return is ? u : NULL;
}

/* The tensor userdata at i; raises as luaL_checkudata when it is none. */
static ltensor *check_ud(lua_State *L, int i) {
    ltensor *u = test_ud(L, i);
    if (!u) luaL_typeerror(L, i, TENSOR_TYPE);
    return u;
}

int bp_lua_is_tensor(lua_State *L, int i) { return test_ud(L, i) != NULL; }

bp_tensor *bp_lua_check_tensor(lua_State *L, int i) {
    ltensor *u = check_ud(L, i);
    if (u->closed || !u->t) luaL_error(L, "attempt to use a closed tensor");
    const ltensor *o = u->base ? u->base : u;
    if (o->host && (!o->live || u->gen != o->gen))
        luaL_error(L, "attempt to use a module's tensor outside the forward or backward "
                      "it was given to");
    if (o->net) check_net_view(L, o);
    if (o->data) check_data_view(L, o);
    if (o->act) check_act_view(L, o);
    return u->t;
}

static bp_tensor *test_tensor(lua_State *L, int i) {
    return test_ud(L, i) ? bp_lua_check_tensor(L, i) : NULL;
}

/* Pushes a new tensor of dims and dtype, its numbers zeros when zero is
 * set, else left for the caller to write, every one; raises on failure. */
static bp_tensor *push_new(lua_State *L, bp_dtype dtype, int ndim, const size_t *dims,
                           int zero) {
    bp_tensor shape;
    bp_err e;
    if (bp_tensor_init(&shape, dtype, ndim, dims, NULL, &e) < 0) luaL_error(L, "%s", e.msg);
    const size_t bytes = shape.n * bp_dtype_size(dtype);
    if (bytes > SMALL_BYTES) {
        ltensor *u = new_ltensor(L);
        u->t = bp_tensor_new(dtype, ndim, dims, &e);
        if (!u->t) luaL_error(L, "%s", e.msg);
        return u->t;
    }
    ltensor *u = lua_newuserdatauv(L, sizeof *u + SMALL_ALIGN - 1 + bytes, 1);
    memset(u, 0, sizeof *u);
    uintptr_t at = (uintptr_t)(u + 1);
    shape.data = (char *)(u + 1) + (SMALL_ALIGN - at % SMALL_ALIGN) % SMALL_ALIGN;
    if (zero) memset(shape.data, 0, bytes);
    u->own = shape;
    u->t = &u->own;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &small_key);
    lua_setmetatable(L, -2);
    return u->t;
}

/* Pushes a new zero-filled tensor of dims and dtype; raises on failure. */
bp_tensor *bp_lua_push_tensor(lua_State *L, bp_dtype dtype, int ndim, const size_t *dims) {
    return push_new(L, dtype, ndim, dims, 1);
}

/* Lets go of u's tensor: frees it unless it lives in u's userdata. */
static void drop(ltensor *u) {
    if (u->t != &u->own) bp_tensor_free(u->t);
    u->t = NULL;
}

static int tensor_close(lua_State *L) {
    ltensor *u = check_ud(L, 1);
    if (u->closed) return 0;
    u->closed = 1;
    if (u->host) return 0; /* the module's context frees it */
    if (u->base) { /* a view: release the owner, freeing it if it was closed */
        drop(u);
        if (--u->base->views == 0 && u->base->closed && !u->base->host) drop(u->base);
        return 0;
    }
    if (u->views == 0) drop(u);
    return 0;
}

/* ---- arguments ---------------------------------------------------------- */

static void raise_err(lua_State *L, const char *fn, bp_err *e) {
    luaL_error(L, "%s: %s", fn, e->msg);
}

/* The optional `out` argument at i: that tensor (pushed again, as the
 * result), or a new tensor like `like` (dims and dtype) when i is none/nil. */
static bp_tensor *result(lua_State *L, int i, const bp_tensor *like, const size_t *dims) {
    if (!lua_isnoneornil(L, i)) {
        bp_tensor *out = bp_lua_check_tensor(L, i);
        lua_pushvalue(L, i);
        return out;
    }
    /* every operation writes each number of its out */
    return push_new(L, like->dtype, like->ndim, dims ? dims : like->dims, 0);
}

/* Subscripts (1-based) at stack positions first..first+count-1, or in the
 * table at first when table is set, into a flat 0-based index. */
static size_t flat_index(lua_State *L, const bp_tensor *t, int first, int count, int table) {
    if (count != t->ndim)
        luaL_error(L, "index has %d subscripts, tensor has %d dimensions", count, t->ndim);
    size_t flat = 0;
    for (int d = 0; d < count; d++) {
        lua_Integer i;
        int ok;
        if (table) lua_geti(L, first, d + 1);
        i = lua_tointegerx(L, table ? -1 : first + d, &ok);
        if (table) lua_pop(L, 1);
        if (!ok) luaL_error(L, "subscript %d is not an integer", d + 1);
        if (i < 1 || (lua_Unsigned)i > t->dims[d])
            luaL_error(L, "index %d out of range 1..%d in dimension %d", (int)i,
                       (int)t->dims[d], d + 1);
        flat = flat * t->dims[d] + (size_t)(i - 1);
    }
    return flat;
}

/* ---- from and to tables ------------------------------------------------- */

/* The shape of the nested table at the top: walks the first elements. */
static int table_dims(lua_State *L, size_t *dims) {
    int ndim = 0, pushed = 0;
    while (lua_type(L, -1) == LUA_TTABLE) {
        if (ndim == BP_TENSOR_MAXDIM)
            luaL_error(L, "bp.tensor: more than %d dimensions", BP_TENSOR_MAXDIM);
        lua_Unsigned n = lua_rawlen(L, -1);
        if (n == 0) luaL_error(L, "bp.tensor: an empty table in dimension %d", ndim + 1);
        dims[ndim++] = (size_t)n;
        lua_rawgeti(L, -1, 1);
        pushed++;
    }
    lua_pop(L, pushed);
    if (ndim == 0) luaL_error(L, "bp.tensor: a table of numbers expected");
    return ndim;
}

/* Fills t from the nested table at the top, at depth d from offset *at. */
static void table_fill(lua_State *L, bp_tensor *t, int d, size_t *at) {
    if (d >= BP_TENSOR_MAXDIM) return; /* never: ndim <= BP_TENSOR_MAXDIM */
    size_t n = lua_rawlen(L, -1);
    if (lua_type(L, -1) != LUA_TTABLE || n != t->dims[d])
        luaL_error(L, "bp.tensor: a row of %d numbers in dimension %d, expected %d",
                   lua_type(L, -1) == LUA_TTABLE ? (int)n : 0, d + 1, (int)t->dims[d]);
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, (lua_Integer)i);
        if (d + 1 < t->ndim) {
            table_fill(L, t, d + 1, at);
        } else {
            int ok;
            double v = lua_tonumberx(L, -1, &ok);
            if (!ok)
                luaL_error(L, "bp.tensor: element %d of a row is %s, not a number", (int)i,
                           luaL_typename(L, -1));
            bp_tensor_set(t, (*at)++, v);
        }
        lua_pop(L, 1);
    }
}

/* bp.tensor(table [, dtype]): a tensor of the nested table's numbers. */
static int l_tensor(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    bp_dtype dtype = BP_F64;
    if (!lua_isnoneornil(L, 2)) {
        lua_pushvalue(L, 2);
        dtype = bp_lua_dtype_at_top(L, 2, NULL);
        lua_pop(L, 1);
    }
    size_t dims[BP_TENSOR_MAXDIM], at = 0;
    lua_pushvalue(L, 1);
    int ndim = table_dims(L, dims);
    bp_tensor *t = bp_lua_push_tensor(L, dtype, ndim, dims);
    lua_pushvalue(L, 1);
    table_fill(L, t, 0, &at);
    lua_pop(L, 1);
    return 1;
}

/* A shape: a table {d1, ...} at i, or integers from i to the first
 * non-integer; returns ndim and the index after it. */
static int read_shape(lua_State *L, int i, size_t *dims, int *next) {
    int ndim = 0, table = lua_istable(L, i);
    int count = table ? (int)lua_rawlen(L, i) : 0;
    if (!table)
        while (lua_isinteger(L, i + count)) count++;
    if (count < 1 || count > BP_TENSOR_MAXDIM)
        luaL_argerror(L, i, "a shape of 1 to 4 dimensions expected");
    for (; ndim < count; ndim++) {
        if (table) lua_rawgeti(L, i, ndim + 1);
        lua_Integer d = lua_tointeger(L, table ? -1 : i + ndim);
        if (table) lua_pop(L, 1);
        if (d < 1) luaL_argerror(L, i, "dimensions must be integers >= 1");
        dims[ndim] = (size_t)d;
    }
    *next = table ? i + 1 : i + count;
    return ndim;
}

/* bp.zeros(shape [, dtype]): shape a table {B, O} or the integers B, O. */
static int l_zeros(lua_State *L) {
    size_t dims[BP_TENSOR_MAXDIM];
    int next, ndim = read_shape(L, 1, dims, &next);
    bp_dtype dtype = BP_F64;
    if (!lua_isnoneornil(L, next)) {
        lua_pushvalue(L, next);
        dtype = bp_lua_dtype_at_top(L, next, NULL);
        lua_pop(L, 1);
    }
    bp_lua_push_tensor(L, dtype, ndim, dims);
    return 1;
}

/* Pushes the numbers of t from flat index *at, dimension d, as tables. */
static void push_table(lua_State *L, const bp_tensor *t, int d, size_t *at) {
    if (d >= BP_TENSOR_MAXDIM) return; /* never: ndim <= BP_TENSOR_MAXDIM */
    lua_createtable(L, (int)t->dims[d], 0);
    for (size_t i = 1; i <= t->dims[d]; i++) {
        if (d + 1 < t->ndim)
            push_table(L, t, d + 1, at);
        else
            lua_pushnumber(L, bp_tensor_get(t, (*at)++));
        lua_rawseti(L, -2, (lua_Integer)i);
    }
}

static int t_totable(lua_State *L) {
    size_t at = 0;
    push_table(L, bp_lua_check_tensor(L, 1), 0, &at);
    return 1;
}

/* ---- looking ------------------------------------------------------------ */

static int t_shape(lua_State *L) {
    bp_tensor *t = bp_lua_check_tensor(L, 1);
    lua_createtable(L, t->ndim, 0);
    for (int d = 0; d < t->ndim; d++) {
        lua_pushinteger(L, (lua_Integer)t->dims[d]);
        lua_rawseti(L, -2, d + 1);
    }
    return 1;
}

static int t_dtype(lua_State *L) {
    lua_pushstring(L, bp_dtype_name(bp_lua_check_tensor(L, 1)->dtype));
    return 1;
}

static int t_get(lua_State *L) {
    bp_tensor *t = bp_lua_check_tensor(L, 1);
    lua_pushnumber(L, bp_tensor_get(t, flat_index(L, t, 2, lua_gettop(L) - 1, 0)));
    return 1;
}

/* t:set(i, j, ..., v) */
static int t_set(lua_State *L) {
    bp_tensor *t = bp_lua_check_tensor(L, 1);
    int top = lua_gettop(L);
    double v = luaL_checknumber(L, top);
    bp_tensor_set(t, flat_index(L, t, 2, top - 2, 0), v);
    lua_settop(L, 1);
    return 1;
}

/* t[{i, j}], t[i] for one dimension, or a method by name. */
static int t_index(lua_State *L) {
    if (lua_type(L, 2) == LUA_TSTRING) { /* a closed tensor's methods too */
        check_ud(L, 1); /* before its metatable is read */
        lua_getmetatable(L, 1);
        lua_getfield(L, -1, "methods");
        lua_pushvalue(L, 2);
        lua_rawget(L, -2);
        return 1;
    }
    bp_tensor *t = bp_lua_check_tensor(L, 1);
    int table = lua_istable(L, 2);
    size_t i = flat_index(L, t, 2, table ? (int)lua_rawlen(L, 2) : 1, table);
    lua_pushnumber(L, bp_tensor_get(t, i));
    return 1;
}

static int t_newindex(lua_State *L) {
    bp_tensor *t = bp_lua_check_tensor(L, 1);
    int table = lua_istable(L, 2);
    size_t i = flat_index(L, t, 2, table ? (int)lua_rawlen(L, 2) : 1, table);
    bp_tensor_set(t, i, luaL_checknumber(L, 3));
    return 0;
}

static int t_len(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)bp_lua_check_tensor(L, 1)->dims[0]);
    return 1;
}

/* tostring: the numbers as aligned rows (the last dimension across), a
 * blank line between matrices, then a line with dtype and shape. */
static int t_tostring(lua_State *L) {
    bp_tensor *t = bp_lua_check_tensor(L, 1);
    char num[96], shape[64];
    int width = 1;
    for (size_t i = 0; i < t->n; i++) {
        int w = snprintf(num, sizeof num, "%.6g", bp_tensor_get(t, i));
        if (w > width) width = w;
    }
    const size_t cols = t->dims[t->ndim - 1];
    const size_t rows = t->ndim > 1 ? t->dims[t->ndim - 2] : 1;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < t->n; i++) {
        snprintf(num, sizeof num, "%*.6g", width, bp_tensor_get(t, i));
        luaL_addstring(&b, num);
        if ((i + 1) % cols != 0)
            luaL_addchar(&b, ' ');
        else {
            luaL_addchar(&b, '\n');
            if ((i + 1) % (cols * rows) == 0 && i + 1 < t->n) luaL_addchar(&b, '\n');
        }
    }
    bp_tensor_shape_str(shape, sizeof shape, t);
    snprintf(num, sizeof num, "[%s %s]", bp_dtype_name(t->dtype), shape);
    luaL_addstring(&b, num);
    luaL_pushresult(&b);
    return 1;
}

/* ---- arithmetic --------------------------------------------------------- */

/* a op b into out (argument 3) or a new tensor; b a tensor or a number. */
static int arith(lua_State *L, char op, const char *fn) {
    bp_tensor *a = bp_lua_check_tensor(L, 1), *b = test_tensor(L, 2);
    bp_err e;
    int rc;
    if (!b && !lua_isnumber(L, 2))
        return luaL_error(L, "%s: a tensor or a number expected, got %s", fn,
                          luaL_typename(L, 2));
    bp_tensor *out = result(L, 3, a, NULL);
    if (b)
        rc = bp_tensor_binary(out, a, op, b, &e);
    else
        rc = bp_tensor_scalar(out, a, op, lua_tonumber(L, 2), &e);
    if (rc < 0) raise_err(L, fn, &e);
    return 1;
}

static int t_add(lua_State *L) { return arith(L, '+', "add"); }
static int t_sub(lua_State *L) { return arith(L, '-', "sub"); }
static int t_mul(lua_State *L) { return arith(L, '*', "mul"); }
static int t_div(lua_State *L) { return arith(L, '/', "div"); }

/* The operators: a number on the left is a tensor of that number. */
static int operator(lua_State *L, char op, const char *fn) {
    lua_settop(L, 2);
    if (lua_isnumber(L, 1)) {
        bp_tensor *b = bp_lua_check_tensor(L, 2);
        bp_err e;
        bp_tensor *out = push_new(L, b->dtype, b->ndim, b->dims, 0);
        for (size_t i = 0; i < b->n; i++) bp_tensor_set(out, i, lua_tonumber(L, 1));
        if (bp_tensor_binary(out, out, op, b, &e) < 0) raise_err(L, fn, &e);
        return 1;
    }
    return arith(L, op, fn);
}

static int m_add(lua_State *L) { return operator(L, '+', "+"); }
static int m_sub(lua_State *L) { return operator(L, '-', "-"); }
static int m_mul(lua_State *L) { return operator(L, '*', "*"); }
static int m_div(lua_State *L) { return operator(L, '/', "/"); }

static int m_unm(lua_State *L) {
    lua_settop(L, 1);
    lua_pushnumber(L, -1);
    return arith(L, '*', "-");
}

/* t:exp([out]) and the others: the function's index is upvalue 2. */
static int t_apply(lua_State *L) {
    bp_tensor *a = bp_lua_check_tensor(L, 1);
    bp_tensor_fn f = (bp_tensor_fn)lua_tointeger(L, lua_upvalueindex(2));
    bp_err e;
    if (bp_tensor_apply(result(L, 2, a, NULL), a, f, &e) < 0)
        raise_err(L, bp_tensor_fn_name(f), &e);
    return 1;
}

static int t_clamp(lua_State *L) {
    bp_tensor *a = bp_lua_check_tensor(L, 1);
    double lo = luaL_checknumber(L, 2), hi = luaL_checknumber(L, 3);
    bp_err e;
    if (bp_tensor_clamp(result(L, 4, a, NULL), a, lo, hi, &e) < 0) raise_err(L, "clamp", &e);
    return 1;
}

/* t:map(f [, out]): f(x) for every number x. */
static int t_map(lua_State *L) {
    bp_tensor *a = bp_lua_check_tensor(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    bp_tensor *out = result(L, 3, a, NULL);
    if (!bp_tensor_same_shape(out, a)) {
        bp_err e;
        bp_tensor_binary(out, a, '+', out, &e); /* only for its message */
        raise_err(L, "map", &e);
    }
    for (size_t i = 0; i < a->n; i++) {
        lua_pushvalue(L, 2);
        lua_pushnumber(L, bp_tensor_get(a, i));
        lua_call(L, 1, 1);
        int ok;
        double v = lua_tonumberx(L, -1, &ok);
        if (!ok) return luaL_error(L, "map: the function returned %s, not a number",
                                   luaL_typename(L, -1));
        bp_tensor_set(out, i, v);
        lua_pop(L, 1);
    }
    return 1;
}

/* ---- reductions, products, shapes --------------------------------------- */

/* t:sum([dim] [, out]): without dim, a number; with it, a tensor whose
 * dimension dim has size 1. The reduction is upvalue 2 ('s', 'm', 'x'). */
static int t_reduce(lua_State *L) {
    bp_tensor *a = bp_lua_check_tensor(L, 1);
    char op = (char)lua_tointeger(L, lua_upvalueindex(2));
    const char *fn = op == 's' ? "sum" : op == 'm' ? "mean" : "max";
    bp_err e;
    if (lua_isnoneornil(L, 2)) {
        bp_tensor s = {.dtype = BP_F64, .ndim = 1, .dims = {1, 1, 1, 1}, .n = 1};
        double v;
        s.data = &v;
        if (bp_tensor_reduce(&s, a, op, -1, &e) < 0) raise_err(L, fn, &e);
        lua_pushnumber(L, v);
        return 1;
    }
    lua_Integer dim = luaL_checkinteger(L, 2);
    if (dim < 1 || dim > a->ndim)
        return luaL_error(L, "%s: dimension %d out of range 1..%d", fn, (int)dim, a->ndim);
    size_t dims[BP_TENSOR_MAXDIM];
    bp_tensor_reduced_dims(dims, a, (int)dim - 1);
    if (bp_tensor_reduce(result(L, 3, a, dims), a, op, (int)dim - 1, &e) < 0)
        raise_err(L, fn, &e);
    return 1;
}

static int t_matmul(lua_State *L) {
    bp_tensor *a = bp_lua_check_tensor(L, 1), *b = bp_lua_check_tensor(L, 2);
    bp_err e;
    if (a->ndim != 2 || b->ndim != 2 || a->dims[1] != b->dims[0]) {
        bp_tensor_matmul(a, a, b, &e);
        raise_err(L, "matmul", &e);
    }
    size_t dims[2] = {a->dims[0], b->dims[1]};
    if (bp_tensor_matmul(result(L, 3, a, dims), a, b, &e) < 0) raise_err(L, "matmul", &e);
    return 1;
}

static int t_transpose(lua_State *L) {
    bp_tensor *a = bp_lua_check_tensor(L, 1);
    bp_err e;
    if (a->ndim != 2) return luaL_error(L, "transpose: %d dimensions, not 2", a->ndim);
    size_t dims[2] = {a->dims[1], a->dims[0]};
    if (bp_tensor_transpose(result(L, 2, a, dims), a, &e) < 0) raise_err(L, "transpose", &e);
    return 1;
}

/* t:reshape(shape): a view of the same numbers in another shape. */
static int t_reshape(lua_State *L) {
    ltensor *src = check_ud(L, 1);
    bp_tensor *a = bp_lua_check_tensor(L, 1);
    size_t dims[BP_TENSOR_MAXDIM];
    int next, ndim = read_shape(L, 2, dims, &next);
    ltensor *owner = src->base ? src->base : src;
    ltensor *u = new_ltensor(L);
    bp_err e;
    u->t = bp_tensor_view(a->dtype, ndim, dims, a->data, &e);
    if (!u->t) return luaL_error(L, "reshape: %s", e.msg);
    if (u->t->n != a->n) {
        bp_tensor want = *u->t;
        bp_tensor_free(u->t);
        u->t = NULL;
        u->closed = 1;
        bp_tensor_copy(&want, a, &e);
        return luaL_error(L, "reshape: %s", e.msg);
    }
    u->base = owner;
    u->gen = owner->gen;
    owner->views++;
    if (src->base) /* the owner: src's own, or src */
        lua_getiuservalue(L, 1, 1);
    else
        lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
    return 1;
}

/* t:clone([dtype]): a new tensor of t's numbers, converted to dtype. */
static int t_clone(lua_State *L) {
    bp_tensor *a = bp_lua_check_tensor(L, 1);
    bp_dtype dtype = a->dtype;
    bp_err e;
    if (!lua_isnoneornil(L, 2)) {
        lua_pushvalue(L, 2);
        dtype = bp_lua_dtype_at_top(L, 2, NULL);
        lua_pop(L, 1);
    }
    bp_tensor_copy(push_new(L, dtype, a->ndim, a->dims, 0), a, &e);
    return 1;
}

/* t:copy(src): src's numbers into t (same number of elements). */
static int t_copy(lua_State *L) {
    bp_tensor *t = bp_lua_check_tensor(L, 1), *src = bp_lua_check_tensor(L, 2);
    bp_err e;
    if (bp_tensor_copy(t, src, &e) < 0) raise_err(L, "copy", &e);
    lua_settop(L, 1);
    return 1;
}

static int t_fill(lua_State *L) {
    bp_tensor *t = bp_lua_check_tensor(L, 1);
    double v = luaL_checknumber(L, 2);
    for (size_t i = 0; i < t->n; i++) bp_tensor_set(t, i, v);
    lua_settop(L, 1);
    return 1;
}

/* net:tensor(name), net:grad_tensor(name): a view of a parameter's numbers
 * or of its gradient, in the net's memory (no copy), held by the view. */
static int param_view(lua_State *L, int grad) {
    bp_net *net = bp_lua_check_net(L, 1);
    const char *name = luaL_checkstring(L, 2);
    int n = 0;
    const bp_param *p = bp_net_param_list(net, &n);
    int i = 0;
    while (i < n && strcmp(p[i].name, name) != 0) i++;
    if (i == n) {
        bp_err e;
        bp_net_param_find(net, name, &e);
        return luaL_argerror(L, 2, e.msg);
    }
    if (grad && !p[i].grad)
        return luaL_argerror(L, 2, lua_pushfstring(L, "'%s' is a buffer: it has no gradient", name));
    size_t dims[BP_TENSOR_MAXDIM] = {1, 1, 1, 1};
    int ndim = p[i].ndim < 1 ? 1 : p[i].ndim > BP_TENSOR_MAXDIM ? BP_TENSOR_MAXDIM : p[i].ndim;
    for (int d = 0; d < p[i].ndim && d < BP_TENSOR_MAXDIM; d++) dims[d] = (size_t)p[i].shape[d];
    ltensor *u = new_ltensor(L);
    bp_err e;
    u->t = bp_tensor_view(net->dtype, ndim, dims, grad ? p[i].grad : p[i].data, &e);
    if (!u->t || u->t->n != p[i].count) return luaL_error(L, "net:tensor: '%s' has no tensor's shape", name);
    u->net = bp_lua_check_lnet(L, 1);
    u->param = i;
    u->grad = grad;
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
    return 1;
}

int bp_lua_batch_dims(size_t *dims, size_t B, int ndim, const int *shape) {
    dims[0] = B;
    if (ndim + 1 <= BP_TENSOR_MAXDIM) {
        for (int d = 0; d < ndim; d++) dims[d + 1] = (size_t)shape[d];
        return ndim + 1;
    }
    dims[1] = 1;
    for (int d = 0; d < ndim; d++) dims[1] *= (size_t)shape[d];
    return 2;
}

/* ---- host views (lbackprop.h) ------------------------------------------ */

struct ltensor *bp_lua_push_host_view(lua_State *L, bp_dtype dtype) {
    static double nothing;
    ltensor *u = new_ltensor(L);
    bp_err e;
    u->t = bp_tensor_view(dtype, 1, (size_t[]){1}, &nothing, &e);
    if (!u->t) luaL_error(L, "%s", e.msg);
    u->host = 1;
    return u;
}

void bp_lua_host_view_begin(struct ltensor *u, int ndim, const size_t *dims, void *data) {
    if (!u->t) return;
    bp_tensor *t = u->t;
    t->ndim = ndim;
    t->n = 1;
    for (int d = 0; d < BP_TENSOR_MAXDIM; d++) t->n *= t->dims[d] = d < ndim ? dims[d] : 1;
    t->data = data;
    u->live = 1;
    u->gen++;
}

void bp_lua_host_view_end(struct ltensor *u) { u->live = 0; }

void bp_lua_host_view_free(struct ltensor *u) {
    bp_tensor_free(u->t);
    u->t = NULL;
    u->closed = 1;
    u->live = 0;
}

/* d:x(), d:y(): views of a data set's inputs (n x d, in its dtype) and
 * targets (n x k, float64; one-hot rows for class labels), no copy. */
static int data_view(lua_State *L, int targets) {
    bp_data *d = bp_lua_check_data(L, 1);
    bp_dtype dtype;
    size_t n, dims[2] = {(size_t)d->n, (size_t)(targets ? d->k : d->d)};
    bp_err e;
    /* a view may write rows: byte-backed ones become floats first */
    if (!targets && d->n && bp_data_materialize(d, &e)) return luaL_error(L, "%s", e.msg);
    void *rows = data_rows(d, targets, &dtype, &n);
    if (d->n == 0)
        return luaL_error(L, "%s: the data set has no rows", targets ? "y" : "x");
    ltensor *u = new_ltensor(L);
    if (!(u->t = bp_tensor_view(dtype, 2, dims, rows, &e))) return luaL_error(L, "%s", e.msg);
    u->data = luaL_checkudata(L, 1, DATA_TYPE); /* its first field is the set */
    u->targets = targets;
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
    return 1;
}

static int data_x(lua_State *L) { return data_view(L, 0); }
static int data_y(lua_State *L) { return data_view(L, 1); }

static const luaL_Reg data_view_methods[] = {{"x", data_x}, {"y", data_y}, {NULL, NULL}};

/* The node (or a stack's layer and field) named name: a graph's module
 * name; a stack's "l" (the layer's h) or "l.act" (its o), as the graph it
 * would become names them. -1 when there is none. */
static int act_of(const bp_net *net, const char *name, int *field) {
    *field = 0;
    if (net->graph) {
        for (int k = 0; k < bp_graph_nodes(net->graph); k++)
            if (!strcmp(bp_graph_node_name(net->graph, k), name)) return k;
        return -1;
    }
    char *end;
    long l = strtol(name, &end, 10);
    if (end == name || name[0] < '1' || name[0] > '9' || l > net->n_layers) return -1;
    if (*end && strcmp(end, ".act")) return -1;
    *field = *end ? BP_FIELD_O : BP_FIELD_H;
    return (int)l - 1;
}

/* net:activation(name): a view of module name's output from the last
 * forward, {B, its shape...} ({B, values} past 3 dimensions), no copy. */
static int net_activation(lua_State *L) {
    lnet *n = bp_lua_check_lnet(L, 1);
    const char *name = luaL_checkstring(L, 2);
    int field, id = act_of(n->net, name, &field);
    if (id < 0) return luaL_argerror(L, 2, lua_pushfstring(L, "no module named '%s'", name));
    size_t count, dims[BP_TENSOR_MAXDIM];
    const void *rows = act_rows(n->net, id, field, &count);
    if (!rows && count > 0) /* bp_graph_node_value: a chain's, unwritten */
        return luaL_error(L,
                          "net:activation: module '%s' ran inside a conv2d -> relu -> "
                          "maxpool2d chain, which keeps no values of its own: run "
                          "net:forward again (it keeps them from now on)",
                          name);
    if (!rows || count == 0)
        return luaL_error(L, "net:activation: no output yet: run net:forward first");
    int ndim = 2, shape[BP_GRAPH_MAX_DIMS];
    if (n->net->graph) {
        bp_graph_node_shape(n->net->graph, id, &ndim, shape);
        ndim = bp_lua_batch_dims(dims, (size_t)bp_graph_batch(n->net->graph), ndim, shape);
    } else {
        dims[0] = (size_t)n->net->B, dims[1] = (size_t)n->net->layers[id].O;
    }
    ltensor *u = new_ltensor(L);
    bp_err e;
    if (!(u->t = bp_tensor_view(n->net->dtype, ndim, dims, (void *)rows, &e)))
        return luaL_error(L, "%s", e.msg);
    u->act = n, u->act_id = id, u->act_field = field;
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
    return 1;
}

static int net_tensor(lua_State *L) { return param_view(L, 0); }
static int net_grad_tensor(lua_State *L) { return param_view(L, 1); }

static const luaL_Reg net_view_methods[] = {{"tensor", net_tensor},
                                            {"grad_tensor", net_grad_tensor},
                                            {"activation", net_activation},
                                            {NULL, NULL}};

static const luaL_Reg tensor_methods[] = {
    {"shape", t_shape}, {"dtype", t_dtype},     {"get", t_get},         {"set", t_set},
    {"totable", t_totable}, {"add", t_add},     {"sub", t_sub},         {"mul", t_mul},
    {"div", t_div},     {"clamp", t_clamp},     {"map", t_map},         {"matmul", t_matmul},
    {"t", t_transpose}, {"transpose", t_transpose}, {"reshape", t_reshape},
    {"clone", t_clone}, {"copy", t_copy},       {"fill", t_fill},       {"close", tensor_close},
    {NULL, NULL}};

static const luaL_Reg tensor_metamethods[] = {
    {"__newindex", t_newindex}, {"__len", t_len}, {"__tostring", t_tostring},
    {"__add", m_add},           {"__sub", m_sub}, {"__mul", m_mul},
    {"__div", m_div},           {"__unm", m_unm}, {"__gc", tensor_close},
    {"__close", tensor_close},  {NULL, NULL}};

static const luaL_Reg tensor_funcs[] = {{"tensor", l_tensor}, {"zeros", l_zeros}, {NULL, NULL}};

/* Adds to the methods table at the top the closures of f with upvalue 2
 * the integer which (the function, the reduction). */
static void add_closure(lua_State *L, const char *name, lua_CFunction f, lua_Integer which) {
    lua_pushvalue(L, -4); /* the state */
    lua_pushinteger(L, which);
    lua_pushcclosure(L, f, 2);
    lua_setfield(L, -2, name);
}

void bp_lua_open_tensor(lua_State *L) {
    bp_lua_new_type(L, TENSOR_TYPE, tensor_metamethods, NULL);
    luaL_getmetatable(L, TENSOR_TYPE);
    lua_newtable(L); /* the methods */
    lua_pushvalue(L, -4);
    luaL_setfuncs(L, tensor_methods, 1);
    for (int f = 0; f < BP_TFN_COUNT; f++)
        add_closure(L, bp_tensor_fn_name((bp_tensor_fn)f), t_apply, f);
    add_closure(L, "sum", t_reduce, 's');
    add_closure(L, "mean", t_reduce, 'm');
    add_closure(L, "max", t_reduce, 'x');
    lua_setfield(L, -2, "methods");
    lua_pushvalue(L, -3);
    lua_pushcclosure(L, t_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &tensor_key);
    lua_newtable(L); /* the small tensors': the same, without __gc */
    lua_pushnil(L);
    while (lua_next(L, -3)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, -4);
    }
    lua_pushnil(L);
    lua_setfield(L, -2, "__gc");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &small_key);
    lua_pop(L, 1);
    bp_lua_add_funcs(L, tensor_funcs);
    bp_lua_add_methods(L, NET_TYPE, net_view_methods);
    bp_lua_add_methods(L, DATA_TYPE, data_view_methods);
}
