/* save_graph.c: versions 2 and 3 of the network file, a graph of modules
 * (the format is in bp_save.h); version 3's host nodes in save_host.c.
 *
 * The file holds what bp_graph_add was given, node by node (op, name,
 * inputs, the options the op reads), then every tensor's values, buffers
 * included, in bp_net_param_list's order. Loading replays the adds with no
 * generator (each tensor starts at zeros or ones, drawing nothing), finishes
 * the graph, and sets the values: the graph's own checks (options, shapes,
 * cycles, unused modules) judge a file's architecture as they judge a
 * script's, so a corrupt one gets the message a bad construction gets.
 *
 * A host node (a module written in Lua, bindings/lhost.c) makes the file a
 * version 3 one, and only then, so that a graph without one stays readable
 * by older backprops: its forward and backward are functions of a Lua
 * state, which a file cannot hold, so the file holds the name of their
 * definition and its tensors' shapes, and the loader's host gives the
 * functions back (save_host.c).
 *
 * Sizes from a file are checked before they are used to allocate: the
 * values a node's options ask for are counted (the same sizes make_params
 * in graph.c uses) against the values the file holds before the node is
 * added, so a small file cannot ask for gigabytes of weights. */
#include <stdint.h>
#include <string.h>

#include "bp_save.h"
#include "bp_util.h"
#include "save_int.h"

#define HEADER 40
/* A node's options: ndim, shape[4], in, out, no_bias, act (4 bytes each),
 * alpha, p, eps, momentum (8 each), kh, kw, sh, sw, ph, pw, layers (4). */
#define OPTS 96
/* An attention's options past the 96 bytes: heads, causal, block (4 each;
 * bp_save.h). Only records of that op carry them, so every file without
 * one keeps its bytes. */
#define ATTN_OPTS 12
#define MAX_NODES 65536u

/* The options bp_graph_add reads, as bytes; and back. */
static void put_opts(unsigned char *p, const bp_node_opts *o) {
    const int ints1[9] = {o->ndim,     o->shape[0], o->shape[1], o->shape[2], o->shape[3],
                          o->in,       o->out,      o->no_bias,  (int)o->act};
    const double reals[4] = {o->alpha, o->p, o->eps, o->momentum};
    const int ints2[7] = {o->kh, o->kw, o->sh, o->sw, o->ph, o->pw, o->layers};
    for (int k = 0; k < 9; k++, p += 4) put32(p, (uint32_t)ints1[k]);
    for (int k = 0; k < 4; k++, p += 8) put_double(p, reals[k]);
    for (int k = 0; k < 7; k++, p += 4) put32(p, (uint32_t)ints2[k]);
}

static void get_opts(bp_node_opts *o, const unsigned char *p) {
    int *ints1[9] = {&o->ndim,  &o->shape[0], &o->shape[1], &o->shape[2], &o->shape[3],
                     &o->in,    &o->out,      &o->no_bias,  NULL};
    double *reals[4] = {&o->alpha, &o->p, &o->eps, &o->momentum};
    int *ints2[7] = {&o->kh, &o->kw, &o->sh, &o->sw, &o->ph, &o->pw, &o->layers};
    for (int k = 0; k < 8; k++, p += 4) *ints1[k] = (int32_t)get32(p);
    o->act = (bp_act)(int32_t)get32(p);
    p += 4;
    for (int k = 0; k < 4; k++, p += 8) *reals[k] = get_double(p);
    for (int k = 0; k < 7; k++, p += 4) *ints2[k] = (int32_t)get32(p);
}

/* The bytes of node id's record: op, name, inputs, options (and a host's
 * part, save_host.c), into *size; -1 for a host node that cannot be saved. */
static int node_size(const bp_graph *g, int id, size_t *size, bp_err *e) {
    int n;
    size_t host = 0;
    bp_graph_node_inputs(g, id, &n);
    if (bp_graph_node_op(g, id) == BP_OP_HOST && bp_save_host_size(g, id, &host, e))
        return -1;
    *size = 12 + strlen(bp_graph_node_name(g, id)) + 4 * (size_t)n + OPTS + host +
            (bp_graph_node_op(g, id) == BP_OP_ATTENTION ? ATTN_OPTS : 0);
    return 0;
}

static unsigned char *put_node(unsigned char *p, const bp_graph *g, int id) {
    const char *name = bp_graph_node_name(g, id);
    size_t len = strlen(name);
    int n;
    const int *in = bp_graph_node_inputs(g, id, &n);
    put32(p, (uint32_t)bp_graph_node_op(g, id));
    put32(p + 4, (uint32_t)len);
    memcpy(p + 8, name, len);
    p += 8 + len;
    put32(p, (uint32_t)n);
    for (int k = 0; k < n; k++) put32(p + 4 + 4 * (size_t)k, (uint32_t)in[k]);
    p += 4 + 4 * (size_t)n;
    const bp_node_opts *o = bp_graph_node_opts(g, id);
    put_opts(p, o);
    p += OPTS;
    if (bp_graph_node_op(g, id) == BP_OP_HOST) return bp_save_host_put(p, g, id);
    if (bp_graph_node_op(g, id) != BP_OP_ATTENTION) return p;
    put32(p, (uint32_t)o->heads);
    put32(p + 4, (uint32_t)o->causal);
    put32(p + 8, (uint32_t)o->block);
    return p + ATTN_OPTS;
}

int bp_save_graph_encode(const bp_net *net, unsigned char **out, size_t *len, bp_err *e) {
    const bp_graph *g = net->graph;
    int M = bp_graph_nodes(g);
    size_t P = bp_net_param_count(net), s = net->dtype == BP_F32 ? 4 : 8;
    size_t total = HEADER + 4 + net->note_len + P * s + 4, size;
    uint32_t version = 2; /* 3 only with a host node: older readers read the rest */
    for (int id = 0; id < M; id++) {
        if (node_size(g, id, &size, e)) return -1;
        total += size;
        if (bp_graph_node_op(g, id) == BP_OP_HOST) version = 3;
    }
    double *values;
    unsigned char *buf = begin_file(total, version, net, P, &values, e);
    if (!buf) return -1;
    put64(buf + 16, total);
    put32(buf + 24, (uint32_t)M);
    put32(buf + 28, (uint32_t)bp_graph_output(g));
    put64(buf + 32, P);
    unsigned char *p = buf + HEADER;
    for (int id = 0; id < M; id++) p = put_node(p, g, id);
    put32(p, (uint32_t)net->note_len);
    if (net->note_len) memcpy(p + 4, net->note, net->note_len);
    p += 4 + net->note_len;
    bp_net_params_get(net, values);
    put_values(p, values, P, s);
    put32(buf + total - 4, crc_of(buf, total - 4));
    bp_free(values);
    *out = buf;
    *len = total;
    return 0;
}

int bp_save_graph_length(const unsigned char *buf, const char *name, size_t *want,
                         bp_err *e) {
    uint32_t bits = get32(buf + 12);
    uint64_t total = get64(buf + 16);
    if (bits != 64 && bits != 32)
        return bp_err_set(e, "%s: corrupt header (version %u, dtype %u)", name,
                          get32(buf + 8), bits);
    if (total < HEADER + 4 || total > SAVE_MAX_FILE)
        return bp_err_set(e, "%s: corrupt header: a length of %llu bytes", name,
                          (unsigned long long)total);
    *want = (size_t)total;
    return 0;
}

/* The values a node of op with options o makes (graph.c's make_params),
 * into *n; -1 when they would not fit in a size_t. Sizes are the file's,
 * not yet checked: negative ones count as 0 (bp_graph_add refuses them). */
static int node_values(bp_op op, const bp_node_opts *o, size_t *n) {
    size_t in = o->in > 0 ? (size_t)o->in : 0, out = o->out > 0 ? (size_t)o->out : 0;
    size_t k = (o->kh > 0 ? (size_t)o->kh : 0) * (o->kw > 0 ? (size_t)o->kw : 0), w = 0;
    int layers = o->layers > 0 && o->layers <= BP_GRAPH_MAX_LAYERS ? o->layers : 0;
    *n = 0;
    switch (op) {
        case BP_OP_LINEAR:
        case BP_OP_CONV2D:
            if (bp_size_mul3(&w, out, in, op == BP_OP_CONV2D ? k : 1)) return -1;
            if (w > SIZE_MAX - out) return -1;
            *n = w + (o->no_bias ? 0 : out);
            return 0;
        case BP_OP_BATCHNORM1D:
        case BP_OP_BATCHNORM2D: *n = 4 * in + 1; return 0;
        case BP_OP_EMBEDDING: return bp_size_mul(n, in, out);
        case BP_OP_LAYERNORM: *n = 2 * in; return 0;
        case BP_OP_POSITION: return bp_size_mul(n, in, out);
        case BP_OP_ATTENTION: /* 3C x C + 3C + C x C + C */
            if (bp_size_mul3(&w, 4, in, in + 1)) return -1;
            *n = w;
            return 0;
        case BP_OP_LSTM:
        case BP_OP_GRU:
        case BP_OP_RNN: {
            size_t gates = (size_t)bp_op_gates(op);
            for (int l = 0; l < layers; l++) {
                if (bp_size_mul3(&w, gates, out, (l ? out : in) + out + 2)) return -1;
                *n += w;
            }
            return 0;
        }
        default: return 0;
    }
}

/* What reading a file's nodes needs besides its bytes. */
typedef struct source {
    uint32_t version;
    const bp_save_hosts *hosts;
    int hosts_read; /* host nodes added so far */
} source;

/* A host node's part of its record, its callbacks (src->hosts'), and the
 * node added; room: the values the file has left, *values counting them. */
static int add_host(reader *r, bp_graph *g, const int *in, int n_in, bp_node_opts *o,
                    source *src, size_t room, size_t *values, bp_err *e) {
    bp_host h;
    char def[BP_GRAPH_MAX_NAME + 1];
    size_t n;
    if (src->version < 3)
        return bp_err_set(e,
                          "corrupt: module '%s' is a host's, which a version %u file "
                          "cannot hold",
                          o->name, src->version);
    if (bp_save_host_read(r, o->name, src->hosts, bp_graph_dtype(g), room, &h, def, &n, e))
        return -1;
    *values += n;
    o->host = &h;
    if (bp_graph_add(g, BP_OP_HOST, in, n_in, o, e) < 0) {
        if (h.release) h.release(h.ctx); /* a failed add leaves it to its caller */
        return -1;
    }
    src->hosts_read++;
    return 0;
}

/* The next node record, added to g. *values counts the values of the nodes
 * so far, held to the P the file has room for. */
static int read_node(reader *r, bp_graph *g, int id, size_t P, size_t *values,
                     source *src, bp_err *e) {
    uint32_t op = take32(r), nlen = take32(r);
    if (r->bad) return bp_err_set(e, "corrupt: module %d is cut short", id);
    if (op >= BP_OP_COUNT) return bp_err_set(e, "corrupt: module %d has op code %u", id, op);
    if (nlen < 1 || nlen > BP_GRAPH_MAX_NAME)
        return bp_err_set(e, "corrupt: module %d has a name of %u bytes", id, nlen);
    char name[BP_GRAPH_MAX_NAME + 1];
    const unsigned char *np = take(r, nlen);
    uint32_t n_in = take32(r);
    if (r->bad || n_in > BP_GRAPH_MAX_INPUTS)
        return bp_err_set(e, "corrupt: module %d is cut short or has %u inputs", id, n_in);
    memcpy(name, np, nlen);
    name[nlen] = 0;
    if (memchr(name, 0, nlen))
        return bp_err_set(e, "corrupt: module %d's name holds a NUL byte", id);
    int in[BP_GRAPH_MAX_INPUTS];
    for (uint32_t k = 0; k < n_in; k++) in[k] = (int)take32(r);
    const unsigned char *op_bytes = take(r, OPTS);
    if (r->bad) return bp_err_set(e, "corrupt: module '%s' is cut short", name);
    bp_node_opts o = bp_node_opts_default((bp_op)op);
    get_opts(&o, op_bytes);
    if (op == BP_OP_ATTENTION) {
        o.heads = (int32_t)take32(r);
        o.causal = (int32_t)take32(r);
        o.block = (int32_t)take32(r);
        if (r->bad) return bp_err_set(e, "corrupt: module '%s' is cut short", name);
    }
    o.name = name;
    size_t need;
    if (node_values((bp_op)op, &o, &need) || need > P - *values)
        return bp_err_set(e,
                          "corrupt: module '%s' needs more values than the file's %zu",
                          name, P);
    *values += need;
    if (op == BP_OP_HOST)
        return add_host(r, g, in, (int)n_in, &o, src, P - *values, values, e);
    return bp_graph_add(g, (bp_op)op, in, (int)n_in, &o, e) < 0 ? -1 : 0;
}

/* The graph of a whole, checked file, and where its note is (*note, *nlen
 * bytes); NULL with a message (not yet prefixed with the file's name). */
static bp_graph *read_graph(const unsigned char *buf, size_t len, size_t P, size_t s,
                            source *src, const unsigned char **note, size_t *nlen,
                            bp_err *e) {
    uint32_t M = get32(buf + 24), output = get32(buf + 28);
    if (M < 1 || M > MAX_NODES || output >= M) {
        bp_err_set(e, "corrupt: %u modules, the output %u", M, output);
        return NULL;
    }
    bp_graph *g = bp_graph_new(s == 4 ? BP_F32 : BP_F64, e);
    reader r = {buf + HEADER, buf + len - 4 - P * s, 0};
    size_t values = 0;
    for (uint32_t id = 0; g && id < M; id++)
        if (read_node(&r, g, (int)id, P, &values, src, e)) goto fail;
    if (!g) return NULL;
    uint32_t n = take32(&r);
    *note = take(&r, n);
    *nlen = n;
    if (r.bad || n > BP_NET_MAX_NOTE) {
        bp_err_set(e, "corrupt: a note of %u bytes after the modules", n);
        goto fail;
    }
    if (r.p != r.end) {
        bp_err_set(e, "corrupt: %zu bytes between the modules and the values",
                   (size_t)(r.end - r.p));
        goto fail;
    }
    if (bp_graph_finish(g, (int)output, e)) goto fail;
    if (src->version == 3 && !src->hosts_read) {
        bp_err_set(e, "corrupt: a version 3 file without a host's module (version 2 "
                      "holds such a graph)");
        goto fail;
    }
    return g;
fail:
    bp_graph_free(g);
    return NULL;
}

bp_net *bp_save_graph_decode(const unsigned char *buf, size_t len, const char *name,
                             const bp_save_hosts *hosts, bp_err *e) {
    size_t want, s = get32(buf + 12) / 8;
    if (bp_save_graph_length(buf, name, &want, e)) return NULL;
    if (len < want) {
        bp_err_set(e, "%s: truncated: %zu bytes, the network needs %zu", name, len, want);
        return NULL;
    }
    if (len > want) {
        bp_err_set(e, "%s: %zu bytes after the end of the network", name, len - want);
        return NULL;
    }
    if (crc_of(buf, len - 4) != get32(buf + len - 4)) {
        bp_err_set(e, "%s: corrupt: checksum mismatch", name);
        return NULL;
    }
    uint64_t P64 = get64(buf + 32);
    if (len < HEADER + 4 || P64 > (len - HEADER - 4) / s) {
        bp_err_set(e, "%s: corrupt: %llu values do not fit in %zu bytes", name,
                   (unsigned long long)P64, len);
        return NULL;
    }
    size_t P = (size_t)P64;
    bp_err sub;
    bp_net *net = NULL;
    double *values = bp_malloc(sizeof(double) * (P ? P : 1));
    const unsigned char *note = NULL;
    size_t nlen = 0;
    source src = {get32(buf + 8), hosts, 0};
    bp_graph *g = values ? read_graph(buf, len, P, s, &src, &note, &nlen, &sub) : NULL;
    if (!values) bp_err_set(&sub, "out of memory");
    if (g && !(net = bp_net_from_graph(g, &sub))) goto fail;
    if (!net || bp_net_set_note(net, note, nlen, &sub)) goto fail;
    if (bp_net_param_count(net) != P) {
        bp_err_set(&sub, "corrupt: the modules have %zu values, the file %zu",
                   bp_net_param_count(net), P);
        goto fail;
    }
    get_values(values, buf + len - 4 - P * s, P, s);
    bp_net_params_set(net, values);
    bp_free(values);
    return net;
fail:
    bp_err_set(e, "%s: %s", name, sub.msg);
    bp_free(values);
    bp_net_free(net);
    return NULL;
}
