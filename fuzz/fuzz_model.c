/* fuzz_model.c: the readers of what bindings/lmodel.c takes back from a
 * file or the database: network files of every version (a stack's, a
 * graph's, one with host nodes: bp_net_decode_hosts and bp_net_load_hosts,
 * engine/bp_save.h) and checkpoints (bp_lua_restore_checkpoint, what
 * bp.resume does with a checkpoint's bytes).
 *
 * Input: a flags byte, then the bytes. A file whose CRC-32 is wrong is
 * refused before anything else is read, and the fuzzer would seldom get
 * past it; so with flag 1 the last 4 bytes are rewritten to the CRC of the
 * rest, and the parser behind the checksum is fuzzed. Flag 2 also reads
 * the bytes through bp_net_load from an in-memory file. Besides memory
 * errors, the contract is checked: a network that decodes encodes back to
 * the very same bytes, and it runs a forward pass.
 *
 * A version 3 file's host nodes (modules written in Lua) get their
 * callbacks from a resolver here: the definition "scale" has one tensor w
 * of 2 values, "zero" none; both fill their output with zeros. Any other
 * name is refused, as an unregistered definition is.
 *
 * Flag 4: the bytes are a checkpoint, restored into a 2-3-1 net (sigmoid,
 * identity) named "net" and its Adam optimizer named "opt", the objects
 * the seeds were checkpointed from (with flag 1, the first object's network
 * file gets its CRC fixed). The contract: it restores and returns the
 * step, or raises "bp.resume: ..." (never another error, never a crash). */
#include "input.h"

#include <stdlib.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <zlib.h>

#include "bp_lua.h"
#include "bp_net.h"
#include "bp_save.h"

#define EXPECT(cond)                                                                    \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "fuzz_model.c:%d: contract broken: %s\n", __LINE__, #cond); \
            abort();                                                                    \
        }                                                                               \
    } while (0)

/* Whether parameter bytes a and b (float32 or float64) are both NaN. */
static int both_nan(const unsigned char *a, const unsigned char *b, size_t z) {
    if (z == 4) {
        float x, y;
        memcpy(&x, a, 4);
        memcpy(&y, b, 4);
        return x != x && y != y;
    }
    double x, y;
    memcpy(&x, a, 8);
    memcpy(&y, b, 8);
    return x != x && y != y;
}

static void check_net(bp_net *net, const unsigned char *file, size_t len) {
    EXPECT((bp_net_is_graph(net) || (net->n_layers >= 1 && net->n_layers <= 4096)) &&
           net->inputs >= 1);
    unsigned char *again;
    size_t n;
    bp_err e;
    if (bp_net_encode(net, &again, &n, &e) == 0) {
        /* The same bytes, but for the payload of a NaN parameter: a
         * signalling NaN comes back quiet (reported, see fuzz/README.md),
         * and then the checksum differs too. */
        size_t z = net->dtype == BP_F32 ? 4 : 8, N = bp_net_param_count(net);
        EXPECT(n == len && len >= 4 + N * z);
        size_t end = len - 4, at = end - N * z; /* the values: after the architecture */
        EXPECT(!memcmp(again, file, at));
        int nan_differs = 0;
        for (size_t k = at; k < end; k += z)
            if (memcmp(again + k, file + k, z)) {
                EXPECT(both_nan(again + k, file + k, z));
                nan_differs = 1;
            }
        EXPECT(nan_differs || !memcmp(again + end, file + end, 4));
        bp_free(again);
    }
    double *x = calloc((size_t)net->inputs, sizeof *x);
    if (x) {
        bp_net_forward(net, x, 1, &e);
        free(x);
    }
}

/* A host node's forward, zeros out, and backward, nothing back. */
static int host_zero(void *ctx, const bp_host_call *c, bp_err *e) {
    size_t n = (size_t)c->B, z = *(const size_t *)ctx;
    (void)e;
    for (int d = 0; d < c->out_ndim; d++) n *= (size_t)c->out_shape[d];
    memset(c->out, 0, n * z);
    return 0;
}

static int host_none(void *ctx, const bp_host_call *c, bp_err *e) {
    (void)ctx, (void)c, (void)e;
    return 0;
}

static size_t host_sizes[2] = {4, 8}; /* bytes of a value, the ctx */

static int resolve(void *ctx, const char *def, const char *module, bp_dtype dtype,
                   const bp_host *file, bp_host *h, bp_err *e) {
    (void)ctx, (void)file;
    if (strcmp(def, "scale") && strcmp(def, "zero"))
        return bp_err_set(e, "module '%s': no definition '%s'", module, def);
    h->ctx = &host_sizes[dtype == BP_F64];
    h->forward = host_zero;
    h->backward = host_none;
    if (!strcmp(def, "scale")) {
        h->n_params = 1;
        h->params[0].name = "w";
        h->params[0].ndim = 1;
        h->params[0].shape[0] = 2;
    }
    return 0;
}

static const bp_save_hosts HOSTS = {NULL, resolve};

/* The last 4 bytes of p[0..n) set to the CRC-32 of the others. */
static void fix_crc(unsigned char *p, size_t n) {
    if (n < 4) return;
    uLong crc = crc32(0L, p, (uInt)(n - 4));
    for (int k = 0; k < 4; k++) p[n - 4 + k] = (unsigned char)(crc >> (8 * k));
}

static uint64_t le(const unsigned char *p, int bytes) {
    uint64_t v = 0;
    for (int k = 0; k < bytes; k++) v |= (uint64_t)p[k] << (8 * k);
    return v;
}

/* In a checkpoint whose first object is a net, that net's file (after the
 * 56-byte header, the count, the name's length and name, the kind, the
 * step count and the file's length): its CRC fixed. */
static void fix_checkpoint_crc(unsigned char *p, size_t n) {
    size_t at = 60;
    if (n < at + 4) return;
    uint64_t nlen = le(p + at, 4);
    if (nlen > n - at - 4) return;
    at += 4 + (size_t)nlen;
    if (n - at < 20 || le(p + at, 4) != 1) return;
    uint64_t flen = le(p + at + 12, 8);
    at += 20;
    if (flen <= n - at) fix_crc(p + at, (size_t)flen);
}

static int restore(lua_State *L) {
    const unsigned char *p = lua_touserdata(L, 2);
    size_t n = (size_t)lua_tointeger(L, 3);
    return bp_lua_restore_checkpoint(L, 1, p, n, "the checkpoint");
}

static const char OBJECTS[] =
    "local bp = require 'backprop'\n"
    "local net = bp.net(2):add(3, 'sigmoid'):add(1)\n"
    "return {net = net, opt = bp.optimizer(net, 'adam', {lr = 0.01})}\n";

static void fuzz_checkpoint(const unsigned char *p, size_t n) {
    lua_State *L = luaL_newstate();
    if (!L) return;
    luaL_openlibs(L);
    luaL_requiref(L, "backprop", luaopen_backprop, 0);
    lua_pop(L, 1);
    if (luaL_loadstring(L, OBJECTS) == LUA_OK && lua_pcall(L, 0, 1, 0) == LUA_OK) {
        lua_pushcfunction(L, restore);
        lua_insert(L, -2);
        lua_pushlightuserdata(L, (void *)p);
        lua_pushinteger(L, (lua_Integer)n);
        if (lua_pcall(L, 3, 1, 0) == LUA_OK) {
            EXPECT(lua_isinteger(L, -1));
        } else {
            const char *msg = lua_tostring(L, -1);
            EXPECT(msg && !strncmp(msg, "bp.resume: ", 11));
        }
    }
    lua_close(L);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    unsigned flags = data[0];
    size_t len = size - 1;
    unsigned char *file = malloc(len ? len : 1);
    if (!file) return 0;
    memcpy(file, data + 1, len);
    if (flags & 4) {
        if (flags & 1) fix_checkpoint_crc(file, len);
        fuzz_checkpoint(file, len);
        free(file);
        return 0;
    }
    if (flags & 1) fix_crc(file, len);
    bp_err e = {{0}};
    bp_net *net = bp_net_decode_hosts(file, len, "model.bpn", &HOSTS, &e);
    if (net) {
        check_net(net, file, len);
        bp_net_free(net);
    } else {
        EXPECT(!strncmp(e.msg, "model.bpn", 9));
    }
    if (flags & 2) {
        const char *path = fz_file(0, file, len);
        bp_net *again = path ? bp_net_load_hosts(path, &HOSTS, &e) : NULL;
        EXPECT(!path || (again != NULL) == (net != NULL));
        bp_net_free(again);
    }
    free(file);
    return 0;
}
