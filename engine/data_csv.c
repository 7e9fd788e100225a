/* data_csv.c: a CSV file into a data set (bp_data_load_csv).
 *
 * The loader is strict because a silently misread file (a shifted column)
 * trains a network that is wrong for reasons nobody can see: every refusal
 * names the file, and the line and column when there is one. The file is
 * read whole into one buffer (bp_read_file: a regular file, under the
 * memory limit) and cut into cells in place, which keeps the parser a few
 * small loops; a load is a few steps (open, header, room, rows, names),
 * each its own function.
 *
 * Dimensions: n = samples, d = inputs, k = targets. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_alloc.h"
#include "bp_data.h"
#include "bp_util.h"
#include "data_int.h"

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
        if (!(data->classes[c] = dt_dup_str(all_int ? num : key[r].s))) goto oom;
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
    if (!data->names || !(data->target = dt_dup_str(c->header[c->t]))) goto oom;
    for (int j = 0, i = 0; j < c->ncol; j++)
        if (j != c->t && !(data->names[i++] = dt_dup_str(c->header[j]))) goto oom;
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
