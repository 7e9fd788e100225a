/* lmodel.c: networks saved and loaded, and checkpoints, from Lua.
 *
 * net:save(path) and bp.load(path) move a whole network (architecture and
 * every weight, exactly) through the file format of engine/bp_save.h;
 * bp.save_net and bp.load_net do the same through the run log, so that a
 * script can take up the network of run N at step k. bp.checkpoint and
 * bp.resume let `backprop run --resume ID` continue a killed run with the
 * same numbers it would have had: a checkpoint holds, besides each network's
 * weights and step count and each optimiser's moments, the module's random
 * generator, since shuffles and initialisations draw from it.
 *
 * A file or the database is the environment, not the program: a missing,
 * unwritable, truncated or corrupt one returns nil and a message naming it,
 * as io.open does, and only a wrong argument raises. */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "bp_lua.h"
#include "bp_save.h"
#include "bp_util.h"
#include "lbackprop.h"

/* ------------------------------------------------------------------------ */
/* Files                                                                     */

/* net:save(path) -> true, or nil, message */
static int net_save(lua_State *L) {
    bp_net *net = bp_lua_check_net(L, 1);
    const char *path = luaL_checkstring(L, 2);
    bp_err e;
    if (!net->graph && net->n_layers == 0)
        return luaL_error(L, "the network has no layers: nothing to save");
    bp_lua_tree_to_note(L, 1);
    if (bp_net_save(net, path, &e)) return bp_lua_fail(L, e.msg);
    lua_pushboolean(L, 1);
    return 1;
}

/* bp.load(path) -> net, or nil, message */
static int l_load(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    lnet *n = bp_lua_new_lnet(L);
    int ni = lua_gettop(L);
    bp_lua_loader c;
    bp_save_hosts hosts = bp_lua_loader_hosts(&c, L, n);
    bp_err e;
    if (!(n->net = bp_net_load_hosts(path, &hosts, &e))) return bp_lua_fail(L, e.msg);
    lua_settop(L, ni); /* the definitions the loader used */
    bp_lua_tree_from_note(L, -1);
    return 1;
}

/* ------------------------------------------------------------------------ */
/* The run log                                                               */

static int64_t opt_int(lua_State *L, int arg, int64_t dflt) {
    if (lua_isnoneornil(L, arg)) return dflt;
    int isint;
    lua_Integer v = lua_tointegerx(L, arg, &isint);
    if (!isint) return luaL_typeerror(L, arg, "integer");
    return v;
}

/* bp.save_net(net [, step [, name]]) -> true, or nil, message: the whole
 * network into the run log (step: the steps taken so far). Outside a
 * recorded run nothing is stored and it returns false. */
static int l_save_net(lua_State *L) {
    bp_net *net = bp_lua_check_net(L, 1);
    state *st = STATE(L);
    bp_lua_params_gate(L, st);
    int64_t step = opt_int(L, 2, st->step);
    const char *name = luaL_optstring(L, 3, "net");
    if (!net->graph && net->n_layers == 0)
        return luaL_error(L, "the network has no layers: nothing to save");
    if (!st->log) {
        lua_pushboolean(L, 0);
        return 1;
    }
    unsigned char *buf;
    size_t len;
    bp_err e;
    bp_lua_tree_to_note(L, 1);
    if (bp_net_encode(net, &buf, &len, &e)) return luaL_error(L, "%s", e.msg);
    int rc = bp_runlog_network_put(st->log, st->run, step, name, buf, len, &e);
    bp_free(buf);
    if (rc) return bp_lua_fail(L, e.msg);
    lua_pushboolean(L, 1);
    return 1;
}

/* bp.load_net(run [, step [, name]]) -> net, or nil, message: the network
 * run `run` saved at `step` (default: its latest), from this run's
 * database. */
static int l_load_net(lua_State *L) {
    int64_t run = opt_int(L, 1, -1);
    luaL_argcheck(L, run >= 1, 1, "a run id expected");
    int64_t step = opt_int(L, 2, -1);
    const char *name = luaL_optstring(L, 3, "net");
    state *st = STATE(L);
    if (!st->log)
        return bp_lua_fail(L, "no run log: bp.load_net works inside `backprop run`");
    void *data;
    size_t len;
    int64_t at;
    bp_err e;
    if (bp_runlog_network_get(st->log, run, name, step, &data, &len, &at, &e))
        return bp_lua_fail(L, e.msg);
    char what[64];
    snprintf(what, sizeof what, "network '%.20s' of run %lld", name, (long long)run);
    lnet *n = bp_lua_new_lnet(L);
    int ni = lua_gettop(L);
    bp_lua_loader c;
    bp_save_hosts hosts = bp_lua_loader_hosts(&c, L, n);
    n->net = bp_net_decode_hosts(data, len, what, &hosts, &e);
    free(data);
    if (!n->net) return bp_lua_fail(L, e.msg);
    lua_settop(L, ni);
    bp_lua_tree_from_note(L, -1);
    n->steps = at;
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Checkpoints                                                               */

/* A checkpoint's bytes, little-endian, private to this file:
 *   "BPCK", version (u32, 1), step (i64), the module's step count (i64),
 *   the generator's state (4 x u64), the number of objects (u32), then each:
 *   name length (u32), name, kind (u32: 1 net, 2 optimizer), and
 *   net: its step count (i64), its network file's length (u64) and bytes;
 *   optimizer: its state's length n (u64) and n doubles.
 * Objects are stored by the names of the table given to bp.checkpoint, so
 * bp.resume puts each back into the object given under the same name. */

typedef struct wbuf {
    unsigned char *p;
    size_t len, cap;
    int oom;
} wbuf;

static void put(wbuf *w, const void *src, size_t n) {
    if (w->oom) return;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 256;
        while (cap < w->len + n) cap *= 2;
        unsigned char *p = realloc(w->p, cap);
        if (!p) {
            w->oom = 1;
            return;
        }
        w->p = p;
        w->cap = cap;
    }
    memcpy(w->p + w->len, src, n);
    w->len += n;
}

static void put_u64(wbuf *w, uint64_t v) {
    unsigned char b[8];
    for (int k = 0; k < 8; k++) b[k] = (unsigned char)(v >> (8 * k));
    put(w, b, 8);
}

static void put_u32(wbuf *w, uint32_t v) {
    unsigned char b[4];
    for (int k = 0; k < 4; k++) b[k] = (unsigned char)(v >> (8 * k));
    put(w, b, 4);
}

typedef struct rbuf {
    const unsigned char *p;
    size_t len, at;
    int bad;
} rbuf;

static const unsigned char *take(rbuf *r, size_t n) {
    if (r->bad || r->len - r->at < n) {
        r->bad = 1;
        return NULL;
    }
    r->at += n;
    return r->p + r->at - n;
}

static uint64_t get_u64(rbuf *r) {
    const unsigned char *b = take(r, 8);
    uint64_t v = 0;
    for (int k = 0; b && k < 8; k++) v |= (uint64_t)b[k] << (8 * k);
    return v;
}

static uint32_t get_u32(rbuf *r) {
    const unsigned char *b = take(r, 4);
    uint32_t v = 0;
    for (int k = 0; b && k < 4; k++) v |= (uint32_t)b[k] << (8 * k);
    return v;
}

static void check_objects(lua_State *L, int arg) {
    luaL_checktype(L, arg, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, arg)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_argerror(L, arg, "keys must be names (strings)");
        lnet *n = luaL_testudata(L, -1, NET_TYPE);
        if (!n && !luaL_testudata(L, -1, OPTIM_TYPE))
            luaL_argerror(L, arg,
                          lua_pushfstring(L, "'%s' is a %s, not a net or an optimizer",
                                          lua_tostring(L, -2), luaL_typename(L, -1)));
        /* Closed objects raise here, before bp.checkpoint allocates
         * anything that an error would leak. */
        if (n) bp_lua_check_lnet(L, -1);
        else bp_lua_test_optim(L, -1);
        lua_pop(L, 1);
    }
}

/* Pushes a list of the keys of the table at t, sorted (they are names: see
 * check_objects), so that a checkpoint's bytes do not depend on table
 * order; returns how many. */
static int sorted_names(lua_State *L, int t) {
    lua_newtable(L);
    int names = lua_gettop(L), count = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_rawseti(L, names, ++count);
    }
    lua_getglobal(L, "table");
    lua_getfield(L, -1, "sort");
    lua_pushvalue(L, names);
    lua_call(L, 1, 0);
    lua_pop(L, 1);
    return count;
}

/* A net's entry: kind 1, its step count, its network file. */
static int put_net(wbuf *w, const lnet *n, bp_err *e) {
    unsigned char *buf;
    size_t len;
    if (bp_net_encode(n->net, &buf, &len, e)) return -1;
    put_u32(w, 1);
    put_u64(w, (uint64_t)n->steps);
    put_u64(w, len);
    put(w, buf, len);
    bp_free(buf);
    return 0;
}

/* An optimizer's entry: kind 2, its state's length and numbers. */
static int put_optim(wbuf *w, bp_optim *o, bp_err *e) {
    size_t len = bp_optim_state_size(o);
    double *v = malloc(sizeof(double) * (len ? len : 1));
    if (!v) return bp_err_set(e, "out of memory");
    bp_optim_state_save(o, v);
    put_u32(w, 2);
    put_u64(w, len);
    for (size_t j = 0; j < len; j++) {
        uint64_t u;
        memcpy(&u, &v[j], 8);
        put_u64(w, u);
    }
    free(v);
    return 0;
}

/* Every object of the table at t, in the order of the count names listed at
 * index names: its name, then its entry. -1 with e set on failure. */
static int put_objects(lua_State *L, int t, int names, int count, wbuf *w, bp_err *e) {
    for (int k = 1; k <= count; k++) {
        lua_rawgeti(L, names, k);
        lua_gettable(L, t); /* the object */
        lua_rawgeti(L, names, k);
        size_t nlen;
        const char *name = lua_tolstring(L, -1, &nlen);
        put_u32(w, (uint32_t)nlen);
        put(w, name, nlen);
        lnet *n = luaL_testudata(L, -2, NET_TYPE);
        if (n) bp_lua_tree_to_note(L, -2);
        int rc = n ? put_net(w, n, e) : put_optim(w, bp_lua_test_optim(L, -2), e);
        lua_pop(L, 2);
        if (rc) return -1;
    }
    return 0;
}

/* bp.checkpoint(step, {name = net or optimizer, ...}) -> true, or nil,
 * message: what bp.resume needs to go on after `step`. Outside a recorded
 * run it does nothing and returns false. */
static int l_checkpoint(lua_State *L) {
    int64_t step = opt_int(L, 1, -1);
    luaL_argcheck(L, step >= 0, 1, "a step (integer >= 0) expected");
    check_objects(L, 2);
    state *st = STATE(L);
    bp_lua_params_gate(L, st);
    if (!st->log) {
        lua_pushboolean(L, 0);
        return 1;
    }
    /* The names before any buffer: sorting calls Lua, which may raise. */
    int count = sorted_names(L, 2), names = lua_gettop(L);
    wbuf w = {0};
    put(&w, "BPCK", 4);
    put_u32(&w, 1);
    put_u64(&w, (uint64_t)step);
    put_u64(&w, (uint64_t)st->step);
    for (int k = 0; k < 4; k++) put_u64(&w, st->rng.s[k]);
    put_u32(&w, (uint32_t)count);
    bp_err e;
    if (put_objects(L, 2, names, count, &w, &e)) {
        free(w.p);
        return luaL_error(L, "%s", e.msg);
    }
    if (w.oom) {
        free(w.p);
        return luaL_error(L, "out of memory for a checkpoint");
    }
    /* Metrics logged so far are committed first: a resumed run goes on
     * after the checkpoint, so any buffered metric lost with the process
     * would stay missing for good. */
    int rc = bp_runlog_flush(st->log, &e) ||
             bp_runlog_checkpoint_put(st->log, st->run, step, w.p, w.len, &e);
    free(w.p);
    if (rc) return bp_lua_fail(L, e.msg);
    lua_pushboolean(L, 1);
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Restoring a checkpoint                                                    */

/* A checkpoint comes from the database, which anything may have written: a
 * newer backprop, a crash, a hand with sqlite3. Every way it can be wrong
 * gets its own message, and the bytes are read in two passes: the first
 * checks the whole layout (every entry's length, kind and name against the
 * objects given), the second puts the values back, so that a checkpoint
 * cut short or of another layout changes nothing. */

enum { KIND_NET = 1, KIND_OPTIM = 2, CKPT_VERSION = 1 };

/* One object of a checkpoint, pointers into its bytes: its name, its kind,
 * and its payload (a net's step count and network file of len bytes; an
 * optimizer's state of len doubles). */
typedef struct entry {
    const unsigned char *name;
    uint32_t nlen, kind;
    int64_t steps;
    const unsigned char *bytes;
    uint64_t len;
} entry;

/* Reads the next entry into t. The bytes may end anywhere (r->bad is set
 * then); an unknown kind stops the reading, since its length is unknown. */
static void parse_entry(rbuf *r, entry *t) {
    memset(t, 0, sizeof *t);
    t->nlen = get_u32(r);
    t->name = take(r, t->nlen);
    t->kind = get_u32(r);
    size_t n = 0;
    if (t->kind == KIND_NET) {
        t->steps = (int64_t)get_u64(r);
        t->len = get_u64(r);
        if (t->len > SIZE_MAX) r->bad = 1;
        n = (size_t)t->len;
    } else if (t->kind == KIND_OPTIM) {
        t->len = get_u64(r);
        if (t->len > SIZE_MAX || bp_size_mul(&n, (size_t)t->len, 8)) r->bad = 1;
    } else {
        return;
    }
    t->bytes = take(r, n);
}

/* The checkpoint's header: its step, the module's step count and generator,
 * and the number of objects; raises when it is not a checkpoint this
 * backprop reads. */
static uint32_t parse_head(lua_State *L, rbuf *r, const char *what, int64_t *at,
                           int64_t *mstep, bp_rng *rng) {
    if (r->len == 0) luaL_error(L, "bp.resume: %s is empty", what);
    const unsigned char *magic = take(r, 4);
    if (!magic || memcmp(magic, "BPCK", 4) != 0)
        luaL_error(L, "bp.resume: %s is not a backprop checkpoint (no BPCK at its start)",
                   what);
    uint32_t version = get_u32(r);
    if (!r->bad && version > CKPT_VERSION)
        luaL_error(L,
                   "bp.resume: %s is of version %I, newer than this backprop reads (%d); "
                   "upgrade backprop",
                   what, (lua_Integer)version, CKPT_VERSION);
    if (!r->bad && version == 0)
        luaL_error(L, "bp.resume: %s is corrupt: version 0", what);
    *at = (int64_t)get_u64(r);
    *mstep = (int64_t)get_u64(r);
    for (int k = 0; k < 4; k++) rng->s[k] = get_u64(r);
    uint32_t count = get_u32(r);
    if (r->bad) luaL_error(L, "bp.resume: %s is truncated", what);
    return count;
}

/* Pushes the entry's name and the object given under it (or nil). */
static void push_named(lua_State *L, int objects, const entry *t) {
    lua_pushlstring(L, (const char *)t->name, t->nlen);
    lua_pushvalue(L, -1);
    lua_gettable(L, objects);
}

/* The first pass: every entry readable, each of a known kind, given under
 * its name as an object of that kind, once; nothing after the last; every
 * object given found. Raises otherwise; changes nothing. */
static void check_entries(lua_State *L, rbuf r, uint32_t count, int objects,
                          const char *what) {
    lua_newtable(L); /* the names seen */
    int seen = lua_gettop(L);
    for (uint32_t k = 0; k < count; k++) {
        entry t;
        parse_entry(&r, &t);
        if (r.bad) luaL_error(L, "bp.resume: %s is truncated", what);
        push_named(L, objects, &t);
        const char *name = lua_tostring(L, -2);
        if (t.kind != KIND_NET && t.kind != KIND_OPTIM)
            luaL_error(L, "bp.resume: %s holds '%s' of an unknown kind (%I)", what, name,
                       (lua_Integer)t.kind);
        if (lua_isnil(L, -1))
            luaL_error(L, "bp.resume: %s holds '%s', which was not given", what, name);
        int is_net = luaL_testudata(L, -1, NET_TYPE) != NULL;
        if (is_net != (t.kind == KIND_NET))
            luaL_error(L, "bp.resume: '%s' was a%s when the checkpoint was made", name,
                       t.kind == KIND_NET ? " net" : "n optimizer");
        lua_pop(L, 1);
        if (lua_rawget(L, seen) != LUA_TNIL)
            luaL_error(L, "bp.resume: %s holds '%s' twice", what, name);
        lua_pop(L, 1);
        push_named(L, objects, &t);
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
        lua_rawset(L, seen);
    }
    if (r.at < r.len)
        luaL_error(L, "bp.resume: %s has %I byte%s after its last object", what,
                   (lua_Integer)(r.len - r.at), r.len - r.at == 1 ? "" : "s");
    /* In sorted order, so that the message names the same one each time. */
    int given = sorted_names(L, objects), names = lua_gettop(L);
    for (int k = 1; k <= given; k++) {
        lua_rawgeti(L, names, k);
        lua_pushvalue(L, -1);
        int found = lua_rawget(L, seen) != LUA_TNIL;
        lua_pop(L, 1);
        if (found) {
            lua_pop(L, 1);
            continue;
        }
        if (count == 0)
            luaL_error(L, "bp.resume: %s holds no objects, but '%s' was given", what,
                       lua_tostring(L, -1));
        luaL_error(L, "bp.resume: '%s' was given, but %s does not hold it",
                   lua_tostring(L, -1), what);
    }
    lua_pop(L, 2);
}

/* Whether a stack saved in a checkpoint is built as the live one: inputs,
 * and each layer's width and activation (alpha is put back with the
 * values). */
static int same_stack(const bp_net *saved, const bp_net *net) {
    int same = saved->inputs == net->inputs && saved->n_layers == net->n_layers &&
               saved->dtype == net->dtype;
    for (int l = 0; same && l < net->n_layers; l++)
        same = saved->layers[l].O == net->layers[l].O &&
               saved->layers[l].act == net->layers[l].act;
    return same;
}

/* Whether a graph's file (version 2, bp_save.h) describes the live graph:
 * the live one encoded gives the same bytes but for the length, the values
 * and the checksum. -1 when memory runs out. */
static int same_graph(const unsigned char *file, size_t len, const bp_net *net) {
    unsigned char *live;
    size_t n, P = bp_net_param_count(net), s = net->dtype == BP_F32 ? 4 : 8;
    if (bp_net_encode(net, &live, &n, NULL)) return -1;
    size_t arch = n - 4 - P * s; /* the header and the modules */
    int same = n == len && !memcmp(live + 8, file + 8, 8) &&
               !memcmp(live + 24, file + 24, arch - 24);
    bp_free(live);
    return same;
}

/* Puts a checkpoint's network into the live one, which must have the same
 * architecture (the script built it the same way): every value, a graph's
 * buffers (batch norm's running statistics) too. */
static void restore_net(lua_State *L, lnet *n, const char *name, const entry *t,
                        const char *what) {
    bp_err e;
    int top = lua_gettop(L);
    const char *label = lua_pushfstring(L, "'%s' in %s", name, what);
    bp_lua_loader c;
    bp_save_hosts hosts = bp_lua_loader_hosts(&c, L, n);
    bp_net *saved = bp_net_decode_hosts(t->bytes, (size_t)t->len, label, &hosts, &e);
    lua_settop(L, top);
    if (!saved) luaL_error(L, "bp.resume: %s", e.msg);
    bp_net *net = n->net;
    int same = bp_net_is_graph(saved) != bp_net_is_graph(net) ? 0
               : bp_net_is_graph(net) ? same_graph(t->bytes, (size_t)t->len, net)
                                      : same_stack(saved, net);
    if (same != 1) {
        bp_net_free(saved);
        if (same < 0) luaL_error(L, "out of memory");
        luaL_error(L,
                   "bp.resume: net '%s' is not built as it was when the checkpoint was "
                   "made",
                   name);
    }
    size_t N = bp_net_param_count(net);
    double *p = malloc(sizeof(double) * (N ? N : 1));
    if (!p) {
        bp_net_free(saved);
        luaL_error(L, "out of memory");
    }
    bp_net_params_get(saved, p);
    bp_net_params_set(net, p);
    for (int l = 0; l < net->n_layers; l++) net->layers[l].alpha = saved->layers[l].alpha;
    net->B = 0; /* kept activations no longer match the weights */
    if (net->graph) bp_graph_forget(net->graph);
    free(p);
    bp_net_free(saved);
    n->steps = t->steps;
}

static void restore_optim(lua_State *L, bp_optim *o, const char *name, const entry *t) {
    double *v = malloc(sizeof(double) * (t->len ? (size_t)t->len : 1));
    if (!v) luaL_error(L, "out of memory");
    rbuf r = {t->bytes, (size_t)t->len * 8, 0, 0};
    for (uint64_t j = 0; j < t->len; j++) {
        uint64_t u = get_u64(&r);
        memcpy(&v[j], &u, 8);
    }
    bp_err e;
    int rc = bp_optim_state_load(o, v, (size_t)t->len, &e);
    free(v);
    if (rc) luaL_error(L, "bp.resume: optimizer '%s': %s", name, e.msg);
}

int bp_lua_restore_checkpoint(lua_State *L, int objects, const void *data, size_t len,
                              const char *what) {
    objects = lua_absindex(L, objects);
    state *st = bp_lua_state(L);
    rbuf r = {data, len, 0, 0};
    int64_t at, mstep;
    bp_rng rng;
    uint32_t count = parse_head(L, &r, what, &at, &mstep, &rng);
    check_entries(L, r, count, objects, what);
    for (uint32_t k = 0; k < count; k++) {
        entry t;
        parse_entry(&r, &t);
        push_named(L, objects, &t);
        const char *name = lua_tostring(L, -2);
        if (t.kind == KIND_NET) {
            lnet *ln = bp_lua_check_lnet(L, -1);
            bp_lua_tree_to_note(L, -1); /* its file is compared with the checkpoint's */
            restore_net(L, ln, name, &t, what);
        } else {
            restore_optim(L, bp_lua_test_optim(L, -1), name, &t);
        }
        lua_pop(L, 2);
    }
    if (st) {
        st->rng = rng;
        st->step = mstep;
    }
    lua_pushinteger(L, at);
    return 1;
}

/* bp.resume({name = net or optimizer, ...}) -> step: under `backprop run
 * --resume`, puts back what the run's latest checkpoint holds into the
 * objects given under the same names (and the module's generator), and
 * returns the checkpoint's step, so the script goes on after it; otherwise
 * (a fresh run, or no checkpoint yet) changes nothing and returns 0. */
static int l_resume(lua_State *L) {
    check_objects(L, 1);
    state *st = STATE(L);
    if (!st->log || !st->resuming) {
        lua_pushinteger(L, 0);
        return 1;
    }
    st->resuming = 0; /* once: a second call is a fresh start's */
    void *data;
    size_t len;
    int64_t step;
    bp_err e;
    if (bp_runlog_checkpoint_get(st->log, st->run, &data, &len, &step, &e))
        return luaL_error(L, "bp.resume: %s", e.msg);
    if (!data) {
        lua_pushinteger(L, 0);
        return 1;
    }
    /* Copied into a Lua string so that an error below frees it. */
    const char *bytes = lua_pushlstring(L, data, len);
    free(data);
    const char *what =
        lua_pushfstring(L, "the checkpoint of run %I", (lua_Integer)st->run);
    return bp_lua_restore_checkpoint(L, 1, bytes, len, what);
}

void bp_lua_set_resuming(lua_State *L) {
    state *st = bp_lua_state(L);
    if (st) st->resuming = 1;
}

static const luaL_Reg funcs[] = {{"load", l_load},         {"save_net", l_save_net},
                                 {"load_net", l_load_net}, {"checkpoint", l_checkpoint},
                                 {"resume", l_resume},     {NULL, NULL}};
static const luaL_Reg net_methods[] = {{"save", net_save}, {NULL, NULL}};

void bp_lua_open_model(lua_State *L) {
    bp_lua_add_funcs(L, funcs);
    bp_lua_add_methods(L, NET_TYPE, net_methods);
}
