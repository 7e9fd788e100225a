/* fuzz_sqlext.c: bp_weights, the table-valued function that unpacks a weight
 * snapshot in SQL (runlog/sqlext.c), on a shape and a blob of the fuzzer's
 * choosing, as a database another program wrote, or a user's SQL, can give
 * them (issue 19: a shape whose 8 x count wrapped to the blob's length
 * wrote 2^61 values into 792 bytes).
 *
 * Input: a byte choosing the constraint (none, layer = N, name = TEXT),
 * the shape as a length-prefixed string, the constraint's value (a 16-bit
 * layer, or a length-prefixed name), then the blob: every byte left.
 * The query runs on an in-memory connection with bp_sqlext_register alone.
 * Besides the sanitizers, the documented contract is checked against a
 * count made here in 128 bits: for a stack's shape, the query succeeds
 * exactly when the shape is a list of widths whose parameters fill the
 * blob as float64 or float32 (a graph's, check_tensors);
 * without a constraint it gives one row per parameter, idx 0, 1, 2, ... with
 * the blob's values (NULL for a NaN); with one, only rows that meet it. */
#include "input.h"

#include <math.h>
#include <stdlib.h>

#include <sqlite3.h>

#include "bp_sqlext.h"

#define EXPECT(cond)                                                                     \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "fuzz_sqlext.c:%d: contract broken: %s\n", __LINE__, #cond); \
            abort();                                                                     \
        }                                                                                \
    } while (0)

typedef unsigned __int128 u128;

/* The widths of a shape text as bp_weights documents it ("2,3,1": at least
 * two, each 1 .. 2^30, at most BP_SHAPE_MAX), counted here without the
 * code under test: the number of widths, or -1. */
static int widths_of(const char *s, long *w) {
    int n = 0;
    for (;;) {
        if (*s < '0' || *s > '9' || n == BP_SHAPE_MAX) return -1;
        long v = 0;
        while (*s >= '0' && *s <= '9') {
            v = v * 10 + (*s++ - '0');
            if (v > 1L << 30) return -1;
        }
        if (v < 1) return -1;
        w[n++] = v;
        if (!*s) break;
        if (*s++ != ',') return -1;
    }
    return n >= 2 ? n : -1;
}

/* Value k of the blob, little-endian, width 8 or 4 bytes. */
static double value_at(const uint8_t *blob, size_t k, size_t width) {
    uint64_t u = 0;
    for (size_t b = 0; b < width; b++) u |= (uint64_t)blob[k * width + b] << (8 * b);
    if (width == 8) {
        double d;
        memcpy(&d, &u, 8);
        return d;
    }
    uint32_t u32 = (uint32_t)u;
    float f;
    memcpy(&f, &u32, 4);
    return f;
}

/* Checks the rows of a query without a constraint: P of them, in order. */
static void check_all(sqlite3_stmt *st, const uint8_t *blob, u128 P, size_t width) {
    u128 k = 0;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        EXPECT(k < P);
        EXPECT((u128)sqlite3_column_int64(st, 6) == k);
        double want = value_at(blob, (size_t)k, width);
        if (isnan(want)) EXPECT(sqlite3_column_type(st, 5) == SQLITE_NULL);
        else EXPECT(sqlite3_column_double(st, 5) == want);
        k++;
    }
    EXPECT(r == SQLITE_DONE && k == P);
}

/* A graph's shape (a tensor a line, "NAME:DIMS"): the query fails with
 * bp_weights' own reason, or gives rows idx 0, 1, 2, ... whose count P is
 * the blob's length over 8 or 4, with the blob's values; constrained, a
 * layer matches no graph row and a name at most one. The count is the
 * rows', not one made here: what is checked is that the rows and the blob
 * agree, whatever the lines say. */
static void check_tensors(sqlite3 *db, sqlite3_stmt *st, const uint8_t *blob, size_t bytes,
                          unsigned mode) {
    u128 rows = 0;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) rows++;
    if (r != SQLITE_DONE) {
        EXPECT(strncmp(sqlite3_errmsg(db), "bp_weights: ", 12) == 0);
        return;
    }
    if (mode == 1) EXPECT(rows == 0);
    if (mode == 2) EXPECT(rows <= 1);
    if (mode != 0) return;
    size_t width = (u128)bytes == 8 * rows ? 8 : (u128)bytes == 4 * rows ? 4 : 0;
    EXPECT(width != 0 || (rows == 0 && bytes == 0));
    sqlite3_reset(st);
    if (width) check_all(st, blob, rows, width);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz f = {data, size};
    unsigned mode = fz_pick(&f, 3);
    char shape[256], name[24];
    fz_str(&f, shape, sizeof shape - 1);
    int layer = mode == 1 ? (int)fz_u16(&f) - 2 : 0;
    if (mode == 2) fz_str(&f, name, sizeof name - 1);
    const uint8_t *blob = f.p;
    size_t bytes = f.n;

    long w[BP_SHAPE_MAX];
    int n = widths_of(shape, w);
    u128 P = 0;
    for (int l = 1; l < n; l++) P += (u128)w[l] * (u128)(w[l - 1] + 1);
    size_t width = n < 0 ? 0 : (u128)bytes == 8 * P ? 8 : (u128)bytes == 4 * P ? 4 : 0;

    sqlite3 *db = NULL;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK ||
        bp_sqlext_register(db) != SQLITE_OK) {
        sqlite3_close(db);
        return 0;
    }
    static const char *const sql[3] = {
        "SELECT layer, neuron, input, kind, name, value, idx FROM bp_weights(?1, ?2)",
        "SELECT layer, neuron, input, kind, name, value, idx FROM bp_weights(?1, ?2)"
        " WHERE layer = ?3",
        "SELECT layer, neuron, input, kind, name, value, idx FROM bp_weights(?1, ?2)"
        " WHERE name = ?3"};
    sqlite3_stmt *st = NULL;
    EXPECT(sqlite3_prepare_v2(db, sql[mode], -1, &st, NULL) == SQLITE_OK);
    sqlite3_bind_blob(st, 1, bytes ? (const void *)blob : "", (int)bytes, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, shape, -1, SQLITE_STATIC);
    if (mode == 1) sqlite3_bind_int(st, 3, layer);
    if (mode == 2) sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);

    if (bp_shape_is_tensors(shape)) {
        check_tensors(db, st, blob, bytes, mode);
    } else if (!width) {
        /* No row, and bp_weights' own reason. */
        EXPECT(sqlite3_step(st) == SQLITE_ERROR);
        EXPECT(strncmp(sqlite3_errmsg(db), "bp_weights: ", 12) == 0);
    } else if (mode == 0) {
        check_all(st, blob, P, width);
    } else {
        int r, rows = 0;
        while ((r = sqlite3_step(st)) == SQLITE_ROW) {
            rows++;
            if (mode == 1) EXPECT(sqlite3_column_int(st, 0) == layer);
            else EXPECT(!strcmp((const char *)sqlite3_column_text(st, 4), name));
        }
        EXPECT(r == SQLITE_DONE);
        if (mode == 1 && layer >= 1 && layer < n)
            EXPECT((u128)rows == (u128)w[layer] * (u128)(w[layer - 1] + 1));
        if (mode == 1 && (layer < 1 || layer >= n)) EXPECT(rows == 0);
        if (mode == 2) EXPECT(rows <= 1);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return 0;
}
