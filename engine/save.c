/* save.c: network files (the format is in bp_save.h): version 1, a stack
 * of dense layers, here; versions 2 and 3, a graph, in save_graph.c;
 * reading and writing files of any version here.
 *
 * Bytes are written and read one by one with shifts, never by copying
 * structs, so a file is the same on every machine whatever its byte order
 * or padding. Decoding checks every size against the length before reading
 * and against limits before allocating, since a network file may come from
 * anywhere: a corrupt one must give a message, never a crash or a huge
 * allocation. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bp_save.h"
#include "bp_util.h"
#include "save_int.h"

#define HEADER 24
#define LAYER 16
#define MAX_WIDTH SAVE_MAX_WIDTH
#define MAX_LAYERS 4096u
#define MAX_FILE SAVE_MAX_FILE

int bp_net_encode(const bp_net *net, unsigned char **out, size_t *len, bp_err *e) {
    /* A stack keeps version 1, which every older backprop reads; a graph
     * needs version 2. */
    if (bp_net_is_graph(net)) return bp_save_graph_encode(net, out, len, e);
    size_t N = bp_net_param_count(net), s = net->dtype == BP_F32 ? 4 : 8;
    size_t total = HEADER + LAYER * (size_t)net->n_layers + N * s + 4;
    double *params;
    unsigned char *buf = begin_file(total, 1, net, N, &params, e);
    if (!buf) return -1;
    put32(buf + 16, (uint32_t)net->inputs);
    put32(buf + 20, (uint32_t)net->n_layers);
    unsigned char *p = buf + HEADER;
    for (int l = 0; l < net->n_layers; l++, p += LAYER) {
        put32(p, (uint32_t)net->layers[l].O);
        put32(p + 4, (uint32_t)net->layers[l].act);
        put_double(p + 8, net->layers[l].alpha);
    }
    /* A float32 network's values are floats already: converting them to
     * double and back is exact. */
    bp_net_params_get(net, params);
    put_values(p, params, N, s);
    put32(p + N * s, crc_of(buf, total - 4));
    bp_free(params);
    *out = buf;
    *len = total;
    return 0;
}

/* The checks both versions start with (a file's first HEADER bytes):
 * another kind of file, a newer version, version 0. Fills *version. */
static int check_head(const unsigned char *buf, size_t len, const char *name,
                      uint32_t *version, bp_err *e) {
    if (len < HEADER || memcmp(buf, BP_SAVE_MAGIC, 8) != 0)
        return bp_err_set(e, "%s: not a backprop network file", name);
    *version = get32(buf + 8);
    if (*version > BP_SAVE_VERSION)
        return bp_err_set(e,
                          "%s: network file version %u is newer than this backprop "
                          "reads (%d); upgrade backprop",
                          name, *version, BP_SAVE_VERSION);
    if (*version == 0)
        return bp_err_set(e, "%s: corrupt header (version 0, dtype %u, %u inputs, %u "
                             "layers)",
                          name, get32(buf + 12), get32(buf + 16), get32(buf + 20));
    return 0;
}

/* The checks of a version 1 file's header and table of layers (its first
 * HEADER + LAYER * L bytes are enough): magic, version, sizes. Fills
 * *inputs, *L (layers), *s (bytes per value), *N (parameters) and *want,
 * the length the whole file must have; -1 with a message. */
static int check_layout(const unsigned char *buf, size_t len, const char *name,
                        uint32_t *inputs_out, uint32_t *L_out, size_t *s_out,
                        size_t *N_out, size_t *want_out, bp_err *e) {
    uint32_t version;
    if (check_head(buf, len, name, &version, e)) return -1;
    uint32_t bits = get32(buf + 12);
    uint32_t inputs = get32(buf + 16), L = get32(buf + 20);
    if (version == 0 || (bits != 64 && bits != 32) || inputs < 1 || inputs > MAX_WIDTH ||
        L < 1 || L > MAX_LAYERS) {
        bp_err_set(e, "%s: corrupt header (version %u, dtype %u, %u inputs, %u layers)",
                   name, version, bits, inputs, L);
        return -1;
    }
    if (len < HEADER + (size_t)LAYER * L) {
        bp_err_set(e, "%s: truncated: %zu bytes, the layers alone need %zu", name, len,
                   HEADER + (size_t)LAYER * L);
        return -1;
    }
    /* The parameter count, from sizes already bounded: no overflow. */
    size_t N = 0, I = inputs, s = bits / 8;
    for (uint32_t l = 0; l < L; l++) {
        uint32_t O = get32(buf + HEADER + LAYER * l);
        if (O < 1 || O > MAX_WIDTH) {
            bp_err_set(e, "%s: corrupt: layer %u has %u outputs", name, l + 1, O);
            return -1;
        }
        N += (size_t)O * (I + 1);
        if (N * s > MAX_FILE) {
            bp_err_set(e, "%s: corrupt: more than %zu bytes of parameters", name,
                       MAX_FILE);
            return -1;
        }
        I = O;
    }
    *inputs_out = inputs, *L_out = L, *s_out = s, *N_out = N;
    *want_out = HEADER + (size_t)LAYER * L + N * s + 4;
    return 0;
}

/* The length a file's layout asks for against the one it has. */
static int check_length(size_t len, size_t want, const char *name, bp_err *e) {
    if (len < want) {
        bp_err_set(e, "%s: truncated: %zu bytes, the network needs %zu", name, len, want);
        return -1;
    }
    if (len > want) {
        bp_err_set(e, "%s: %zu bytes after the end of the network", name, len - want);
        return -1;
    }
    return 0;
}

/* Every check of a file's bytes before any of it is built: its layout, its
 * length and its checksum. */
static int check_file(const unsigned char *buf, size_t len, const char *name,
                      uint32_t *inputs, uint32_t *L, size_t *s, size_t *N, bp_err *e) {
    size_t want;
    if (check_layout(buf, len, name, inputs, L, s, N, &want, e) < 0 ||
        check_length(len, want, name, e) < 0)
        return -1;
    if (crc_of(buf, want - 4) != get32(buf + want - 4)) {
        bp_err_set(e, "%s: corrupt: checksum mismatch", name);
        return -1;
    }
    return 0;
}

bp_net *bp_net_decode(const unsigned char *buf, size_t len, const char *name, bp_err *e) {
    return bp_net_decode_hosts(buf, len, name, NULL, e);
}

bp_net *bp_net_decode_hosts(const unsigned char *buf, size_t len, const char *name,
                            const bp_save_hosts *hosts, bp_err *e) {
    uint32_t inputs, L, version;
    size_t s, N;
    if (check_head(buf, len, name, &version, e)) return NULL;
    if (version >= 2) return bp_save_graph_decode(buf, len, name, hosts, e);
    if (check_file(buf, len, name, &inputs, &L, &s, &N, e) < 0) return NULL;
    bp_err sub;
    bp_net *net = bp_net_new_dtype((int)inputs, s == 4 ? BP_F32 : BP_F64, &sub);
    double *params = bp_malloc(sizeof(double) * (N ? N : 1));
    if (!net || !params) goto fail;
    for (uint32_t l = 0; l < L; l++) {
        const unsigned char *p = buf + HEADER + LAYER * l;
        uint32_t act = get32(p + 4);
        if (act >= BP_ACT_COUNT) {
            bp_err_set(&sub, "corrupt: layer %u has activation code %u", l + 1, act);
            goto fail;
        }
        if (bp_net_add(net, (int)get32(p), (bp_act)act, get_double(p + 8), &sub))
            goto fail;
    }
    get_values(params, buf + HEADER + (size_t)LAYER * L, N, s);
    bp_net_params_set(net, params);
    bp_free(params);
    return net;
fail:
    bp_err_set(e, "%s: %s", name, sub.msg);
    bp_free(params);
    bp_net_free(net);
    return NULL;
}

int bp_net_save(const bp_net *net, const char *path, bp_err *e) {
    unsigned char *buf;
    size_t len;
    if (bp_net_encode(net, &buf, &len, e)) return -1;
    size_t plen = strlen(path);
    char *tmp = bp_malloc(plen + 16);
    if (!tmp) {
        bp_free(buf);
        return bp_err_set(e, "out of memory");
    }
    snprintf(tmp, plen + 16, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    int rc = 0;
    if (!f) {
        rc = bp_err_set(e, "cannot write %s: %s", path, strerror(errno));
    } else {
        int bad =
            fwrite(buf, 1, len, f) != len || fflush(f) != 0 || fsync(fileno(f)) != 0;
        int err = errno;
        if (fclose(f) != 0 && !bad) {
            bad = 1;
            err = errno;
        }
        if (bad || rename(tmp, path) != 0) {
            if (!bad) err = errno;
            remove(tmp);
            rc = bp_err_set(e, "cannot write %s: %s", path, strerror(err));
        }
    }
    bp_free(tmp);
    bp_free(buf);
    return rc;
}

/* Reads up to n bytes at buf; how many it got (fewer at the end). */
static size_t read_up_to(FILE *f, unsigned char *buf, size_t n) {
    size_t got = 0, r;
    while (got < n && (r = fread(buf + got, 1, n - got, f)) > 0) got += r;
    return got;
}

/* The length the file whose first len bytes are at buf must have: a
 * version 1 file's from its table of layers, a later one's from its
 * header. */
static int file_length(const unsigned char *buf, size_t len, const char *name,
                       size_t *want, bp_err *e) {
    uint32_t version, inputs, L;
    size_t s, N;
    if (check_head(buf, len, name, &version, e)) return -1;
    if (version >= 2) return bp_save_graph_length(buf, name, want, e);
    return check_layout(buf, len, name, &inputs, &L, &s, &N, want, e);
}

/* The file is read in two steps: its header and table of layers (64 KB at
 * most; a later version's header says its length itself), which say how
 * long the whole must be; that length is held against
 * the file's real size before the rest is allocated and read. A header
 * announcing gigabytes in a small file, or a huge file of anything else,
 * costs a read of its first bytes. */
bp_net *bp_net_load(const char *path, bp_err *e) {
    return bp_net_load_hosts(path, NULL, e);
}

bp_net *bp_net_load_hosts(const char *path, const bp_save_hosts *hosts, bp_err *e) {
    size_t size;
    const char *kind;
    int fd = bp_open_regular(path, &size, &kind);
    if (fd < 0) {
        if (kind) bp_err_set(e, "%s: not a regular file (%s)", path, kind);
        else bp_err_set(e, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        bp_err_set(e, "cannot open %s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    unsigned char *buf = NULL;
    bp_net *net = NULL;
    size_t max_head = HEADER + (size_t)LAYER * MAX_LAYERS;
    size_t head = size < max_head ? size : max_head, want = 0, got;
    if (!(buf = bp_malloc(head))) {
        bp_err_set(e, "%s: out of memory", path);
        goto done;
    }
    got = read_up_to(f, buf, head);
    if (got == head && file_length(buf, got, path, &want, e) == 0 &&
        check_length(size, want, path, e) == 0) {
        unsigned char *all = bp_realloc(buf, want);
        if (!all) {
            bp_err_set(e, "%s: out of memory for %zu bytes", path, want);
            goto done;
        }
        buf = all;
        got += read_up_to(f, buf + got, want - got);
    } else if (got == head) {
        goto done; /* check_layout or check_length said why */
    }
    if (ferror(f)) {
        bp_err_set(e, "cannot read %s: %s", path, strerror(errno));
        goto done;
    }
    net = bp_net_decode_hosts(buf, got, path, hosts, e);
done:
    fclose(f);
    bp_free(buf);
    return net;
}
