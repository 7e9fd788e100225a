/* check.h: the few assertions the C tests share.
 *
 * A failed check prints file:line and what was expected, and the test goes
 * on so that one run shows every failure; main returns check_report(),
 * non-zero if anything failed, which is what ctest reads. */
#ifndef CHECK_H
#define CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures, check_count;

/* An allocator for bp_set_allocator (bp_alloc.h) that notes the largest
 * single request, *check_largest() (set it to 0 first): for tests that a
 * loader refuses a file before it allocates what the file announces. */
static inline size_t *check_largest(void) {
    static size_t largest;
    return &largest;
}
static inline void check_note(size_t n) {
    if (n > *check_largest()) *check_largest() = n;
}
static inline void *check_track_malloc(size_t n) {
    check_note(n);
    return malloc(n);
}
static inline void *check_track_calloc(size_t n, size_t size) {
    check_note(n * size);
    return calloc(n, size);
}
static inline void *check_track_realloc(void *p, size_t n) {
    check_note(n);
    return realloc(p, n);
}

#define CHECK(cond)                                                                  \
    do {                                                                             \
        check_count++;                                                               \
        if (!(cond)) {                                                               \
            check_failures++;                                                        \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

/* |got - want| <= tol, NaN never passes. */
#define CHECK_NEAR(got, want, tol)                                                \
    do {                                                                          \
        double g_ = (got), w_ = (want), t_ = (tol);                               \
        check_count++;                                                            \
        if (!(fabs(g_ - w_) <= t_)) {                                             \
            check_failures++;                                                     \
            fprintf(stderr, "%s:%d: %s = %.17g, want %.17g (tol %g)\n", __FILE__, \
                    __LINE__, #got, g_, w_, t_);                                  \
        }                                                                         \
    } while (0)

#define CHECK_STR(got, want)                                                         \
    do {                                                                             \
        const char *g_ = (got), *w_ = (want);                                        \
        check_count++;                                                               \
        if (!g_ || strcmp(g_, w_) != 0) {                                            \
            check_failures++;                                                        \
            fprintf(stderr, "%s:%d: %s = \"%s\", want \"%s\"\n", __FILE__, __LINE__, \
                    #got, g_ ? g_ : "(null)", w_);                                   \
        }                                                                            \
    } while (0)

/* The largest |a - b| / (1 + |b|) over n doubles (NaN counts as
 * largest), for holding one computation to another to rounding. */
static inline double check_worst(const double *a, const double *b, size_t n) {
    double w = 0;
    for (size_t k = 0; k < n; k++) {
        double d = fabs(a[k] - b[k]) / (1 + fabs(b[k]));
        if (!(d <= w)) w = d;
    }
    return w;
}

static int check_report(const char *name) {
    printf("%s: %d checks, %d failed\n", name, check_count, check_failures);
    return check_failures ? 1 : 0;
}

#endif
