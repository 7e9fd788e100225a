/* test_save.c: network files (engine/save.c).
 *
 * The format is pinned byte by byte on a one-weight network written out by
 * hand here; round trips are exact for float64 and float32; and every way a
 * file can be wrong (each truncation, each flipped byte, a newer version,
 * another kind of file, trailing bytes) gives its message, never a crash;
 * what is not a regular file, or announces more than it holds, is refused
 * before it is read whole. */
#define _XOPEN_SOURCE 700
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <zlib.h>

#include "bp_save.h"
#include "check.h"
#include "graph_build.h"

static bp_net *make(bp_dtype dt, uint64_t seed) {
    bp_err e;
    bp_net *net = bp_net_new_dtype(3, dt, &e);
    bp_net_add(net, 5, BP_ACT_TANH, 0, &e);
    bp_net_add(net, 4, BP_ACT_LEAKY_RELU, 0.2, &e);
    bp_net_add(net, 2, BP_ACT_SOFTMAX, 0, &e);
    bp_rng r;
    bp_rng_seed(&r, seed);
    for (int l = 1; l <= 3; l++) {
        bp_net_init(net, l, 'w', BP_INIT_NORMAL, 0, 1, &r, &e);
        bp_net_init(net, l, 'b', BP_INIT_NORMAL, 0, 1, &r, &e);
    }
    return net;
}

static void test_format_by_hand(void) {
    bp_err e;
    bp_net *net = bp_net_new(1, &e);
    bp_net_add(net, 1, BP_ACT_SIGMOID, 0.5, &e);
    *bp_net_weight(net, 1, 1, 1, &e) = 0.5;
    *bp_net_bias(net, 1, 1, &e) = 0.25;
    unsigned char *buf;
    size_t len;
    CHECK(bp_net_encode(net, &buf, &len, &e) == 0);
    unsigned char want[] = {0x89, 'B', 'P', 'N', '\r', '\n', 0x1a, '\n', /* magic */
                            1,    0,   0,   0,                           /* version 1 */
                            64,   0,   0,   0,                           /* float64 */
                            1,    0,   0,   0,                           /* 1 input */
                            1,    0,   0,   0,                           /* 1 layer */
                            1,    0,   0,   0,                           /* 1 output */
                            1,    0,   0,   0,                           /* sigmoid */
                            0,    0,   0,   0,   0,    0,    0xe0, 0x3f, /* alpha 0.5 */
                            0,    0,   0,   0,   0,    0,    0xe0, 0x3f, /* w111 = 0.5 */
                            0,    0,   0,   0,   0,    0,    0xd0, 0x3f, /* b11 = 0.25 */
                            0,    0,   0,   0}; /* CRC-32, below */
    uLong crc = crc32(0L, want, sizeof want - 4);
    for (int k = 0; k < 4; k++)
        want[sizeof want - 4 + k] = (unsigned char)(crc >> (8 * k));
    CHECK(len == sizeof want);
    CHECK(len == sizeof want && memcmp(buf, want, len) == 0);
    bp_free(buf);
    bp_net_free(net);
}

static void test_round_trip(bp_dtype dt) {
    bp_err e;
    bp_net *a = make(dt, 11);
    char dir[] = "/tmp/bp_saveXXXXXX", path[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/net.bpn", dir);
    CHECK(bp_net_save(a, path, &e) == 0);
    bp_net *b = bp_net_load(path, &e);
    CHECK(b != NULL);
    if (!b) return;
    CHECK(b->dtype == dt && b->inputs == 3 && b->n_layers == 3);
    for (int l = 0; l < 3; l++) {
        CHECK(b->layers[l].O == a->layers[l].O);
        CHECK(b->layers[l].act == a->layers[l].act);
        CHECK(b->layers[l].alpha == a->layers[l].alpha);
    }
    size_t N = bp_net_param_count(a);
    double *pa = malloc(sizeof(double) * N), *pb = malloc(sizeof(double) * N);
    bp_net_params_get(a, pa);
    bp_net_params_get(b, pb);
    CHECK(memcmp(pa, pb, sizeof(double) * N) == 0); /* every bit */
    double x[6] = {0.1, -0.2, 0.3, 1, 2, -3};
    const double *oa = bp_net_forward(a, x, 2, &e);
    double ya[4];
    memcpy(ya, oa, sizeof ya);
    const double *ob = bp_net_forward(b, x, 2, &e);
    CHECK(memcmp(ya, ob, sizeof ya) == 0);
    /* no temporary file is left behind */
    char cmd[128];
    snprintf(cmd, sizeof cmd, "test $(ls %s | wc -l) -eq 1", dir);
    CHECK(system(cmd) == 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    free(pa);
    free(pb);
    bp_net_free(a);
    bp_net_free(b);
}

/* Every prefix of a file's len bytes at buf, and the file with any one
 * bit of a byte flipped, refused (the bytes are put back). */
static void check_every_damage(unsigned char *buf, size_t len) {
    bp_err e;
    int refused = 0;
    for (size_t n = 0; n < len; n++) {
        bp_net *d = bp_net_decode(buf, n, "f", &e);
        refused += d == NULL;
        bp_net_free(d);
    }
    CHECK(refused == (int)len);
    refused = 0;
    for (size_t k = 0; k < len; k++) {
        buf[k] ^= 0x10;
        bp_net *d = bp_net_decode(buf, len, "f", &e);
        refused += d == NULL;
        bp_net_free(d);
        buf[k] ^= 0x10;
    }
    CHECK(refused == (int)len);
}

static void test_every_damage_is_refused(void) {
    bp_err e;
    bp_net *net = make(BP_F32, 3);
    unsigned char *buf;
    size_t len;
    CHECK(bp_net_encode(net, &buf, &len, &e) == 0);
    check_every_damage(buf, len);
    bp_net *d = bp_net_decode(buf, 10, "f", &e);
    CHECK_STR(e.msg, "f: not a backprop network file");
    d = bp_net_decode(buf, 40, "f", &e);
    CHECK_STR(e.msg, "f: truncated: 40 bytes, the layers alone need 72");
    d = bp_net_decode(buf, len - 1, "f", &e);
    char want[128];
    snprintf(want, sizeof want, "f: truncated: %zu bytes, the network needs %zu", len - 1,
             len);
    CHECK_STR(e.msg, want);
    buf[len - 10] ^= 1;
    CHECK(bp_net_decode(buf, len, "f", &e) == NULL);
    CHECK_STR(e.msg, "f: corrupt: checksum mismatch");
    buf[len - 10] ^= 1;
    /* a newer version */
    buf[8] = 4;
    CHECK(bp_net_decode(buf, len, "f", &e) == NULL);
    CHECK_STR(e.msg, "f: network file version 4 is newer than this backprop reads (3); "
                     "upgrade backprop");
    buf[8] = 1;
    /* trailing bytes */
    unsigned char *more = malloc(len + 3);
    memcpy(more, buf, len);
    memset(more + len, 0, 3);
    CHECK(bp_net_decode(more, len + 3, "f", &e) == NULL);
    CHECK_STR(e.msg, "f: 3 bytes after the end of the network");
    /* a huge layer in a header whose checksum is fixed up: refused before
     * anything is allocated */
    buf[24] = 0;
    buf[25] = 0;
    buf[26] = 0;
    buf[27] = 2; /* 2^25 outputs */
    CHECK(bp_net_decode(buf, len, "f", &e) == NULL);
    CHECK_STR(e.msg, "f: corrupt: layer 1 has 33554432 outputs");
    d = bp_net_decode(buf, len, "f", &e);
    CHECK(d == NULL);
    /* the intact bytes still decode */
    bp_free(buf);
    CHECK(bp_net_encode(net, &buf, &len, &e) == 0);
    d = bp_net_decode(buf, len, "f", &e);
    CHECK(d != NULL);
    bp_net_free(d);
    free(more);
    bp_free(buf);
    bp_net_free(net);
}

static void test_files(void) {
    bp_err e;
    CHECK(bp_net_load("/nonexistent/net.bpn", &e) == NULL);
    CHECK_STR(e.msg, "cannot open /nonexistent/net.bpn: No such file or directory");
    bp_net *net = make(BP_F64, 1);
    CHECK(bp_net_save(net, "/nonexistent/net.bpn", &e) == -1);
    CHECK_STR(e.msg, "cannot write /nonexistent/net.bpn: No such file or directory");
    char path[] = "/tmp/bp_notnetXXXXXX";
    int fd = mkstemp(path);
    CHECK(write(fd, "hello, world\n", 13) == 13);
    close(fd);
    CHECK(bp_net_load(path, &e) == NULL);
    char want[96];
    snprintf(want, sizeof want, "%s: not a backprop network file", path);
    CHECK_STR(e.msg, want);
    remove(path);
    bp_net_free(net);
}

/* What is not a network file is refused for what it is, before it is read
 * whole: a device, a directory or a FIFO (which must not block), and a
 * large file whose first bytes are not a network's (issue 19: /dev/zero
 * was read up to 16 GB; a file was read whole before its header was
 * looked at). A header announcing more than the file holds is refused
 * before the rest is allocated. */
static void test_what_is_not_a_network_file(void) {
    bp_err e;
    char want[256];
    CHECK(bp_net_load("/dev/zero", &e) == NULL);
    CHECK_STR(e.msg, "/dev/zero: not a regular file (a character device)");
    CHECK(bp_net_load("/tmp", &e) == NULL);
    CHECK_STR(e.msg, "/tmp: not a regular file (a directory)");
    char fifo[] = "/tmp/bp_fifoXXXXXX";
    int fd = mkstemp(fifo);
    close(fd);
    remove(fifo);
    CHECK(mkfifo(fifo, 0600) == 0);
    CHECK(bp_net_load(fifo, &e) == NULL);
    snprintf(want, sizeof want, "%s: not a regular file (a FIFO)", fifo);
    CHECK_STR(e.msg, want);
    remove(fifo);

    bp_set_allocator(check_track_malloc, check_track_calloc, check_track_realloc, free);
    char big[] = "/tmp/bp_bigXXXXXX";
    fd = mkstemp(big);
    CHECK(ftruncate(fd, (off_t)1 << 30) == 0); /* 1 GB of zeros, sparse */
    close(fd);
    *check_largest() = 0;
    CHECK(bp_net_load(big, &e) == NULL);
    snprintf(want, sizeof want, "%s: not a backprop network file", big);
    CHECK_STR(e.msg, want);
    CHECK(*check_largest() <= 65536 + 24);
    /* A true header and layer announcing 1000 x 1000 weights in 44 bytes. */
    bp_net *one = bp_net_new(1000, &e);
    bp_net_add(one, 1000, BP_ACT_RELU, 0, &e);
    unsigned char *buf;
    size_t len;
    CHECK(bp_net_encode(one, &buf, &len, &e) == 0);
    fd = open(big, O_WRONLY | O_TRUNC);
    CHECK(write(fd, buf, 40) == 40 && write(fd, buf + len - 4, 4) == 4);
    close(fd);
    *check_largest() = 0;
    CHECK(bp_net_load(big, &e) == NULL);
    snprintf(want, sizeof want, "%s: truncated: 44 bytes, the network needs %zu", big,
             len);
    CHECK_STR(e.msg, want);
    CHECK(*check_largest() < 1024);
    bp_set_allocator(NULL, NULL, NULL, NULL);
    bp_free(buf);
    bp_net_free(one);
    remove(big);
}

/* ------------------------------------------------------------------------
 * Version 2: graphs. Three networks hold every module kind between them: an
 * image net (conv2d, batchnorm2d, relu, maxpool2d, avgpool2d, flatten,
 * linear, batchnorm1d, dropout, a residual add, a concat of two branches,
 * reshape, a linear without bias, leaky_relu) and a sequence net
 * (embedding, a two-layer lstm, linear), and a GPT's ops (embedding,
 * position, attention, add, linear). Each is trained a few steps first,
 * so batch norm's running statistics and counts are not their initial
 * values, and a round trip must give back every bit of every tensor and
 * the same forward, in training (the same dropout masks from the same
 * generator state) and in evaluation mode. */

static int opt_node(bp_op op, int x, bp_node_opts o) { return add(op, x, &o); }

static bp_net *image_net(bp_dtype t) {
    begin(t, 5);
    bp_node_opts o = bp_node_opts_default(BP_OP_INPUT);
    o.ndim = 3, o.shape[0] = 1, o.shape[1] = 6, o.shape[2] = 6;
    int x = add(BP_OP_INPUT, 0, &o);
    o = bp_node_opts_default(BP_OP_CONV2D);
    o.name = "conv1", o.in = 1, o.out = 2, o.kh = o.kw = 3, o.ph = o.pw = 1, o.rng = &R;
    x = add(BP_OP_CONV2D, x, &o);
    o = bp_node_opts_default(BP_OP_BATCHNORM2D);
    o.name = "bn2", o.in = 2, o.momentum = 0.3;
    x = add(BP_OP_BATCHNORM2D, x, &o);
    x = opt_node(BP_OP_ACT, x, (bp_node_opts){.act = BP_ACT_RELU});
    o = bp_node_opts_default(BP_OP_MAXPOOL2D);
    o.kh = o.kw = o.sh = o.sw = 2;
    x = add(BP_OP_MAXPOOL2D, x, &o);
    o = bp_node_opts_default(BP_OP_AVGPOOL2D);
    o.kh = o.kw = 3, o.ph = o.pw = 1;
    x = add(BP_OP_AVGPOOL2D, x, &o);
    x = add(BP_OP_FLATTEN, x, NULL);
    o = bp_node_opts_default(BP_OP_LINEAR);
    o.name = "fc", o.in = 18, o.out = 6, o.rng = &R;
    x = add(BP_OP_LINEAR, x, &o);
    o = bp_node_opts_default(BP_OP_BATCHNORM1D);
    o.name = "bn1", o.in = 6, o.eps = 1e-3;
    x = add(BP_OP_BATCHNORM1D, x, &o);
    o = bp_node_opts_default(BP_OP_DROPOUT);
    o.p = 0.25;
    x = add(BP_OP_DROPOUT, x, &o);
    o = bp_node_opts_default(BP_OP_LINEAR);
    o.in = 6, o.out = 6, o.rng = &R;
    int a = add(BP_OP_LINEAR, x, &o);
    int b = opt_node(BP_OP_ACT, x, (bp_node_opts){.act = BP_ACT_TANH});
    int two[2] = {a, b};
    int res = bp_graph_add(G, BP_OP_ADD, two, 2, &(bp_node_opts){.name = "res"}, &E);
    o.out = 3;
    two[0] = add(BP_OP_LINEAR, res, &o);
    o.out = 2;
    two[1] = add(BP_OP_LINEAR, res, &o);
    x = bp_graph_add(G, BP_OP_CONCAT, two, 2, NULL, &E);
    o = bp_node_opts_default(BP_OP_RESHAPE);
    o.ndim = 2, o.shape[0] = 1, o.shape[1] = 5;
    x = add(BP_OP_RESHAPE, x, &o);
    o = bp_node_opts_default(BP_OP_LINEAR);
    o.in = 5, o.out = 4, o.no_bias = 1, o.rng = &R;
    x = add(BP_OP_LINEAR, x, &o);
    x = opt_node(BP_OP_ACT, x, (bp_node_opts){.act = BP_ACT_LEAKY_RELU, .alpha = 0.2});
    return as_net(x);
}

static bp_net *seq_net(bp_dtype t) {
    begin(t, 6);
    bp_node_opts o = bp_node_opts_default(BP_OP_INPUT);
    o.ndim = 1, o.shape[0] = 4;
    int x = add(BP_OP_INPUT, 0, &o);
    o = bp_node_opts_default(BP_OP_EMBEDDING);
    o.name = "emb", o.in = 7, o.out = 3, o.rng = &R;
    x = add(BP_OP_EMBEDDING, x, &o);
    o = bp_node_opts_default(BP_OP_LSTM);
    o.name = "lstm", o.in = 3, o.out = 5, o.layers = 2, o.rng = &R;
    x = add(BP_OP_LSTM, x, &o);
    o = bp_node_opts_default(BP_OP_LINEAR);
    o.in = 5, o.out = 7, o.rng = &R;
    return as_net(add(BP_OP_LINEAR, x, &o));
}

/* ids (4) -> embedding -> position (block 6) -> attention (2 heads, the
 * causal mask off, block 5) -> a residual add -> linear to 7: the ops of a
 * GPT, with an attention's options past the 96 bytes of every record. */
static bp_net *gpt_net(bp_dtype t) {
    begin(t, 7);
    bp_node_opts o = bp_node_opts_default(BP_OP_INPUT);
    o.ndim = 1, o.shape[0] = 4;
    int x = add(BP_OP_INPUT, 0, &o);
    o = bp_node_opts_default(BP_OP_EMBEDDING);
    o.name = "wte", o.in = 7, o.out = 4, o.rng = &R;
    x = add(BP_OP_EMBEDDING, x, &o);
    o = bp_node_opts_default(BP_OP_POSITION);
    o.name = "wpe", o.in = 6, o.out = 4, o.rng = &R;
    x = add(BP_OP_POSITION, x, &o);
    o = bp_node_opts_default(BP_OP_ATTENTION);
    o.name = "attn", o.in = 4, o.heads = 2, o.causal = 0, o.block = 5, o.rng = &R;
    int a = add(BP_OP_ATTENTION, x, &o);
    int two[2] = {x, a};
    x = bp_graph_add(G, BP_OP_ADD, two, 2, NULL, &E);
    o = bp_node_opts_default(BP_OP_LINEAR);
    o.in = 4, o.out = 7, o.rng = &R;
    return as_net(add(BP_OP_LINEAR, x, &o));
}

/* Every value of a and b to the bit, and the same list of names and shapes. */
static int same_tensors(const bp_net *a, const bp_net *b) {
    int na, nb;
    const bp_param *pa = bp_net_param_list(a, &na), *pb = bp_net_param_list(b, &nb);
    int same = na == nb && a->dtype == b->dtype;
    for (int k = 0; same && k < na; k++)
        same = !strcmp(pa[k].name, pb[k].name) && pa[k].ndim == pb[k].ndim &&
               !memcmp(pa[k].shape, pb[k].shape, sizeof pa[k].shape) &&
               pa[k].trainable == pb[k].trainable && pa[k].count == pb[k].count &&
               !memcmp(pa[k].data, pb[k].data, pa[k].count * bp_dtype_size(a->dtype));
    return same;
}

/* The same output bits from a and b on x (B rows), each drawing its
 * dropout masks from a generator seeded alike. */
static int same_forward(bp_net *a, bp_net *b, const double *x, int B, int training) {
    bp_rng ra, rb;
    bp_rng_seed(&ra, 99);
    bp_rng_seed(&rb, 99);
    a->rng = &ra, b->rng = &rb;
    bp_net_set_training(a, training);
    bp_net_set_training(b, training);
    size_t n = (size_t)B * (size_t)bp_net_outputs(a);
    const double *ya = bp_net_forward(a, x, B, &E);
    double *keep = malloc(sizeof(double) * n);
    if (!ya || !keep) {
        free(keep);
        return 0;
    }
    memcpy(keep, ya, sizeof(double) * n);
    const double *yb = bp_net_forward(b, x, B, &E);
    int same = yb && !memcmp(keep, yb, sizeof(double) * n);
    free(keep);
    a->rng = b->rng = NULL;
    return same;
}

/* Trains net 3 steps on B rows of x (targets: zeros) with SGD. */
static void train(bp_net *net, const double *x, int B) {
    CHECK(B * bp_net_outputs(net) <= 3 * 4 * 7);
    double y[3 * 4 * 7] = {0}; /* the largest B x outputs of the two nets */
    bp_rng r;
    bp_rng_seed(&r, 3);
    net->rng = &r;
    for (int k = 0; k < 3; k++)
        CHECK(bp_net_train_step(net, x, y, B, BP_LOSS_MSE, 0.1, NULL, &E) == 0);
    net->rng = NULL;
}

static void check_graph_round_trip(bp_net *a, const double *x, int B) {
    train(a, x, B);
    CHECK(bp_net_set_note(a, "a host's\0note", 14, &E) == 0);
    unsigned char *buf;
    size_t len;
    CHECK(bp_net_encode(a, &buf, &len, &E) == 0);
    CHECK(buf[8] == 2);
    bp_net *b = bp_net_decode(buf, len, "g", &E);
    CHECK(b != NULL && bp_net_is_graph(b));
    if (!b) return;
    CHECK(same_tensors(a, b));
    CHECK(b->note_len == 14 && !memcmp(b->note, "a host's\0note", 14));
    CHECK(bp_graph_nodes(a->graph) == bp_graph_nodes(b->graph));
    for (int id = 0; id < bp_graph_nodes(a->graph); id++) {
        CHECK_STR(bp_graph_node_name(b->graph, id), bp_graph_node_name(a->graph, id));
        const bp_node_opts *oa = bp_graph_node_opts(a->graph, id),
                           *ob = bp_graph_node_opts(b->graph, id);
        if (bp_graph_node_op(a->graph, id) == BP_OP_ATTENTION)
            CHECK(oa->heads == ob->heads && oa->causal == ob->causal &&
                  oa->block == ob->block);
    }
    /* the file of the loaded net is the file it came from */
    unsigned char *again;
    size_t n;
    CHECK(bp_net_encode(b, &again, &n, &E) == 0);
    CHECK(n == len && !memcmp(again, buf, len));
    bp_free(again);
    /* (a forward in training moves batch norm's running statistics: last) */
    CHECK(same_forward(a, b, x, B, 1));
    CHECK(same_forward(a, b, x, B, 0));
    /* and through a file on disk */
    char path[] = "/tmp/bp_graphXXXXXX";
    int fd = mkstemp(path);
    close(fd);
    CHECK(bp_net_save(a, path, &E) == 0);
    bp_net *c = bp_net_load(path, &E);
    CHECK(c != NULL && same_tensors(a, c));
    remove(path);
    bp_net_free(c);
    bp_net_free(b);
    bp_free(buf);
    bp_net_free(a);
}

static void test_graph_round_trip(bp_dtype t) {
    double img[3 * 36], ids[3 * 4];
    for (int k = 0; k < 3 * 36; k++) img[k] = sin(0.37 * k);
    for (int k = 0; k < 3 * 4; k++) ids[k] = 1 + (k * 5) % 7;
    check_graph_round_trip(image_net(t), img, 3);
    check_graph_round_trip(seq_net(t), ids, 3);
    check_graph_round_trip(gpt_net(t), ids, 3);
}

/* The last 4 bytes of buf[0..len) set to the CRC of the rest. */
static void fix_crc(unsigned char *buf, size_t len) {
    uLong crc = crc32(0L, buf, (uInt)(len - 4));
    for (int k = 0; k < 4; k++) buf[len - 4 + k] = (unsigned char)(crc >> (8 * k));
}

/* A version 2 file's damage: every prefix and every flipped byte refused
 * (the checksum), and behind a fixed checksum the messages of what the
 * modules say: an unknown op, a cycle, a bad option, more values than the
 * file holds, trailing bytes. (Version 3, a graph with a Lua module:
 * test_save_host.c.) */
static void test_graph_damage(void) {
    bp_net *net = seq_net(BP_F32);
    unsigned char *buf;
    size_t len;
    CHECK(bp_net_encode(net, &buf, &len, &E) == 0);
    check_every_damage(buf, len);
    bp_net_decode(buf, len - 1, "f", &E);
    char want[160];
    snprintf(want, sizeof want, "f: truncated: %zu bytes, the network needs %zu", len - 1,
             len);
    CHECK_STR(E.msg, want);
    /* node 1 (emb): op at 40 + 44 (the input's record: 12 + 5 + 0 + 96 = 113) */
    size_t emb = 40 + 113;
    CHECK(buf[emb] == BP_OP_EMBEDDING && buf[emb + 4] == 3 && !memcmp(buf + emb + 8, "emb", 3));
    buf[emb] = 200;
    fix_crc(buf, len);
    CHECK(bp_net_decode(buf, len, "f", &E) == NULL);
    CHECK_STR(E.msg, "f: corrupt: module 1 has op code 200");
    buf[emb] = BP_OP_EMBEDDING;
    /* emb's one input made the lstm (id 2): a cycle */
    size_t in = emb + 8 + 3 + 4;
    CHECK(buf[in] == 0);
    buf[in] = 2;
    fix_crc(buf, len);
    CHECK(bp_net_decode(buf, len, "f", &E) == NULL);
    CHECK_STR(E.msg, "f: the graph has a cycle: lstm (module 'lstm') is its own input, "
                     "through module 'emb'");
    buf[in] = 0;
    /* emb's V (options: in at offset 20) made 0, then 2^30 */
    size_t V = in + 4 + 20;
    CHECK(buf[V] == 7);
    buf[V] = 0;
    fix_crc(buf, len);
    CHECK(bp_net_decode(buf, len, "f", &E) == NULL);
    CHECK_STR(E.msg,
              "f: embedding (module 'emb'): needs V >= 1 ids and D >= 1 values (got 0 and 3)");
    buf[V + 3] = 0x40;
    fix_crc(buf, len);
    CHECK(bp_net_decode(buf, len, "f", &E) == NULL);
    snprintf(want, sizeof want,
             "f: corrupt: module 'emb' needs more values than the file's %zu",
             bp_net_param_count(net));
    CHECK_STR(E.msg, want);
    buf[V] = 7, buf[V + 3] = 0;
    fix_crc(buf, len);
    bp_net *d = bp_net_decode(buf, len, "f", &E);
    CHECK(d != NULL && same_tensors(net, d));
    bp_net_free(d);
    unsigned char *more = malloc(len + 2);
    memcpy(more, buf, len);
    more[len] = more[len + 1] = 0;
    CHECK(bp_net_decode(more, len + 2, "f", &E) == NULL);
    CHECK_STR(E.msg, "f: 2 bytes after the end of the network");
    free(more);
    bp_free(buf);
    bp_net_free(net);
}

int main(void) {
    test_format_by_hand();
    test_round_trip(BP_F64);
    test_round_trip(BP_F32);
    test_every_damage_is_refused();
    test_files();
    test_what_is_not_a_network_file();
    test_graph_round_trip(BP_F64);
    test_graph_round_trip(BP_F32);
    test_graph_damage();
    return check_report("test_save");
}
