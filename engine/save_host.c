/* save_host.c: a host node's part of a version 3 network file (the format is
 * in bp_save.h): the definition's name and the node's tensors' names and
 * shapes, written after the node's options, and read back by asking the
 * loader's host for the callbacks of that definition.
 *
 * The engine knows no Lua: a definition is a name it stores and hands to
 * bp_save_hosts' resolve, which answers with callbacks and the tensors the
 * definition makes. Those are held to the file's, name by name and shape by
 * shape, here and not by each host, so that a definition changed since the
 * file was written is refused with one message naming the tensor, whatever
 * the host; the values themselves come from the file as every node's do.
 * The file's shapes are checked (and their values counted against the
 * file's) before anything is allocated. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bp_util.h"
#include "save_int.h"

/* A tensor's record: name length (4), name, ndim (4), shape (4 x 4). */
#define TENSOR_FIXED (4 + 4 + 4 * BP_GRAPH_MAX_DIMS)

/* The short name of tensor t of a node named node ("NODE.w" -> "w"). */
static const char *short_name(const bp_param *t, const char *node) {
    return t->name + strlen(node) + 1;
}

int bp_save_host_size(const bp_graph *g, int id, size_t *n, bp_err *e) {
    const char *def = bp_graph_node_host_def(g, id), *node = bp_graph_node_name(g, id);
    if (!def)
        return bp_err_set(
            e,
            "module '%s' is computed by a host's functions (a module written "
            "in Lua) with no definition name: a network file names the "
            "definition its loader must have, so this network cannot be "
            "saved; name it (bp.module{name = ...})",
            node);
    int nt;
    const bp_param *t = bp_graph_node_params(g, id, &nt);
    *n = 4 + strlen(def) + 4;
    for (int k = 0; k < nt; k++) *n += TENSOR_FIXED + strlen(short_name(&t[k], node));
    return 0;
}

unsigned char *bp_save_host_put(unsigned char *p, const bp_graph *g, int id) {
    const char *def = bp_graph_node_host_def(g, id), *node = bp_graph_node_name(g, id);
    size_t len = strlen(def);
    int nt;
    const bp_param *t = bp_graph_node_params(g, id, &nt);
    put32(p, (uint32_t)len);
    memcpy(p + 4, def, len);
    p += 4 + len;
    put32(p, (uint32_t)nt);
    p += 4;
    for (int k = 0; k < nt; k++) {
        const char *s = short_name(&t[k], node);
        len = strlen(s);
        put32(p, (uint32_t)len);
        memcpy(p + 4, s, len);
        p += 4 + len;
        put32(p, (uint32_t)t[k].ndim);
        for (int d = 0; d < BP_GRAPH_MAX_DIMS; d++)
            put32(p + 4 + 4 * d, (uint32_t)(d < t[k].ndim ? t[k].shape[d] : 0));
        p += 4 + 4 * BP_GRAPH_MAX_DIMS;
    }
    return p;
}

/* A tensor as the file describes it. */
typedef struct ftensor {
    char name[16];
    int ndim, shape[BP_GRAPH_MAX_DIMS];
} ftensor;

/* "{4, 8}" into s. */
static void shape_text(char *s, size_t cap, int ndim, const int *shape) {
    size_t at = (size_t)snprintf(s, cap, "{");
    for (int d = 0; d < ndim && at < cap; d++)
        at += (size_t)snprintf(s + at, cap - at, d ? ", %d" : "%d", shape[d]);
    if (at < cap) snprintf(s + at, cap - at, "}");
}

/* A length-prefixed string of 1 to max bytes, no NUL, into out. */
static int take_text(reader *r, char *out, uint32_t max) {
    uint32_t n = take32(r);
    const unsigned char *p = r->bad || n < 1 || n > max ? NULL : take(r, n);
    if (!p || memchr(p, 0, n)) return -1;
    memcpy(out, p, n);
    out[n] = 0;
    return 0;
}

/* The node's definition name and tensors from the file, and the values
 * they take (each tensor at most 2^31 values, as the graph allows). */
static int read_tensors(reader *r, const char *module, char *def, ftensor *ft, int *nt,
                        size_t *values, bp_err *e) {
    if (take_text(r, def, BP_GRAPH_MAX_NAME))
        return bp_err_set(e,
                          "corrupt: module '%s' has no definition name of 1 to %d bytes",
                          module, BP_GRAPH_MAX_NAME);
    uint32_t n = take32(r);
    if (r->bad || n > BP_HOST_MAX_PARAMS)
        return bp_err_set(e, "corrupt: module '%s' has %u tensors", module, n);
    *nt = (int)n;
    *values = 0;
    for (int k = 0; k < *nt; k++) {
        ftensor *t = &ft[k];
        if (take_text(r, t->name, 15))
            return bp_err_set(e, "corrupt: module '%s' has a tensor without a name",
                              module);
        t->ndim = (int)take32(r);
        size_t count = 1;
        int ok = !r->bad && t->ndim >= 1 && t->ndim <= BP_GRAPH_MAX_DIMS;
        for (int d = 0; d < BP_GRAPH_MAX_DIMS; d++) {
            t->shape[d] = (int)take32(r);
            if (d < t->ndim)
                ok = ok && t->shape[d] >= 1 &&
                     !bp_size_mul(&count, count, (size_t)t->shape[d]);
        }
        if (r->bad || !ok || count > (size_t)1 << 31)
            return bp_err_set(e, "corrupt: module '%s' has tensor '%s' of a bad shape",
                              module, t->name);
        *values += count;
    }
    return 0;
}

/* The definition's tensors (h's) against the file's (ft, nt of them). */
static int same_tensors(const bp_host *h, const ftensor *ft, int nt, const char *module,
                        const char *def, bp_err *e) {
    char a[64], b[64];
    for (int k = 0; k < nt; k++) {
        int j = 0;
        while (j < h->n_params && strcmp(h->params[j].name, ft[k].name)) j++;
        if (j == h->n_params)
            return bp_err_set(e,
                              "module '%s': parameter '%s' is in the file but not in the "
                              "definition '%s' it is loaded with",
                              module, ft[k].name, def);
        int same = h->params[j].ndim == ft[k].ndim;
        for (int d = 0; same && d < ft[k].ndim; d++)
            same = h->params[j].shape[d] == ft[k].shape[d];
        if (!same) {
            shape_text(a, sizeof a, ft[k].ndim, ft[k].shape);
            shape_text(b, sizeof b, h->params[j].ndim, h->params[j].shape);
            return bp_err_set(
                e,
                "module '%s': parameter '%s' has shape %s in the file and %s "
                "in the definition '%s' it is loaded with",
                module, ft[k].name, a, b, def);
        }
    }
    for (int j = 0; j < h->n_params; j++) {
        int k = 0;
        while (k < nt && strcmp(h->params[j].name, ft[k].name)) k++;
        if (k == nt)
            return bp_err_set(
                e,
                "module '%s': parameter '%s' is in the definition '%s' it is "
                "loaded with but not in the file",
                module, h->params[j].name, def);
    }
    return 0;
}

int bp_save_host_read(reader *r, const char *module, const bp_save_hosts *hosts,
                      bp_dtype dtype, size_t room, bp_host *h, char *def, size_t *values,
                      bp_err *e) {
    ftensor ft[BP_HOST_MAX_PARAMS];
    int nt = 0;
    if (read_tensors(r, module, def, ft, &nt, values, e)) return -1;
    if (*values > room)
        return bp_err_set(e, "corrupt: module '%s' needs more values than the file holds",
                          module);
    if (!hosts)
        return bp_err_set(
            e,
            "module '%s' is computed by the definition '%s' (a module written "
            "in Lua), and this reader was given no definitions",
            module, def);
    bp_host file = {.n_params = nt};
    for (int k = 0; k < nt; k++) {
        file.params[k].name = ft[k].name;
        file.params[k].ndim = ft[k].ndim;
        memcpy(file.params[k].shape, ft[k].shape, sizeof ft[k].shape);
    }
    memset(h, 0, sizeof *h);
    if (hosts->resolve(hosts->ctx, def, module, dtype, &file, h, e)) return -1;
    if (same_tensors(h, ft, nt, module, def, e)) {
        if (h->release) h->release(h->ctx);
        return -1;
    }
    /* The file's order, which is the node's own (the graph lists a host's
     * tensors in the order it was given them) and the values' order. */
    for (int k = 0; k < nt; k++) {
        int j = k;
        while (strcmp(h->params[j].name, ft[k].name)) j++;
        if (j != k) {
            unsigned char tmp[sizeof h->params[0]];
            memcpy(tmp, &h->params[k], sizeof tmp);
            memcpy(&h->params[k], &h->params[j], sizeof tmp);
            memcpy(&h->params[j], tmp, sizeof tmp);
        }
        h->params[k].init = NULL;
    }
    h->def = def;
    return 0;
}
