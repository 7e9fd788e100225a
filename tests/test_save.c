/* test_save.c: network files (engine/save.c).
 *
 * The format is pinned byte by byte on a one-weight network written out by
 * hand here; round trips are exact for float64 and float32; and every way a
 * file can be wrong (each truncation, each flipped byte, a newer version,
 * another kind of file, trailing bytes) gives its message, never a crash;
 * what is not a regular file, or announces more than it holds, is refused
 * before it is read whole. */
#define _XOPEN_SOURCE 700
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <zlib.h>

#include "bp_save.h"
#include "check.h"

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

static void test_every_damage_is_refused(void) {
    bp_err e;
    bp_net *net = make(BP_F32, 3);
    unsigned char *buf;
    size_t len;
    CHECK(bp_net_encode(net, &buf, &len, &e) == 0);
    /* every prefix */
    int refused = 0;
    for (size_t n = 0; n < len; n++) {
        bp_net *d = bp_net_decode(buf, n, "f", &e);
        refused += d == NULL;
        bp_net_free(d);
    }
    CHECK(refused == (int)len);
    bp_net *d = bp_net_decode(buf, 10, "f", &e);
    CHECK_STR(e.msg, "f: not a backprop network file");
    d = bp_net_decode(buf, 40, "f", &e);
    CHECK_STR(e.msg, "f: truncated: 40 bytes, the layers alone need 72");
    d = bp_net_decode(buf, len - 1, "f", &e);
    char want[128];
    snprintf(want, sizeof want, "f: truncated: %zu bytes, the network needs %zu", len - 1,
             len);
    CHECK_STR(e.msg, want);
    /* every single flipped bit of every byte */
    refused = 0;
    for (size_t k = 0; k < len; k++) {
        buf[k] ^= 0x10;
        d = bp_net_decode(buf, len, "f", &e);
        refused += d == NULL;
        bp_net_free(d);
        buf[k] ^= 0x10;
    }
    CHECK(refused == (int)len);
    buf[len - 10] ^= 1;
    CHECK(bp_net_decode(buf, len, "f", &e) == NULL);
    CHECK_STR(e.msg, "f: corrupt: checksum mismatch");
    buf[len - 10] ^= 1;
    /* a newer version */
    buf[8] = 2;
    CHECK(bp_net_decode(buf, len, "f", &e) == NULL);
    CHECK_STR(e.msg, "f: network file version 2 is newer than this backprop reads (1); "
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

int main(void) {
    test_format_by_hand();
    test_round_trip(BP_F64);
    test_round_trip(BP_F32);
    test_every_damage_is_refused();
    test_files();
    test_what_is_not_a_network_file();
    return check_report("test_save");
}
