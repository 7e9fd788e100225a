/* fuzz_model.c: the network file reader, bp_net_decode and bp_net_load
 * (engine/bp_save.h).
 *
 * Input: a flags byte, then the file. A file whose CRC-32 is wrong is
 * refused before anything else is read, and the fuzzer would seldom get
 * past it; so with flag 1 the last 4 bytes are rewritten to the CRC of the
 * rest, and the parser behind the checksum is fuzzed. Flag 2 also reads
 * the bytes through bp_net_load from an in-memory file. Besides memory
 * errors, the contract is checked: a network that decodes encodes back to
 * the very same bytes, and it runs a forward pass. */
#include "input.h"

#include <stdlib.h>

#include <zlib.h>

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
    EXPECT(net->n_layers >= 1 && net->n_layers <= 4096 && net->inputs >= 1);
    unsigned char *again;
    size_t n;
    bp_err e;
    if (bp_net_encode(net, &again, &n, &e) == 0) {
        /* The same bytes, but for the payload of a NaN parameter: a
         * signalling NaN comes back quiet (reported, see fuzz/README.md),
         * and then the checksum differs too. */
        size_t at = 24 + 16 * (size_t)net->n_layers, z = net->dtype == BP_F32 ? 4 : 8;
        size_t N = bp_net_param_count(net), end = at + N * z;
        EXPECT(n == len && end + 4 == len && !memcmp(again, file, at));
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    unsigned flags = data[0];
    size_t len = size - 1;
    unsigned char *file = malloc(len ? len : 1);
    if (!file) return 0;
    memcpy(file, data + 1, len);
    if ((flags & 1) && len >= 4) {
        uLong crc = crc32(0L, file, (uInt)(len - 4));
        for (int k = 0; k < 4; k++) file[len - 4 + k] = (unsigned char)(crc >> (8 * k));
    }
    bp_err e = {{0}};
    bp_net *net = bp_net_decode(file, len, "model.bpn", &e);
    if (net) {
        check_net(net, file, len);
        bp_net_free(net);
    } else {
        EXPECT(!strncmp(e.msg, "model.bpn", 9));
    }
    if (flags & 2) {
        const char *path = fz_file(0, file, len);
        bp_net *again = path ? bp_net_load(path, &e) : NULL;
        EXPECT(!path || (again != NULL) == (net != NULL));
        bp_net_free(again);
    }
    free(file);
    return 0;
}
