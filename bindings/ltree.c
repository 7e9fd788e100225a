/* ltree.c: a graph net's tree of modules kept in its network file, so that
 * a loaded network prints as the one that was saved.
 *
 * The tree (lcompile.c: each entry's depth, name, PyTorch-style label,
 * whether it is a leaf, and its node) is the binding's, not the engine's:
 * containers (Sequential, Residual, ...) leave no node of their own. The
 * engine keeps a net's note, bytes it saves and never reads (bp_net.h);
 * this file writes the tree into it before a save and reads it back after
 * a load. The note's bytes, little-endian:
 *   "BPT1", the number of entries (4), then each: depth (4), node id (4),
 *   leaf (1), the name's length (4) and bytes, the label's length (4) and
 *   bytes.
 * A note that is not such a tree of the loaded graph (another program's,
 * or damaged) is ignored: the file's checksum held, so the network itself
 * is sound, and without a tree it prints a module a line. */
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lbackprop.h"

#define MAX_ENTRIES 65536
#define MAX_DEPTH 64

static unsigned char *put_u32(unsigned char *p, uint32_t v) {
    for (int k = 0; k < 4; k++) p[k] = (unsigned char)(v >> (8 * k));
    return p + 4;
}

static uint32_t get_u32(const unsigned char *p) {
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) v |= (uint32_t)p[k] << (8 * k);
    return v;
}

/* Entry k of the tree at tree: its numbers, and its name and label (the
 * tree's strings, alive while it is). */
typedef struct item {
    uint32_t depth, id;
    int leaf;
    const char *name, *label;
    size_t nlen, llen;
} item;

static item get_item(lua_State *L, int tree, int k) {
    bp_tree_entry en = bp_lua_tree_entry(L, tree, k);
    item it = {.depth = (uint32_t)en.depth, .id = (uint32_t)en.id, .leaf = en.leaf};
    lua_rawgeti(L, tree, k);
    lua_getfield(L, -1, "name");
    lua_getfield(L, -2, "label");
    it.name = lua_tolstring(L, -2, &it.nlen);
    it.label = lua_tolstring(L, -1, &it.llen);
    if (!it.name) it.name = "", it.nlen = 0;
    if (!it.label) it.label = "", it.llen = 0;
    lua_pop(L, 3);
    return it;
}

void bp_lua_tree_to_note(lua_State *L, int ni) {
    ni = lua_absindex(L, ni);
    lnet *n = lua_touserdata(L, ni);
    bp_err e;
    if (lua_getiuservalue(L, ni, 1) != LUA_TTABLE || !n->net->graph) {
        lua_pop(L, 1);
        bp_net_set_note(n->net, NULL, 0, NULL);
        return;
    }
    int tree = lua_gettop(L), N = (int)lua_rawlen(L, tree);
    size_t size = 8;
    for (int k = 1; k <= N; k++) {
        item it = get_item(L, tree, k);
        size += 17 + it.nlen + it.llen;
    }
    /* A userdata, so that an error below leaves nothing to free. */
    unsigned char *buf = lua_newuserdatauv(L, size, 0), *p = buf + 4;
    memcpy(buf, "BPT1", 4);
    p = put_u32(p, (uint32_t)N);
    for (int k = 1; k <= N; k++) {
        item it = get_item(L, tree, k);
        p = put_u32(p, it.depth);
        p = put_u32(p, it.id);
        *p++ = (unsigned char)it.leaf;
        p = put_u32(p, (uint32_t)it.nlen);
        memcpy(p, it.name, it.nlen);
        p = put_u32(p + it.nlen, (uint32_t)it.llen);
        memcpy(p, it.label, it.llen);
        p += it.llen;
    }
    if (bp_net_set_note(n->net, buf, size, &e)) luaL_error(L, "%s", e.msg);
    lua_pop(L, 2);
}

/* The note's next string (its length, then its bytes) into *s and *n; 0
 * when the note ends first. */
static int take_text(const unsigned char **p, const unsigned char *end, const char **s,
                     size_t *n) {
    if (end - *p < 4) return 0;
    uint32_t len = get_u32(*p);
    if ((size_t)(end - *p - 4) < len) return 0;
    *s = (const char *)*p + 4, *n = len;
    *p += 4 + len;
    return 1;
}

/* Pushes the tree a note holds, or nothing and 0 when it holds none of a
 * graph of M nodes. */
static int parse_note(lua_State *L, const unsigned char *p, size_t len, int M) {
    const unsigned char *end = p + len;
    int base = lua_gettop(L);
    if (len < 8 || memcmp(p, "BPT1", 4)) return 0;
    uint32_t N = get_u32(p + 4);
    if (N < 1 || N > MAX_ENTRIES) return 0;
    p += 8;
    lua_createtable(L, (int)N, 0);
    for (uint32_t k = 1; k <= N; k++) {
        if (end - p < 9) break;
        uint32_t depth = get_u32(p), id = get_u32(p + 4);
        int leaf = p[8];
        p += 9;
        const char *name, *label;
        size_t nlen, llen;
        if (depth < 1 || depth > MAX_DEPTH || id >= (uint32_t)M || leaf > 1 ||
            !take_text(&p, end, &name, &nlen) || !take_text(&p, end, &label, &llen))
            break;
        lua_pushlstring(L, label, llen);
        bp_lua_push_tree_entry(L, (int)depth, name, nlen, leaf, (int)id);
        lua_rawseti(L, base + 1, (lua_Integer)k);
        if (k == N && p == end) return 1;
    }
    lua_settop(L, base);
    return 0;
}

void bp_lua_tree_from_note(lua_State *L, int ni) {
    ni = lua_absindex(L, ni);
    lnet *n = lua_touserdata(L, ni);
    const bp_net *net = n->net;
    if (!net->graph || !net->note) return;
    if (parse_note(L, net->note, net->note_len, bp_graph_nodes(net->graph)))
        lua_setiuservalue(L, ni, 1);
}
