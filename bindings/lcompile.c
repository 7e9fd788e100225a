/* lcompile.c: networks made of modules: bp.net(module) and net:add(module)
 * compile the module values of lmodule.c into the engine's graph
 * (bp_graph.h), and tostring(net) prints a graph net's tree of modules.
 *
 * Names follow PyTorch's named_parameters with Lua's 1-based counting: a
 * module's {name = "fc1"}, else its path, "3" for the third module of the
 * network and "3.2" for the second child of that one. The modules of a
 * bp.graph are numbered in the order they run. The engine checks the whole
 * at bp_graph_finish; its messages name the module and the shapes.
 *
 * Initial weights are drawn from bp.seed's stream as each module is added,
 * in the order the network runs its modules (a module's explicit values
 * draw nothing). Within one network a module with parameters (linear,
 * batchnorm1d) may appear once: torch.nn would share its weights, which
 * the engine does not do, so a second appearance is an error rather than a
 * silent copy; a module without parameters may appear any number of times,
 * each a module of its own.
 *
 * Compiling runs under lua_pcall, so that an error anywhere (a bad shape, a
 * module used twice, memory) leaves no half-built graph behind: bp.net
 * frees its graph, net:add truncates the net's graph to what it was.
 *
 * The compiler also records the tree of modules (each module's depth,
 * PyTorch-style label, name and output node) in the net's user value, from
 * which tostring(net) prints a graph net as print(model) does; a graph
 * without one (a stack made a graph) shows its modules one per line. */
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lbackprop.h"

/* ------------------------------------------------------------------------ */
/* Compiling a module into a bp_graph                                        */

typedef struct emitter {
    bp_graph *g;
    bp_rng *rng;
    const volatile sig_atomic_t *stop; /* SIGINT while a layer is drawn */
    lnet *net; /* the net being built (a Lua module's context refers to it) */
    int seen; /* a table: module -> true (on the way down) or "done" */
    int tree; /* the tree's entries, appended in order */
} emitter;

/* "parent.k", or "k" under the root. */
static void child_path(char *out, size_t cap, const char *parent, int k) {
    if (parent[0]) snprintf(out, cap, "%s.%d", parent, k);
    else snprintf(out, cap, "%d", k);
}

void bp_lua_push_tree_entry(lua_State *L, int depth, const char *name, size_t nlen,
                            int leaf, int id) {
    lua_createtable(L, 0, 5);
    lua_rotate(L, -2, 1); /* the entry below the label */
    lua_setfield(L, -2, "label");
    lua_pushinteger(L, depth);
    lua_setfield(L, -2, "depth");
    lua_pushlstring(L, name, nlen);
    lua_setfield(L, -2, "name");
    lua_pushboolean(L, leaf);
    lua_setfield(L, -2, "leaf");
    if (id < 0) return;
    lua_pushinteger(L, id);
    lua_setfield(L, -2, "id");
}

/* Appends a tree entry {depth =, name =, label =, leaf =} and returns its
 * index; its id is set by set_entry_id once known. */
static int tree_entry(lua_State *L, emitter *em, const lmodule *m, const char *name,
                      int depth) {
    bp_lua_push_module_label(L, m);
    bp_lua_push_tree_entry(L, depth, name, strlen(name), m->kind == M_LEAF, -1);
    int k = (int)lua_rawlen(L, em->tree) + 1;
    lua_rawseti(L, em->tree, k);
    return k;
}

static void set_entry_id(lua_State *L, emitter *em, int k, int id) {
    lua_rawgeti(L, em->tree, k);
    lua_pushinteger(L, id);
    lua_setfield(L, -2, "id");
    lua_pop(L, 1);
}

bp_tree_entry bp_lua_tree_entry(lua_State *L, int tree, int k) {
    bp_tree_entry en;
    lua_rawgeti(L, tree, k);
    lua_getfield(L, -1, "depth");
    lua_getfield(L, -2, "id");
    lua_getfield(L, -3, "leaf");
    en.depth = (int)lua_tointeger(L, -3);
    en.id = (int)lua_tointeger(L, -2);
    en.leaf = lua_toboolean(L, -1);
    lua_pop(L, 4);
    return en;
}

static int emit(lua_State *L, emitter *em, int mi, const int *in, int n_in,
                const char *path, int depth);

static int emit_leaf(lua_State *L, emitter *em, int mi, const lmodule *m, const int *in,
                     int n_in, const char *name) {
    if (m->op == BP_OP_LINEAR || m->op == BP_OP_BATCHNORM1D || m->op == BP_OP_CONV2D ||
        m->op == BP_OP_BATCHNORM2D || m->op == BP_OP_EMBEDDING || m->op == BP_OP_LSTM ||
        m->op == BP_OP_GRU || m->op == BP_OP_RNN || m->op == BP_OP_LAYERNORM ||
        m->op == BP_OP_ATTENTION || m->op == BP_OP_POSITION ||
        (m->op == BP_OP_HOST && bp_lua_host_has_params(L, mi))) {
        lua_pushvalue(L, mi);
        if (lua_rawget(L, em->seen) != LUA_TNIL)
            luaL_error(L,
                       "%s (module '%s'): the same module appears twice in the "
                       "network; its parameters cannot be shared: make another",
                       bp_lua_module_kind(m), name);
        lua_pop(L, 1);
        lua_pushvalue(L, mi);
        lua_pushliteral(L, "done");
        lua_rawset(L, em->seen);
    }
    bp_node_opts o = m->o;
    o.name = name;
    o.rng = em->rng;
    o.stop = em->stop;
    bp_host h;
    if (m->op == BP_OP_HOST)
        bp_lua_host_opts(L, mi, em->net, bp_graph_dtype(em->g), &h, &o);
    bp_err e;
    int id = bp_graph_add(em->g, m->op, in, n_in, &o, &e);
    if (id < 0) {
        if (m->op == BP_OP_HOST) bp_lua_host_release(h.ctx);
        luaL_error(L, "%s", e.msg);
    }
    return id;
}

/* " (module 'g')" for a graph's messages; nothing for the network's own. */
static const char *graph_what(lua_State *L, const char *name) {
    return name[0] ? lua_pushfstring(L, " (module '%s')", name) : "";
}

/* Node n (at index ni) of a bp.graph, and every node it reads, memoised in
 * the table at memo (the graph's input node is there already). */
static int emit_node(lua_State *L, emitter *em, int ni, int memo, const char *gname,
                     int *count, int depth) {
    luaL_checkstack(L, 8, "the network is too deep");
    lua_pushvalue(L, ni);
    if (lua_rawget(L, memo) != LUA_TNIL) {
        int id = (int)lua_tointeger(L, -1);
        lua_pop(L, 1);
        return id;
    }
    lua_pop(L, 1);
    if (lua_getiuservalue(L, ni, 1) == LUA_TNIL)
        luaL_error(
            L, "graph%s: its output depends on a bp.input that is not the graph's input",
            graph_what(L, gname));
    int mi = lua_gettop(L);
    lua_getiuservalue(L, ni, 2);
    int list = mi + 1, n = (int)lua_rawlen(L, list);
    int ids[BP_GRAPH_MAX_INPUTS];
    for (int k = 0; k < n && k < BP_GRAPH_MAX_INPUTS; k++) {
        lua_rawgeti(L, list, k + 1);
        ids[k] = emit_node(L, em, lua_gettop(L), memo, gname, count, depth);
        lua_pop(L, 1);
    }
    char path[BP_PARAM_MAX_NAME];
    child_path(path, sizeof path, gname, ++*count);
    int id = emit(L, em, mi, ids, n, path, depth);
    lua_pushvalue(L, ni);
    lua_pushinteger(L, id);
    lua_rawset(L, memo);
    lua_settop(L, mi - 1);
    return id;
}

static int emit_graph(lua_State *L, emitter *em, int mi, const int *in, const char *name,
                      int depth) {
    lua_getiuservalue(L, mi, 1);
    int io = lua_gettop(L);
    lua_newtable(L);
    int memo = io + 1;
    lua_rawgeti(L, io, 1);
    lua_pushinteger(L, in[0]);
    lua_rawset(L, memo);
    lua_rawgeti(L, io, 2);
    int count = 0, n0 = bp_graph_nodes(em->g);
    int id = emit_node(L, em, lua_gettop(L), memo, name, &count, depth + 1);
    /* The input is used when a node of this graph (made from n0 on) reads
     * it: no other node is given its id. */
    int used = 0, n = bp_graph_nodes(em->g);
    for (int j = n0; j < n && !used; j++) {
        int k;
        const int *r = bp_graph_node_inputs(em->g, j, &k);
        for (int i = 0; i < k; i++) used |= r[i] == in[0];
    }
    if (!used || id == in[0])
        luaL_error(L, "graph%s: its output does not depend on its input",
                   graph_what(L, name));
    lua_settop(L, io - 1);
    return id;
}

/* A container: its children one after another (sequential) or each on the
 * input, then joined (sum, concat). */
static int emit_container(lua_State *L, emitter *em, int mi, const lmodule *m,
                          const int *in, int n_in, const char *name, int depth) {
    lua_getiuservalue(L, mi, 1);
    int kids = lua_gettop(L), n = (int)lua_rawlen(L, kids), prev = in[0];
    char path[BP_PARAM_MAX_NAME];
    if (m->kind == M_SEQUENTIAL && n == 0)
        luaL_error(L, "sequential (module '%s') is empty", name);
    if (m->kind != M_SEQUENTIAL && n == 0) { /* a join of the nodes given */
        bp_err e;
        int id = bp_graph_add(em->g, m->kind == M_SUM ? BP_OP_ADD : BP_OP_CONCAT, in,
                              n_in, &(bp_node_opts){.name = name}, &e);
        if (id < 0) luaL_error(L, "%s", e.msg);
        lua_settop(L, kids - 1);
        return id;
    }
    if (n_in != 1)
        luaL_error(L, "%s (module '%s'): takes 1 input (got %d)", bp_lua_module_kind(m),
                   name, n_in);
    if (m->kind != M_SEQUENTIAL && n > BP_GRAPH_MAX_INPUTS)
        luaL_error(L, "%s (module '%s'): needs 2 to %d branches (got %d)",
                   bp_lua_module_kind(m), name, BP_GRAPH_MAX_INPUTS, n);
    int ids[BP_GRAPH_MAX_INPUTS];
    for (int k = 0; k < n; k++) {
        lua_rawgeti(L, kids, k + 1);
        child_path(path, sizeof path, name, k + 1);
        int id = emit(L, em, lua_gettop(L), m->kind == M_SEQUENTIAL ? &prev : in, 1, path,
                      depth + 1);
        lua_pop(L, 1);
        if (m->kind == M_SEQUENTIAL) prev = id;
        else ids[k] = id;
    }
    lua_settop(L, kids - 1);
    if (m->kind == M_SEQUENTIAL) return prev;
    bp_err e;
    bp_node_opts o = bp_node_opts_default(BP_OP_ADD);
    o.name = name;
    int id =
        bp_graph_add(em->g, m->kind == M_SUM ? BP_OP_ADD : BP_OP_CONCAT, ids, n, &o, &e);
    if (id < 0) luaL_error(L, "%s", e.msg);
    return id;
}

/* Adds module mi (a stack index) to em->g, reading the nodes in[]; path is
 * its default name; depth its level in the tree (0: the network's own
 * sequence, which has no entry). Returns its output node; raises. */
static int emit(lua_State *L, emitter *em, int mi, const int *in, int n_in,
                const char *path, int depth) {
    luaL_checkstack(L, 8, "the network is too deep");
    mi = lua_absindex(L, mi);
    const lmodule *m = bp_lua_check_module(L, mi);
    const char *name = m->name[0] ? m->name : path;
    int entry = depth ? tree_entry(L, em, m, name, depth) : 0, id;
    if (m->kind == M_LEAF) {
        id = emit_leaf(L, em, mi, m, in, n_in, name);
    } else {
        lua_pushvalue(L, mi);
        if (lua_rawget(L, em->seen) == LUA_TBOOLEAN)
            luaL_error(L, "%s (module '%s') contains itself", bp_lua_module_kind(m),
                       name);
        lua_pop(L, 1);
        lua_pushvalue(L, mi);
        lua_pushboolean(L, 1);
        lua_rawset(L, em->seen);
        id = m->kind == M_GRAPH ? emit_graph(L, em, mi, in, name, depth)
                                : emit_container(L, em, mi, m, in, n_in, name, depth);
        lua_pushvalue(L, mi);
        lua_pushnil(L);
        lua_rawset(L, em->seen);
    }
    if (entry) set_entry_id(L, em, entry, id);
    return id;
}

/* What a compile is asked to do, through lua_pcall. */
typedef struct job {
    bp_graph *g;
    bp_rng *rng;
    const volatile sig_atomic_t *stop;
    int input; /* the input node: -1 to make it (ndim, shape) */
    int ndim, shape[BP_GRAPH_MAX_DIMS];
    int child; /* the root's child number of the module (net:add) */
    int root;  /* the module is the network's own sequence (bp.net) */
    lnet *net;
} job;

/* Under lua_pcall: light userdata job, the module. Adds the module (and
 * the input, if asked) to the job's graph and finishes it; returns the
 * tree entries added. */
static int compile(lua_State *L) {
    job *j = lua_touserdata(L, 1);
    emitter em = {.g = j->g, .rng = j->rng, .stop = j->stop, .net = j->net};
    lua_newtable(L);
    em.seen = lua_gettop(L);
    lua_newtable(L);
    em.tree = lua_gettop(L);
    bp_err e;
    if (j->input < 0) {
        bp_node_opts o = bp_node_opts_default(BP_OP_INPUT);
        o.ndim = j->ndim;
        memcpy(o.shape, j->shape, sizeof o.shape);
        if ((j->input = bp_graph_add(j->g, BP_OP_INPUT, NULL, 0, &o, &e)) < 0)
            return luaL_error(L, "%s", e.msg);
    }
    char path[16];
    snprintf(path, sizeof path, "%d", j->child);
    int out = emit(L, &em, 2, &j->input, 1, j->root ? "" : path, j->root ? 0 : 1);
    if (bp_graph_finish(j->g, out, &e)) return luaL_error(L, "%s", e.msg);
    return 1;
}

/* Runs compile on the module at mi; 0 with the tree entries pushed, or -1
 * with the error message pushed. */
static int run_compile(lua_State *L, job *j, int mi) {
    mi = lua_absindex(L, mi);
    lua_pushcfunction(L, compile);
    lua_pushlightuserdata(L, j);
    lua_pushvalue(L, mi);
    if (lua_pcall(L, 2, 1, 0) == LUA_OK) return 0;
    /* Where the script called bp.net or net:add, as luaL_error says it. */
    if (lua_type(L, -1) == LUA_TSTRING) {
        luaL_where(L, 1);
        lua_insert(L, -2);
        lua_concat(L, 2);
    }
    return -1;
}

/* The shape a module takes, when it tells: a linear's inputs, a batch
 * norm's features, a graph's input, a container's first child's. */
static int known_inputs(lua_State *L, int mi, int *ndim, int *shape) {
    const lmodule *m = bp_lua_check_module(L, mi);
    int r = 0;
    if (m->kind == M_LEAF && (m->op == BP_OP_LINEAR || m->op == BP_OP_BATCHNORM1D)) {
        *ndim = 1, shape[0] = m->o.in;
        return 1;
    }
    if (m->kind == M_LEAF) return 0;
    lua_getiuservalue(L, mi, 1);
    if (m->kind == M_GRAPH) {
        lua_rawgeti(L, -1, 1);
        const lnode *x = lua_touserdata(L, -1);
        *ndim = x->ndim;
        memcpy(shape, x->shape, sizeof(int) * BP_GRAPH_MAX_DIMS);
        r = 1;
    } else if (lua_rawgeti(L, -1, 1) != LUA_TNIL) {
        r = known_inputs(L, lua_gettop(L), ndim, shape);
    }
    lua_pop(L, 2);
    return r;
}

/* Keeps the tree entries at the top of the stack (popped) as the net's at
 * index ni, after those it has. */
static void keep_tree(lua_State *L, int ni) {
    int add = lua_gettop(L);
    if (lua_getiuservalue(L, ni, 1) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setiuservalue(L, ni, 1);
    }
    int have = (int)lua_rawlen(L, -1), n = (int)lua_rawlen(L, add);
    for (int k = 1; k <= n; k++) {
        lua_rawgeti(L, add, k);
        lua_rawseti(L, -2, have + k);
    }
    lua_settop(L, add - 1);
}

void bp_lua_net_from_module(lua_State *L, int mi, int inputs_arg, bp_dtype dtype) {
    mi = lua_absindex(L, mi);
    const lmodule *m = bp_lua_check_module(L, mi);
    job j = {.rng = &STATE(L)->rng, .stop = STATE(L)->stop, .input = -1, .child = 1};
    if (inputs_arg) {
        if (lua_type(L, inputs_arg) == LUA_TTABLE) {
            j.ndim = (int)lua_rawlen(L, inputs_arg);
            luaL_argcheck(L, j.ndim >= 1 && j.ndim <= BP_GRAPH_MAX_DIMS, inputs_arg,
                          "a shape of 1 to 4 dimensions expected");
            for (int d = 0; d < j.ndim; d++) {
                lua_rawgeti(L, inputs_arg, d + 1);
                j.shape[d] = bp_lua_check_int(L, -1, "a dimension");
                lua_pop(L, 1);
            }
        } else {
            j.ndim = 1, j.shape[0] = bp_lua_check_int(L, inputs_arg, "number of inputs");
        }
    } else if (!known_inputs(L, mi, &j.ndim, j.shape)) {
        luaL_error(L,
                   "bp.net: %s does not say how many inputs it takes: write "
                   "bp.net(inputs, module)",
                   bp_lua_module_kind(m));
    }
    /* An unnamed sequence or graph is the network's own: its modules are
     * "1", "2", ... as a torch.nn.Sequential's are "0", "1", ... */
    j.root = (m->kind == M_SEQUENTIAL || m->kind == M_GRAPH) && !m->name[0];
    lnet *n = bp_lua_new_lnet(L);
    int ni = lua_gettop(L);
    j.net = n;
    bp_err e;
    if (!(j.g = bp_graph_new(dtype, &e))) luaL_error(L, "%s", e.msg);
    if (run_compile(L, &j, mi)) {
        bp_graph_free(j.g);
        lua_error(L);
    }
    if (!(n->net = bp_net_from_graph(j.g, &e))) luaL_error(L, "%s", e.msg);
    n->net->rng = &STATE(L)->rng;
    n->net->stop = STATE(L)->stop;
    n->children = 0;
    for (int k = 1; k <= (int)lua_rawlen(L, -1); k++)
        n->children += bp_lua_tree_entry(L, lua_gettop(L), k).depth == 1;
    keep_tree(L, ni);
}

/* A name "k" (and "k.act") not yet taken in g, from k on. */
static int free_child(const bp_graph *g, int k) {
    for (;; k++) {
        char a[32], b[32];
        snprintf(a, sizeof a, "%d", k);
        snprintf(b, sizeof b, "%d.act", k);
        int taken = 0, n = bp_graph_nodes(g);
        for (int i = 0; i < n && !taken; i++)
            taken = !strcmp(bp_graph_node_name(g, i), a) ||
                    !strcmp(bp_graph_node_name(g, i), b);
        if (!taken) return k;
    }
}

/* The net's tree when it has none (a stack made a graph, a loaded graph):
 * each module of the graph on a line of its own. */
static void tree_from_graph(lua_State *L, int ni, const bp_graph *g) {
    if (lua_getiuservalue(L, ni, 1) == LUA_TTABLE) {
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    lua_newtable(L);
    int n = bp_graph_nodes(g), k = 0;
    for (int id = 0; id < n; id++) {
        bp_op op = bp_graph_node_op(g, id);
        if (op == BP_OP_INPUT) continue;
        lmodule m = {.kind = M_LEAF, .op = op, .o = *bp_graph_node_opts(g, id)};
        if (op == BP_OP_ADD || op == BP_OP_CONCAT)
            lua_pushstring(L, op == BP_OP_ADD ? "Sum" : "Concat");
        else bp_lua_push_module_label(L, &m);
        const char *name = bp_graph_node_name(g, id);
        bp_lua_push_tree_entry(L, 1, name, strlen(name), 1, id);
        lua_rawseti(L, -2, ++k);
    }
    lua_setiuservalue(L, ni, 1);
}

void bp_lua_net_add_module(lua_State *L, int ni, int mi) {
    ni = lua_absindex(L, ni), mi = lua_absindex(L, mi);
    lnet *n = bp_lua_check_lnet(L, ni);
    bp_lua_check_module(L, mi);
    bp_net *net = n->net;
    if (!net->graph && n->children < net->n_layers) n->children = net->n_layers;
    bp_err e;
    if (bp_net_to_graph(net, &e)) luaL_error(L, "%s", e.msg);
    tree_from_graph(L, ni, net->graph);
    job j = {
        .g = net->graph,
        .rng = &STATE(L)->rng,
        .stop = STATE(L)->stop,
        .input = bp_graph_output(net->graph),
        .net = n};
    j.child = free_child(j.g, n->children + 1);
    int n0 = bp_graph_nodes(j.g);
    if (run_compile(L, &j, mi)) {
        bp_graph_truncate(j.g, n0, j.input, NULL);
        lua_error(L);
    }
    n->children = j.child;
    /* As bp_net_add_module does: the batch buffers are for the old output. */
    net->cap = 0;
    net->B = 0;
    keep_tree(L, ni);
}

int bp_lua_graph_add_layer(lua_State *L, int ni, int outputs, bp_act act, double alpha,
                           bp_err *e) {
    lnet *n = bp_lua_check_lnet(L, ni);
    bp_graph *g = n->net->graph;
    tree_from_graph(L, ni, g);
    int k = free_child(g, n->children + 1), out = bp_graph_output(g),
        n0 = bp_graph_nodes(g);
    char a[32], b[32];
    snprintf(a, sizeof a, "%d", k);
    snprintf(b, sizeof b, "%d.act", k);
    bp_node_opts lin = bp_node_opts_default(BP_OP_LINEAR),
                 ao = bp_node_opts_default(BP_OP_ACT);
    lin.name = a, lin.in = bp_net_outputs(n->net), lin.out = outputs;
    ao.name = b, ao.act = act, ao.alpha = alpha;
    int id = bp_graph_add(g, BP_OP_LINEAR, &out, 1, &lin, e), id2 = -1;
    if (id >= 0) id2 = bp_graph_add(g, BP_OP_ACT, &id, 1, &ao, e);
    if (id2 < 0 || bp_graph_finish(g, id2, e)) {
        bp_graph_truncate(g, n0, out, NULL);
        return -1;
    }
    n->children = k;
    n->net->cap = 0;
    n->net->B = 0;
    lua_newtable(L);
    lmodule m = {.kind = M_LEAF, .op = BP_OP_LINEAR, .o = lin};
    for (int r = 0; r < 2; r++) {
        bp_lua_push_module_label(L, &m);
        bp_lua_push_tree_entry(L, 1, r ? b : a, strlen(r ? b : a), 1, r ? id2 : id);
        lua_rawseti(L, -2, r + 1);
        m = (lmodule){.kind = M_LEAF, .op = BP_OP_ACT, .o = ao};
    }
    keep_tree(L, ni);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Printing                                                                  */

static size_t trainable_count(const bp_graph *g, int id, size_t *buffers) {
    int n;
    const bp_param *t = bp_graph_node_params(g, id, &n);
    size_t c = 0;
    for (int k = 0; k < n; k++) {
        if (t[k].trainable) c += t[k].count;
        else if (buffers) *buffers += t[k].count;
    }
    return c;
}

/* Pushes a graph net's tree (the net at ni):
 *   net 4 -> 3 (float64, 67 parameters)
 *     (1): Linear(4, 8)        -> 8     40
 *     (2): Sum                 -> 8     27
 *       (2.1): Identity()      -> 8
 *   ...                                          */
void bp_lua_push_net_tree(lua_State *L, int ni) {
    ni = lua_absindex(L, ni);
    lnet *n = lua_touserdata(L, ni);
    const bp_graph *g = n->net->graph;
    tree_from_graph(L, ni, g);
    lua_getiuservalue(L, ni, 1);
    int tree = lua_gettop(L), N = (int)lua_rawlen(L, tree);
    int np;
    const bp_param *all = bp_graph_params(g, &np);
    size_t params = 0, buffers = 0;
    for (int k = 0; k < np; k++) {
        if (all[k].trainable) params += all[k].count;
        else buffers += all[k].count;
    }
    char in[48], out[48], s[48];
    int nd = 0, sh[BP_GRAPH_MAX_DIMS] = {0};
    for (int id = 0; id < bp_graph_nodes(g); id++)
        if (bp_graph_node_op(g, id) == BP_OP_INPUT) bp_graph_node_shape(g, id, &nd, sh);
    bp_lua_shape_text(in, sizeof in, nd, sh);
    bp_graph_node_shape(g, bp_graph_output(g), &nd, sh);
    bp_lua_shape_text(out, sizeof out, nd, sh);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    lua_pushfstring(L, "net %s -> %s (%s, %I parameters", in, out,
                    bp_dtype_name(n->net->dtype), (lua_Integer)params);
    luaL_addvalue(&b);
    if (buffers) {
        lua_pushfstring(L, ", %I buffer values", (lua_Integer)buffers);
        luaL_addvalue(&b);
    }
    luaL_addchar(&b, ')');
    /* The width of the first column, for the shapes to line up. */
    int width = 0;
    for (int k = 1; k <= N; k++) {
        lua_rawgeti(L, tree, k);
        lua_getfield(L, -1, "depth");
        lua_getfield(L, -2, "name");
        lua_getfield(L, -3, "label");
        int w = 2 * (int)lua_tointeger(L, -3) + (int)lua_rawlen(L, -2) +
                (int)lua_rawlen(L, -1) + 4;
        if (w > width) width = w;
        lua_pop(L, 4);
    }
    for (int k = 1; k <= N; k++) {
        bp_tree_entry en = bp_lua_tree_entry(L, tree, k);
        /* A container's parameters: those of the leaves below it. */
        size_t c = 0;
        for (int j = k; j <= N; j++) {
            bp_tree_entry ej = bp_lua_tree_entry(L, tree, j);
            if (j > k && ej.depth <= en.depth) break;
            if (ej.leaf) c += trainable_count(g, ej.id, NULL);
        }
        bp_graph_node_shape(g, en.id, &nd, sh);
        bp_lua_shape_text(s, sizeof s, nd, sh);
        lua_rawgeti(L, tree, k);
        lua_getfield(L, -1, "name");
        lua_getfield(L, -2, "label");
        char line[200];
        int len = snprintf(line, sizeof line, "\n%*s(%s): %s", 2 * en.depth, "",
                           lua_tostring(L, -2), lua_tostring(L, -1));
        lua_pop(L, 3);
        if (len < 0 || len >= (int)sizeof line) len = (int)sizeof line - 1;
        luaL_addlstring(&b, line, (size_t)len);
        snprintf(line, sizeof line, "%*s-> %s", width + 3 - len > 1 ? width + 3 - len : 1,
                 "", s);
        luaL_addstring(&b, line);
        if (c) {
            snprintf(line, sizeof line, "%*s%zu", 10 - (int)strlen(s), "", c);
            luaL_addstring(&b, line);
        }
    }
    luaL_pushresult(&b);
    lua_remove(L, tree); /* below the buffer: only now */
}
