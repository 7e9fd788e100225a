/* fuzz_csv.c: the CSV loader, bp_data_load_csv (engine/bp_data.h), and what
 * a script does next with the data set it returns: shuffle, split, slice,
 * scale, cut into batches.
 *
 * Input: a flags byte (the delimiter, classify, whether a target column is
 * named), the target's name if so (length-prefixed), then the file's bytes,
 * handed to the loader through an in-memory file (input.h). Besides memory
 * errors, the contract is checked: an error starts with the path, a data
 * set has n >= 1 rows of finite inputs, labels in 0..C-1 whose one-hot rows
 * are y, and distinct class names. */
#include "input.h"

#include <math.h>
#include <stdlib.h>

#include "bp_data.h"

#define EXPECT(cond)                                                                  \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "fuzz_csv.c:%d: contract broken: %s\n", __LINE__, #cond); \
            abort();                                                                  \
        }                                                                             \
    } while (0)

static void check_data(const bp_data *d, int classify) {
    EXPECT(d->n >= 1 && d->d >= 1 && d->k >= 1 && d->x && d->y);
    for (size_t j = 0; j < (size_t)d->n * d->d; j++) EXPECT(isfinite(d->x[j]));
    if (!classify) {
        EXPECT(d->k == 1 && !d->label && d->n_classes == 0);
        for (int r = 0; r < d->n; r++) EXPECT(isfinite(d->y[r]));
        return;
    }
    EXPECT(d->label && d->n_classes == d->k && d->classes);
    EXPECT(d->n_classes <= BP_DATA_MAX_CLASSES);
    for (int r = 0; r < d->n; r++) {
        EXPECT(d->label[r] >= 0 && d->label[r] < d->k);
        for (int c = 0; c < d->k; c++)
            EXPECT(d->y[(size_t)r * d->k + c] == (c == d->label[r]));
    }
    for (int c = 0; c < d->n_classes; c++) {
        EXPECT(d->classes[c]);
        for (int c2 = 0; c2 < c; c2++) EXPECT(strcmp(d->classes[c], d->classes[c2]));
    }
}

/* What a training script does with a loaded set; all must hold together. */
static void use_data(bp_data *d, fz *f) {
    bp_rng r;
    bp_rng_seed(&r, fz_byte(f));
    bp_err e;
    bp_data_shuffle(d, &r, &e);
    double ft = fz_byte(f) / 255.0, fv = (1 - ft) * (fz_byte(f) / 255.0);
    bp_data *tr, *va, *te;
    if (bp_data_split(d, ft, fv, &tr, &va, &te, &e) == 0) {
        EXPECT(tr->n + va->n + te->n == d->n);
        bp_scaler *s =
            bp_scaler_fit(tr, fz_pick(f, 2) ? BP_SCALE_MINMAX : BP_SCALE_STANDARD, &e);
        EXPECT(s || tr->n == 0);
        if (s) {
            EXPECT(bp_scaler_apply(s, tr, &e) == 0 && bp_scaler_apply(s, te, &e) == 0);
            bp_scaler_free(s);
        }
        const double *x, *y;
        const int *label;
        for (int at = 0, B;
             (B = bp_data_batch(tr, at, 1 + (int)fz_pick(f, 8), &x, &y, &label)) > 0;
             at += B)
            EXPECT(x == tr->x + (size_t)at * tr->d &&
                   (label == NULL) == (tr->label == NULL));
        bp_data_free(tr);
        bp_data_free(va);
        bp_data_free(te);
    }
    int start = (int)fz_pick(f, (unsigned)d->n + 1);
    bp_data *part =
        bp_data_slice(d, start, (int)fz_pick(f, (unsigned)(d->n - start) + 1), &e);
    EXPECT(part);
    if (part->label) EXPECT(bp_data_onehot(part, &e) == 0);
    bp_data_free(part);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char delims[] = ",;\t| :";
    fz f = {data, size};
    unsigned flags = fz_byte(&f);
    char delim = (flags & 7) < 6 ? delims[flags & 7] : (char)fz_byte(&f);
    int classify = (flags >> 3) & 1;
    char name[33];
    const char *target = flags & 16 ? fz_str(&f, name, sizeof name - 1) : NULL;
    /* The file: whatever follows, less the last 8 bytes, which steer use_data
     * (when there are more than 8). */
    size_t tail = f.n > 8 ? 8 : 0;
    const char *path = fz_file(0, f.p, f.n - tail);
    if (!path) return 0;
    fz rest = {f.p + f.n - tail, tail};
    bp_err e = {{0}};
    bp_data *d = bp_data_load_csv(path, target, delim, classify, &e);
    if (!d) {
        EXPECT(!strncmp(e.msg, path, strlen(path)));
        return 0;
    }
    check_data(d, classify);
    use_data(d, &rest);
    bp_data_free(d);
    return 0;
}
