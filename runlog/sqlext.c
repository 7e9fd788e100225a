/* sqlext.c: bp_weights, a weight snapshot seen from SQL (see bp_sqlext.h).
 *
 * Snapshots are stored as one BLOB of raw little-endian values, because that
 * is exact and no larger than the numbers themselves; this eponymous virtual
 * table is what makes such a BLOB queryable, modelled on SQLite's own
 * json_each and series.c. The same file is compiled twice: into the run log's
 * library, where bp_sqlext_register adds it to backprop's connections, and
 * with BP_SQLEXT_LOADABLE into bpsql.so, a loadable extension that calls
 * SQLite only through the API table sqlite3ext.h provides and so links to
 * nothing but libc.
 *
 * Dimensions: P = parameters of the snapshot, L = layers, I = inputs and
 * O = outputs of a layer. */
#ifdef BP_SQLEXT_LOADABLE
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1
#else
#include <sqlite3.h>
#endif

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_sqlext.h"
#include "bp_util.h"

int bp_shape_parse(const char *text, int *sizes, int max) {
    if (!text) return -1;
    int n = 0;
    const char *p = text;
    for (;;) {
        if (*p < '0' || *p > '9') return -1;
        long v = 0;
        while (*p >= '0' && *p <= '9') {
            v = v * 10 + (*p++ - '0');
            if (v > 1L << 30) return -1;
        }
        if (v < 1 || n == max) return -1;
        sizes[n++] = (int)v;
        if (*p == '\0') break;
        if (*p++ != ',') return -1;
    }
    return n >= 2 ? n : -1;
}

int bp_shape_params(size_t *count, const int *sizes, int n) {
    size_t total = 0, layer, bytes;
    for (int l = 1; l < n; l++) {
        if (bp_size_mul(&layer, (size_t)sizes[l], (size_t)sizes[l - 1] + 1) ||
            layer > SIZE_MAX - total)
            return -1;
        total += layer;
    }
    if (bp_size_mul(&bytes, total, 8)) return -1;
    *count = total;
    return 0;
}

int bp_shape_is_tensors(const char *text) { return text && strchr(text, ':') != NULL; }

int bp_tensors_count(const char *text) {
    int n = 1;
    for (; *text; text++) n += *text == '\n';
    return n;
}

/* One line "NAME:DIMS" of a graph's shape (up to its '\n' or the end) into
 * *t, its values counted from off; the line's end, or NULL. */
static const char *tensor_line(const char *p, bp_tensor_info *t, size_t off) {
    const char *end = strchr(p, '\n'), *colon = NULL;
    if (!end) end = p + strlen(p);
    for (const char *q = p; q < end; q++)
        if (*q == ':') colon = q; /* the last: a name may hold one */
    if (!colon || colon == p || colon - p > 1024) return NULL;
    t->name = p, t->name_len = (int)(colon - p), t->ndim = 0, t->off = off, t->count = 1;
    for (const char *q = colon + 1; q < end;) {
        long v = 0;
        if (*q < '0' || *q > '9' || t->ndim == BP_TENSOR_MAX_DIMS) return NULL;
        while (q < end && *q >= '0' && *q <= '9')
            if ((v = v * 10 + (*q++ - '0')) > 1L << 30) return NULL;
        if (v < 1 || bp_size_mul(&t->count, t->count, (size_t)v)) return NULL;
        t->dims[t->ndim++] = (int)v;
        if (q < end && *q++ != 'x') return NULL;
        if (q == end && q[-1] == 'x') return NULL;
    }
    return end;
}

int bp_tensors_parse(const char *text, bp_tensor_info *t, int max, size_t *values) {
    if (!bp_shape_is_tensors(text)) return -1;
    size_t total = 0, bytes;
    int n = 0;
    for (const char *p = text;; p++) {
        if (n == max || !(p = tensor_line(p, &t[n], total))) return -1;
        if (t[n].count > SIZE_MAX - total) return -1;
        total += t[n++].count;
        if (*p == '\0') break;
    }
    if (bp_size_mul(&bytes, total, 8)) return -1;
    *values = total;
    return n;
}

/* Column numbers, in the order of the CREATE TABLE below. */
enum {
    COL_LAYER,
    COL_NEURON,
    COL_INPUT,
    COL_KIND,
    COL_NAME,
    COL_VALUE,
    COL_IDX,
    COL_PARAM,
    COL_I1, /* .. COL_I1 + 3 */
    COL_DATA = COL_I1 + BP_TENSOR_MAX_DIMS,
    COL_SHAPE
};

/* Bits of idxNum: which optional constraints xFilter receives, after data
 * and shape, in this order. */
/* NO_ARGS marks a plan without data and shape: the error is raised when it
 * runs, not when it is planned (see wt_best_index). */
enum { HAS_LAYER = 1, HAS_NAME = 2, HAS_PARAM = 4, NO_ARGS = 8 };

typedef struct cursor {
    sqlite3_vtab_cursor base;
    int L;                     /* a stack's layers; 0 for a graph */
    int sizes[BP_SHAPE_MAX];   /* L + 1 widths */
    int64_t off[BP_SHAPE_MAX]; /* off[l-1] = flat index of layer l's first weight */
    /* A graph's tensors (T of them, names into text, the shape's copy), and
     * the one holding row idx. */
    int T, at;
    bp_tensor_info *t;
    char *text;
    int64_t lo, hi, idx;       /* rows idx in [lo, hi) */
    double *v;                 /* values of [lo, hi) */
} cursor;

static int wt_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                      sqlite3_vtab **out, char **err) {
    (void)aux, (void)argc, (void)argv, (void)err;
    int rc = sqlite3_declare_vtab(
        db, "CREATE TABLE x(layer INTEGER, neuron INTEGER, input INTEGER,"
            " kind TEXT, name TEXT, value REAL, idx INTEGER, param TEXT,"
            " i1 INTEGER, i2 INTEGER, i3 INTEGER, i4 INTEGER,"
            " data HIDDEN, shape HIDDEN)");
    if (rc != SQLITE_OK) return rc;
    sqlite3_vtab *vt = sqlite3_malloc(sizeof *vt);
    if (!vt) return SQLITE_NOMEM;
    memset(vt, 0, sizeof *vt);
    sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
    *out = vt;
    return SQLITE_OK;
}

static int wt_disconnect(sqlite3_vtab *vt) {
    sqlite3_free(vt);
    return SQLITE_OK;
}

/* data and shape are arguments, so a plan without them usable is refused
 * (SQLITE_CONSTRAINT makes SQLite try another join order). A plan that does
 * not see them at all is not an error yet: SQLite also plans each term of a
 * top-level OR on its own, without the rest of the WHERE clause, and an
 * error here would fail a query whose whole plan has both arguments. Such a
 * plan is priced out, and raises the error only if it is the one that runs. */
static int wt_best_index(sqlite3_vtab *vt, sqlite3_index_info *info) {
    int want[COL_SHAPE + 1], seen_data = 0, seen_shape = 0;
    for (int c = 0; c <= COL_SHAPE; c++) want[c] = -1;
    for (int k = 0; k < info->nConstraint; k++) {
        const struct sqlite3_index_constraint *con = &info->aConstraint[k];
        if (con->iColumn == COL_DATA) seen_data = 1;
        if (con->iColumn == COL_SHAPE) seen_shape = 1;
        if (con->iColumn < 0 || !con->usable || con->op != SQLITE_INDEX_CONSTRAINT_EQ)
            continue;
        if (want[con->iColumn] < 0) want[con->iColumn] = k;
    }
    (void)vt;
    if (!seen_data || !seen_shape) {
        info->idxNum = NO_ARGS;
        info->estimatedCost = 1e300;
        info->estimatedRows = 100000;
        return SQLITE_OK;
    }
    if (want[COL_DATA] < 0 || want[COL_SHAPE] < 0) return SQLITE_CONSTRAINT;
    int arg = 1, num = 0;
    const int pinned[] = {COL_DATA, COL_SHAPE, COL_LAYER, COL_NAME, COL_PARAM};
    for (int j = 0; j < 5; j++) {
        int k = want[pinned[j]];
        if (k < 0) continue;
        info->aConstraintUsage[k].argvIndex = arg++;
        /* data and shape are ours alone; SQLite still checks layer and name,
         * so a narrowing here can only save work, never change an answer. */
        info->aConstraintUsage[k].omit = j < 2;
        if (pinned[j] == COL_LAYER) num |= HAS_LAYER;
        if (pinned[j] == COL_NAME) num |= HAS_NAME;
        if (pinned[j] == COL_PARAM) num |= HAS_PARAM;
    }
    info->idxNum = num;
    info->estimatedCost = num & HAS_NAME ? 10 : num & (HAS_LAYER | HAS_PARAM) ? 1e4 : 1e5;
    info->estimatedRows = num & HAS_NAME ? 1 : num & (HAS_LAYER | HAS_PARAM) ? 1000 : 100000;
    return SQLITE_OK;
}

static int wt_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **out) {
    (void)vt;
    cursor *c = sqlite3_malloc(sizeof *c);
    if (!c) return SQLITE_NOMEM;
    memset(c, 0, sizeof *c);
    *out = &c->base;
    return SQLITE_OK;
}

static int wt_close(sqlite3_vtab_cursor *cur) {
    cursor *c = (cursor *)cur;
    sqlite3_free(c->v);
    sqlite3_free(c->t);
    sqlite3_free(c->text);
    sqlite3_free(c);
    return SQLITE_OK;
}

/* Which layer holds flat index idx. */
static int layer_of(const cursor *c, int64_t idx) {
    int l = 1;
    while (l < c->L && idx >= c->off[l]) l++;
    return l;
}

/* Parses 'w211', 'b21', 'w2_10_3' or 'b1_12' into l, n, i (i = 0 for a
 * bias). Returns 0 for anything else. */
static int parse_name(const char *s, int *l, int *n, int *i) {
    if (!s || (s[0] != 'w' && s[0] != 'b')) return 0;
    int want = s[0] == 'w' ? 3 : 2, got = 0;
    long v[3] = {0, 0, 0};
    const char *p = s + 1;
    if (strchr(p, '_')) {
        for (;;) {
            if (*p < '0' || *p > '9' || got == want) return 0;
            while (*p >= '0' && *p <= '9') {
                v[got] = v[got] * 10 + (*p++ - '0');
                if (v[got] > 1L << 30) return 0;
            }
            got++;
            if (*p == '\0') break;
            if (*p++ != '_') return 0;
        }
    } else {
        for (; *p; p++) {
            if (*p < '0' || *p > '9' || got == want) return 0;
            v[got++] = *p - '0';
        }
    }
    if (got != want) return 0;
    *l = (int)v[0], *n = (int)v[1], *i = want == 3 ? (int)v[2] : 0;
    return *l >= 1 && *n >= 1 && (want == 2 || *i >= 1);
}

void bp_weights_decode(double *v, const unsigned char *data, size_t width, size_t n) {
    for (size_t k = 0; k < n; k++) {
        uint64_t u = 0;
        for (size_t b = 0; b < width; b++) u |= (uint64_t)data[k * width + b] << (8 * b);
        if (width == 8) {
            memcpy(&v[k], &u, 8);
        } else {
            uint32_t u32 = (uint32_t)u;
            float f;
            memcpy(&f, &u32, 4);
            v[k] = f;
        }
    }
}

/* Reads the snapshot's shape into c (sizes, L, off) and finds the width of
 * its values: SQLITE_OK, or SQLITE_ERROR with the reason in vt. The shape
 * is the caller's text: its parameter count is checked for overflow before
 * it is compared with the data's length, since a count whose 8 bytes a
 * value wrap around to that length would pass for it. */
/* The width of P values in bytes bytes (8 or 4), or 0 with the reason in
 * vt. */
static int value_width(sqlite3_vtab *vt, int64_t bytes, size_t P, const char *shape) {
    int width = (size_t)bytes == 8 * P ? 8 : (size_t)bytes == 4 * P ? 4 : 0;
    if (!width)
        vt->zErrMsg =
            sqlite3_mprintf("bp_weights: data holds %lld bytes, but shape %s needs %llu "
                            "(float64) or %llu (float32)",
                            (long long)bytes, shape, (unsigned long long)(8 * P),
                            (unsigned long long)(4 * P));
    return width;
}

/* A graph's shape (bp_sqlext.h: a tensor a line) into c->t, names into a
 * copy of the text, which the argument may not outlive. */
static int wt_load_tensors(cursor *c, sqlite3_vtab *vt, const char *shape, int64_t bytes,
                           int *width) {
    size_t len = strlen(shape), P = 0;
    int max = bp_tensors_count(shape);
    c->text = sqlite3_malloc64(len + 1);
    c->t = sqlite3_malloc64(sizeof *c->t * (size_t)max);
    if (!c->text || !c->t) return SQLITE_NOMEM;
    memcpy(c->text, shape, len + 1);
    c->T = bp_tensors_parse(c->text, c->t, max, &P);
    if (c->T < 0) {
        vt->zErrMsg = sqlite3_mprintf(
            "bp_weights: shape '%s' is not a list of tensors like 'fc1.weight:3x2' "
            "(one a line)",
            shape);
        return SQLITE_ERROR;
    }
    c->L = 0, c->off[0] = (int64_t)P, c->at = 0;
    return (*width = value_width(vt, bytes, P, shape)) ? SQLITE_OK : SQLITE_ERROR;
}

static int wt_load_shape(cursor *c, sqlite3_vtab *vt, sqlite3_value **argv, int *width) {
    const char *shape = (const char *)sqlite3_value_text(argv[1]);
    int64_t bytes = sqlite3_value_bytes(argv[0]);
    sqlite3_free(vt->zErrMsg);
    vt->zErrMsg = NULL;
    if (bp_shape_is_tensors(shape)) return wt_load_tensors(c, vt, shape, bytes, width);
    int n = bp_shape_parse(shape, c->sizes, BP_SHAPE_MAX);
    size_t P = 0;
    if (n < 0) {
        vt->zErrMsg = sqlite3_mprintf("bp_weights: shape '%s' is not a list of widths like "
                                      "'2,3,1' nor of tensors like 'fc1.weight:3x2'",
                                      shape ? shape : "");
        return SQLITE_ERROR;
    }
    if (bp_shape_params(&P, c->sizes, n)) {
        vt->zErrMsg = sqlite3_mprintf(
            "bp_weights: data holds %lld bytes, but shape %s needs more values than"
            " memory can hold",
            (long long)bytes, shape);
        return SQLITE_ERROR;
    }
    c->L = n - 1;
    int64_t off = 0;
    for (int l = 1; l <= c->L; l++) {
        c->off[l - 1] = off;
        off += (int64_t)c->sizes[l] * (c->sizes[l - 1] + 1);
    }
    c->off[c->L] = off;
    return (*width = value_width(vt, bytes, P, shape)) ? SQLITE_OK : SQLITE_ERROR;
}

/* The tensor of a graph named name (len bytes), or -1. */
static int tensor_named(const cursor *c, const char *name, size_t len) {
    for (int k = 0; name && k < c->T; k++)
        if ((size_t)c->t[k].name_len == len && !memcmp(c->t[k].name, name, len)) return k;
    return -1;
}

/* A stack's rows of tensor text ("2.weight", "2.bias") into [*lo, *hi);
 * 0 for no such tensor. */
static int stack_param(const cursor *c, const char *text, int64_t *lo, int64_t *hi) {
    char kind[8] = "";
    int l, at = 0;
    if (!text || sscanf(text, "%9d.%6[a-z]%n", &l, kind, &at) != 2 || text[at] || l < 1 ||
        l > c->L || (strcmp(kind, "weight") && strcmp(kind, "bias")))
        return 0;
    int64_t w = (int64_t)c->sizes[l] * c->sizes[l - 1];
    *lo = c->off[l - 1] + (kind[0] == 'b' ? w : 0);
    *hi = kind[0] == 'b' ? c->off[l] : c->off[l - 1] + w;
    return 1;
}

/* A graph's rows narrowed to the tensor a name or param names; 0 when none. */
static int graph_narrow(const cursor *c, const char *text, int is_name, int64_t *lo,
                        int64_t *hi) {
    if (!text) return 0;
    const char *bracket = is_name ? strchr(text, '[') : NULL;
    int k = tensor_named(c, text, bracket ? (size_t)(bracket - text) : strlen(text));
    if (k < 0) return 0;
    int64_t a = (int64_t)c->t[k].off, b = a + (int64_t)c->t[k].count;
    *lo = a > *lo ? a : *lo, *hi = b < *hi ? b : *hi;
    return *lo < *hi;
}

/* Narrows the rows [*lo, *hi) to the layer, name and param that idxNum
 * says follow data and shape in argv. Returns 0 when no row is left. */
static int wt_narrow(const cursor *c, int num, sqlite3_value **argv, int64_t *lo,
                     int64_t *hi) {
    int a = 2;
    if (num & HAS_LAYER) {
        sqlite3_int64 l = sqlite3_value_int64(argv[a++]);
        if (l < 1 || l > c->L) return 0; /* a graph's rows have no layer */
        *lo = c->off[l - 1], *hi = c->off[l];
    }
    if (num & HAS_NAME) {
        const char *text = (const char *)sqlite3_value_text(argv[a++]);
        int l, nn, i;
        if (c->T) {
            if (!graph_narrow(c, text, 1, lo, hi)) return 0;
        } else {
            if (!parse_name(text, &l, &nn, &i) || l > c->L || nn > c->sizes[l] ||
                i > c->sizes[l - 1])
                return 0;
            int I = c->sizes[l - 1], O = c->sizes[l];
            int64_t k = c->off[l - 1] +
                        (i ? (int64_t)(nn - 1) * I + (i - 1) : (int64_t)O * I + (nn - 1));
            if (k < *lo || k >= *hi) return 0;
            *lo = k, *hi = k + 1;
        }
    }
    if (num & HAS_PARAM) {
        const char *text = (const char *)sqlite3_value_text(argv[a++]);
        int64_t plo = *lo, phi = *hi;
        if (c->T) return graph_narrow(c, text, 0, lo, hi);
        if (!stack_param(c, text, &plo, &phi)) return 0;
        *lo = plo > *lo ? plo : *lo, *hi = phi < *hi ? phi : *hi;
        return *lo < *hi;
    }
    return 1;
}

static int wt_filter(sqlite3_vtab_cursor *cur, int num, const char *idx_str, int argc,
                     sqlite3_value **argv) {
    (void)idx_str, (void)argc;
    cursor *c = (cursor *)cur;
    sqlite3_free(c->v);
    sqlite3_free(c->t);
    sqlite3_free(c->text);
    c->v = NULL, c->t = NULL, c->text = NULL;
    c->lo = c->hi = c->idx = 0;
    c->T = c->at = 0;
    if (num & NO_ARGS) {
        sqlite3_free(cur->pVtab->zErrMsg);
        cur->pVtab->zErrMsg =
            sqlite3_mprintf("bp_weights needs two arguments: a snapshot's data and shape");
        return SQLITE_ERROR;
    }
    /* A NULL snapshot (an outer join) has no rows. */
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL ||
        sqlite3_value_type(argv[1]) == SQLITE_NULL)
        return SQLITE_OK;
    const unsigned char *data = sqlite3_value_blob(argv[0]);
    int width, rc = wt_load_shape(c, cur->pVtab, argv, &width);
    if (rc != SQLITE_OK) return rc;
    int64_t lo = 0, hi = c->off[c->L];
    if (!wt_narrow(c, num, argv, &lo, &hi)) return SQLITE_OK;
    /* The argument's BLOB may not outlive this call: copy what we return. */
    size_t size;
    if (bp_size_mul(&size, (size_t)(hi - lo > 0 ? hi - lo : 1), sizeof(double)) ||
        !(c->v = sqlite3_malloc64(size)))
        return SQLITE_NOMEM;
    bp_weights_decode(c->v, data + lo * width, (size_t)width, (size_t)(hi - lo));
    c->lo = c->idx = lo, c->hi = hi;
    return SQLITE_OK;
}

static int wt_next(sqlite3_vtab_cursor *cur) {
    ((cursor *)cur)->idx++;
    return SQLITE_OK;
}

static int wt_eof(sqlite3_vtab_cursor *cur) {
    cursor *c = (cursor *)cur;
    return c->idx >= c->hi;
}

/* A graph's row: its tensor (c->at, moved to the one holding idx), the
 * value's indexes and name. */
static int graph_column(cursor *c, sqlite3_context *ctx, int col) {
    while (c->at + 1 < c->T && (size_t)c->idx >= c->t[c->at].off + c->t[c->at].count)
        c->at++;
    while (c->at > 0 && (size_t)c->idx < c->t[c->at].off) c->at--;
    const bp_tensor_info *t = &c->t[c->at];
    int ix[BP_TENSOR_MAX_DIMS];
    size_t pos = (size_t)c->idx - t->off;
    for (int d = t->ndim - 1; d >= 0; d--) {
        ix[d] = (int)(pos % (size_t)t->dims[d]) + 1;
        pos /= (size_t)t->dims[d];
    }
    if (col == COL_PARAM) {
        sqlite3_result_text(ctx, t->name, t->name_len, SQLITE_TRANSIENT);
    } else if (col >= COL_I1 && col < COL_I1 + BP_TENSOR_MAX_DIMS) {
        if (col - COL_I1 < t->ndim) sqlite3_result_int(ctx, ix[col - COL_I1]);
        else sqlite3_result_null(ctx);
    } else if (col == COL_KIND) {
        const char *dot = t->name + t->name_len;
        while (dot > t->name && dot[-1] != '.') dot--;
        sqlite3_result_text(ctx, dot, (int)(t->name + t->name_len - dot), SQLITE_TRANSIENT);
    } else if (col == COL_NAME) {
        char *s = sqlite3_mprintf("%.*s%s", t->name_len, t->name, t->ndim ? "[" : "");
        for (int d = 0; s && d < t->ndim; d++) {
            char *more = sqlite3_mprintf("%s%d%s", s, ix[d], d + 1 < t->ndim ? "," : "]");
            sqlite3_free(s);
            s = more;
        }
        if (!s) return SQLITE_NOMEM;
        sqlite3_result_text(ctx, s, -1, sqlite3_free);
    } else if (col == COL_VALUE) {
        sqlite3_result_double(ctx, c->v[c->idx - c->lo]);
    } else if (col == COL_IDX) {
        sqlite3_result_int64(ctx, c->idx);
    } else {
        sqlite3_result_null(ctx); /* layer, neuron, input; hidden arguments */
    }
    return SQLITE_OK;
}

static int wt_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
    cursor *c = (cursor *)cur;
    if (c->T) return graph_column(c, ctx, col);
    int l = layer_of(c, c->idx);
    int I = c->sizes[l - 1], O = c->sizes[l];
    int64_t k = c->idx - c->off[l - 1]; /* position within layer l */
    int bias = k >= (int64_t)O * I;
    int n = bias ? (int)(k - (int64_t)O * I) + 1 : (int)(k / I) + 1;
    int i = bias ? 0 : (int)(k % I) + 1;
    switch (col) {
        case COL_LAYER: sqlite3_result_int(ctx, l); break;
        case COL_NEURON: sqlite3_result_int(ctx, n); break;
        case COL_INPUT:
            if (bias) sqlite3_result_null(ctx);
            else sqlite3_result_int(ctx, i);
            break;
        case COL_KIND:
            sqlite3_result_text(ctx, bias ? "b" : "w", 1, SQLITE_STATIC);
            break;
        case COL_NAME: {
            char s[48];
            int big = l > 9 || n > 9 || i > 9;
            if (bias) snprintf(s, sizeof s, big ? "b%d_%d" : "b%d%d", l, n);
            else snprintf(s, sizeof s, big ? "w%d_%d_%d" : "w%d%d%d", l, n, i);
            sqlite3_result_text(ctx, s, -1, SQLITE_TRANSIENT);
            break;
        }
        case COL_VALUE: sqlite3_result_double(ctx, c->v[c->idx - c->lo]); break;
        case COL_IDX: sqlite3_result_int64(ctx, c->idx); break;
        case COL_PARAM: {
            char s[32];
            snprintf(s, sizeof s, bias ? "%d.bias" : "%d.weight", l);
            sqlite3_result_text(ctx, s, -1, SQLITE_TRANSIENT);
            break;
        }
        case COL_I1: sqlite3_result_int(ctx, n); break;
        case COL_I1 + 1:
            if (bias) sqlite3_result_null(ctx);
            else sqlite3_result_int(ctx, i);
            break;
        default: sqlite3_result_null(ctx); break; /* hidden arguments */
    }
    return SQLITE_OK;
}

static int wt_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid) {
    *rowid = ((cursor *)cur)->idx;
    return SQLITE_OK;
}

static sqlite3_module weights_module = {
    .iVersion = 0,
    .xCreate = NULL, /* eponymous only: no CREATE VIRTUAL TABLE */
    .xConnect = wt_connect,
    .xBestIndex = wt_best_index,
    .xDisconnect = wt_disconnect,
    .xDestroy = wt_disconnect,
    .xOpen = wt_open,
    .xClose = wt_close,
    .xFilter = wt_filter,
    .xNext = wt_next,
    .xEof = wt_eof,
    .xColumn = wt_column,
    .xRowid = wt_rowid,
};

int bp_sqlext_register(sqlite3 *db) {
    return sqlite3_create_module(db, "bp_weights", &weights_module, NULL);
}

#ifdef BP_SQLEXT_LOADABLE
/* The entry point `.load bpsql` looks for (named after the file). */
#ifdef _WIN32
__declspec(dllexport)
#else
__attribute__((visibility("default")))
#endif
    int sqlite3_bpsql_init(sqlite3 *db, char **err, const sqlite3_api_routines *api) {
    (void)err;
    SQLITE_EXTENSION_INIT2(api);
    return bp_sqlext_register(db);
}
#endif
