/* test_text.c: a text corpus as ids (bp_text.h).
 *
 * Files written here with known bytes: the vocabulary sorted by value
 * whatever the order of files, ids, encode and its refusals, UTF-8
 * characters as tokens and invalid UTF-8 refused with its file and byte,
 * a directory read as its files without an extension in name order, the
 * split by position; batches: targets one step ahead of the inputs,
 * random offsets as bp_rng_below draws them, sequential batches whose rows
 * continue the previous batch's, both dtypes; every error's text. */
#define _DEFAULT_SOURCE /* mkdtemp */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sys/types.h>

#include "bp_alloc.h"
#include "bp_text.h"
#include "check.h"

static char dir[64];
static const char *cur = dir; /* where put writes */
static bp_err E;

/* cur/name holding s. */
static const char *put(const char *name, const char *s) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", cur, name);
    FILE *f = fopen(path, "wb");
    fwrite(s, 1, strlen(s), f);
    fclose(f);
    return path;
}

static void expect_load(const char *path, int utf8, const char *msg) {
    bp_text *t = bp_text_load(&path, 1, utf8, 0.1, &E);
    CHECK(t == NULL);
    if (strcmp(E.msg, msg) != 0) fprintf(stderr, "got:      %s\nexpected: %s\n", E.msg, msg);
    CHECK(strcmp(E.msg, msg) == 0);
}

static void test_vocab(void) {
    char a[512], b[512];
    snprintf(a, sizeof a, "%s", put("b.txt", "cab"));
    snprintf(b, sizeof b, "%s", put("a.txt", "bad\n"));
    const char *paths[2] = {a, b};
    bp_text *t = bp_text_load(paths, 2, 0, 0.25, &E);
    CHECK(t != NULL);
    /* "cabbad\n": tokens \n a b c d, ids 1..5 in byte order */
    CHECK(bp_text_vocab(t) == 5 && bp_text_length(t, -1) == 7);
    const int32_t want[7] = {4, 2, 3, 3, 2, 5, 1};
    CHECK(memcmp(bp_text_ids(t), want, sizeof want) == 0);
    size_t len;
    CHECK(strcmp(bp_text_token(t, 1, &len), "\n") == 0 && len == 1);
    CHECK(bp_text_token(t, 0, &len) == NULL && bp_text_token(t, 6, &len) == NULL);
    /* floor(7 * 0.75) = 5 train, 2 validation */
    CHECK(bp_text_length(t, BP_TEXT_TRAIN) == 5 && bp_text_length(t, BP_TEXT_VAL) == 2);
    int32_t ids[8];
    CHECK(bp_text_encode(t, "dab", 3, ids, &E) == 3 && ids[0] == 5 && ids[2] == 3);
    CHECK(bp_text_encode(t, "abz", 3, ids, &E) == -1);
    CHECK(strcmp(E.msg, "the character 'z' at byte 3 is not in the vocabulary") == 0);
    CHECK(bp_text_encode(t, "\t", 1, ids, &E) == -1);
    CHECK(strcmp(E.msg, "the character '\\x09' at byte 1 is not in the vocabulary") == 0);
    bp_text_free(t);
    bp_text_free(NULL);
}

static void test_utf8(void) {
    const char *p = put("u", "h\xc3\xa9h\xe2\x82\xac"); /* h é h € */
    bp_text *t = bp_text_load(&p, 1, 1, 0, &E);
    CHECK(t != NULL && bp_text_vocab(t) == 3 && bp_text_length(t, -1) == 4);
    size_t len;
    CHECK(memcmp(bp_text_token(t, 2, &len), "\xc3\xa9", 2) == 0 && len == 2);
    CHECK(memcmp(bp_text_token(t, 3, &len), "\xe2\x82\xac", 3) == 0 && len == 3);
    CHECK(bp_text_length(t, BP_TEXT_VAL) == 0);
    int32_t ids[8];
    CHECK(bp_text_encode(t, "\xe2\x82\xach", 4, ids, &E) == 2 && ids[0] == 3 && ids[1] == 1);
    CHECK(bp_text_encode(t, "h\xc3", 2, ids, &E) == -1);
    CHECK(strcmp(E.msg, "byte 2 is not UTF-8") == 0);
    bp_text_free(t);
    /* as bytes the same file has 7 tokens */
    t = bp_text_load(&p, 1, 0, 0, &E);
    CHECK(t != NULL && bp_text_vocab(t) == 6 && bp_text_length(t, -1) == 7);
    bp_text_free(t);
    char msg[640];
    p = put("bad", "ok\xc0\xaf"); /* an overlong '/' */
    snprintf(msg, sizeof msg, "%s/bad: byte 3 is not UTF-8", dir);
    expect_load(p, 1, msg);
}

/* A directory: its files without a '.', sorted by name; "a.dat" and a
 * subdirectory are not read. */
static void test_dir(void) {
    char sub[256];
    snprintf(sub, sizeof sub, "%s/d", dir);
    mkdir(sub, 0700);
    cur = sub;
    put("zeta", "Z");
    put("alpha", "A");
    put("a.dat", "xxxx");
    char inner[512];
    snprintf(inner, sizeof inner, "%s/sub", sub);
    mkdir(inner, 0700);
    const char *p = sub;
    bp_text *t = bp_text_load(&p, 1, 0, 0, &E);
    CHECK(t != NULL && bp_text_length(t, -1) == 2);
    CHECK(t && bp_text_ids(t)[0] == 1 && bp_text_ids(t)[1] == 2); /* "AZ" */
    bp_text_free(t);
    char msg[640];
    snprintf(msg, sizeof msg, "%s: no file without an extension in the directory", inner);
    expect_load(inner, 0, msg);
    cur = dir;
    expect_load(put("empty", ""), 0, "the corpus is empty (0 bytes)");
    char none[512];
    snprintf(none, sizeof none, "%s/none", dir);
    bp_text *n = bp_text_load(&(const char *){none}, 1, 0, 0, &E);
    CHECK(n == NULL && strstr(E.msg, "none") != NULL);
    const char *one = put("one", "x");
    CHECK(bp_text_load(&one, 1, 0, 1, &E) == NULL);
    CHECK(strcmp(E.msg, "the validation fraction must be in [0, 1) (got 1)") == 0);
}

static void test_batches(void) {
    /* 0123456789 as 10 ids 1..10; val 0.2: train 0..7, val 8, 9 */
    const char *p = put("digits", "0123456789");
    bp_text *t = bp_text_load(&p, 1, 0, 0.2, &E);
    CHECK(t != NULL);
    for (int f32 = 0; f32 < 2; f32++) {
        bp_data *d = bp_data_new(2, 3, 3, 0, NULL);
        bp_data_set_dtype(d, f32 ? BP_F32 : BP_F64, NULL);
        /* streams of L = (8 - 1) / 2 = 3: one batch of 3 steps */
        CHECK(bp_text_batches(t, BP_TEXT_TRAIN, 2, 3) == 1);
        CHECK(bp_text_batches(t, BP_TEXT_TRAIN, 1, 3) == 2);
        CHECK(bp_text_batch(t, d, BP_TEXT_TRAIN, 0, NULL, &E) == 0);
        const double x[6] = {1, 2, 3, 4, 5, 6}, y[6] = {2, 3, 4, 5, 6, 7};
        for (int k = 0; k < 6; k++) CHECK(bp_data_get(d, (size_t)k) == x[k] && d->y[k] == y[k]);
        CHECK(bp_text_batch(t, d, BP_TEXT_TRAIN, 1, NULL, &E) == -1);
        CHECK(strcmp(E.msg, "batch 2 of the training part, which has 1 of 2 x 3") == 0);
        /* random offsets: bp_rng_below(r, 8 - 3) a row */
        bp_rng r, r2;
        bp_rng_seed(&r, 5);
        bp_rng_seed(&r2, 5);
        CHECK(bp_text_batch(t, d, BP_TEXT_TRAIN, -1, &r, &E) == 0);
        for (int b = 0; b < 2; b++) {
            double o = (double)bp_rng_below(&r2, 5);
            for (int s = 0; s < 3; s++)
                CHECK(bp_data_get(d, (size_t)(b * 3 + s)) == o + s + 1 &&
                      d->y[b * 3 + s] == o + s + 2);
        }
        CHECK(bp_text_batch(t, d, BP_TEXT_VAL, -1, &r, &E) == -1);
        CHECK(strcmp(E.msg, "the validation part has 2 ids, fewer than a sequence of 3 "
                            "and its target") == 0);
        bp_data_free(d);
    }
    /* a sequence of one stream continues the batch before */
    bp_data *d = bp_data_new(1, 3, 3, 0, NULL);
    CHECK(bp_text_batch(t, d, BP_TEXT_TRAIN, 1, NULL, &E) == 0 && d->x[0] == 4 && d->y[2] == 7);
    bp_data_free(d);
    d = bp_data_new(1, 3, 2, 0, NULL);
    CHECK(bp_text_batch(t, d, BP_TEXT_TRAIN, 0, NULL, &E) == -1);
    CHECK(strcmp(E.msg, "a batch needs a data set of B rows of T inputs and T targets (got "
                        "1 x 3 and 2)") == 0);
    bp_data_free(d);
    bp_text_free(t);
}

/* An allocator that refuses any block over 1000 bytes: a corpus is read
 * through the engine's allocator, so a limit (--max-memory) holds for it. */
static void *small_malloc(size_t n) { return n > 1000 ? NULL : malloc(n); }

/* What is not a regular file is refused for what it is, before a byte is
 * read (bp.data.text("/dev/zero") read until the machine ran out of
 * memory: issue 19); a file larger than the allocator gives is refused
 * with its size. */
static void test_refusals(void) {
    expect_load("/dev/zero", 0, "/dev/zero: not a regular file (a character device)");
    char fifo[128], missing[128], msg[700];
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    CHECK(mkfifo(fifo, 0600) == 0);
    snprintf(msg, sizeof msg, "%s: not a regular file (a FIFO)", fifo);
    expect_load(fifo, 0, msg);
    snprintf(missing, sizeof missing, "%s/missing", dir);
    snprintf(msg, sizeof msg, "%s: cannot open: No such file or directory", missing);
    expect_load(missing, 0, msg);
    char big[2001];
    memset(big, 'a', 2000);
    big[2000] = '\0';
    const char *p = put("big.txt", big);
    char path[512];
    snprintf(path, sizeof path, "%s", p);
    bp_set_allocator(small_malloc, calloc, realloc, free);
    snprintf(msg, sizeof msg, "%s: out of memory for its 2000 bytes", path);
    expect_load(path, 0, msg);
    bp_set_allocator(NULL, NULL, NULL, NULL);
    unlink(fifo);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/test_text_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    test_vocab();
    test_utf8();
    test_dir();
    test_batches();
    test_refusals();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return check_report("test_text");
}
