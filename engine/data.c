/* data.c: loading real data into flat C arrays, and preparing it for training.
 *
 * Everything a training loop touches per step is a row-major block of doubles
 * (or of floats, for float32 inputs: half the bytes read per epoch, and what a
 * float32 network computes in), so a mini-batch is a pointer and shuffling
 * swaps rows in place: no copy of the data set per epoch, no per-sample
 * allocation. Statistics and scaling go through doubles for both types. The
 * loaders are strict because a silently misread file (a shifted column, a
 * half-decompressed image file) trains a network that is wrong for reasons
 * nobody can see: every refusal names the file, and the line and column
 * when there is one.
 *
 * CSV files are read whole into one buffer and cut into cells in place, which
 * keeps the parser a few small loops; a load is a few steps (open, header,
 * room, rows, names), each its own function. IDX files go through zlib's gzread,
 * which also reads uncompressed files, so a file's first bytes decide, not
 * its name.
 *
 * Dimensions: n = samples, d = inputs, k = targets; B = batch, O = outputs. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "bp_alloc.h"
#include "bp_data.h"
#include "bp_util.h"

/* ------------------------------------------------------------------------ */
/* Making and freeing                                                        */

static char *dup_str(const char *s) {
    size_t len = strlen(s) + 1;
    char *copy = bp_malloc(len);
    if (copy) memcpy(copy, s, len);
    return copy;
}

static void free_strings(char **v, int count) {
    if (!v) return;
    for (int j = 0; j < count; j++) bp_free(v[j]);
    bp_free(v);
}

/* A copy of count strings, or NULL when out of memory; NULL in, NULL out
 * (which is not a failure: *ok says which). */
static char **dup_strings(char *const *v, int count, int *ok) {
    if (!v) return NULL;
    char **copy = bp_calloc((size_t)count ? (size_t)count : 1, sizeof *copy);
    if (!copy) {
        *ok = 0;
        return NULL;
    }
    for (int j = 0; j < count; j++)
        if (!(copy[j] = dup_str(v[j]))) {
            free_strings(copy, count);
            *ok = 0;
            return NULL;
        }
    return copy;
}

/* An empty data set has n = 0 but its arrays still point somewhere, so that
 * memcpy and friends never see NULL (UBSan rightly objects even at size 0). */
static void *alloc_zero(size_t count, size_t size) {
    return bp_calloc(count ? count : 1, size);
}

static bp_data *data_make(int n, int d, int k, int n_classes, bp_dtype dtype, void *x,
                          bp_err *e);

bp_data *bp_data_new(int n, int d, int k, int n_classes, bp_err *e) {
    return data_make(n, d, k, n_classes, BP_F64, NULL, e);
}

static bp_data *data_new(int n, int d, int k, int n_classes, bp_dtype dtype, bp_err *e) {
    return data_make(n, d, k, n_classes, dtype, NULL, e);
}

/* A data set of n rows; its inputs are x when given (n x d values of dtype,
 * from bp_malloc: taken on success, still the caller's on failure), else
 * zeros. */
static bp_data *data_make(int n, int d, int k, int n_classes, bp_dtype dtype, void *x,
                          bp_err *e) {
    if (n < 0 || d < 1 || k < 1) {
        bp_err_set(e,
                   "a data set needs n >= 0 samples, d >= 1 inputs and k >= 1 "
                   "targets (got %d, %d, %d)",
                   n, d, k);
        return NULL;
    }
    if (n_classes < 0 || (n_classes > 0 && k != n_classes)) {
        bp_err_set(e, "one-hot targets need k = n_classes (got k = %d, %d classes)", k,
                   n_classes);
        return NULL;
    }
    if ((size_t)n > SIZE_MAX / sizeof(double) / (size_t)(d > k ? d : k)) {
        bp_err_set(e, "a data set of %d x %d is too large", n, d);
        return NULL;
    }
    bp_data *data = bp_calloc(1, sizeof *data);
    if (!data) goto oom;
    data->n = n;
    data->d = d;
    data->k = k;
    data->n_classes = n_classes;
    data->dtype = dtype;
    data->y = alloc_zero((size_t)n * k, sizeof(double));
    if (n_classes > 0) data->label = alloc_zero((size_t)n, sizeof(int));
    if (!data->y || (n_classes > 0 && !data->label)) goto oom;
    void *inputs = x ? x : alloc_zero((size_t)n * d, bp_dtype_size(dtype));
    if (!inputs) goto oom;
    if (dtype == BP_F32) data->x32 = inputs;
    else data->x = inputs;
    return data;
oom:
    bp_data_free(data); /* x, if given, is not in it yet: still the caller's */
    bp_err_set(e, "out of memory for a data set of %d x %d", n, d);
    return NULL;
}

void bp_data_free(bp_data *data) {
    if (!data) return;
    bp_free(data->x);
    bp_free(data->x32);
    bp_free(data->y);
    bp_free(data->label);
    free_strings(data->names, data->d);
    bp_free(data->target);
    free_strings(data->classes, data->n_classes);
    bp_free(data);
}

int bp_data_set_dtype(bp_data *data, bp_dtype t, bp_err *e) {
    if ((unsigned)t >= BP_DTYPE_COUNT) return bp_err_set(e, "unknown dtype %d", (int)t);
    if (t == data->dtype) return 0;
    size_t N = (size_t)data->n * data->d;
    if (t == BP_F32) {
        float *x32 = alloc_zero(N, sizeof(float));
        if (!x32) return bp_err_set(e, "out of memory for %zu float32 inputs", N);
        for (size_t k = 0; k < N; k++) x32[k] = (float)data->x[k];
        bp_free(data->x);
        data->x = NULL;
        data->x32 = x32;
    } else {
        double *x = alloc_zero(N, sizeof(double));
        if (!x) return bp_err_set(e, "out of memory for %zu float64 inputs", N);
        for (size_t k = 0; k < N; k++) x[k] = data->x32[k];
        bp_free(data->x32);
        data->x32 = NULL;
        data->x = x;
    }
    data->dtype = t;
    return 0;
}

const void *bp_data_row(const bp_data *data, int r) {
    size_t at = (size_t)r * data->d;
    return data->dtype == BP_F32 ? (const void *)(data->x32 + at)
                                 : (const void *)(data->x + at);
}

double bp_data_get(const bp_data *data, size_t k) {
    return data->dtype == BP_F32 ? data->x32[k] : data->x[k];
}

static int copy_names(bp_data *dst, const bp_data *src, bp_err *e) {
    int ok = 1;
    dst->names = dup_strings(src->names, src->d, &ok);
    dst->classes = dup_strings(src->classes, src->n_classes, &ok);
    if (src->target && !(dst->target = dup_str(src->target))) ok = 0;
    return ok ? 0 : bp_err_set(e, "out of memory");
}

/* ------------------------------------------------------------------------ */
/* CSV                                                                       */

typedef struct csv {
    const char *path;
    char delim;
    char *buf;   /* the whole file, cut into lines and cells in place */
    int line;    /* number of the line last cut by next_line, from 1 */
    char *p;     /* start of the next line, NULL at the end */
    char **cell; /* the cells of the line last split */
    int count, cap;
    char **header; /* the header's ncol cells */
    int ncol, t;   /* t: the target's column */
    int rows;      /* the rows csv_alloc made room for */
    char **text;   /* a class label's text for each row, when classifying */
} csv;

static void csv_free(csv *c) {
    bp_free(c->text);
    bp_free(c->header);
    bp_free(c->cell);
    bp_free(c->buf);
}

/* Cuts the next line out of the buffer (in place, without its \n or \r\n);
 * NULL at the end. */
static char *next_line(csv *c) {
    char *s = c->p;
    if (!s) return NULL;
    char *nl = strchr(s, '\n');
    if (nl) {
        *nl = '\0';
        c->p = nl + 1;
    } else {
        c->p = NULL;
        if (*s == '\0') return NULL; /* the file ended with a newline */
    }
    size_t len = strlen(s);
    if (len && s[len - 1] == '\r') s[len - 1] = '\0';
    c->line++;
    return s;
}

static int is_blank(char ch, char delim) {
    return (ch == ' ' || ch == '\t') && ch != delim;
}

static int push_cell(csv *c, char *cell) {
    if (c->count == c->cap) {
        int cap = c->cap ? 2 * c->cap : 16;
        char **grown = bp_realloc(c->cell, sizeof *grown * (size_t)cap);
        if (!grown) return -1;
        c->cell = grown;
        c->cap = cap;
    }
    c->cell[c->count++] = cell;
    return 0;
}

/* Splits a line into c->cell, in place: blanks trimmed, quotes removed, ""
 * turned into ". A quoted cell must end on its own line. */
static int split_cells(csv *c, char *s, bp_err *e) {
    c->count = 0;
    for (;;) {
        int col = c->count + 1;
        while (is_blank(*s, c->delim)) s++;
        char *cell = s, *end;
        if (*s == '"') {
            char *w = s++;
            for (;;) {
                if (*s == '\0')
                    return bp_err_set(e, "%s:%d:%d: unterminated quote", c->path, c->line,
                                      col);
                if (*s == '"') {
                    if (s[1] != '"') break;
                    s++;
                }
                *w++ = *s++;
            }
            end = w;
            s++;
            while (is_blank(*s, c->delim)) s++;
            if (*s != c->delim && *s != '\0')
                return bp_err_set(e, "%s:%d:%d: text after a closing quote", c->path,
                                  c->line, col);
        } else {
            while (*s != c->delim && *s != '\0') s++;
            end = s;
            while (end > cell && is_blank(end[-1], c->delim)) end--;
        }
        char sep = *s; /* end may be s: save the separator before cutting */
        *end = '\0';
        if (push_cell(c, cell) < 0) return bp_err_set(e, "%s: out of memory", c->path);
        if (sep == '\0') return 0;
        s++;
    }
}

/* Case-insensitive equality with a lower-case word (strcasecmp is POSIX). */
static int same_word(const char *s, const char *lower) {
    for (; *s && *lower; s++, lower++) {
        char ch = *s >= 'A' && *s <= 'Z' ? (char)(*s - 'A' + 'a') : *s;
        if (ch != *lower) return 0;
    }
    return *s == *lower;
}

/* The spellings of "no value here" that real exports use. */
static int is_missing_marker(const char *s) {
    static const char *markers[] = {"na", "n/a", "nan", "null", "?"};
    for (size_t j = 0; j < sizeof markers / sizeof *markers; j++)
        if (same_word(s, markers[j])) return 1;
    return 0;
}

static int parse_number(const csv *c, const char *s, int col, double *v, bp_err *e) {
    if (*s == '\0')
        return bp_err_set(e, "%s:%d:%d: missing value", c->path, c->line, col);
    if (is_missing_marker(s))
        return bp_err_set(e, "%s:%d:%d: missing value '%s'", c->path, c->line, col, s);
    char *end;
    *v = strtod(s, &end);
    if (*end != '\0')
        return bp_err_set(e, "%s:%d:%d: non-numeric cell '%s'", c->path, c->line, col, s);
    if (isnan(*v))
        return bp_err_set(e, "%s:%d:%d: missing value '%s'", c->path, c->line, col, s);
    if (isinf(*v))
        return bp_err_set(e, "%s:%d:%d: not a finite number '%s'", c->path, c->line, col,
                          s);
    return 0;
}

/* Integer class labels sort as numbers: 1, 2, 10, not "1", "10", "2". */
static int parse_int(const char *s, long long *v) {
    const char *t = s + (*s == '-' || *s == '+');
    if (*t < '0' || *t > '9') return 0;
    char *end;
    errno = 0;
    *v = strtoll(s, &end, 10);
    return *end == '\0' && errno != ERANGE;
}

typedef struct label_key {
    const char *s;
    long long v;
    int row;
} label_key;

static int by_int(const void *a, const void *b) {
    const label_key *p = a, *q = b;
    if (p->v != q->v) return p->v < q->v ? -1 : 1;
    return p->row - q->row;
}

static int by_text(const void *a, const void *b) {
    const label_key *p = a, *q = b;
    int c = strcmp(p->s, q->s);
    return c ? c : p->row - q->row;
}

/* Numbers the distinct labels in sorted order, fills data->label, classes
 * and the one-hot y. data->label must be allocated; y and classes are made
 * here. */
static int number_classes(bp_data *data, char **text, const char *path,
                          const char *target, bp_err *e) {
    int n = data->n, all_int = 1;
    label_key *key = bp_malloc(sizeof *key * (size_t)n);
    if (!key) return bp_err_set(e, "%s: out of memory", path);
    for (int r = 0; r < n; r++) {
        key[r].s = text[r];
        key[r].row = r;
        if (all_int && !parse_int(text[r], &key[r].v)) all_int = 0;
    }
    int (*cmp)(const void *, const void *) = all_int ? by_int : by_text;
    qsort(key, (size_t)n, sizeof *key, cmp);
    int C = 0;
    for (int r = 0; r < n; r++) {
        if (r == 0 ||
            (all_int ? key[r].v != key[r - 1].v : strcmp(key[r].s, key[r - 1].s) != 0))
            C++;
        data->label[key[r].row] = C - 1;
    }
    if (C > BP_DATA_MAX_CLASSES) {
        bp_free(key);
        return bp_err_set(e,
                          "%s: column '%s' has %d distinct values, more classes "
                          "than %d: load it as a regression target",
                          path, target, C, BP_DATA_MAX_CLASSES);
    }
    data->classes = bp_calloc((size_t)C, sizeof(char *));
    data->y = bp_calloc((size_t)n * C, sizeof(double));
    if (!data->classes || !data->y) goto oom;
    data->n_classes = data->k = C;
    for (int r = 0; r < n; r++) {
        int c = data->label[key[r].row];
        if (data->classes[c]) continue;
        char num[32];
        if (all_int) snprintf(num, sizeof num, "%lld", key[r].v);
        if (!(data->classes[c] = dup_str(all_int ? num : key[r].s))) goto oom;
    }
    bp_free(key);
    return bp_data_onehot(data, e);
oom:
    bp_free(key);
    return bp_err_set(e, "%s: out of memory", path);
}

/* "no column named 'x' (columns: a, b, c)", the list cut short so that the
 * whole sentence fits in a bp_err. */
static int no_such_column(const char *path, const char *target, char **names, int count,
                          bp_err *e) {
    char list[BP_ERR_MAX] = "";
    size_t fixed =
        strlen(path) + strlen(target) + sizeof ": no column named '' (columns: )";
    size_t room = fixed + 8 < BP_ERR_MAX ? BP_ERR_MAX - fixed : 8, used = 0;
    for (int j = 0; j < count; j++) {
        size_t need = strlen(names[j]) + 2;
        if (used + need + 6 >= room) {
            strcpy(list + used, j ? ", ..." : "...");
            break;
        }
        used += (size_t)sprintf(list + used, "%s%s", j ? ", " : "", names[j]);
    }
    return bp_err_set(e, "%s: no column named '%s' (columns: %s)", path, target, list);
}

/* The file read whole into c->buf, refused when it is not text or has
 * nothing but blanks; c->p at its first line, after any UTF-8 byte-order
 * mark. */
static int csv_open(csv *c, bp_err *e) {
    size_t len = 0; /* bp_read_file sets it; gcc -O3 cannot see that */
    if (!(c->buf = bp_read_file(c->path, &len, e))) return -1;
    char *nul = memchr(c->buf, '\0', len);
    if (nul) {
        int line = 1;
        for (char *s = c->buf; s < nul; s++) line += *s == '\n';
        return bp_err_set(e, "%s:%d: not a text file (a NUL byte)", c->path, line);
    }
    c->p = c->buf;
    if (len >= 3 && memcmp(c->buf, "\xEF\xBB\xBF", 3) == 0) c->p += 3;
    if (strspn(c->p, " \t\r\n") == strlen(c->p))
        return bp_err_set(e, "%s: empty file", c->path);
    return 0;
}

/* The header, the first line that is not empty, into c->header and
 * c->ncol; c->t the column named target, or the last when target is NULL.
 * At least one other column must be there for the inputs. */
static int csv_header(csv *c, const char *target, bp_err *e) {
    char *s;
    while ((s = next_line(c)) && *s == '\0') {}
    if (split_cells(c, s, e) < 0) return -1;
    int ncol = c->count;
    if (!(c->header = bp_malloc(sizeof *c->header * (size_t)ncol)))
        return bp_err_set(e, "%s: out of memory", c->path);
    memcpy(c->header, c->cell, sizeof *c->header * (size_t)ncol);
    c->ncol = ncol;
    c->t = ncol - 1;
    if (target) {
        c->t = -1;
        for (int j = 0; j < ncol; j++) {
            if (strcmp(c->header[j], target) != 0) continue;
            if (c->t >= 0)
                return bp_err_set(
                    e, "%s: column name '%s' appears twice (columns %d and %d)", c->path,
                    target, c->t + 1, j + 1);
            c->t = j;
        }
        if (c->t < 0) return no_such_column(c->path, target, c->header, ncol, e);
    }
    if (ncol < 2)
        return bp_err_set(e, "%s: no input columns besides the target '%s'", c->path,
                          c->header[c->t]);
    return 0;
}

/* A data set with room for a row on every line left: x, and y (a number per
 * row) or, when classifying, label and c->text. NULL with a message. */
static bp_data *csv_alloc(csv *c, int classify, bp_err *e) {
    size_t cap = 1;
    for (const char *q = c->p; q && (q = strchr(q, '\n')); q++) cap++;
    /* A row takes ncol - 1 delimiters and a line end at least: a file of
     * blank lines under a header of many columns holds few rows. */
    size_t left = c->p ? strlen(c->p) : 0;
    if (cap > (left + 1) / (size_t)c->ncol + 1) cap = (left + 1) / (size_t)c->ncol + 1;
    if (cap > INT32_MAX / 2) {
        bp_err_set(e, "%s: too many rows", c->path);
        return NULL;
    }
    c->rows = (int)cap;
    size_t xsize;
    bp_data *data = NULL;
    if (bp_size_mul3(&xsize, sizeof(double), cap, (size_t)(c->ncol - 1)) ||
        !(data = bp_calloc(1, sizeof *data)))
        goto oom;
    data->d = c->ncol - 1;
    data->x = bp_malloc(xsize);
    if (classify) {
        c->text = bp_malloc(sizeof *c->text * cap);
        data->label = bp_malloc(sizeof(int) * cap);
    } else {
        data->k = 1;
        data->y = bp_malloc(sizeof(double) * cap);
    }
    if (data->x && (classify ? c->text && data->label : data->y != NULL)) return data;
oom:
    bp_data_free(data);
    bp_err_set(e, "%s: out of memory", c->path);
    return NULL;
}

/* Every row after the header: its inputs into x, its target into y (a
 * number) or c->text (a class label, numbered once all are read). Returns
 * the number of rows, or -1 with a message. */
static int csv_rows(csv *c, bp_data *data, int classify, bp_err *e) {
    const int ncol = c->ncol, t = c->t, d = data->d;
    int n = 0;
    char *s;
    while ((s = next_line(c))) {
        if (*s == '\0') continue;
        if (split_cells(c, s, e) < 0) return -1;
        if (c->count != ncol)
            return bp_err_set(e, "%s:%d: ragged row: %d cells, header has %d", c->path,
                              c->line, c->count, ncol);
        if (n == c->rows) /* cannot happen: csv_alloc's bound holds */
            return bp_err_set(e, "%s:%d: more rows than the file can hold", c->path,
                              c->line);
        double *xr = data->x + (size_t)n * d;
        for (int j = 0, i = 0; j < ncol; j++) {
            const char *cell = c->cell[j];
            if (j != t) {
                if (parse_number(c, cell, j + 1, &xr[i++], e) < 0) return -1;
            } else if (!classify) {
                if (parse_number(c, cell, j + 1, &data->y[n], e) < 0) return -1;
            } else if (*cell == '\0') {
                return bp_err_set(e, "%s:%d:%d: missing value", c->path, c->line, j + 1);
            } else {
                c->text[n] = c->cell[j];
            }
        }
        n++;
    }
    return n;
}

/* The names of the input columns and of the target, from the header. */
static int csv_names(bp_data *data, const csv *c, bp_err *e) {
    data->names = bp_calloc((size_t)data->d, sizeof(char *));
    if (!data->names || !(data->target = dup_str(c->header[c->t]))) goto oom;
    for (int j = 0, i = 0; j < c->ncol; j++)
        if (j != c->t && !(data->names[i++] = dup_str(c->header[j]))) goto oom;
    return 0;
oom:
    return bp_err_set(e, "%s: out of memory", c->path);
}

bp_data *bp_data_load_csv(const char *path, const char *target, char delim, int classify,
                          bp_err *e) {
    if (delim == '"' || delim == '\n' || delim == '\r' || delim == '\0') {
        bp_err_set(e, "%s: a quote or a line end cannot be the delimiter", path);
        return NULL;
    }
    csv c = {.path = path, .delim = delim};
    bp_data *data = NULL;
    if (csv_open(&c, e) < 0 || csv_header(&c, target, e) < 0) goto fail;
    if (!(data = csv_alloc(&c, classify, e))) goto fail;
    int n = csv_rows(&c, data, classify, e);
    if (n < 0) goto fail;
    if (n == 0) {
        bp_err_set(e, "%s: no data rows", path);
        goto fail;
    }
    data->n = n;
    if (classify && number_classes(data, c.text, path, c.header[c.t], e) < 0) goto fail;
    if (csv_names(data, &c, e) < 0) goto fail;
    csv_free(&c);
    return data;
fail:
    bp_data_free(data);
    csv_free(&c);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* IDX (MNIST)                                                               */

#define IDX_IMAGES 0x00000803u /* unsigned bytes, 3 dimensions */
#define IDX_LABELS 0x00000801u /* unsigned bytes, 1 dimension */
#define IDX_CHUNK (1u << 20)
/* Deflate's best ratio: a 258-byte match from a code of a few bits is
 * 1032 to 1, so no gzip file holds more than 1032 times its own size. */
#define GZIP_MAX_RATIO 1032

static uint32_t be32(const unsigned char *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Opens a regular file for gzread (which also reads a plain one); its size
 * in *size. */
static gzFile open_idx(const char *path, size_t *size, bp_err *e) {
    const char *kind;
    int fd = bp_open_regular(path, size, &kind);
    if (fd < 0) {
        if (kind) bp_err_set(e, "%s: not a regular file (%s)", path, kind);
        else bp_err_set(e, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    gzFile f = gzdopen(fd, "rb");
    if (!f) {
        close(fd);
        bp_err_set(e, "%s: cannot open: out of memory", path);
    }
    return f;
}

/* Reads up to len bytes: returns how many, fewer only where the data ends
 * (a short plain file, or a gzip stream cut off), or -1 with a message when
 * the gzip data is corrupt or the read fails. */
static long long read_bytes(gzFile f, unsigned char *buf, size_t len, const char *path,
                            bp_err *e) {
    size_t got = 0;
    while (got < len) {
        size_t want = len - got < IDX_CHUNK ? len - got : IDX_CHUNK;
        int r = gzread(f, buf + got, (unsigned)want);
        if (r < 0) {
            int code;
            const char *msg = gzerror(f, &code);
            if (code == Z_ERRNO)
                return bp_err_set(e, "%s: read error: %s", path, strerror(errno));
            /* zlib writes "<fd:N>: what" (gzdopen's name for the file); the
             * path is ours. */
            const char *colon = strncmp(msg, "<fd:", 4) == 0 ? strstr(msg, ">: ") : NULL;
            if (colon) msg = colon + 3;
            return bp_err_set(e, "%s: corrupt gzip data (%s)", path, msg);
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    return (long long)got;
}

/* Reads an IDX header of `size` bytes with the given magic. */
static int read_header(gzFile f, unsigned char *h, size_t size, uint32_t magic,
                       const char *what, const char *path, bp_err *e) {
    long long got = read_bytes(f, h, size, path, e);
    if (got < 0) return -1;
    if (got >= 4 && be32(h) != magic)
        return bp_err_set(e, "%s: not an IDX %s file (magic 0x%08x, want 0x%08x)", path,
                          what, (unsigned)be32(h), (unsigned)magic);
    if ((size_t)got < size)
        return bp_err_set(e, "%s: truncated: expected %zu bytes of header, got %lld",
                          path, size, got);
    return 0;
}

/* What follows a header, as its messages name it: `count` bytes of `what`
 * ("pixels"), which are n `items` ("images"). */
typedef struct idx_part {
    gzFile f;
    const char *path;
    size_t size;  /* the file's */
    size_t head;  /* its header's bytes */
    size_t count; /* the bytes the header announces after it */
    uint32_t n;
    const char *what, *items;
} idx_part;

/* Whether the file can hold what its header announces, before anything is
 * allocated for it. A plain file must have exactly that many bytes after
 * the header (more or fewer is refused with the message reading it would
 * give). A gzip stream's length is known only once it is read, but it
 * cannot be more than GZIP_MAX_RATIO times the file's. */
static int idx_fits(const idx_part *p, bp_err *e) {
    if (gzdirect(p->f)) {
        size_t have = p->size > p->head ? p->size - p->head : 0;
        if (have < p->count)
            return bp_err_set(e, "%s: truncated: expected %zu bytes of %s, got %zu",
                              p->path, p->count, p->what, have);
        if (have > p->count)
            return bp_err_set(e, "%s: more data after the %u %s its header announces",
                              p->path, (unsigned)p->n, p->items);
        return 0;
    }
    size_t most;
    if (!bp_size_mul(&most, p->size, GZIP_MAX_RATIO) && p->count > most)
        return bp_err_set(e,
                          "%s: the header announces %zu bytes of %s, more than a gzip "
                          "file of %zu bytes can hold",
                          p->path, p->count, p->what, p->size);
    return 0;
}

/* After the items the header announced the file must end: more data means
 * the header does not describe the file. Corrupt gzip trailers (a wrong
 * checksum) also surface here, on the read that reaches them. */
static int expect_end(const idx_part *p, bp_err *e) {
    unsigned char extra;
    long long got = read_bytes(p->f, &extra, 1, p->path, e);
    if (got < 0) return -1;
    if (got > 0)
        return bp_err_set(e, "%s: more data after the %u %s its header announces",
                          p->path, (unsigned)p->n, p->items);
    /* Every item was there but the gzip stream stops before its checksum:
     * zlib returns the data and marks the end as premature. */
    int code;
    gzerror(p->f, &code);
    if (code == Z_BUF_ERROR)
        return bp_err_set(e, "%s: truncated: the gzip stream ends early", p->path);
    return 0;
}

/* Stores got bytes from chunk at element `at` of buf, each as a byte (z 1),
 * a float (4) or a double (8). */
static void store(void *buf, size_t z, size_t at, const unsigned char *chunk,
                  size_t got) {
    if (z == 1) memcpy((unsigned char *)buf + at, chunk, got);
    else if (z == 4)
        for (size_t j = 0; j < got; j++) ((float *)buf)[at + j] = chunk[j];
    else
        for (size_t j = 0; j < got; j++) ((double *)buf)[at + j] = chunk[j];
}

/* The part's bytes, each stored as an element of z bytes (store), in a
 * buffer from bp_malloc; the file must end after them. A plain file's size
 * was checked (idx_fits): its buffer is made whole at once. A gzip stream's
 * grows, doubling from a chunk, only as far as the stream goes, so that a
 * header announcing more than the stream holds costs what it holds; the
 * read stops where the stream ends short. NULL with a message. */
static void *idx_read(const idx_part *p, size_t z, unsigned char *chunk, bp_err *e) {
    size_t cap = gzdirect(p->f) || p->count < IDX_CHUNK ? p->count : IDX_CHUNK, done = 0;
    size_t bytes;
    void *buf = NULL;
    if (bp_size_mul(&bytes, cap ? cap : 1, z) || !(buf = bp_malloc(bytes))) goto oom;
    while (done < p->count) {
        size_t want = p->count - done < IDX_CHUNK ? p->count - done : IDX_CHUNK;
        long long got = read_bytes(p->f, chunk, want, p->path, e);
        if (got < 0) goto fail;
        if (done + (size_t)got > cap) {
            cap = cap * 2 < p->count ? cap * 2 : p->count;
            void *grown = bp_size_mul(&bytes, cap, z) ? NULL : bp_realloc(buf, bytes);
            if (!grown) goto oom;
            buf = grown;
        }
        store(buf, z, done, chunk, (size_t)got);
        done += (size_t)got;
        if ((size_t)got < want) {
            bp_err_set(e, "%s: truncated: expected %zu bytes of %s, got %zu", p->path,
                       p->count, p->what, done);
            goto fail;
        }
    }
    if (expect_end(p, e) < 0) goto fail;
    return buf;
oom:
    bp_err_set(e, "out of memory loading %s", p->path);
fail:
    bp_free(buf);
    return NULL;
}

/* An IDX pair being read: the two files and what their headers say. */
typedef struct idx {
    idx_part img, lab;
    uint32_t rows, cols; /* each image's size */
} idx;

/* Opens both files and reads their headers: n images of rows x cols bytes,
 * and as many labels; each file must be able to hold them. */
static int idx_open(idx *f, bp_err *e) {
    unsigned char hi[16], hl[8];
    idx_part *im = &f->img, *lb = &f->lab;
    if (!(im->f = open_idx(im->path, &im->size, e))) return -1;
    if (read_header(im->f, hi, sizeof hi, IDX_IMAGES, "image", im->path, e) < 0)
        return -1;
    im->n = be32(hi + 4), f->rows = be32(hi + 8), f->cols = be32(hi + 12);
    if (im->n == 0 || im->n > INT32_MAX)
        return bp_err_set(e, "%s: bad image count %u", im->path, (unsigned)im->n);
    if (f->rows == 0 || f->cols == 0 || (uint64_t)f->rows * f->cols > INT32_MAX)
        return bp_err_set(e, "%s: bad image size %u x %u", im->path, (unsigned)f->rows,
                          (unsigned)f->cols);
    im->head = sizeof hi;
    if (bp_size_mul3(&im->count, im->n, f->rows, f->cols))
        return bp_err_set(e, "%s: %u images of %u x %u are too many", im->path,
                          (unsigned)im->n, (unsigned)f->rows, (unsigned)f->cols);
    if (idx_fits(im, e) < 0) return -1;
    if (!(lb->f = open_idx(lb->path, &lb->size, e))) return -1;
    if (read_header(lb->f, hl, sizeof hl, IDX_LABELS, "label", lb->path, e) < 0)
        return -1;
    lb->n = be32(hl + 4);
    if (lb->n != im->n)
        return bp_err_set(e, "%s has %u images but %s has %u labels", im->path,
                          (unsigned)im->n, lb->path, (unsigned)lb->n);
    lb->head = sizeof hl;
    lb->count = lb->n;
    return idx_fits(lb, e);
}

/* Checks the n labels, each below n_classes (0: any byte); returns the
 * number of classes, n_classes or the largest label + 1, or -1 with a
 * message. */
static int idx_check_labels(const idx_part *p, const unsigned char *lab, int n_classes,
                            bp_err *e) {
    int C = n_classes;
    for (uint32_t r = 0; r < p->n; r++) {
        if (n_classes > 0 && lab[r] >= n_classes)
            return bp_err_set(e, "%s: label %d at index %u is outside 0..%d", p->path,
                              lab[r], (unsigned)r, n_classes - 1);
        if (n_classes == 0 && lab[r] + 1 > C) C = lab[r] + 1;
    }
    return C;
}

/* Classes named by their numbers, "0", "1", ..., labels from lab, one-hot
 * targets. */
static int idx_classes(bp_data *data, const unsigned char *lab) {
    if (!(data->classes = bp_calloc((size_t)data->n_classes, sizeof(char *)))) return -1;
    for (int c = 0; c < data->n_classes; c++) {
        char num[16];
        snprintf(num, sizeof num, "%d", c);
        if (!(data->classes[c] = dup_str(num))) return -1;
    }
    for (int r = 0; r < data->n; r++) data->label[r] = lab[r];
    bp_data_onehot(data, NULL);
    return 0;
}

/* Labels first: they are small and decide the width of y. The pixels are
 * read straight into the inputs' array, converted a chunk at a time, so
 * that they are never all in memory twice. */
bp_data *bp_data_load_idx(const char *images_path, const char *labels_path, int n_classes,
                          bp_dtype dtype, bp_err *e) {
    idx f = {.img = {.path = images_path, .what = "pixels", .items = "images"},
             .lab = {.path = labels_path, .what = "labels", .items = "labels"}};
    unsigned char *lab = NULL, *chunk = NULL;
    void *x = NULL;
    bp_data *data = NULL;
    if (n_classes < 0 || n_classes > BP_DATA_MAX_CLASSES) {
        bp_err_set(e, "the number of classes must be in 0..%d (got %d)",
                   BP_DATA_MAX_CLASSES, n_classes);
        return NULL;
    }
    if ((unsigned)dtype >= BP_DTYPE_COUNT) {
        bp_err_set(e, "unknown dtype %d", (int)dtype);
        return NULL;
    }
    if (idx_open(&f, e) < 0) goto fail;
    if (!(chunk = bp_malloc(IDX_CHUNK))) goto oom;
    if (!(lab = idx_read(&f.lab, 1, chunk, e))) goto fail;
    int C = idx_check_labels(&f.lab, lab, n_classes, e);
    if (C < 0) goto fail;
    if (!(x = idx_read(&f.img, bp_dtype_size(dtype), chunk, e))) goto fail;
    int d = (int)(f.rows * f.cols);
    if (!(data = data_make((int)f.img.n, d, C, C, dtype, x, e))) goto fail;
    x = NULL; /* the data set's now */
    if (idx_classes(data, lab) < 0) goto oom;
    bp_free(chunk);
    bp_free(lab);
    gzclose(f.img.f);
    gzclose(f.lab.f);
    return data;
oom:
    bp_err_set(e, "out of memory loading %s", f.img.path);
fail:
    bp_free(x);
    bp_free(chunk);
    bp_free(lab);
    bp_data_free(data);
    if (f.img.f) gzclose(f.img.f);
    if (f.lab.f) gzclose(f.lab.f);
    return NULL;
}

static const char *fashion_classes[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

/* dir/stem.gz if it exists, else dir/stem if that does; -1 when neither. */
static int find_file(char *path, size_t size, const char *dir, const char *stem) {
    for (int gz = 1; gz >= 0; gz--) {
        snprintf(path, size, "%s/%s%s", dir, stem, gz ? ".gz" : "");
        FILE *f = fopen(path, "rb");
        if (f) {
            fclose(f);
            return 0;
        }
    }
    return -1;
}

bp_data *bp_data_fashion_mnist(const char *dir, int train, bp_dtype dtype, bp_err *e) {
    if (!dir) dir = BP_FASHION_MNIST_DIR;
    const char *part = train ? "train" : "t10k";
    char stem[64], images[4096], labels[4096];
    snprintf(stem, sizeof stem, "%s-images-idx3-ubyte", part);
    if (find_file(images, sizeof images, dir, stem) < 0) {
        bp_err_set(e,
                   "no Fashion-MNIST in %s (no %s[.gz]): install Debian's "
                   "dataset-fashion-mnist or give the directory of the files",
                   dir, stem);
        return NULL;
    }
    snprintf(stem, sizeof stem, "%s-labels-idx1-ubyte", part);
    if (find_file(labels, sizeof labels, dir, stem) < 0) {
        bp_err_set(e, "no Fashion-MNIST labels in %s (no %s[.gz])", dir, stem);
        return NULL;
    }
    bp_data *data = bp_data_load_idx(images, labels, 10, dtype, e);
    if (!data) return NULL;
    for (int c = 0; c < 10; c++) {
        char *name = dup_str(fashion_classes[c]);
        if (!name) {
            bp_data_free(data);
            bp_err_set(e, "out of memory");
            return NULL;
        }
        bp_free(data->classes[c]);
        data->classes[c] = name;
    }
    return data;
}

/* ------------------------------------------------------------------------ */
/* Preparing                                                                 */

bp_data *bp_data_slice(const bp_data *data, int start, int count, bp_err *e) {
    if (start < 0 || count < 0 || start > data->n - count) {
        bp_err_set(e, "rows %d..%lld are not inside the data's 0..%d", start,
                   (long long)start + count - 1, data->n - 1);
        return NULL;
    }
    bp_data *part = data_new(count, data->d, data->k, data->n_classes, data->dtype, e);
    if (!part) return NULL;
    int d = data->d, k = data->k;
    memcpy((void *)bp_data_row(part, 0), bp_data_row(data, start),
           bp_dtype_size(data->dtype) * (size_t)count * d);
    memcpy(part->y, data->y + (size_t)start * k, sizeof(double) * (size_t)count * k);
    if (data->label)
        memcpy(part->label, data->label + start, sizeof(int) * (size_t)count);
    if (copy_names(part, data, e) < 0) {
        bp_data_free(part);
        return NULL;
    }
    return part;
}

/* Swaps rows a and b of a matrix of rows of `size` bytes. */
static void swap_rows(void *m, size_t size, int a, int b, void *tmp) {
    char *ra = (char *)m + size * a, *rb = (char *)m + size * b;
    memcpy(tmp, ra, size);
    memcpy(ra, rb, size);
    memcpy(rb, tmp, size);
}

int bp_data_shuffle(bp_data *data, bp_rng *r, bp_err *e) {
    int d = data->d, k = data->k;
    double *tmp = bp_malloc(sizeof(double) * (size_t)(d > k ? d : k));
    if (!tmp) return bp_err_set(e, "out of memory");
    for (int i = data->n - 1; i > 0; i--) {
        int j = (int)bp_rng_below(r, (uint64_t)i + 1);
        if (j == i) continue;
        swap_rows((void *)bp_data_row(data, 0), bp_dtype_size(data->dtype) * d, i, j,
                  tmp);
        swap_rows(data->y, sizeof(double) * k, i, j, tmp);
        if (data->label) {
            int t = data->label[i];
            data->label[i] = data->label[j];
            data->label[j] = t;
        }
    }
    bp_free(tmp);
    return 0;
}

int bp_data_split(const bp_data *data, double frac_train, double frac_val,
                  bp_data **train, bp_data **val, bp_data **test, bp_err *e) {
    *train = *val = *test = NULL;
    /* The tolerance lets 0.7 + 0.3 through whatever their rounding. */
    if (!(frac_train >= 0 && frac_val >= 0 && frac_train + frac_val <= 1 + 1e-9))
        return bp_err_set(e,
                          "split fractions must be >= 0 and add up to at most 1 "
                          "(got train %g, validation %g)",
                          frac_train, frac_val);
    int n = data->n;
    int nt = (int)round(frac_train * n), nv = (int)round(frac_val * n);
    if (nt > n) nt = n;
    if (nv > n - nt) nv = n - nt; /* 0.5 and 0.5 of 3 rows round to 2 + 2 */
    *train = bp_data_slice(data, 0, nt, e);
    *val = *train ? bp_data_slice(data, nt, nv, e) : NULL;
    *test = *val ? bp_data_slice(data, nt + nv, n - nt - nv, e) : NULL;
    if (*test) return 0;
    bp_data_free(*train);
    bp_data_free(*val);
    *train = *val = NULL;
    return -1;
}

int bp_data_batch(const bp_data *data, int start, int size, const double **x,
                  const double **y, const int **label) {
    if (start < 0 || start >= data->n || size < 1) return 0;
    int B = data->n - start < size ? data->n - start : size;
    if (x) *x = data->x ? data->x + (size_t)start * data->d : NULL;
    if (y) *y = data->y + (size_t)start * data->k;
    if (label) *label = data->label ? data->label + start : NULL;
    return B;
}

int bp_data_onehot(bp_data *data, bp_err *e) {
    if (!data->label || data->n_classes != data->k)
        return bp_err_set(e, "one-hot targets need class labels");
    int C = data->k;
    for (int r = 0; r < data->n; r++)
        if (data->label[r] < 0 || data->label[r] >= C)
            return bp_err_set(e, "label %d of row %d is outside 0..%d", data->label[r],
                              r + 1, C - 1);
    memset(data->y, 0, sizeof(double) * (size_t)data->n * C);
    for (int r = 0; r < data->n; r++) data->y[(size_t)r * C + data->label[r]] = 1.0;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Scaling                                                                   */

static const char *const scale_names[BP_SCALE_COUNT] = {"standard", "minmax", "fixed"};

const char *bp_scale_name(bp_scale s) {
    return bp_name_of(scale_names, BP_SCALE_COUNT, (int)s);
}
int bp_scale_parse(const char *name) {
    return bp_name_find(scale_names, BP_SCALE_COUNT, name);
}

static bp_scaler *scaler_new(bp_scale kind, int d, bp_err *e) {
    bp_scaler *s = bp_calloc(1, sizeof *s);
    if (s) {
        s->kind = kind;
        s->d = d;
        s->shift = bp_calloc((size_t)d, sizeof(double));
        s->scale = bp_calloc((size_t)d, sizeof(double));
    }
    if (!s || !s->shift || !s->scale) {
        bp_scaler_free(s);
        bp_err_set(e, "out of memory");
        return NULL;
    }
    return s;
}

/* Row r of data's inputs as doubles: where it lies in float64 data, else
 * converted into buf (d values). */
static const double *row_f64(const bp_data *data, int r, double *buf) {
    if (data->dtype == BP_F64) return data->x + (size_t)r * data->d;
    const float *xr = data->x32 + (size_t)r * data->d;
    for (int i = 0; i < data->d; i++) buf[i] = xr[i];
    return buf;
}

bp_scaler *bp_scaler_fit(const bp_data *train, bp_scale kind, bp_err *e) {
    if (kind != BP_SCALE_STANDARD && kind != BP_SCALE_MINMAX) {
        bp_err_set(e, "a scaler is fitted as standard or minmax, not %s",
                   bp_scale_name(kind));
        return NULL;
    }
    if (train->n < 1) {
        bp_err_set(e, "cannot fit a scaler to 0 samples");
        return NULL;
    }
    int n = train->n, d = train->d;
    bp_scaler *s = scaler_new(kind, d, e);
    double *lo = s ? bp_malloc(sizeof(double) * 2 * (size_t)d) : NULL;
    if (!lo) {
        if (s) bp_err_set(e, "out of memory");
        bp_scaler_free(s);
        return NULL;
    }
    double *hi = lo + d, *sum = s->shift, *sq = s->scale; /* calloc'd: 0 */
    double *buf = s ? bp_malloc(sizeof(double) * (size_t)d) : NULL;
    if (!buf) {
        bp_free(lo);
        bp_scaler_free(s);
        bp_err_set(e, "out of memory");
        return NULL;
    }
    /* Row by row, accumulating every column at once: x is row-major, and a
     * walk down one column at a time would stride through all of it d times
     * (seconds instead of a fraction of one on Fashion-MNIST). */
    memcpy(lo, row_f64(train, 0, buf), sizeof(double) * (size_t)d);
    memcpy(hi, lo, sizeof(double) * (size_t)d);
    for (int r = 0; r < n; r++) {
        const double *xr = row_f64(train, r, buf);
        for (int i = 0; i < d; i++) {
            lo[i] = xr[i] < lo[i] ? xr[i] : lo[i];
            hi[i] = xr[i] > hi[i] ? xr[i] : hi[i];
            sum[i] += xr[i];
        }
    }
    for (int i = 0; i < d; i++) s->shift[i] = sum[i] / n; /* the mean */
    if (kind == BP_SCALE_STANDARD)
        for (int r = 0; r < n; r++) {
            const double *xr = row_f64(train, r, buf);
            for (int i = 0; i < d; i++) {
                double dv = xr[i] - s->shift[i];
                sq[i] += dv * dv;
            }
        }
    for (int i = 0; i < d; i++) {
        /* A constant column maps to exactly 0: the mean of n equal values
         * need not round back to that value, and 1/tiny would blow it up. */
        if (lo[i] == hi[i]) {
            s->shift[i] = lo[i];
            s->scale[i] = 1.0;
        } else if (kind == BP_SCALE_MINMAX) {
            s->shift[i] = lo[i];
            s->scale[i] = hi[i] - lo[i];
        } else {
            s->scale[i] = sqrt(sq[i] / n);
        }
    }
    bp_free(lo);
    bp_free(buf);
    return s;
}

bp_scaler *bp_scaler_fixed(int d, double shift, double scale, bp_err *e) {
    if (d < 1 || !isfinite(shift) || !isfinite(scale) || scale == 0) {
        bp_err_set(e,
                   "a fixed scaler needs d >= 1 and a finite shift and non-zero "
                   "scale (got %d, %g, %g)",
                   d, shift, scale);
        return NULL;
    }
    bp_scaler *s = scaler_new(BP_SCALE_FIXED, d, e);
    if (!s) return NULL;
    for (int i = 0; i < d; i++) {
        s->shift[i] = shift;
        s->scale[i] = scale;
    }
    return s;
}

int bp_scaler_apply(const bp_scaler *s, bp_data *data, bp_err *e) {
    int d = data->d;
    if (s->d != d)
        return bp_err_set(e, "the scaler was fitted to %d columns, the data has %d", s->d,
                          d);
    for (int r = 0; r < data->n; r++) {
        if (data->dtype == BP_F32) {
            float *xr = data->x32 + (size_t)r * d;
            for (int i = 0; i < d; i++)
                xr[i] = (float)(((double)xr[i] - s->shift[i]) / s->scale[i]);
        } else {
            double *xr = data->x + (size_t)r * d;
            for (int i = 0; i < d; i++) xr[i] = (xr[i] - s->shift[i]) / s->scale[i];
        }
    }
    return 0;
}

void bp_scaler_free(bp_scaler *s) {
    if (!s) return;
    bp_free(s->shift);
    bp_free(s->scale);
    bp_free(s);
}

/* ------------------------------------------------------------------------ */
/* Metrics                                                                   */

int bp_argmax(const double *v, int O) {
    int best = 0;
    for (int o = 1; o < O; o++)
        if (v[o] > v[best]) best = o;
    return best;
}

double bp_accuracy(const double *out, const int *label, int B, int O) {
    if (B < 1) return 0.0;
    int right = 0;
    for (int b = 0; b < B; b++) right += bp_argmax(out + (size_t)b * O, O) == label[b];
    return (double)right / B;
}

void bp_confusion(int *m, const double *out, const int *label, int B, int O) {
    for (int b = 0; b < B; b++)
        if (label[b] >= 0 && label[b] < O)
            m[label[b] * O + bp_argmax(out + (size_t)b * O, O)]++;
}
