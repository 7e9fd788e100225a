/* lhost.c: bp.module, a module whose forward and backward are Lua functions
 * on tensors, running inside a net's graph as the engine's host op; and
 * bp.gradcheck, which checks any module or net against central differences.
 *
 * Why a host op (docs/ARCHITECTURE.md): the graph keeps its one executor,
 * its parameter list and its optimisers, so a Lua module composes with
 * residual branches, fit, evaluate and every built-in op. The engine knows
 * a callback, not Lua: each node made of a bp.module gets a context here,
 * which holds, in a registry table, the module's functions, its `self`
 * (the parameters as tensors, their gradients in self.grad, the mode in
 * self.training; anything else a forward keeps for its backward) and the
 * host views (ltensor.c) of the node's buffers, made once and re-pointed at
 * each call, so that a step allocates nothing here.
 *
 * The callbacks run on a Lua thread of the context's own, under lua_pcall
 * in a C function, so that an error (the script's, a wrong result, memory)
 * comes back as the engine's error (bp_err) and never longjmps across the
 * engine's frames; the views are usable only during the call, and the net
 * refuses every method while one of its modules runs (lnet's running), so a
 * forward cannot free or resize the buffers it is walking.
 *
 * A network file cannot hold Lua functions: it names the definition
 * (engine/save_host.c). bp.module{name = ...} registers its definition in
 * a table of the Lua registry, under the name and once per parameter
 * shapes (a factory's modules of several sizes share a name), and a
 * loader's resolver (bp_lua_loader_hosts) finds the one with the file's
 * shapes and makes a node's context from it as a script's module gets
 * one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "bp_save.h"
#include "bp_tensor.h"
#include "lbackprop.h"

/* The context's registry table. */
enum { R_FWD = 1, R_BWD, R_SELF, R_X, R_Y, R_DY, R_DX, R_THREAD, R_CTX, R_N = R_CTX };

/* The registry's field of the definitions registered by name. */
#define REGISTRY "backprop.lua_modules"

/* A node's context: a userdata kept in its own registry table (R_CTX), so
 * that nothing leaks if making it raises half way. */
typedef struct hctx {
    lua_State *T; /* the thread the callbacks run on; NULL once released */
    int ref;      /* the registry table */
    int *running; /* the net's lnet running count */
    int np;
    char def[BP_GRAPH_MAX_NAME + 1];
    struct ltensor *x, *y, *dy, *dx, *p[BP_HOST_MAX_PARAMS], *g[BP_HOST_MAX_PARAMS];
} hctx;

/* ------------------------------------------------------------------------ */
/* bp.module{...}                                                            */

static const char *const module_options[] = {"name",    "forward", "backward",
                                             "params",  "outputs", NULL};

/* A parameter's name: a Lua identifier of 1 to 15 characters. */
static int good_name(const char *s, size_t len) {
    if (len < 1 || len > 15 || (s[0] >= '0' && s[0] <= '9')) return 0;
    for (size_t k = 0; k < len; k++)
        if (!(s[k] == '_' || (s[k] >= 'a' && s[k] <= 'z') || (s[k] >= 'A' && s[k] <= 'Z') ||
              (s[k] >= '0' && s[k] <= '9')))
            return 0;
    return 1;
}

/* Pushes the definitions registered by name (bp.module{name = ...}): a
 * table in the registry, name -> the module's D (l_module). */
static void push_registry(lua_State *L) {
    luaL_getsubtable(L, LUA_REGISTRYINDEX, REGISTRY);
}

/* D's parameters (D at d: names, and init's tensors) into h's n_params and
 * params (names and values alive while D is). */
static void d_params(lua_State *L, int d, bp_host *h) {
    lua_getfield(L, d, "names");
    lua_getfield(L, d, "init");
    h->n_params = (int)lua_rawlen(L, -2);
    for (int k = 0; k < h->n_params; k++) {
        lua_rawgeti(L, -2, k + 1);
        h->params[k].name = lua_tostring(L, -1);
        lua_rawgeti(L, -2, k + 1);
        const bp_tensor *t = bp_lua_check_tensor(L, -1);
        h->params[k].ndim = t->ndim;
        for (int j = 0; j < t->ndim; j++) h->params[k].shape[j] = (int)t->dims[j];
        h->params[k].init = t->data;
        lua_pop(L, 2);
    }
    lua_pop(L, 2);
}

/* Whether a and b have the same parameters: names, and each one's shape. */
static int same_params(const bp_host *a, const bp_host *b) {
    if (a->n_params != b->n_params) return 0;
    for (int k = 0; k < a->n_params; k++) {
        int j = 0;
        while (j < b->n_params && strcmp(a->params[k].name, b->params[j].name)) j++;
        if (j == b->n_params || a->params[k].ndim != b->params[j].ndim ||
            memcmp(a->params[k].shape, b->params[j].shape,
                   sizeof(int) * (size_t)a->params[k].ndim))
            return 0;
    }
    return 1;
}

/* The place in the registry's list at list of the definition whose
 * parameters are want's, or 0. There is at most one (register_def). */
static int find_def(lua_State *L, int list, const bp_host *want) {
    int n = (int)lua_rawlen(L, list);
    for (int k = 1; k <= n; k++) {
        bp_host h;
        lua_rawgeti(L, list, k);
        d_params(L, lua_gettop(L), &h); /* names alive: the list holds D */
        lua_pop(L, 1);
        if (same_params(&h, want)) return k;
    }
    return 0;
}

/* Pushes the definition registered under name whose parameters are want's
 * (want NULL, or none is: the latest registered), or nil. */
static void push_registered(lua_State *L, const char *name, const bp_host *want) {
    push_registry(L);
    if (lua_getfield(L, -1, name) != LUA_TTABLE) {
        lua_remove(L, -2);
        return;
    }
    int list = lua_gettop(L), at = want ? find_def(L, list, want) : 0;
    lua_rawgeti(L, list, at ? at : (int)lua_rawlen(L, list));
    lua_replace(L, list - 1);
    lua_settop(L, list - 1);
}

/* Registers the definition D at d under name: one per name and parameter
 * shapes (a factory's modules of several sizes are each found again),
 * the latest of a name and shapes replacing the one before. */
static void register_def(lua_State *L, int d, const char *name) {
    bp_host mine;
    d_params(L, d, &mine);
    push_registry(L);
    luaL_getsubtable(L, -1, name);
    int list = lua_gettop(L), at = find_def(L, list, &mine);
    lua_pushvalue(L, d);
    lua_rawseti(L, list, at ? at : (int)lua_rawlen(L, list) + 1);
    lua_pop(L, 2);
}

/* opts.params (at the top) into D.names (sorted) and D.init (float64
 * copies, so that a network starts from the values the module was given). */
static void read_params(lua_State *L, int d) {
    int t = lua_gettop(L), n = 0;
    const char *names[BP_HOST_MAX_PARAMS + 1];
    luaL_argcheck(L, lua_type(L, t) == LUA_TTABLE, 1, "field 'params': a table expected");
    lua_pushnil(L);
    while (lua_next(L, t)) {
        size_t len;
        const char *s = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &len) : NULL;
        if (!s || !good_name(s, len))
            luaL_argerror(L, 1, "field 'params': names of 1 to 15 letters, digits or _ "
                                "expected");
        if (n == BP_HOST_MAX_PARAMS)
            luaL_argerror(L, 1, lua_pushfstring(L, "field 'params': at most %d tensors",
                                                BP_HOST_MAX_PARAMS));
        if (!bp_lua_is_tensor(L, -1))
            luaL_argerror(L, 1, lua_pushfstring(L, "field 'params': '%s': a tensor expected, "
                                                   "got %s", s, luaL_typename(L, -1)));
        int k = n++;
        while (k > 0 && strcmp(names[k - 1], s) > 0) names[k] = names[k - 1], k--;
        names[k] = s;
        lua_pop(L, 1);
    }
    lua_createtable(L, n, 0); /* names */
    lua_createtable(L, n, 0); /* init */
    for (int k = 0; k < n; k++) {
        lua_pushstring(L, names[k]);
        lua_rawseti(L, -3, k + 1);
        lua_getfield(L, t, names[k]);
        bp_tensor *a = bp_lua_check_tensor(L, -1), *c;
        c = bp_lua_push_tensor(L, BP_F64, a->ndim, a->dims);
        bp_err e;
        bp_tensor_copy(c, a, &e);
        lua_rawseti(L, -3, k + 1);
        lua_pop(L, 1);
    }
    lua_setfield(L, d, "init");
    lua_setfield(L, d, "names");
}

/* opts.outputs (at the top): a number of values, or a shape. */
static void read_outputs(lua_State *L, lmodule *m) {
    if (lua_type(L, -1) == LUA_TNUMBER) {
        m->o.ndim = 1;
        m->o.shape[0] = bp_lua_check_int(L, -1, "field 'outputs'");
        return;
    }
    int n = lua_type(L, -1) == LUA_TTABLE ? (int)lua_rawlen(L, -1) : 0;
    if (n < 1 || n > BP_GRAPH_MAX_DIMS)
        luaL_argerror(L, 1, "field 'outputs': a number or a shape of 1 to 4 dimensions "
                            "expected");
    m->o.ndim = n;
    for (int k = 0; k < n; k++) {
        lua_rawgeti(L, -1, k + 1);
        m->o.shape[k] = bp_lua_check_int(L, -1, "field 'outputs'");
        lua_pop(L, 1);
    }
}

/* bp.module{forward = f, backward = g [, params = {w = tensor, ...}]
 * [, outputs = n or shape] [, name = "glu"]}: a module (its user value D:
 * {forward, backward, def = the table, names, init}). */
static int l_module(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    bp_lua_check_options(L, 1, module_options, 0);
    lua_settop(L, 1);
    lmodule *m = bp_lua_new_module(L, M_LEAF, BP_OP_HOST); /* 2 */
    lua_newtable(L);                                       /* 3: D */
    const char *fns[] = {"forward", "backward"};
    for (int k = 0; k < 2; k++) {
        if (lua_getfield(L, 1, fns[k]) != LUA_TFUNCTION)
            bp_lua_field_error(L, 1, fns[k], "a function");
        lua_setfield(L, 3, fns[k]);
    }
    lua_pushvalue(L, 1);
    lua_setfield(L, 3, "def");
    strcpy(m->def, "lua");
    int named = lua_getfield(L, 1, "name") != LUA_TNIL;
    if (named) {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        if (lua_type(L, -1) != LUA_TSTRING || len < 1 || len > BP_GRAPH_MAX_NAME ||
            memchr(s, 0, len))
            bp_lua_field_error(L, 1, "name", "a string of 1 to 48 characters");
        memcpy(m->def, s, len + 1);
        lua_pushboolean(L, 1);
        lua_setfield(L, 3, "registered");
    }
    lua_pop(L, 1);
    if (lua_getfield(L, 1, "outputs") != LUA_TNIL) read_outputs(L, m);
    lua_pop(L, 1);
    if (lua_getfield(L, 1, "params") == LUA_TNIL) {
        lua_newtable(L);
        lua_setfield(L, 3, "names");
    } else {
        read_params(L, 3);
    }
    lua_settop(L, 3);
    if (named) register_def(L, 3, m->def);
    lua_setiuservalue(L, 2, 1);
    return 1;
}

int bp_lua_host_has_params(lua_State *L, int mi) {
    lua_getiuservalue(L, mi, 1);
    lua_getfield(L, -1, "names");
    int has = lua_rawlen(L, -1) > 0;
    lua_pop(L, 2);
    return has;
}

/* ------------------------------------------------------------------------ */
/* A node's context                                                          */

static int host_forward(void *ctx, const bp_host_call *k, bp_err *e);
static int host_backward(void *ctx, const bp_host_call *k, bp_err *e);

/* Pushes self: the parameters' views by name, their gradients' in
 * self.grad, the definition table as __index (its methods and constants). */
static void push_self(lua_State *L, hctx *c, int d, bp_dtype dtype) {
    lua_newtable(L);
    int self = lua_gettop(L);
    lua_createtable(L, 0, 1);
    lua_getfield(L, d, "def");
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, self);
    lua_getfield(L, d, "names");
    lua_newtable(L); /* grad */
    for (int k = 0; k < c->np; k++) {
        lua_rawgeti(L, -2, k + 1);
        const char *name = lua_tostring(L, -1);
        c->p[k] = bp_lua_push_host_view(L, dtype);
        lua_setfield(L, self, name);
        c->g[k] = bp_lua_push_host_view(L, dtype);
        lua_setfield(L, -3, name);
        lua_pop(L, 1);
    }
    lua_setfield(L, self, "grad");
    lua_pop(L, 1);
}

/* A new context for a node of the definition D at d (a module's user
 * value), named def, in the net n of dtype, into *h (its parameters' names
 * and initial values are D's, alive while D is); raises. */
static void make_ctx(lua_State *L, int d, const char *def, lnet *n, bp_dtype dtype,
                     bp_host *h) {
    luaL_checkstack(L, 12, "a Lua module");
    int top = lua_gettop(L);
    lua_createtable(L, R_N, 0);
    int r = top + 1;
    hctx *c = lua_newuserdatauv(L, sizeof *c, 0);
    memset(c, 0, sizeof *c);
    lua_rawseti(L, r, R_CTX);
    lua_getfield(L, d, "forward");
    lua_rawseti(L, r, R_FWD);
    lua_getfield(L, d, "backward");
    lua_rawseti(L, r, R_BWD);
    lua_State *T = lua_newthread(L);
    lua_rawseti(L, r, R_THREAD);
    lua_getfield(L, d, "names");
    c->np = (int)lua_rawlen(L, -1);
    lua_pop(L, 1);
    push_self(L, c, d, dtype);
    lua_rawseti(L, r, R_SELF);
    struct ltensor **v[] = {&c->x, &c->y, &c->dy, &c->dx};
    for (int k = 0; k < 4; k++) {
        *v[k] = bp_lua_push_host_view(L, dtype);
        lua_rawseti(L, r, R_X + k);
    }
    memset(h, 0, sizeof *h);
    d_params(L, d, h); /* D keeps the names and values alive */
    lua_pushvalue(L, r);
    c->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    c->T = T;
    c->running = &n->running;
    snprintf(c->def, sizeof c->def, "%s", def);
    h->ctx = c;
    lua_settop(L, top);
    h->forward = host_forward;
    h->backward = host_backward;
    h->release = bp_lua_host_release;
}

void bp_lua_host_opts(lua_State *L, int mi, lnet *n, bp_dtype dtype, bp_host *h,
                      bp_node_opts *o) {
    mi = lua_absindex(L, mi);
    const lmodule *m = bp_lua_check_module(L, mi);
    lua_getiuservalue(L, mi, 1);
    make_ctx(L, lua_gettop(L), m->def, n, dtype, h);
    /* Only a registered definition can be found again by a loader. */
    int registered = lua_getfield(L, -1, "registered") != LUA_TNIL;
    h->def = registered ? m->def : NULL;
    lua_pop(L, 2);
    o->host = h;
}

/* A loader's question, asked under lua_pcall (resolve below). */
typedef struct ask {
    bp_lua_loader *c;
    const char *def;
    bp_dtype dtype;
    const bp_host *file;
    bp_host *h;
    int unknown;
} ask;

/* Pushes the definition registered as a->def with the file's parameters
 * (else the latest of that name, which the loader then refuses naming the
 * parameter that differs) and fills a->h from it, or sets a->unknown. The
 * definition stays on the stack: it keeps the parameters' names alive
 * until the node is added. */
static int resolve_run(lua_State *L) {
    ask *a = lua_touserdata(L, 1);
    push_registered(L, a->def, a->file);
    if (lua_isnil(L, -1)) {
        a->unknown = 1;
        return 0;
    }
    make_ctx(L, lua_gettop(L), a->def, a->c->n, a->dtype, a->h);
    return 1;
}

static int resolve(void *ctx, const char *def, const char *module, bp_dtype dtype,
                   const bp_host *file, bp_host *h, bp_err *e) {
    bp_lua_loader *c = ctx;
    lua_State *L = c->L;
    ask a = {c, def, dtype, file, h, 0};
    if (!lua_checkstack(L, 4)) return bp_err_set(e, "out of memory");
    lua_pushcfunction(L, resolve_run);
    lua_pushlightuserdata(L, &a);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        bp_err_set(e, "module '%s': %s", module, lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    if (a.unknown) {
        lua_pop(L, 1);
        return bp_err_set(e,
                          "module '%s' is the Lua module '%s', which is not registered: "
                          "make it with bp.module{name = \"%s\", forward = ..., backward "
                          "= ...} before loading",
                          module, def, def);
    }
    return 0; /* the definition stays on the stack until the caller returns */
}

bp_save_hosts bp_lua_loader_hosts(bp_lua_loader *c, lua_State *L, lnet *n) {
    c->L = L;
    c->n = n;
    bp_save_hosts hosts = {c, resolve};
    return hosts;
}

void bp_lua_host_release(void *ctx) {
    hctx *c = ctx;
    if (!c || !c->T) return;
    struct ltensor *v[] = {c->x, c->y, c->dy, c->dx};
    for (int k = 0; k < 4; k++) bp_lua_host_view_free(v[k]);
    for (int k = 0; k < c->np; k++) {
        bp_lua_host_view_free(c->p[k]);
        bp_lua_host_view_free(c->g[k]);
    }
    luaL_unref(c->T, LUA_REGISTRYINDEX, c->ref);
    c->T = NULL;
}

/* ------------------------------------------------------------------------ */
/* The callbacks                                                             */

/* Points the views at the call's buffers and makes them usable. */
static void begin(hctx *c, const bp_host_call *k, int backward) {
    size_t xd[BP_TENSOR_MAXDIM], yd[BP_TENSOR_MAXDIM];
    int xn = bp_lua_batch_dims(xd, (size_t)k->B, k->in_ndim, k->in_shape);
    int yn = bp_lua_batch_dims(yd, (size_t)k->B, k->out_ndim, k->out_shape);
    bp_lua_host_view_begin(c->x, xn, xd, (void *)k->x);
    bp_lua_host_view_begin(c->y, yn, yd, backward ? (void *)k->y : k->out);
    if (backward) {
        bp_lua_host_view_begin(c->dy, yn, yd, (void *)k->dy);
        if (k->dx) bp_lua_host_view_begin(c->dx, xn, xd, k->dx);
    }
    for (int j = 0; j < c->np; j++) {
        const bp_param *p = &k->params[j];
        size_t dims[BP_TENSOR_MAXDIM];
        for (int d = 0; d < p->ndim; d++) dims[d] = (size_t)p->shape[d];
        bp_lua_host_view_begin(c->p[j], p->ndim, dims, p->data);
        bp_lua_host_view_begin(c->g[j], p->ndim, dims, p->grad);
    }
    (*c->running)++;
}

static void end(hctx *c) {
    struct ltensor *v[] = {c->x, c->y, c->dy, c->dx};
    for (int k = 0; k < 4; k++) bp_lua_host_view_end(v[k]);
    for (int j = 0; j < c->np; j++) {
        bp_lua_host_view_end(c->p[j]);
        bp_lua_host_view_end(c->g[j]);
    }
    (*c->running)--;
}

typedef struct hcall {
    hctx *c;
    const bp_host_call *k;
    int backward;
} hcall;

/* The tensor the Lua function returned (at the top) checked against the
 * view at index want (the shape it must have). */
static bp_tensor *result(lua_State *T, int want, const char *fn, const char *what) {
    bp_tensor *w = bp_lua_check_tensor(T, want);
    char ws[64], rs[64];
    bp_tensor_shape_str(ws, sizeof ws, w);
    if (!bp_lua_is_tensor(T, -1))
        luaL_error(T, "%s returned %s, expected %s: a tensor of shape %s", fn,
                   luaL_typename(T, -1), what, ws);
    bp_tensor *r = bp_lua_check_tensor(T, -1);
    bp_tensor_shape_str(rs, sizeof rs, r);
    if (!bp_tensor_same_shape(r, w))
        luaL_error(T, "%s returned a tensor of shape %s, expected %s: shape %s", fn, rs,
                   what, ws);
    return r;
}

/* Under lua_pcall on the context's thread: the Lua function, then its
 * result into the node's buffers (forward: copied into y unless it is y;
 * backward: added into dx). */
static int run(lua_State *T) {
    const hcall *a = lua_touserdata(T, 1);
    const bp_host_call *k = a->k;
    lua_rawgeti(T, LUA_REGISTRYINDEX, a->c->ref); /* 2 */
    lua_rawgeti(T, 2, a->backward ? R_BWD : R_FWD);
    lua_rawgeti(T, 2, R_SELF);
    lua_pushboolean(T, k->training);
    lua_setfield(T, -2, "training");
    lua_rawgeti(T, 2, R_X);
    if (a->backward) {
        lua_rawgeti(T, 2, R_DY);
        lua_rawgeti(T, 2, R_Y);
    }
    lua_call(T, a->backward ? 4 : 2, 1);
    char fn[BP_GRAPH_MAX_NAME + 16];
    snprintf(fn, sizeof fn, "%s's %s", a->c->def, a->backward ? "backward" : "forward");
    bp_err e;
    if (!a->backward) {
        lua_rawgeti(T, 2, R_Y);
        lua_insert(T, -2);
        bp_tensor *r = result(T, -2, fn, "its output"), *y = bp_lua_check_tensor(T, -2);
        if (r->data != y->data && bp_tensor_copy(y, r, &e)) luaL_error(T, "%s", e.msg);
    } else if (k->dx) {
        if (lua_isnil(T, -1))
            luaL_error(T, "%s returned nil, expected dLoss/dx", fn);
        lua_rawgeti(T, 2, R_DX);
        lua_insert(T, -2);
        bp_tensor *r = result(T, -2, fn, "dLoss/dx"), *dx = bp_lua_check_tensor(T, -2);
        if (bp_tensor_binary(dx, dx, '+', r, &e)) luaL_error(T, "%s", e.msg);
    }
    return 0;
}

static int call(hctx *c, const bp_host_call *k, int backward, bp_err *e) {
    lua_State *T = c->T;
    hcall a = {c, k, backward};
    lua_settop(T, 0);
    begin(c, k, backward);
    lua_pushcfunction(T, run);
    lua_pushlightuserdata(T, &a);
    int rc = lua_pcall(T, 1, 0, 0);
    end(c);
    if (rc != LUA_OK) {
        const char *msg = lua_tostring(T, -1);
        if (msg) bp_err_set(e, "%s", msg);
        else bp_err_set(e, "%s's %s raised a %s value", c->def,
                        backward ? "backward" : "forward", luaL_typename(T, -1));
    }
    lua_settop(T, 0);
    return rc == LUA_OK ? 0 : -1;
}

static int host_forward(void *ctx, const bp_host_call *k, bp_err *e) {
    return call(ctx, k, 0, e);
}

static int host_backward(void *ctx, const bp_host_call *k, bp_err *e) {
    return call(ctx, k, 1, e);
}

/* ------------------------------------------------------------------------ */
/* bp.gradcheck                                                              */

/* bp.gradcheck(module_or_net, x [, loss, y] [, opts]) -> ok, worst, where:
 * as torch.autograd.gradcheck, the backward's gradients (of every input
 * value and every trainable parameter) against central differences
 * (f(v + eps) - f(v - eps)) / 2 eps in float64, of L = the criterion's loss
 * of (out, y), or without one of sum(c .* out) with fixed coefficients c
 * (every output matters, none drawn from bp.seed's stream). The error of
 * each value is |analytic - numeric| / max(1, |analytic|, |numeric|);
 * ok when the worst is at most opts.tol (1e-6); eps is opts.eps (1e-6).
 * A module is made a float64 net first (its weights drawn as bp.net draws
 * them). The net runs in the mode it is in: dropout must be off. In Lua:
 * it is a loop of forwards, a dozen lines. */
static const char *GRADCHECK =
    "local bp = ...\n"
    "local function rows(x)\n"
    "  if type(x) == 'userdata' then x = x:totable() end\n"
    "  if type(x) ~= 'table' then error('bad argument #2 to \\'gradcheck\\' (a table or a tensor of inputs expected)', 3) end\n"
    "  if type(x[1]) ~= 'table' then return {x} end\n"
    "  return x\n"
    "end\n"
    "function bp.gradcheck(m, x, loss, y, opts)\n"
    "  x = rows(x)\n"
    "  opts = opts or {}\n"
    "  local eps, tol = opts.eps or 1e-6, opts.tol or 1e-6\n"
    "  local net = m\n"
    "  if getmetatable(m) ~= getmetatable(bp.net(1)) then\n"
    "    local ok, made = pcall(bp.net, m)\n"
    "    net = ok and made or bp.net(#x[1], m)\n"
    "  end\n"
    "  if net:dtype() ~= 'float64' then error('bad argument #1 to \\'gradcheck\\' (a float64 network expected, got float32)', 2) end\n"
    "  local crit = type(loss) == 'string' and bp.loss(loss) or loss\n"
    "  local function coef(i, j) return math.sin(7 * i + 13 * j) end\n"
    "  local function f()\n"
    "    local out = net:forward(x)\n"
    "    if crit then return crit:forward(out, y), out end\n"
    "    local s = 0\n"
    "    for i, row in ipairs(out) do for j, v in ipairs(row) do s = s + coef(i, j) * v end end\n"
    "    return s, out\n"
    "  end\n"
    "  local _, out = f()\n"
    "  local dout = {}\n"
    "  if crit then dout = crit:backward(out, y) else\n"
    "    for i, row in ipairs(out) do dout[i] = {} for j in ipairs(row) do dout[i][j] = coef(i, j) end end\n"
    "  end\n"
    "  local dx = net:backward(dout)\n"
    "  local worst, where = 0, nil\n"
    "  local function check(a, get, set, name)\n"
    "    local v = get()\n"
    "    set(v + eps) local lp = f()\n"
    "    set(v - eps) local lm = f()\n"
    "    set(v)\n"
    "    local n = (lp - lm) / (2 * eps)\n"
    "    local err = math.abs(a - n) / math.max(1, math.abs(a), math.abs(n))\n"
    "    if err > worst or where == nil then worst, where = err, name end\n"
    "  end\n"
    "  for i, row in ipairs(x) do for j in ipairs(row) do\n"
    "    check(dx[i][j], function() return row[j] end, function(v) row[j] = v end,\n"
    "          string.format('input[%d][%d]', i, j))\n"
    "  end end\n"
    "  for _, p in ipairs(net:params_list()) do\n"
    "    if p.trainable then\n"
    "      local w = net:tensor(p.name):reshape(p.count)\n"
    "      local g = net:grad_tensor(p.name):reshape(p.count):clone()\n"
    "      for k = 1, p.count do\n"
    "        check(g[k], function() return w[k] end, function(v) w[k] = v end,\n"
    "              string.format('%s[%d]', p.name, k))\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "  return worst <= tol, worst, where\n"
    "end\n";

static const luaL_Reg host_funcs[] = {{"module", l_module}, {NULL, NULL}};

void bp_lua_open_host(lua_State *L) {
    bp_lua_add_funcs(L, host_funcs);
    if (luaL_loadstring(L, GRADCHECK) != LUA_OK) lua_error(L);
    lua_pushvalue(L, -2); /* the module table */
    lua_call(L, 1, 0);
}
