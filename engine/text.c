/* text.c: a text corpus as ids (bp_text.h): reading files and directories,
 * the vocabulary, encoding, and batches of sequences into a data set.
 *
 * Built in two passes so that the ids do not depend on the order tokens
 * are met: every token's value (a byte, or a UTF-8 character's code point)
 * is decoded first, file by file (so a decoding error names its file),
 * then the distinct values sorted are the vocabulary and each value's id
 * its place there (a table of 256 for bytes, a binary search for code
 * points). A batch reads the ids where they lie and writes them into the
 * data set's rows, in its dtype.
 *
 * n = ids, V = vocabulary, B = sequences a batch, T = steps (bp_text.h). */
#define _POSIX_C_SOURCE 200809L /* dirent's d_type is not needed: stat */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bp_alloc.h"
#include "bp_text.h"
#include "bp_util.h"

struct bp_text {
    int utf8, V;
    uint32_t *vocab;   /* V token values in order: id k is vocab[k - 1] */
    char (*tok)[5];    /* V tokens as bytes (UTF-8 encoded), NUL-ended */
    unsigned char *tok_len;
    int32_t *ids;      /* n ids 1..V */
    size_t n, n_train;
};

/* ------------------------------------------------------------------------ */
/* Reading                                                                   */

/* Values decoded so far (a growing array). */
typedef struct values {
    uint32_t *v;
    size_t n, cap;
} values;

static int push(values *a, uint32_t x) {
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 1 << 16;
        uint32_t *v = bp_realloc(a->v, cap * sizeof *v);
        if (!v) return -1;
        a->v = v, a->cap = cap;
    }
    a->v[a->n++] = x;
    return 0;
}

/* The length of the UTF-8 sequence at s (at most left bytes) and its code
 * point in *cp; 0 when it is not valid UTF-8 (overlong forms, surrogates
 * and values past U+10FFFF included). */
static int utf8_decode(const unsigned char *s, size_t left, uint32_t *cp) {
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    int k = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3
                            : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (!k || (size_t)k > left) return 0;
    uint32_t c = k == 1 ? s[0] : s[0] & (0x7f >> k);
    for (int j = 1; j < k; j++) {
        if ((s[j] & 0xc0) != 0x80) return 0;
        c = c << 6 | (s[j] & 0x3f);
    }
    if (c < min[k] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0;
    *cp = c;
    return k;
}

/* One file's tokens appended to a. */
static int read_one(values *a, const char *path, int utf8, bp_err *e) {
    size_t len;
    char *buf = bp_read_file(path, &len, e);
    if (!buf) return -1;
    int rc = 0;
    const unsigned char *s = (const unsigned char *)buf;
    for (size_t at = 0; at < len && rc == 0;) {
        uint32_t cp = s[at];
        int k = utf8 ? utf8_decode(s + at, len - at, &cp) : 1;
        if (!k) rc = bp_err_set(e, "%s: byte %zu is not UTF-8", path, at + 1);
        else if (push(a, cp)) rc = bp_err_set(e, "out of memory reading %s", path);
        at += (size_t)k;
    }
    bp_free(buf);
    return rc;
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A directory's regular files without a '.' in their names, sorted. */
static int read_dir(values *a, const char *dir, int utf8, bp_err *e) {
    DIR *d = opendir(dir);
    if (!d) return bp_err_set(e, "cannot open %s", dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (struct dirent *de; rc == 0 && (de = readdir(d)) != NULL;) {
        if (strchr(de->d_name, '.')) continue;
        size_t len = strlen(dir) + strlen(de->d_name) + 2;
        char *path = bp_malloc(len), **grown = names;
        if (path) snprintf(path, len, "%s/%s", dir, de->d_name);
        struct stat st;
        if (path && (stat(path, &st) != 0 || !S_ISREG(st.st_mode))) {
            bp_free(path); /* a subdirectory, a broken link: not text */
            continue;
        }
        if (path && n == cap) grown = bp_realloc(names, (cap ? 2 * cap : 64) * sizeof *names);
        if (!path || !grown) {
            bp_free(path);
            rc = bp_err_set(e, "out of memory listing %s", dir);
            break;
        }
        if (n == cap) names = grown, cap = cap ? 2 * cap : 64;
        names[n++] = path;
    }
    closedir(d);
    if (rc == 0 && n == 0)
        rc = bp_err_set(e, "%s: no file without an extension in the directory", dir);
    if (rc == 0) qsort(names, n, sizeof *names, by_name);
    for (size_t k = 0; k < n; k++) {
        if (rc == 0) rc = read_one(a, names[k], utf8, e);
        bp_free(names[k]);
    }
    bp_free(names);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The vocabulary                                                            */

static int by_value(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Token value v as its bytes (UTF-8 when utf8), into out (5 bytes). */
static int encode_value(char *out, uint32_t v, int utf8) {
    int k = !utf8 || v < 0x80 ? 1 : v < 0x800 ? 2 : v < 0x10000 ? 3 : 4;
    if (k == 1) out[0] = (char)v;
    else {
        for (int j = k - 1; j > 0; j--, v >>= 6) out[j] = (char)(0x80 | (v & 0x3f));
        out[0] = (char)((0xf00u >> k) | v);
    }
    out[k] = 0;
    return k;
}

/* Id of value v (1..V), 0 when it is not in the vocabulary. */
static int id_of(const bp_text *t, uint32_t v) {
    size_t lo = 0, hi = (size_t)t->V;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (t->vocab[mid] < v) lo = mid + 1;
        else hi = mid;
    }
    return lo < (size_t)t->V && t->vocab[lo] == v ? (int)lo + 1 : 0;
}

/* The sorted distinct values of a as the vocabulary, and every value's id. */
static int make_vocab(bp_text *t, const values *a) {
    uint32_t *sorted = bp_malloc(a->n * sizeof *sorted);
    if (!sorted) return -1;
    memcpy(sorted, a->v, a->n * sizeof *sorted);
    qsort(sorted, a->n, sizeof *sorted, by_value);
    size_t V = 0;
    for (size_t k = 0; k < a->n; k++)
        if (k == 0 || sorted[k] != sorted[V - 1]) sorted[V++] = sorted[k];
    t->V = (int)V;
    t->vocab = sorted;
    t->tok = bp_malloc(V * sizeof *t->tok);
    t->tok_len = bp_malloc(V);
    t->ids = bp_malloc(a->n * sizeof *t->ids);
    if (!t->tok || !t->tok_len || !t->ids) return -1;
    for (size_t k = 0; k < V; k++)
        t->tok_len[k] = (unsigned char)encode_value(t->tok[k], sorted[k], t->utf8);
    int byte_id[256] = {0};
    for (size_t k = 0; !t->utf8 && k < V; k++) byte_id[sorted[k]] = (int)k + 1;
    for (size_t k = 0; k < a->n; k++)
        t->ids[k] = t->utf8 ? id_of(t, a->v[k]) : byte_id[a->v[k]];
    t->n = a->n;
    return 0;
}

bp_text *bp_text_load(const char *const *paths, int n_paths, int utf8, double val,
                      bp_err *e) {
    bp_text *t = NULL;
    values a = {0};
    if (!(val >= 0 && val < 1)) {
        bp_err_set(e, "the validation fraction must be in [0, 1) (got %g)", val);
        goto end;
    }
    for (int k = 0; k < n_paths; k++) {
        struct stat st;
        int dir = stat(paths[k], &st) == 0 && S_ISDIR(st.st_mode);
        if (dir ? read_dir(&a, paths[k], utf8, e) : read_one(&a, paths[k], utf8, e))
            goto end;
    }
    if (a.n == 0) {
        bp_err_set(e, "the corpus is empty (0 %s)", utf8 ? "characters" : "bytes");
        goto end;
    }
    if (a.n > INT32_MAX) {
        bp_err_set(e, "the corpus has %zu tokens, more than 2^31", a.n);
        goto end;
    }
    t = bp_calloc(1, sizeof *t);
    if (t) t->utf8 = utf8 != 0;
    if (!t || make_vocab(t, &a)) {
        bp_text_free(t);
        t = NULL;
        bp_err_set(e, "out of memory for a corpus of %zu tokens", a.n);
        goto end;
    }
    t->n_train = (size_t)floor((double)t->n * (1 - val));
end:
    bp_free(a.v);
    return t;
}

void bp_text_free(bp_text *t) {
    if (!t) return;
    bp_free(t->vocab);
    bp_free(t->tok);
    bp_free(t->tok_len);
    bp_free(t->ids);
    bp_free(t);
}

int bp_text_vocab(const bp_text *t) { return t->V; }
int bp_text_utf8(const bp_text *t) { return t->utf8; }
const int32_t *bp_text_ids(const bp_text *t) { return t->ids; }

size_t bp_text_length(const bp_text *t, int part) {
    return part == BP_TEXT_TRAIN ? t->n_train : part == BP_TEXT_VAL ? t->n - t->n_train : t->n;
}

const char *bp_text_token(const bp_text *t, int id, size_t *len) {
    if (id < 1 || id > t->V) return NULL;
    *len = t->tok_len[id - 1];
    return t->tok[id - 1];
}

long bp_text_encode(const bp_text *t, const char *s, size_t len, int32_t *ids, bp_err *e) {
    const unsigned char *u = (const unsigned char *)s;
    long n = 0;
    for (size_t at = 0; at < len;) {
        uint32_t cp = u[at];
        int k = t->utf8 ? utf8_decode(u + at, len - at, &cp) : 1;
        if (!k) return bp_err_set(e, "byte %zu is not UTF-8", at + 1);
        int id = id_of(t, cp);
        if (!id) {
            char shown[8];
            if (k == 1 && (cp < 0x20 || cp >= 0x7f)) snprintf(shown, sizeof shown, "\\x%02X", cp);
            else memcpy(shown, s + at, (size_t)k), shown[k] = 0;
            return bp_err_set(e, "the character '%s' at byte %zu is not in the vocabulary",
                              shown, at + 1);
        }
        ids[n++] = id;
        at += (size_t)k;
    }
    return n;
}

/* ------------------------------------------------------------------------ */
/* Batches                                                                   */

static const char *part_name(bp_text_part part) {
    return part == BP_TEXT_TRAIN ? "training" : "validation";
}

long bp_text_batches(const bp_text *t, bp_text_part part, int B, int T) {
    size_t n = bp_text_length(t, part);
    if (B < 1 || T < 1 || n < 2) return 0;
    return (long)((n - 1) / (size_t)B / (size_t)T);
}

int bp_text_batch(const bp_text *t, bp_data *d, bp_text_part part, long index, bp_rng *r,
                  bp_err *e) {
    const int B = d->n, T = d->d;
    if (d->k != T || B < 1 || T < 1)
        return bp_err_set(e, "a batch needs a data set of B rows of T inputs and T targets "
                             "(got %d x %d and %d)", B, T, d->k);
    size_t n = bp_text_length(t, part), L = (n - 1) / (size_t)B;
    const int32_t *ids = t->ids + (part == BP_TEXT_VAL ? t->n_train : 0);
    if (n < (size_t)T + 1)
        return bp_err_set(e, "the %s part has %zu ids, fewer than a sequence of %d and "
                             "its target", part_name(part), n, T);
    long count = bp_text_batches(t, part, B, T);
    if (index >= count)
        return bp_err_set(e, "batch %ld of the %s part, which has %ld of %d x %d", index + 1,
                          part_name(part), count, B, T);
    for (int b = 0; b < B; b++) {
        size_t o = index < 0 ? (size_t)bp_rng_below(r, n - (size_t)T)
                             : (size_t)b * L + (size_t)index * T;
        for (int s = 0; s < T; s++) {
            size_t k = (size_t)b * T + s;
            if (d->dtype == BP_F32) d->x32[k] = (float)ids[o + s];
            else d->x[k] = ids[o + s];
            d->y[k] = ids[o + s + 1];
        }
    }
    return 0;
}
