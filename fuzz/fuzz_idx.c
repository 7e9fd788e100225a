/* fuzz_idx.c: the IDX loader, bp_data_load_idx (engine/bp_data.h), on an
 * images file and a labels file, each plain or gzip-compressed.
 *
 * Input: a flags byte (which of the two files to gzip, whether to cut or
 * corrupt the compressed images, the number of classes to ask for, the
 * inputs' dtype), a
 * 16-bit length of the images file, its bytes, then the labels file. The
 * fuzzer writes raw headers (the seeds show it valid ones); compressing
 * here, rather than asking it to find a gzip stream, is what reaches the
 * loader's gzip paths with both whole and broken streams. Besides memory
 * errors, the contract is checked: a data set has d = rows x cols pixels
 * in 0..255, labels inside the classes, one-hot targets and class names
 * "0", "1", .... */
#include "input.h"

#include <stdlib.h>

#include <zlib.h>

#include "bp_data.h"

#define EXPECT(cond)                                                                  \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "fuzz_idx.c:%d: contract broken: %s\n", __LINE__, #cond); \
            abort();                                                                  \
        }                                                                             \
    } while (0)

/* bytes gzip-compressed into a new buffer (*out_len bytes), or NULL. */
static unsigned char *gzip(const uint8_t *bytes, size_t len, size_t *out_len) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    size_t cap = deflateBound(&z, (uLong)len);
    unsigned char *out = malloc(cap);
    if (!out) {
        deflateEnd(&z);
        return NULL;
    }
    z.next_in = (Bytef *)bytes;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    *out_len = cap - z.avail_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}

/* Writes part to file slot, gzipped if asked; cut bytes off the end of the
 * compressed stream, or flip one of its bytes at `flip` (from the end). */
static const char *write_part(int slot, const uint8_t *p, size_t len, int gz, size_t cut,
                              size_t flip) {
    if (!gz) return fz_file(slot, p, len);
    size_t zlen;
    unsigned char *z = gzip(p, len, &zlen);
    if (!z) return NULL;
    if (flip && flip <= zlen) z[zlen - flip] ^= 0x5a;
    const char *path = fz_file(slot, z, cut < zlen ? zlen - cut : 0);
    free(z);
    return path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const int classes[8] = {0, 10, 1, 2, 1000, 1001, -1, 256};
    fz f = {data, size};
    unsigned flags = fz_byte(&f);
    unsigned damage = fz_byte(&f); /* low nibble: bytes cut, high: byte flipped */
    int n_classes = classes[(flags >> 4) & 7];
    size_t ilen = fz_u16(&f) % (f.n + 1);
    const uint8_t *images = f.p, *labels = f.p + ilen;
    size_t llen = f.n - ilen;
    const char *ip = write_part(0, images, ilen, flags & 1, flags & 4 ? damage & 15 : 0,
                                flags & 8 ? damage >> 4 : 0);
    const char *lp = write_part(1, labels, llen, flags & 2, 0, 0);
    if (!ip || !lp) return 0;
    bp_err e = {{0}};
    bp_dtype dtype = flags & 128 ? BP_F32 : BP_F64;
    bp_data *d = bp_data_load_idx(ip, lp, n_classes, dtype, &e);
    if (!d) {
        EXPECT(e.msg[0]);
        return 0;
    }
    EXPECT(n_classes >= 0 && n_classes <= BP_DATA_MAX_CLASSES);
    EXPECT(d->n >= 1 && d->d >= 1 && d->label && d->classes && d->dtype == dtype);
    EXPECT(d->k == d->n_classes && (n_classes == 0 || d->k == n_classes));
    /* The pixels are the bytes after the 16-byte header of a plain file. */
    EXPECT(ilen >= 16 + (size_t)d->n * d->d || (flags & 1));
    for (size_t j = 0; j < (size_t)d->n * d->d; j++) {
        double v = bp_data_get(d, j);
        EXPECT(v >= 0 && v <= 255 && v == (int)v);
    }
    if (!(flags & 1))
        for (size_t j = 0; j < (size_t)d->n * d->d; j++)
            EXPECT(bp_data_get(d, j) == images[16 + j]);
    for (int r = 0; r < d->n; r++) {
        EXPECT(d->label[r] >= 0 && d->label[r] < d->k);
        for (int c = 0; c < d->k; c++)
            EXPECT(d->y[(size_t)r * d->k + c] == (c == d->label[r]));
    }
    for (int c = 0; c < d->k; c++) {
        char num[16];
        snprintf(num, sizeof num, "%d", c);
        EXPECT(d->classes[c] && !strcmp(d->classes[c], num));
    }
    bp_scaler *s = bp_scaler_fixed(d->d, 0, 255, &e);
    EXPECT(s && bp_scaler_apply(s, d, &e) == 0);
    bp_scaler_free(s);
    bp_data_free(d);
    return 0;
}
