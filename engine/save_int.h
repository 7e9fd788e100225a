/* save_int.h: what the versions of the network file share (save.c
 * writes and reads version 1 and the files themselves, save_graph.c
 * versions 2 and 3, save_host.c version 3's host nodes): bytes little-endian one at a time, the checksum, the limits,
 * and version 2's entry points.
 *
 * Static inline in a private header rather than exported from one of the
 * two files: they are a few shifts each, and the format's code stays in
 * the two files that define it. */
#ifndef SAVE_INT_H
#define SAVE_INT_H

#include <stdint.h>
#include <string.h>

#include <zlib.h>

#include "bp_net.h"
#include "bp_save.h"

static const unsigned char BP_SAVE_MAGIC[8] = {0x89, 'B', 'P', 'N', '\r', '\n', 0x1a, '\n'};
#define SAVE_MAX_WIDTH (1u << 24)
#define SAVE_MAX_FILE ((size_t)1 << 34)

static inline void put32(unsigned char *p, uint32_t v) {
    for (int k = 0; k < 4; k++) p[k] = (unsigned char)(v >> (8 * k));
}
static inline void put64(unsigned char *p, uint64_t v) {
    for (int k = 0; k < 8; k++) p[k] = (unsigned char)(v >> (8 * k));
}
static inline uint32_t get32(const unsigned char *p) {
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) v |= (uint32_t)p[k] << (8 * k);
    return v;
}
static inline uint64_t get64(const unsigned char *p) {
    uint64_t v = 0;
    for (int k = 0; k < 8; k++) v |= (uint64_t)p[k] << (8 * k);
    return v;
}
static inline void put_double(unsigned char *p, double d) {
    uint64_t v;
    memcpy(&v, &d, 8);
    put64(p, v);
}
static inline double get_double(const unsigned char *p) {
    uint64_t v = get64(p);
    double d;
    memcpy(&d, &v, 8);
    return d;
}

/* The values of a network (bp_net_params_get's order) at p, s = 4 or 8
 * bytes each; and back. */
static inline void put_values(unsigned char *p, const double *v, size_t n, size_t s) {
    for (size_t k = 0; k < n; k++, p += s) {
        if (s == 4) {
            float f = (float)v[k];
            uint32_t u;
            memcpy(&u, &f, 4);
            put32(p, u);
        } else {
            put_double(p, v[k]);
        }
    }
}
static inline void get_values(double *v, const unsigned char *p, size_t n, size_t s) {
    for (size_t k = 0; k < n; k++, p += s) {
        if (s == 4) {
            uint32_t u = get32(p);
            float f;
            memcpy(&f, &u, 4);
            v[k] = f;
        } else {
            v[k] = get_double(p);
        }
    }
}

/* zlib's crc32 takes a uInt length: fed in pieces. */
static inline uint32_t crc_of(const unsigned char *p, size_t n) {
    uLong crc = crc32(0L, Z_NULL, 0);
    while (n > 0) {
        uInt piece = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = crc32(crc, p, piece);
        p += piece;
        n -= piece;
    }
    return (uint32_t)crc;
}

/* A file of total bytes begun (magic, version, dtype at 12) in a buffer
 * from bp_malloc, and room for the net's P values as doubles in *values;
 * NULL (nothing allocated) with a message when memory runs out. */
static inline unsigned char *begin_file(size_t total, uint32_t version, const bp_net *net,
                                        size_t P, double **values, bp_err *e) {
    unsigned char *buf = bp_malloc(total);
    *values = bp_malloc(sizeof(double) * (P ? P : 1));
    if (!buf || !*values) {
        bp_free(buf);
        bp_free(*values);
        bp_err_set(e, "out of memory for a network file of %zu bytes", total);
        return NULL;
    }
    memcpy(buf, BP_SAVE_MAGIC, 8);
    put32(buf + 8, version);
    put32(buf + 12, net->dtype == BP_F32 ? 32 : 64);
    return buf;
}

/* A reader of a file's node records: at most end, bad once it ran out. */
typedef struct reader {
    const unsigned char *p, *end;
    int bad;
} reader;

static inline const unsigned char *take(reader *r, size_t n) {
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = 1;
        return NULL;
    }
    r->p += n;
    return r->p - n;
}

static inline uint32_t take32(reader *r) {
    const unsigned char *p = take(r, 4);
    return p ? get32(p) : 0;
}

/* Versions 2 and 3 (save_graph.c): a graph net's file, as bp_net_encode's. */
int bp_save_graph_encode(const bp_net *net, unsigned char **out, size_t *len, bp_err *e);

/* The length a version 2 file says it has (its first 24 bytes at buf,
 * len >= 24 of them), after checking its header: 0, or -1 naming the file.
 * bp_net_load reads that many bytes. */
int bp_save_graph_length(const unsigned char *buf, const char *name, size_t *want,
                         bp_err *e);

/* A net from a whole version 2 file (its length, checksum, then every
 * node); NULL with a message starting with name. */
bp_net *bp_save_graph_decode(const unsigned char *buf, size_t len, const char *name,
                             const bp_save_hosts *hosts, bp_err *e);

/* A host node's part of its record in a version 3 file (save_host.c): its
 * size in bytes, and written at p (returning the end); -1 from size when
 * the node has no definition name, naming the module. */
int bp_save_host_size(const bp_graph *g, int id, size_t *n, bp_err *e);
unsigned char *bp_save_host_put(unsigned char *p, const bp_graph *g, int id);

/* Reads a host node's part of its record (module: the node's name) and,
 * when its tensors take at most room values (*values: how many), asks
 * hosts for its callbacks into *h, held to the file's tensors (their names
 * and shapes, put in the file's order); the definition's name into def
 * (room for BP_GRAPH_MAX_NAME + 1), h->def pointing at it. On success *h holds a context that the caller
 * owns (h->release frees it); -1 with a message and nothing held
 * otherwise. */
int bp_save_host_read(reader *r, const char *module, const bp_save_hosts *hosts,
                      bp_dtype dtype, size_t room, bp_host *h, char *def, size_t *values,
                      bp_err *e);

#endif
