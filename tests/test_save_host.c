/* test_save_host.c: version 3 of the network file (engine/save_host.c), a
 * graph with host nodes (modules whose math is the caller's: a Lua module).
 *
 * The hosts here are C: "scale" (y = x .* w, w a tensor of 2 values) and
 * "neg" (y = -x, no tensors), so the engine's side is tested without Lua
 * (tests/lua/test_luamodule.lua tests Lua's). The host part of a record is
 * pinned byte by byte; a round trip gives every bit back and the same
 * forward, the file of the loaded net being the file it came from; and
 * each refusal has its message: no definitions given, an unknown one, a
 * definition whose tensors differ from the file's (by name or by shape),
 * a host node in a version 2 file, a damaged host part, and a host without
 * a definition name at saving. Every context a resolve makes is released,
 * whether the load succeeds or not (counted). */
#define _XOPEN_SOURCE 700
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "bp_save.h"
#include "check.h"
#include "graph_build.h"

/* Contexts alive (made by a resolve or by the test, freed by release). */
static int alive;

typedef struct hctx {
    bp_dtype dt;
    int neg;
} hctx;

static double get(const void *p, bp_dtype dt, size_t i) {
    return dt == BP_F32 ? ((const float *)p)[i] : ((const double *)p)[i];
}
static void set(void *p, bp_dtype dt, size_t i, double v) {
    if (dt == BP_F32) ((float *)p)[i] = (float)v;
    else ((double *)p)[i] = v;
}

/* y = x .* w (scale) or -x (neg), rows of 2 values. */
static int host_forward(void *ctx, const bp_host_call *c, bp_err *e) {
    const hctx *h = ctx;
    (void)e;
    for (size_t i = 0; i < (size_t)c->B * 2; i++) {
        double w = h->neg ? -1 : get(c->params[0].data, h->dt, i % 2);
        set(c->out, h->dt, i, get(c->x, h->dt, i) * w);
    }
    return 0;
}

static int host_backward(void *ctx, const bp_host_call *c, bp_err *e) {
    const hctx *h = ctx;
    (void)e;
    for (size_t i = 0; i < (size_t)c->B * 2; i++) {
        double w = h->neg ? -1 : get(c->params[0].data, h->dt, i % 2);
        double dy = get(c->dy, h->dt, i);
        if (c->dx) set(c->dx, h->dt, i, get(c->dx, h->dt, i) + dy * w);
        if (!h->neg)
            set(c->params[0].grad, h->dt, i % 2,
                get(c->params[0].grad, h->dt, i % 2) + dy * get(c->x, h->dt, i));
    }
    return 0;
}

static void host_release(void *ctx) {
    free(ctx);
    alive--;
}

/* A host of definition def ("scale" or "neg") into *h; scale's tensor named
 * wname, of n values. */
static void make_host(bp_host *h, const char *def, bp_dtype dt, const char *wname,
                      int n) {
    hctx *c = malloc(sizeof *c);
    c->dt = dt, c->neg = !strcmp(def, "neg");
    alive++;
    memset(h, 0, sizeof *h);
    *h = (bp_host){.ctx = c,
                   .def = def,
                   .forward = host_forward,
                   .backward = host_backward,
                   .release = host_release};
    if (!c->neg) {
        h->n_params = 1;
        h->params[0].name = wname;
        h->params[0].ndim = 1;
        h->params[0].shape[0] = n;
    }
}

/* What the loader's resolve answers: scale's tensor as named and sized
 * here (a definition changed since the file was written), and an extra
 * tensor when extra is set. */
typedef struct answer {
    const char *wname;
    int n, extra;
} answer;

static int resolve(void *ctx, const char *def, const char *module, bp_dtype dt,
                   const bp_host *file, bp_host *h, bp_err *e) {
    const answer *a = ctx;
    /* the file's tensors, for a host to choose a definition by */
    CHECK(file->n_params == (strcmp(def, "neg") ? 1 : 0));
    CHECK(!file->n_params || (!strcmp(file->params[0].name, "w") &&
                              file->params[0].ndim == 1 && file->params[0].shape[0] == 2));
    if (strcmp(def, "scale") && strcmp(def, "neg"))
        return bp_err_set(e, "module '%s': no definition '%s'", module, def);
    make_host(h, def, dt, a->wname, a->n);
    if (a->extra && !strcmp(def, "scale")) {
        h->n_params = 2;
        h->params[1] = h->params[0];
        h->params[1].name = "v";
    }
    return 0;
}

/* input 2 -> linear fc -> scale "sc" -> neg "ng" -> linear: a net with two
 * host nodes, one with a tensor, one without. def: scale's definition name
 * (NULL: none). */
static bp_net *host_net(bp_dtype t, const char *def) {
    begin(t, 4);
    bp_node_opts o = bp_node_opts_default(BP_OP_INPUT);
    o.name = "x", o.ndim = 1, o.shape[0] = 2;
    int x = add(BP_OP_INPUT, 0, &o);
    o = bp_node_opts_default(BP_OP_LINEAR);
    o.name = "fc", o.in = 2, o.out = 2, o.rng = &R;
    x = add(BP_OP_LINEAR, x, &o);
    bp_host h;
    const double w[2] = {2, -3};
    make_host(&h, def ? def : "scale", t, "w", 2);
    h.def = def;
    h.params[0].init = w;
    o = bp_node_opts_default(BP_OP_HOST);
    o.name = "sc", o.host = &h;
    x = add(BP_OP_HOST, x, &o);
    make_host(&h, "neg", t, NULL, 0);
    o.name = "ng";
    x = add(BP_OP_HOST, x, &o);
    o = bp_node_opts_default(BP_OP_LINEAR);
    o.name = "out", o.in = 2, o.out = 1, o.rng = &R;
    return as_net(add(BP_OP_LINEAR, x, &o));
}

static void fix_crc(unsigned char *buf, size_t len) {
    uLong crc = crc32(0L, buf, (uInt)(len - 4));
    for (int k = 0; k < 4; k++) buf[len - 4 + k] = (unsigned char)(crc >> (8 * k));
}

static uint32_t at32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* Where the bytes s first occur in buf[0..len). */
static size_t find(const unsigned char *buf, size_t len, const char *s) {
    size_t n = strlen(s);
    for (size_t k = 0; k + n <= len; k++)
        if (!memcmp(buf + k, s, n)) return k;
    return len;
}

/* The same outputs to the bit on two rows, and the same parameters. */
static int same_nets(bp_net *a, bp_net *b) {
    const double x[4] = {0.5, -1, 2, 0.25};
    double ya[2];
    const double *y = bp_net_forward(a, x, 2, &E);
    if (!y) return 0;
    memcpy(ya, y, sizeof ya);
    y = bp_net_forward(b, x, 2, &E);
    size_t N = bp_net_param_count(a);
    double *pa = malloc(sizeof(double) * N), *pb = malloc(sizeof(double) * N);
    bp_net_params_get(a, pa);
    bp_net_params_get(b, pb);
    int same = y && !memcmp(ya, y, sizeof ya) && N == bp_net_param_count(b) &&
               !memcmp(pa, pb, sizeof(double) * N);
    free(pa);
    free(pb);
    return same;
}

static void test_round_trip(bp_dtype t) {
    bp_net *a = host_net(t, "scale");
    unsigned char *buf, *again;
    size_t len, n;
    CHECK(bp_net_encode(a, &buf, &len, &E) == 0);
    CHECK(at32(buf + 8) == 3);
    /* sc's host part, after its options: "scale", 1 tensor "w" of shape {2} */
    size_t p = find(buf, len, "scale");
    CHECK(p < len && at32(buf + p - 4) == 5);
    const unsigned char *q = buf + p + 5;
    CHECK(at32(q) == 1 && at32(q + 4) == 1 && q[8] == 'w' && at32(q + 9) == 1);
    CHECK(at32(q + 13) == 2 && at32(q + 17) == 0 && at32(q + 21) == 0 &&
          at32(q + 25) == 0);
    /* ng's: "neg", no tensors, then the output linear's record (op 1) */
    p = find(buf, len, "neg");
    CHECK(p < len && at32(buf + p - 4) == 3 && at32(buf + p + 3) == 0);
    CHECK(at32(buf + p + 7) == BP_OP_LINEAR);
    answer ok = {"w", 2, 0};
    bp_save_hosts hosts = {&ok, resolve};
    bp_net *b = bp_net_decode_hosts(buf, len, "f", &hosts, &E);
    CHECK(b != NULL && alive == 4);
    if (!b) return;
    CHECK_STR(bp_graph_node_host_def(b->graph, 2), "scale");
    CHECK(same_nets(a, b));
    CHECK(bp_net_encode(b, &again, &n, &E) == 0);
    CHECK(n == len && !memcmp(again, buf, len));
    bp_free(again);
    /* through a file on disk */
    char path[] = "/tmp/bp_hostXXXXXX";
    close(mkstemp(path));
    CHECK(bp_net_save(a, path, &E) == 0);
    bp_net *c = bp_net_load_hosts(path, &hosts, &E);
    CHECK(c != NULL && same_nets(a, c));
    CHECK(bp_net_load(path, &E) == NULL);
    CHECK_STR(E.msg + strlen(path),
              ": module 'sc' is computed by the definition 'scale' (a "
              "module written in Lua), and this reader was given no "
              "definitions");
    remove(path);
    bp_net_free(c);
    bp_net_free(b);
    bp_net_free(a);
    bp_free(buf);
    CHECK(alive == 0);
}

/* Decoding buf with resolve answering a: refused with message want, no
 * context left alive. */
static void check_refused(unsigned char *buf, size_t len, answer a, const char *want) {
    bp_save_hosts hosts = {&a, resolve};
    bp_net *d = bp_net_decode_hosts(buf, len, "f", &hosts, &E);
    CHECK(d == NULL);
    CHECK_STR(E.msg, want);
    bp_net_free(d);
    CHECK(alive == 0);
}

static void test_refusals(void) {
    bp_net *a = host_net(BP_F64, "scale");
    unsigned char *buf;
    size_t len;
    CHECK(bp_net_encode(a, &buf, &len, &E) == 0);
    bp_net_free(a);
    CHECK(bp_net_decode(buf, len, "f", &E) == NULL);
    CHECK_STR(E.msg, "f: module 'sc' is computed by the definition 'scale' (a module "
                     "written in Lua), and this reader was given no definitions");
    /* the definitions a loader has differ from the file's */
    check_refused(
        buf, len, (answer){"w", 3, 0},
        "f: module 'sc': parameter 'w' has shape {2} in the file and {3} in the "
        "definition 'scale' it is loaded with");
    check_refused(
        buf, len, (answer){"u", 2, 0},
        "f: module 'sc': parameter 'w' is in the file but not in the definition "
        "'scale' it is loaded with");
    check_refused(
        buf, len, (answer){"w", 2, 1},
        "f: module 'sc': parameter 'v' is in the definition 'scale' it is loaded "
        "with but not in the file");
    /* an unknown definition: the resolver's message */
    size_t p = find(buf, len, "scale");
    buf[p] = 'S';
    fix_crc(buf, len);
    check_refused(buf, len, (answer){"w", 2, 0}, "f: module 'sc': no definition 'Scale'");
    buf[p] = 's';
    /* a damaged host part: no name, a bad shape, more values than held */
    buf[p - 4] = 0;
    fix_crc(buf, len);
    check_refused(buf, len, (answer){"w", 2, 0},
                  "f: corrupt: module 'sc' has no definition name of 1 to 48 bytes");
    buf[p - 4] = 5;
    unsigned char *shape = buf + p + 5 + 13;
    shape[0] = 0;
    fix_crc(buf, len);
    check_refused(buf, len, (answer){"w", 2, 0},
                  "f: corrupt: module 'sc' has tensor 'w' of a bad shape");
    shape[0] = 0xff, shape[1] = 0xff;
    fix_crc(buf, len);
    check_refused(buf, len, (answer){"w", 2, 0},
                  "f: corrupt: module 'sc' needs more values than the file holds");
    shape[0] = 2, shape[1] = 0;
    /* a host node in a version 2 file */
    buf[8] = 2;
    fix_crc(buf, len);
    check_refused(
        buf, len, (answer){"w", 2, 0},
        "f: corrupt: module 'sc' is a host's, which a version 2 file cannot hold");
    buf[8] = 3;
    fix_crc(buf, len);
    bp_save_hosts hosts = {&(answer){"w", 2, 0}, resolve};
    bp_net *d = bp_net_decode_hosts(buf, len, "f", &hosts, &E);
    CHECK(d != NULL);
    bp_net_free(d);
    bp_free(buf);
    CHECK(alive == 0);
}

/* A host without a definition name is refused at saving, naming it; a
 * graph without a host stays a version 2 file (older backprops read it),
 * and a version 3 file without one is refused. */
static void test_saving(void) {
    bp_net *a = host_net(BP_F64, NULL);
    unsigned char *buf;
    size_t len;
    CHECK(bp_net_encode(a, &buf, &len, &E) == -1);
    CHECK_STR(E.msg, "module 'sc' is computed by a host's functions (a module written in "
                     "Lua) with no definition name: a network file names the definition "
                     "its loader must have, so this network cannot be saved; name it "
                     "(bp.module{name = ...})");
    bp_net_free(a);
    begin(BP_F64, 1);
    bp_node_opts o = bp_node_opts_default(BP_OP_INPUT);
    o.ndim = 1, o.shape[0] = 2;
    int x = add(BP_OP_INPUT, 0, &o);
    o = bp_node_opts_default(BP_OP_LINEAR);
    o.in = 2, o.out = 1;
    a = as_net(add(BP_OP_LINEAR, x, &o));
    CHECK(bp_net_encode(a, &buf, &len, &E) == 0 && at32(buf + 8) == 2);
    /* which a version 3 file must not hold: it would not write back the same */
    buf[8] = 3;
    fix_crc(buf, len);
    CHECK(bp_net_decode(buf, len, "f", &E) == NULL);
    CHECK_STR(E.msg, "f: corrupt: a version 3 file without a host's module (version 2 "
                     "holds such a graph)");
    bp_free(buf);
    bp_net_free(a);
    CHECK(alive == 0);
}

int main(void) {
    test_round_trip(BP_F64);
    test_round_trip(BP_F32);
    test_refusals();
    test_saving();
    return check_report("test_save_host");
}
