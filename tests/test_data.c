/* test_data.c: the data module on files this test writes itself.
 *
 * Every loader is run on small CSV and IDX files (plain and gzip, the gzip
 * ones written with zlib's gzopen/gzwrite) in a fresh mkdtemp directory under
 * /tmp, good ones checked value by value and malformed ones against the exact
 * text of their error. Shuffling is held against Fisher-Yates written out
 * here, splits against row ids, scalers against statistics worked out by
 * hand on the training rows alone. The real data (the project's CSV files,
 * Debian's Fashion-MNIST) is checked too where it is installed. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, rmdir */
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include <sys/stat.h>
#include <zlib.h>

#include "bp_alloc.h"
#include "bp_data.h"
#include "check.h"

static char dir[64];
static char made[128][128]; /* files to remove at the end */
static int n_made;

/* The full path of a file in the test directory (from a ring of buffers
 * large enough for every path one test function holds at once). */
static const char *at(const char *name) {
    static char buf[32][128];
    static int next;
    char *p = buf[next++ % 32];
    snprintf(p, sizeof buf[0], "%s/%s", dir, name);
    return p;
}

static void remember(const char *path) {
    for (int j = 0; j < n_made; j++)
        if (strcmp(made[j], path) == 0) return;
    snprintf(made[n_made++], sizeof made[0], "%s", path);
}

static const char *write_bytes(const char *name, const void *bytes, size_t len) {
    const char *path = at(name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return path;
    CHECK(fwrite(bytes, 1, len, f) == len);
    fclose(f);
    remember(path);
    return path;
}

static const char *write_text(const char *name, const char *text) {
    return write_bytes(name, text, strlen(text));
}

static const char *write_gz(const char *name, const void *bytes, size_t len) {
    const char *path = at(name);
    gzFile f = gzopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return path;
    CHECK(gzwrite(f, bytes, (unsigned)len) == (int)len);
    CHECK(gzclose(f) == Z_OK);
    remember(path);
    return path;
}

/* The expected message, formatted (for paths inside the test directory). */
static const char *want(const char *fmt, ...) {
    static char buf[2][512];
    static int next;
    char *p = buf[next++ % 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p, sizeof buf[0], fmt, ap);
    va_end(ap);
    return p;
}

/* Loads a CSV that must fail and checks the message. */
#define CSV_FAILS(path, target, delim, classify, message)                   \
    do {                                                                    \
        bp_err e_ = {{0}};                                                  \
        bp_data *d_ = bp_data_load_csv(path, target, delim, classify, &e_); \
        CHECK(d_ == NULL);                                                  \
        bp_data_free(d_);                                                   \
        CHECK_STR(e_.msg, message);                                         \
    } while (0)

/* ------------------------------------------------------------------------ */
/* CSV                                                                       */

/* A byte order mark, CRLF, ';', quoted names, an empty line, padding, and
 * the target in the middle. */
static void test_csv_text_labels(void) {
    const char *p =
        write_text("flowers.csv", "\xEF\xBB\xBF\"sepal length\";species;\"pet\"\"al\"\r\n"
                                  "5.1;virginica;1.4\r\n"
                                  "\r\n"
                                  "4.9; setosa ;1.5\r\n"
                                  "6.0;\"versicolor\";4.5\r\n"
                                  "6.3;virginica;\"6.0\"\r\n");
    bp_err e = {{0}};
    bp_data *d = bp_data_load_csv(p, "species", ';', 1, &e);
    CHECK(d != NULL);
    if (!d) {
        fprintf(stderr, "%s\n", e.msg);
        return;
    }
    CHECK(d->n == 4 && d->d == 2 && d->k == 3 && d->n_classes == 3);
    CHECK_STR(d->names[0], "sepal length");
    CHECK_STR(d->names[1], "pet\"al");
    CHECK_STR(d->target, "species");
    /* Sorted, not in order of appearance (virginica comes first). */
    CHECK_STR(d->classes[0], "setosa");
    CHECK_STR(d->classes[1], "versicolor");
    CHECK_STR(d->classes[2], "virginica");
    const int labels[4] = {2, 0, 1, 2};
    const double x[8] = {5.1, 1.4, 4.9, 1.5, 6.0, 4.5, 6.3, 6.0};
    for (int r = 0; r < 4; r++) {
        CHECK(d->label[r] == labels[r]);
        for (int c = 0; c < 3; c++) CHECK(d->y[r * 3 + c] == (c == labels[r]));
    }
    for (int j = 0; j < 8; j++) CHECK(d->x[j] == x[j]);
    bp_data_free(d);
}

/* Integer labels sort as numbers; anything else sorts as text. */
static void test_csv_number_labels(void) {
    bp_err e;
    const char *p = write_text("ints.csv", "a,cls\n1,10\n2,2\n3,1\n4,2\n5,-3\n");
    bp_data *d = bp_data_load_csv(p, NULL, ',', 1, &e);
    CHECK(d && d->n_classes == 4);
    if (d) {
        const char *names[4] = {"-3", "1", "2", "10"};
        for (int c = 0; c < 4; c++) CHECK_STR(d->classes[c], names[c]);
        const int labels[5] = {3, 2, 1, 2, 0};
        for (int r = 0; r < 5; r++) CHECK(d->label[r] == labels[r]);
        CHECK_STR(d->target, "cls");
    }
    bp_data_free(d);
    p = write_text("mixed.csv", "a,cls\n1,10\n2,2\n3,x\n");
    d = bp_data_load_csv(p, NULL, ',', 1, &e);
    CHECK(d && d->n_classes == 3);
    if (d) {
        CHECK_STR(d->classes[0], "10");
        CHECK_STR(d->classes[1], "2");
        CHECK_STR(d->classes[2], "x");
        CHECK(d->label[0] == 0 && d->label[1] == 1 && d->label[2] == 2);
    }
    bp_data_free(d);
}

/* classify = 0: a numeric target, tab-separated, first column. */
static void test_csv_regression(void) {
    bp_err e;
    const char *p = write_text("reg.tsv", "y\tx1\tx2\n0.5\t1\t2\n-2e3\t3\t4\n");
    bp_data *d = bp_data_load_csv(p, "y", '\t', 0, &e);
    CHECK(d != NULL);
    if (!d) return;
    CHECK(d->n == 2 && d->d == 2 && d->k == 1);
    CHECK(d->label == NULL && d->n_classes == 0 && d->classes == NULL);
    CHECK(d->y[0] == 0.5 && d->y[1] == -2000);
    CHECK(d->x[0] == 1 && d->x[1] == 2 && d->x[2] == 3 && d->x[3] == 4);
    CHECK_STR(d->names[0], "x1");
    CHECK_STR(d->names[1], "x2");
    bp_data_free(d);
}

static void test_csv_errors(void) {
    const char *p = at("absent.csv");
    CSV_FAILS(p, NULL, ',', 1, want("%s: cannot open: No such file or directory", p));
    p = write_text("empty.csv", "");
    CSV_FAILS(p, NULL, ',', 1, want("%s: empty file", p));
    p = write_text("blank.csv", "\n \r\n\t\n");
    CSV_FAILS(p, NULL, ',', 1, want("%s: empty file", p));
    p = write_text("header.csv", "a,b\n\n");
    CSV_FAILS(p, NULL, ',', 1, want("%s: no data rows", p));

    /* Line numbers count every line of the file, the empty ones too. */
    p = write_text("ragged.csv", "a,b,c,d,e\n1,2,3,4,5\n\n1,2,3,4,5\n1,2,3,4,5\n"
                                 "1,2,3,4,5\n1,2,3\n");
    CSV_FAILS(p, NULL, ',', 1, want("%s:7: ragged row: 3 cells, header has 5", p));
    p = write_text("long.csv", "a,b\n1,2\n1,2,\n");
    CSV_FAILS(p, NULL, ',', 1, want("%s:3: ragged row: 3 cells, header has 2", p));

    p = write_text("abc.csv", "a,b,c\n1,2,3\n4,5,abc\n");
    CSV_FAILS(p, "a", ',', 1, want("%s:3:3: non-numeric cell 'abc'", p));
    p = write_text("comma.csv", "a;b;c\n1;2,5;3\n");
    CSV_FAILS(p, "c", ';', 0, want("%s:2:2: non-numeric cell '2,5'", p));
    p = write_text("regtext.csv", "a,y\n1,2\n1,abc\n");
    CSV_FAILS(p, "y", ',', 0, want("%s:3:2: non-numeric cell 'abc'", p));

    p = write_text("missing.csv", "a,b,c\n1,2,3\n1,2,3\n1,2,3\n1,,3\n");
    CSV_FAILS(p, NULL, ',', 1, want("%s:5:2: missing value", p));
    p = write_text("quoted_missing.csv", "a,b,c\n1,\"\",3\n");
    CSV_FAILS(p, NULL, ',', 1, want("%s:2:2: missing value", p));
    p = write_text("na.csv", "a,b,c\n1,2,3\nNA,2,3\n");
    CSV_FAILS(p, NULL, ',', 1, want("%s:3:1: missing value 'NA'", p));
    p = write_text("nan.csv", "a,b,c\n1,nan,3\n");
    CSV_FAILS(p, NULL, ',', 1, want("%s:2:2: missing value 'nan'", p));
    p = write_text("qmark.csv", "a,b,c\n1,2,?\n");
    CSV_FAILS(p, NULL, ',', 0, want("%s:2:3: missing value '?'", p));
    p = write_text("nolabel.csv", "a,b,c\n1,2,x\n1,2,\n");
    CSV_FAILS(p, NULL, ',', 1, want("%s:3:3: missing value", p));

    p = write_text("huge.csv", "a,b\n1e999,1\n");
    CSV_FAILS(p, NULL, ',', 1, want("%s:2:1: not a finite number '1e999'", p));
    p = write_text("inf.csv", "a,b\n1,-inf\n");
    CSV_FAILS(p, NULL, ',', 0, want("%s:2:2: not a finite number '-inf'", p));

    p = write_text("names.csv", "a,b,c\n1,2,3\n");
    CSV_FAILS(p, "species", ',', 1,
              want("%s: no column named 'species' (columns: a, b, c)", p));
    p = write_text("twice.csv", "a,b,a\n1,2,3\n");
    CSV_FAILS(p, "a", ',', 1,
              want("%s: column name 'a' appears twice (columns 1 and 3)", p));
    p = write_text("alone.csv", "y\n1\n");
    CSV_FAILS(p, NULL, ',', 0, want("%s: no input columns besides the target 'y'", p));
    p = write_text("quote.csv", "a,b\n1,\"abc\n");
    CSV_FAILS(p, NULL, ',', 1, want("%s:2:2: unterminated quote", p));
    p = write_text("after.csv", "a,b\n\"a\"b,1\n");
    CSV_FAILS(p, NULL, ',', 1, want("%s:2:1: text after a closing quote", p));
    p = write_bytes("binary.csv", "a,b\n1,2\n3\0,4\n", 13);
    CSV_FAILS(p, NULL, ',', 1, want("%s:3: not a text file (a NUL byte)", p));
    CSV_FAILS(p, NULL, '"', 1,
              want("%s: a quote or a line end cannot be the delimiter", p));

    /* A continuous column loaded as classes by mistake. */
    static char many[16000];
    size_t used = (size_t)sprintf(many, "a,c\n");
    for (int r = 0; r < 1001; r++) used += (size_t)sprintf(many + used, "1,%d\n", r);
    p = write_text("many.csv", many);
    CSV_FAILS(p, NULL, ',', 1,
              want("%s: column 'c' has 1001 distinct values, more classes than "
                   "1000: load it as a regression target",
                   p));

    /* A wide header: the list of columns is cut to fit the message. */
    used = 0;
    for (int j = 0; j < 100; j++) used += (size_t)sprintf(many + used, "c%d,", j);
    sprintf(many + used - 1, "\n");
    p = write_text("wide.csv", many);
    bp_err e;
    CHECK(bp_data_load_csv(p, "nope", ',', 1, &e) == NULL);
    const char *head = want("%s: no column named 'nope' (columns: c0, c1, c2, ", p);
    CHECK(strncmp(e.msg, head, strlen(head)) == 0);
    CHECK(strlen(e.msg) < BP_ERR_MAX - 1);
    CHECK(strcmp(e.msg + strlen(e.msg) - 6, ", ...)") == 0);
}

/* The project's own CSV files: in the source tree's data/ if they have been
 * copied there, else in the shared directory they came from. */
static void test_csv_real(void) {
    char base[512] = "";
    const char *src = getenv("BP_SOURCE_DIR");
    const char *dirs[2] = {src, "/work/shared/data"};
    for (int j = 0; j < 2 && !base[0]; j++) {
        if (!dirs[j]) continue;
        snprintf(base, sizeof base, j ? "%s/iris.csv" : "%s/data/iris.csv", dirs[j]);
        FILE *f = fopen(base, "r");
        if (f) fclose(f);
        else base[0] = '\0';
    }
    if (!base[0]) {
        printf("test_data: no iris.csv found, real CSV checks skipped\n");
        return;
    }
    char *slash = strrchr(base, '/');
    bp_err e;
    bp_data *d = bp_data_load_csv(base, "species", ',', 1, &e);
    CHECK(d && d->n == 150 && d->d == 4 && d->n_classes == 3);
    if (d) {
        int count[3] = {0};
        for (int r = 0; r < d->n; r++) count[d->label[r]]++;
        CHECK(count[0] == 50 && count[1] == 50 && count[2] == 50);
        CHECK_STR(d->classes[2], "virginica");
        CHECK_STR(d->names[3], "petal_width");
        CHECK(d->x[0] == 5.1 && d->label[0] == 0);
    }
    bp_data_free(d);
    strcpy(slash + 1, "wine.csv");
    d = bp_data_load_csv(base, "class", ',', 1, &e);
    CHECK(d && d->n == 178 && d->d == 13 && d->n_classes == 3);
    if (d) {
        int count[3] = {0};
        for (int r = 0; r < d->n; r++) count[d->label[r]]++;
        CHECK(count[0] == 59 && count[1] == 71 && count[2] == 48);
        CHECK(d->x[12] == 1065);
    }
    bp_data_free(d);
    strcpy(slash + 1, "digits.csv");
    d = bp_data_load_csv(base, "digit", ',', 1, &e);
    CHECK(d && d->n == 1797 && d->d == 64 && d->n_classes == 10);
    if (d) {
        CHECK_STR(d->classes[9], "9");
        CHECK(d->label[0] == 0 && d->label[1] == 1);
    }
    bp_data_free(d);
}

/* ------------------------------------------------------------------------ */
/* IDX                                                                       */

static size_t put32(unsigned char *b, uint32_t v) {
    b[0] = (unsigned char)(v >> 24);
    b[1] = (unsigned char)(v >> 16);
    b[2] = (unsigned char)(v >> 8);
    b[3] = (unsigned char)v;
    return 4;
}

/* An images file: header, then `pixels` bytes (which need not match it). */
static size_t idx_images(unsigned char *b, uint32_t magic, uint32_t n, uint32_t rows,
                         uint32_t cols, const unsigned char *px, size_t pixels) {
    size_t len = put32(b, magic);
    len += put32(b + len, n);
    len += put32(b + len, rows);
    len += put32(b + len, cols);
    memcpy(b + len, px, pixels);
    return len + pixels;
}

static size_t idx_labels(unsigned char *b, uint32_t magic, uint32_t n,
                         const unsigned char *lab, size_t count) {
    size_t len = put32(b, magic);
    len += put32(b + len, n);
    memcpy(b + len, lab, count);
    return len + count;
}

/* Three 2 x 2 images and their labels. */
static const unsigned char PX[12] = {0, 1, 2, 255, 10, 20, 30, 40, 7, 0, 128, 9};
static const unsigned char LAB[3] = {2, 0, 1};

#define IDX_FAILS(images, labels, C, message)                           \
    do {                                                                \
        bp_err e_ = {{0}};                                              \
        bp_data *d_ = bp_data_load_idx(images, labels, C, BP_F64, &e_); \
        CHECK(d_ == NULL);                                              \
        bp_data_free(d_);                                               \
        CHECK_STR(e_.msg, message);                                     \
    } while (0)

static void check_small_idx(const bp_data *d, int C) {
    CHECK(d->n == 3 && d->d == 4 && d->k == C && d->n_classes == C);
    for (int j = 0; j < 12; j++) CHECK(bp_data_get(d, j) == PX[j]);
    for (int r = 0; r < 3; r++) {
        CHECK(d->label[r] == LAB[r]);
        for (int c = 0; c < C; c++) CHECK(d->y[r * C + c] == (c == LAB[r]));
    }
    CHECK(d->names == NULL && d->target == NULL);
}

static void test_idx(void) {
    unsigned char img[64], lab[16];
    size_t li = idx_images(img, 0x803, 3, 2, 2, PX, 12);
    size_t ll = idx_labels(lab, 0x801, 3, LAB, 3);
    const char *ip = write_bytes("img-idx3-ubyte", img, li);
    const char *lp = write_bytes("lab-idx1-ubyte", lab, ll);
    const char *gi = write_gz("img-idx3-ubyte.gz", img, li);
    const char *gl = write_gz("lab-idx1-ubyte.gz", lab, ll);
    /* A gzip file whose name does not say so. */
    const char *hidden = write_gz("img-idx3-ubyte.bin", img, li);
    bp_err e;
    const char *pairs[4][2] = {{ip, lp}, {gi, gl}, {gi, lp}, {hidden, gl}};
    for (int j = 0; j < 4; j++) {
        bp_data *d = bp_data_load_idx(pairs[j][0], pairs[j][1], 0, BP_F64, &e);
        CHECK(d != NULL);
        if (d) check_small_idx(d, 3);
        if (d) CHECK_STR(d->classes[2], "2");
        bp_data_free(d);
    }
    bp_data *d = bp_data_load_idx(gi, gl, 10, BP_F64, &e);
    CHECK(d != NULL);
    if (d) check_small_idx(d, 10);
    if (d) CHECK_STR(d->classes[9], "9");
    bp_data_free(d);
}

/* A set large enough that its buffer asks for huge pages (dt_advise_rows:
 * more than 4 whole 2 MiB pages, as floats or doubles): 6,000 28 x 28
 * images, each value read back as written, float32 and float64, and each
 * label. */
static void test_idx_large(void) {
    enum { N = 6000, PXS = 28 * 28 };
    unsigned char *img = malloc(16 + (size_t)N * PXS), *px = malloc((size_t)N * PXS);
    unsigned char lab[8 + N], labs[N];
    CHECK(img && px);
    if (!img || !px) goto end;
    for (size_t j = 0; j < (size_t)N * PXS; j++)
        px[j] = (unsigned char)((j * 7 + j / 13) % 251);
    for (int r = 0; r < N; r++) labs[r] = (unsigned char)(r % 10);
    const char *ip = write_bytes("large-idx3-ubyte", img,
                                 idx_images(img, 0x803, N, 28, 28, px, (size_t)N * PXS));
    const char *lp =
        write_bytes("large-idx1-ubyte", lab, idx_labels(lab, 0x801, N, labs, N));
    bp_err e;
    for (int f32 = 0; f32 < 2; f32++) {
        bp_data *d = bp_data_load_idx(ip, lp, 10, f32 ? BP_F32 : BP_F64, &e);
        CHECK(d && d->n == N && d->d == PXS);
        if (!d) continue;
        size_t wrong = 0;
        for (size_t j = 0; j < (size_t)N * PXS; j++)
            wrong += bp_data_get(d, j) != px[j];
        CHECK(wrong == 0);
        for (int r = 0; r < N; r++) wrong += d->label[r] != labs[r];
        CHECK(wrong == 0);
        bp_data_free(d);
    }
end:
    free(img);
    free(px);
}

static void test_idx_errors(void) {
    unsigned char img[64], lab[16];
    size_t li = idx_images(img, 0x803, 3, 2, 2, PX, 12);
    size_t ll = idx_labels(lab, 0x801, 3, LAB, 3);
    const char *ip = write_bytes("i", img, li), *lp = write_bytes("l", lab, ll);
    const char *gi = write_gz("i.gz", img, li);
    const char *no = at("none-idx3-ubyte.gz");

    IDX_FAILS(no, lp, 0, want("%s: cannot open: No such file or directory", no));
    IDX_FAILS(ip, no, 0, want("%s: cannot open: No such file or directory", no));
    IDX_FAILS(lp, lp, 0,
              want("%s: not an IDX image file (magic 0x00000801, want 0x00000803)", lp));
    IDX_FAILS(ip, ip, 0,
              want("%s: not an IDX label file (magic 0x00000803, want 0x00000801)", ip));
    IDX_FAILS(ip, lp, -1, "the number of classes must be in 0..1000 (got -1)");

    const char *p = write_bytes("short-header", img, 7);
    IDX_FAILS(p, lp, 0, want("%s: truncated: expected 16 bytes of header, got 7", p));
    p = write_gz("short-header.gz", img, 7);
    IDX_FAILS(p, lp, 0, want("%s: truncated: expected 16 bytes of header, got 7", p));

    unsigned char bad[64];
    size_t len = idx_images(bad, 0x803, 3, 0, 2, PX, 12);
    p = write_bytes("zero-rows", bad, len);
    IDX_FAILS(p, lp, 0, want("%s: bad image size 0 x 2", p));
    len = idx_images(bad, 0x803, 0, 2, 2, PX, 0);
    p = write_bytes("zero-images", bad, len);
    IDX_FAILS(p, lp, 0, want("%s: bad image count 0", p));

    len = idx_images(bad, 0x803, 3, 2, 2, PX, 5);
    p = write_bytes("short-pixels", bad, len);
    IDX_FAILS(p, lp, 0, want("%s: truncated: expected 12 bytes of pixels, got 5", p));
    p = write_gz("short-pixels.gz", bad, len);
    IDX_FAILS(p, lp, 0, want("%s: truncated: expected 12 bytes of pixels, got 5", p));
    len = idx_images(bad, 0x803, 3, 2, 2, PX, 12);
    bad[len++] = 0;
    p = write_bytes("long-pixels", bad, len);
    IDX_FAILS(p, lp, 0, want("%s: more data after the 3 images its header announces", p));

    len = idx_labels(bad, 0x801, 2, LAB, 2);
    p = write_bytes("two-labels", bad, len);
    IDX_FAILS(ip, p, 0, want("%s has 3 images but %s has 2 labels", ip, p));
    len = idx_labels(bad, 0x801, 3, LAB, 2);
    p = write_gz("short-labels.gz", bad, len);
    IDX_FAILS(gi, p, 0, want("%s: truncated: expected 3 bytes of labels, got 2", p));
    IDX_FAILS(ip, lp, 2, want("%s: label 2 at index 0 is outside 0..1", lp));

    /* Gzip damage: a wrong checksum, and a stream cut short. */
    FILE *f = fopen(gi, "rb");
    unsigned char gz[256];
    size_t gzlen = f ? fread(gz, 1, sizeof gz, f) : 0;
    if (f) fclose(f);
    CHECK(gzlen > 8 && gzlen < sizeof gz);
    gz[gzlen - 8] ^= 0xFF; /* the trailer: CRC-32, then the length */
    p = write_bytes("bad-crc.gz", gz, gzlen);
    IDX_FAILS(p, lp, 0, want("%s: corrupt gzip data (incorrect data check)", p));
    gz[gzlen - 8] ^= 0xFF;
    p = write_bytes("no-trailer.gz", gz, gzlen - 8);
    IDX_FAILS(p, lp, 0, want("%s: truncated: the gzip stream ends early", p));

    /* Cut in the middle of a larger, incompressible stream: how many pixels
     * survive depends on zlib's blocks, so only the bound is checked. */
    enum { N = 50, D = 28 * 28 };
    static unsigned char big[16 + N * D], noise[N * D], cut[2 * N * D];
    bp_rng r;
    bp_rng_seed(&r, 5);
    for (int j = 0; j < N * D; j++) noise[j] = (unsigned char)bp_rng_below(&r, 256);
    len = idx_images(big, 0x803, N, 28, 28, noise, N * D);
    p = write_gz("big.gz", big, len);
    f = fopen(p, "rb");
    size_t clen = f ? fread(cut, 1, sizeof cut, f) : 0;
    if (f) fclose(f);
    CHECK(clen > 1000 && clen < sizeof cut);
    p = write_bytes("cut.gz", cut, clen / 2);
    unsigned char many[8 + N], zeros[N] = {0};
    len = idx_labels(many, 0x801, N, zeros, N);
    const char *ml = write_bytes("many-labels", many, len);
    bp_err e;
    CHECK(bp_data_load_idx(p, ml, 0, BP_F64, &e) == NULL);
    const char *head = want("%s: truncated: expected 39200 bytes of pixels, got ", p);
    CHECK(strncmp(e.msg, head, strlen(head)) == 0);
    long got = strtol(e.msg + strlen(head), NULL, 10);
    CHECK(got > 0 && got < N * D);
    /* The same file whole loads, byte for byte. */
    p = at("big.gz");
    bp_data *d = bp_data_load_idx(p, ml, 0, BP_F64, &e);
    CHECK(d && d->n == N && d->d == D && d->n_classes == 1);
    if (d)
        for (int j = 0; j < N * D; j++) CHECK(bp_data_get(d, j) == noise[j]);
    bp_data_free(d);
}

/* A loader's file must be a regular one, and what a header announces is
 * held against what the file can give before it is allocated (issue 19:
 * /dev/zero was read until memory ran out; an IDX file of 9 MB announcing
 * 2.1 GB of pixels had them allocated before it was found short). */
static void test_sizes_before_allocating(void) {
    const char *lp =
        write_bytes("fit-l", (unsigned char[]){0, 0, 8, 1, 0, 0, 0, 1, 0}, 9);
    CSV_FAILS("/dev/zero", NULL, ',', 1,
              "/dev/zero: not a regular file (a character device)");
    IDX_FAILS("/dev/zero", lp, 0, "/dev/zero: not a regular file (a character device)");
    IDX_FAILS(dir, lp, 0, want("%s: not a regular file (a directory)", dir));
    const char *fifo = at("fifo");
    CHECK(mkfifo(fifo, 0600) == 0);
    remember(fifo);
    CSV_FAILS(fifo, NULL, ',', 1, want("%s: not a regular file (a FIFO)", fifo));
    unsigned char small[64];
    const char *sp =
        write_bytes("fit-small", small, idx_images(small, 0x803, 3, 2, 2, PX, 12));
    IDX_FAILS(sp, fifo, 0, want("%s: not a regular file (a FIFO)", fifo));

    /* 60,000 images of 28 x 28 announced, 60,000 bytes of pixels given:
     * plain, refused on the file's size with nothing allocated; gzip,
     * refused where the stream ends, having allocated a chunk's worth. */
    enum { N = 60000, HAVE = 60000 };
    static unsigned char img[16 + HAVE], labels[8 + N];
    bp_rng r;
    bp_rng_seed(&r, 9);
    unsigned char noise[HAVE];
    for (int j = 0; j < HAVE; j++) noise[j] = (unsigned char)bp_rng_below(&r, 256);
    size_t li = idx_images(img, 0x803, N, 28, 28, noise, HAVE);
    size_t ll = idx_labels(labels, 0x801, N, (unsigned char[N]){0}, N);
    const char *ml = write_bytes("fit-labels", labels, ll);
    const char *plain = write_bytes("fit-images", img, li);
    const char *gz = write_gz("fit-images.gz", img, li);
    bp_set_allocator(check_track_malloc, check_track_calloc, check_track_realloc, free);
    *check_largest() = 0;
    IDX_FAILS(plain, ml, 0,
              want("%s: truncated: expected 47040000 bytes of pixels, got 60000", plain));
    CHECK(*check_largest() < 4096);
    *check_largest() = 0;
    IDX_FAILS(gz, ml, 0,
              want("%s: truncated: expected 47040000 bytes of pixels, got 60000", gz));
    CHECK(*check_largest() <= (1u << 20) * sizeof(double));
    /* A gzip file cannot announce more than 1032 times its size. */
    size_t lh = idx_images(img, 0x803, 2000000000, 1, 1, noise, 0);
    const char *tiny = write_gz("tiny-images.gz", img, lh);
    FILE *f = fopen(tiny, "rb");
    fseek(f, 0, SEEK_END);
    long tiny_size = ftell(f);
    fclose(f);
    *check_largest() = 0;
    IDX_FAILS(
        tiny, ml, 0,
        want("%s: the header announces 2000000000 bytes of pixels, more than a gzip "
             "file of %ld bytes can hold",
             tiny, tiny_size));
    CHECK(*check_largest() < 4096);
    /* Labels likewise: 60,000 announced, 100 given. */
    const char *full =
        write_bytes("fit-full", img, idx_images(img, 0x803, 1000, 1, 1, noise, 1000));
    const char *few =
        write_bytes("fit-few", labels, idx_labels(labels, 0x801, 1000, noise, 100));
    IDX_FAILS(full, few, 0,
              want("%s: truncated: expected 1000 bytes of labels, got 100", few));
    bp_set_allocator(NULL, NULL, NULL, NULL);
}

static void test_fashion_mnist(void) {
    unsigned char img[64], lab[16];
    size_t li = idx_images(img, 0x803, 3, 2, 2, PX, 12);
    size_t ll = idx_labels(lab, 0x801, 3, LAB, 3);
    /* One file gzipped, the other plain: both names are looked for. */
    write_gz("t10k-images-idx3-ubyte.gz", img, li);
    write_bytes("t10k-labels-idx1-ubyte", lab, ll);
    bp_err e;
    bp_data *d = bp_data_fashion_mnist(dir, 0, BP_F64, &e);
    CHECK(d != NULL);
    if (d) {
        check_small_idx(d, 10);
        CHECK_STR(d->classes[0], "T-shirt/top");
        CHECK_STR(d->classes[9], "Ankle boot");
    }
    bp_data_free(d);
    CHECK(bp_data_fashion_mnist(dir, 1, BP_F64, &e) == NULL);
    CHECK_STR(e.msg, want("no Fashion-MNIST in %s (no train-images-idx3-ubyte[.gz]): "
                          "install Debian's dataset-fashion-mnist or give the "
                          "directory of the files",
                          dir));

    /* The Debian package, when installed: the 10,000 test images. The first
     * labels and the first image's pixel sum were read independently (by
     * Python's gzip module) from the package's files. */
    FILE *f = fopen(BP_FASHION_MNIST_DIR "/t10k-images-idx3-ubyte.gz", "rb");
    if (!f) {
        printf("test_data: dataset-fashion-mnist not installed, skipped\n");
        return;
    }
    fclose(f);
    d = bp_data_fashion_mnist(NULL, 0, BP_F64, &e);
    CHECK(d && d->n == 10000 && d->d == 784 && d->k == 10);
    if (!d) return;
    int count[10] = {0};
    for (int r = 0; r < d->n; r++) count[d->label[r]]++;
    for (int c = 0; c < 10; c++) CHECK(count[c] == 1000);
    const int first[5] = {9, 2, 1, 1, 6};
    for (int r = 0; r < 5; r++) CHECK(d->label[r] == first[r]);
    double sum = 0, hi = 0;
    for (int j = 0; j < 784; j++) sum += bp_data_get(d, j);
    for (size_t j = 0; j < (size_t)d->n * d->d; j++) hi = fmax(hi, bp_data_get(d, j));
    CHECK(sum == 33456 && hi == 255);
    bp_data_free(d);
}

/* ------------------------------------------------------------------------ */
/* Preparing                                                                 */

/* n rows: x = (id, 100 + id), label id % 3, one-hot y. */
static bp_data *ids(int n) {
    bp_err e;
    bp_data *d = bp_data_new(n, 2, 3, 3, &e);
    for (int r = 0; r < n; r++) {
        d->x[2 * r] = r;
        d->x[2 * r + 1] = 100 + r;
        d->label[r] = r % 3;
    }
    CHECK(bp_data_onehot(d, &e) == 0);
    return d;
}

static int rows_intact(const bp_data *d) {
    for (int r = 0; r < d->n; r++) {
        int id = (int)d->x[2 * r];
        if (d->x[2 * r + 1] != 100 + id || d->label[r] != id % 3) return 0;
        for (int c = 0; c < 3; c++)
            if (d->y[3 * r + c] != (c == id % 3)) return 0;
    }
    return 1;
}

static void test_shuffle(void) {
    enum { N = 20 };
    bp_data *a = ids(N), *b = ids(N), *c = ids(N);
    bp_rng ra, rb, rc, ref;
    bp_rng_seed(&ra, 42);
    bp_rng_seed(&rb, 42);
    bp_rng_seed(&rc, 43);
    ref = ra;
    bp_err e;
    CHECK(bp_data_shuffle(a, &ra, &e) == 0);
    CHECK(bp_data_shuffle(b, &rb, &e) == 0);
    CHECK(bp_data_shuffle(c, &rc, &e) == 0);
    CHECK(memcmp(a->x, b->x, sizeof(double) * N * 2) == 0);
    CHECK(memcmp(a->x, c->x, sizeof(double) * N * 2) != 0);
    CHECK(rows_intact(a) && rows_intact(c));
    /* Fisher-Yates as the header states it, on the ids alone. */
    int perm[N];
    for (int r = 0; r < N; r++) perm[r] = r;
    for (int i = N - 1; i > 0; i--) {
        int j = (int)bp_rng_below(&ref, (uint64_t)i + 1);
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    int moved = 0;
    for (int r = 0; r < N; r++) {
        CHECK(a->x[2 * r] == perm[r]);
        moved += perm[r] != r;
    }
    CHECK(moved > N / 2);
    bp_data *one = ids(1);
    CHECK(bp_data_shuffle(one, &ra, &e) == 0 && one->x[0] == 0);
    bp_data_free(one);
    bp_data_free(a);
    bp_data_free(b);
    bp_data_free(c);
}

static void test_split(void) {
    enum { N = 10 };
    bp_data *d = ids(N);
    bp_rng r;
    bp_rng_seed(&r, 1);
    bp_err e;
    bp_data_shuffle(d, &r, &e);
    d->target = malloc(4);
    strcpy(d->target, "id");
    bp_data *tr, *va, *te;
    CHECK(bp_data_split(d, 0.6, 0.2, &tr, &va, &te, &e) == 0);
    CHECK(tr->n == 6 && va->n == 2 && te->n == 2);
    int seen[N] = {0}, row = 0;
    const bp_data *parts[3] = {tr, va, te};
    for (int p = 0; p < 3; p++) {
        CHECK(rows_intact(parts[p]));
        CHECK_STR(parts[p]->target, "id");
        for (int s = 0; s < parts[p]->n; s++, row++) {
            int id = (int)parts[p]->x[2 * s];
            seen[id]++;
            CHECK(id == (int)d->x[2 * row]); /* in order, train first */
        }
    }
    for (int id = 0; id < N; id++) CHECK(seen[id] == 1);
    bp_data_free(tr);
    bp_data_free(va);
    bp_data_free(te);

    /* Rounding, and empty parts that still behave. */
    CHECK(bp_data_split(d, 0.7, 0.3, &tr, &va, &te, &e) == 0);
    CHECK(tr->n == 7 && va->n == 3 && te->n == 0);
    CHECK(bp_data_batch(te, 0, 4, NULL, NULL, NULL) == 0);
    bp_data_free(tr);
    bp_data_free(va);
    bp_data_free(te);
    bp_data *three = ids(3);
    CHECK(bp_data_split(three, 0.5, 0.5, &tr, &va, &te, &e) == 0);
    CHECK(tr->n == 2 && va->n == 1 && te->n == 0);
    bp_data_free(tr);
    bp_data_free(va);
    bp_data_free(te);
    bp_data_free(three);

    CHECK(bp_data_split(d, 0.8, 0.3, &tr, &va, &te, &e) == -1);
    CHECK(tr == NULL && va == NULL && te == NULL);
    CHECK_STR(e.msg, "split fractions must be >= 0 and add up to at most 1 "
                     "(got train 0.8, validation 0.3)");
    CHECK(bp_data_split(d, NAN, 0, &tr, &va, &te, &e) == -1);
    CHECK(bp_data_split(d, 0.5, -0.1, &tr, &va, &te, &e) == -1);
    CHECK(bp_data_slice(d, 8, 5, &e) == NULL);
    CHECK_STR(e.msg, "rows 8..12 are not inside the data's 0..9");
    bp_data_free(d);
}

static void test_batches(void) {
    bp_data *d = ids(10);
    const double *x, *y;
    const int *label;
    int sizes[3], count = 0, B;
    for (int s = 0; (B = bp_data_batch(d, s, 4, &x, &y, &label)) > 0; s += B) {
        CHECK(x == d->x + 2 * s && y == d->y + 3 * s && label == d->label + s);
        sizes[count++] = B;
        if (count == 3) break;
    }
    CHECK(count == 3 && sizes[0] == 4 && sizes[1] == 4 && sizes[2] == 2);
    CHECK(bp_data_batch(d, 10, 4, &x, &y, &label) == 0);
    CHECK(bp_data_batch(d, -1, 4, &x, &y, &label) == 0);
    CHECK(bp_data_batch(d, 0, 0, &x, &y, &label) == 0);
    bp_data_free(d);
    bp_err e;
    d = bp_data_new(2, 1, 1, 0, &e);
    CHECK(bp_data_batch(d, 0, 8, &x, &y, &label) == 2 && label == NULL);
    bp_data_free(d);
}

static void test_scaler(void) {
    bp_err e;
    /* Train: three columns, the middle one constant. Test: one row. */
    bp_data *tr = bp_data_new(4, 3, 1, 0, &e), *te = bp_data_new(1, 3, 1, 0, &e);
    const double xt[12] = {1, 5, 0, 2, 5, 10, 3, 5, 20, 4, 5, 30};
    memcpy(tr->x, xt, sizeof xt);
    te->x[0] = 5;
    te->x[1] = 7;
    te->x[2] = 40;
    bp_scaler *s = bp_scaler_fit(tr, BP_SCALE_STANDARD, &e);
    CHECK(s && s->d == 3 && s->kind == BP_SCALE_STANDARD);
    /* By hand: means 2.5, 5, 15; variances (2.25+0.25+0.25+2.25)/4 = 1.25
     * and (225+25+25+225)/4 = 125; the constant column keeps scale 1. */
    CHECK_NEAR(s->shift[0], 2.5, 1e-15);
    CHECK_NEAR(s->scale[0], sqrt(1.25), 1e-15);
    CHECK(s->shift[1] == 5 && s->scale[1] == 1);
    CHECK_NEAR(s->shift[2], 15, 1e-15);
    CHECK_NEAR(s->scale[2], sqrt(125), 1e-14);
    CHECK(bp_scaler_apply(s, te, &e) == 0);
    CHECK_NEAR(te->x[0], 2.5 / sqrt(1.25), 1e-15);
    CHECK(te->x[1] == 2);
    CHECK_NEAR(te->x[2], 25 / sqrt(125), 1e-15);
    CHECK(bp_scaler_apply(s, tr, &e) == 0);
    for (int i = 0; i < 3; i++) {
        double m = 0, v = 0;
        for (int r = 0; r < 4; r++) m += tr->x[3 * r + i] / 4;
        for (int r = 0; r < 4; r++)
            v += (tr->x[3 * r + i] - m) * (tr->x[3 * r + i] - m) / 4;
        CHECK_NEAR(m, 0, 1e-15);
        CHECK_NEAR(v, i == 1 ? 0 : 1, 1e-12);
    }
    bp_scaler_free(s);

    memcpy(tr->x, xt, sizeof xt);
    te->x[0] = 5;
    te->x[1] = 7;
    te->x[2] = 40;
    s = bp_scaler_fit(tr, BP_SCALE_MINMAX, &e);
    CHECK(s && s->shift[0] == 1 && s->scale[0] == 3 && s->scale[1] == 1);
    bp_scaler_apply(s, te, &e);
    CHECK_NEAR(te->x[0], 4.0 / 3, 1e-15);
    CHECK(te->x[1] == 2);
    CHECK_NEAR(te->x[2], 40.0 / 30, 1e-15);
    bp_scaler_apply(s, tr, &e);
    CHECK(tr->x[0] == 0 && tr->x[9] == 1 && tr->x[2] == 0 && tr->x[11] == 1);
    bp_scaler_free(s);

    /* Fitted after a split, the scaler sees the training rows only: the
     * last rows are 1000 times larger and must not move it. */
    bp_data *all = bp_data_new(10, 1, 1, 0, &e), *a, *b, *c;
    for (int r = 0; r < 10; r++) all->x[r] = r < 6 ? r : 1000.0 * r;
    CHECK(bp_data_split(all, 0.6, 0.2, &a, &b, &c, &e) == 0);
    s = bp_scaler_fit(a, BP_SCALE_STANDARD, &e);
    CHECK_NEAR(s->shift[0], 2.5, 1e-15);            /* mean of 0..5 */
    CHECK_NEAR(s->scale[0], sqrt(17.5 / 6), 1e-15); /* their std */
    bp_scaler_apply(s, c, &e);
    CHECK_NEAR(c->x[0], (8000 - 2.5) / sqrt(17.5 / 6), 1e-9);
    bp_scaler_free(s);
    bp_data_free(a);
    bp_data_free(b);
    bp_data_free(c);
    bp_data_free(all);

    s = bp_scaler_fixed(3, 0, 255, &e);
    te->x[0] = 255;
    te->x[1] = 51;
    bp_scaler_apply(s, te, &e);
    CHECK(te->x[0] == 1 && te->x[1] == 0.2);
    bp_scaler_free(s);

    bp_data *narrow = bp_data_new(2, 2, 1, 0, &e), *none = bp_data_new(0, 3, 1, 0, &e);
    s = bp_scaler_fit(tr, BP_SCALE_MINMAX, &e);
    CHECK(bp_scaler_apply(s, narrow, &e) == -1);
    CHECK_STR(e.msg, "the scaler was fitted to 3 columns, the data has 2");
    bp_scaler_free(s);
    CHECK(bp_scaler_fit(none, BP_SCALE_STANDARD, &e) == NULL);
    CHECK_STR(e.msg, "cannot fit a scaler to 0 samples");
    CHECK(bp_scaler_fit(tr, BP_SCALE_FIXED, &e) == NULL);
    CHECK_STR(e.msg, "a scaler is fitted as standard or minmax, not fixed");
    CHECK(bp_scaler_fixed(3, 0, 0, &e) == NULL);
    CHECK_STR(e.msg, "a fixed scaler needs d >= 1 and a finite shift and non-zero "
                     "scale (got 3, 0, 0)");
    for (int k = 0; k < BP_SCALE_COUNT; k++) CHECK(bp_scale_parse(bp_scale_name(k)) == k);
    CHECK(bp_scale_parse("zscore") == -1);
    bp_scaler_free(NULL);
    bp_data_free(narrow);
    bp_data_free(none);
    bp_data_free(tr);
    bp_data_free(te);
}

static void test_new_and_onehot(void) {
    bp_err e;
    CHECK(bp_data_new(-1, 2, 1, 0, &e) == NULL);
    CHECK_STR(e.msg, "a data set needs n >= 0 samples, d >= 1 inputs and k >= 1 "
                     "targets (got -1, 2, 1)");
    CHECK(bp_data_new(3, 2, 4, 3, &e) == NULL);
    CHECK_STR(e.msg, "one-hot targets need k = n_classes (got k = 4, 3 classes)");
    bp_data *d = ids(3);
    d->label[1] = 5;
    d->y[0] = 7;
    CHECK(bp_data_onehot(d, &e) == -1);
    CHECK_STR(e.msg, "label 5 of row 2 is outside 0..2");
    CHECK(d->y[0] == 7);
    bp_data_free(d);
    d = bp_data_new(3, 2, 1, 0, &e);
    CHECK(bp_data_onehot(d, &e) == -1);
    CHECK_STR(e.msg, "one-hot targets need class labels");
    bp_data_free(d);
    bp_data_free(NULL);
}

/* ------------------------------------------------------------------------ */
/* Metrics                                                                   */

static void test_metrics(void) {
    /* Argmaxes 1, 0 (a tie goes to the first), 2, 0 against labels 1, 1, 2,
     * 0: three right. */
    const double out[12] = {0.1, 0.7, 0.2, 0.5, 0.5, 0.0, -1, -2, -0.5, 3, 1, 2};
    const int label[4] = {1, 1, 2, 0};
    CHECK(bp_argmax(out + 3, 3) == 0);
    CHECK(bp_accuracy(out, label, 4, 3) == 0.75);
    CHECK(bp_accuracy(out, label, 0, 3) == 0);
    int m[9] = {0};
    bp_confusion(m, out, label, 4, 3);
    const int want1[9] = {1, 0, 0, 1, 1, 0, 0, 0, 1};
    CHECK(memcmp(m, want1, sizeof m) == 0);
    const int odd[2] = {-1, 3}; /* outside 0..2: not counted */
    bp_confusion(m, out, label, 2, 3);
    bp_confusion(m, out, odd, 2, 3);
    const int want2[9] = {1, 0, 0, 2, 2, 0, 0, 0, 1};
    CHECK(memcmp(m, want2, sizeof m) == 0);
}

/* float32 inputs: the IDX loader's bytes stand for floats, and every
 * operation on a data set gives in float32 what it gives in float64,
 * rounded once to float (the IDX pixels are exact in both). */
static void test_float32(void) {
    /* test_idx's plain pair: PX and LAB */
    const char *ip = at("img-idx3-ubyte"), *lp = at("lab-idx1-ubyte");
    bp_err e;
    bp_data *a = bp_data_load_idx(ip, lp, 0, BP_F64, &e);
    bp_data *b = bp_data_load_idx(ip, lp, 0, BP_F32, &e);
    CHECK(a && b);
    if (!a || !b) return;
    /* byte-backed as loaded, float-backed once materialized */
    CHECK(a->dtype == BP_F64 && a->x8 && !a->x && !a->x32);
    CHECK(b->dtype == BP_F32 && b->x8 && !b->x && !b->x32);
    for (int j = 0; j < 12; j++) CHECK(bp_data_get(a, j) == PX[j] && bp_data_get(b, j) == PX[j]);
    CHECK(bp_data_row(b, 2) == NULL);
    CHECK(bp_data_materialize(a, &e) == 0 && bp_data_materialize(b, &e) == 0);
    CHECK(a->x && !a->x8 && !a->table && b->x32 && !b->x8 && !b->x);
    for (int j = 0; j < 12; j++) CHECK(b->x32[j] == PX[j] && bp_data_get(b, j) == PX[j]);
    CHECK(bp_data_row(b, 2) == b->x32 + 8 && bp_data_row(a, 1) == a->x + 4);
    const double *x = a->x, *y;
    CHECK(bp_data_batch(b, 1, 2, &x, &y, NULL) == 2 && x == NULL && y == b->y + 3);
    CHECK(bp_data_load_idx(ip, lp, 0, (bp_dtype)7, &e) == NULL);
    CHECK_STR(e.msg, "unknown dtype 7");

    /* Shuffle, slice, standard scaling: the float64 figures, rounded. */
    bp_rng ra, rb;
    bp_rng_seed(&ra, 4);
    rb = ra;
    CHECK(bp_data_shuffle(a, &ra, NULL) == 0 && bp_data_shuffle(b, &rb, NULL) == 0);
    bp_data *sa = bp_data_slice(a, 1, 2, NULL), *sb = bp_data_slice(b, 1, 2, NULL);
    CHECK(sa && sb && sb->dtype == BP_F32);
    bp_scaler *fa = bp_scaler_fit(a, BP_SCALE_STANDARD, &e);
    bp_scaler *fb = bp_scaler_fit(b, BP_SCALE_STANDARD, &e);
    CHECK(fa && fb);
    for (int i = 0; fa && fb && i < 4; i++)
        CHECK(fa->shift[i] == fb->shift[i] && fa->scale[i] == fb->scale[i]);
    CHECK(bp_scaler_apply(fa, sa, &e) == 0 && bp_scaler_apply(fb, sb, &e) == 0);
    int scaled = 0;
    for (int j = 0; j < 8; j++) {
        CHECK(sb->x32[j] == (float)sa->x[j]);
        scaled += sa->x[j] != (float)sa->x[j]; /* some need the rounding */
    }
    CHECK(scaled > 0);
    for (int r = 0; r < 2; r++) CHECK(sa->label[r] == sb->label[r]);

    /* Converting in place, both ways. */
    CHECK(bp_data_set_dtype(sa, BP_F32, &e) == 0);
    CHECK(sa->dtype == BP_F32 && !sa->x &&
          memcmp(sa->x32, sb->x32, 8 * sizeof(float)) == 0);
    CHECK(bp_data_set_dtype(sb, BP_F64, &e) == 0);
    CHECK(sb->dtype == BP_F64 && !sb->x32);
    for (int j = 0; j < 8; j++) CHECK(sb->x[j] == sa->x32[j]);
    CHECK(bp_data_set_dtype(sb, BP_F64, &e) == 0); /* already: nothing to do */
    CHECK(bp_data_set_dtype(sb, BP_DTYPE_COUNT, &e) == -1);
    CHECK_STR(e.msg, "unknown dtype 2");
    bp_scaler_free(fa);
    bp_scaler_free(fb);
    bp_data *all[] = {a, b, sa, sb};
    for (int k = 0; k < 4; k++) bp_data_free(all[k]);
}

int main(void) {
    strcpy(dir, "/tmp/bp_test_data.XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_csv_text_labels();
    test_csv_number_labels();
    test_csv_regression();
    test_csv_errors();
    test_csv_real();
    test_idx();
    test_idx_large();
    test_idx_errors();
    test_sizes_before_allocating();
    test_float32();
    test_fashion_mnist();
    test_shuffle();
    test_split();
    test_batches();
    test_scaler();
    test_new_and_onehot();
    test_metrics();
    for (int j = 0; j < n_made; j++) remove(made[j]);
    rmdir(dir);
    return check_report("test_data");
}
