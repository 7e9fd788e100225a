/* test_rng.c: the engine's random generator against the published algorithm.
 *
 * The oracle is a second copy of splitmix64 and xoshiro256** written below
 * from Blackman and Vigna's reference code, independently of engine/rng.c,
 * anchored to splitmix64's published first outputs for seed 0 and to golden
 * values of seed 42 computed by a separate Python transcription. The deviates
 * are then checked for range and statistics (with tolerances of five standard
 * errors or more; the seeds are fixed, so a pass is reproducible, not luck),
 * the rejection step of bp_rng_below is driven through crafted states, and
 * bp_rng_log is held against libm's log. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bp_rng.h"
#include "check.h"

/* ------------------------------------------------------------------------ */
/* The reference: splitmix64 (Vigna, splitmix64.c) and xoshiro256**
 * (Blackman and Vigna, xoshiro256starstar.c), transcribed as published. */

typedef struct ref_rng {
    uint64_t s[4];
} ref_rng;

static uint64_t ref_splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
    z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
    return z ^ (z >> 31);
}

static inline uint64_t ref_rotl(const uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

static uint64_t ref_next(ref_rng *r) {
    uint64_t *s = r->s;
    const uint64_t result = ref_rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = ref_rotl(s[3], 45);
    return result;
}

static void ref_seed(ref_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = ref_splitmix64(&seed);
}

/* The multiplicative inverse of an odd a modulo 2^64 (Newton's iteration:
 * each step doubles the number of correct low bits, 3 -> 6 -> ... -> 96). */
static uint64_t inverse_mod_2_64(uint64_t a) {
    uint64_t x = a; /* a * a == 1 mod 8, so x is right to 3 bits */
    for (int k = 0; k < 5; k++) x *= 2 - a * x;
    return x;
}

/* A state whose next output is exactly `want`: the output depends on s[1]
 * alone, and rotl(s1 * 5, 7) * 9 can be undone step by step. */
static bp_rng state_giving(uint64_t want) {
    uint64_t v = want * inverse_mod_2_64(9);
    v = (v >> 7) | (v << 57); /* rotate right by 7 */
    bp_rng r = {{0x0123456789abcdefULL, v * inverse_mod_2_64(5), 0xfedcba9876543210ULL,
                 0x0f1e2d3c4b5a6978ULL}};
    return r;
}

/* ------------------------------------------------------------------------ */

static void test_reference_anchor(void) {
    /* splitmix64's published first outputs for seed 0. */
    uint64_t x = 0;
    CHECK(ref_splitmix64(&x) == 0xe220a8397b1dcdafULL);
    CHECK(ref_splitmix64(&x) == 0x6e789e6aa1b965f4ULL);
    CHECK(ref_splitmix64(&x) == 0x06c45d188009454fULL);
    CHECK(inverse_mod_2_64(9) * 9 == 1 && inverse_mod_2_64(5) * 5 == 1);
}

/* Seed 42: the state and first outputs, from a Python transcription of the
 * same two published algorithms (arbitrary-precision integers masked to 64
 * bits), so neither C file is checked only against itself. */
static void test_golden_seed_42(void) {
    static const uint64_t state[4] = {0xbdd732262feb6e95ULL, 0x28efe333b266f103ULL,
                                      0x47526757130f9f52ULL, 0x581ce1ff0e4ae394ULL};
    static const uint64_t first[5] = {0x15780b2e0c2ec716ULL, 0x6104d9866d113a7eULL,
                                      0xae17533239e499a1ULL, 0xecb8ad4703b360a1ULL,
                                      0xfde6dc7fe2ec5e64ULL};
    bp_rng r;
    bp_rng_seed(&r, 42);
    CHECK(memcmp(r.s, state, sizeof state) == 0);
    for (int k = 0; k < 5; k++) CHECK(bp_rng_next(&r) == first[k]);

    ref_rng q;
    ref_seed(&q, 42);
    CHECK(memcmp(q.s, state, sizeof state) == 0);
    for (int k = 0; k < 5; k++) CHECK(ref_next(&q) == first[k]);
}

static void test_matches_reference(void) {
    static const uint64_t seeds[] = {42, 0, 1, 0xffffffffffffffffULL,
                                     0x9e3779b97f4a7c15ULL};
    for (size_t j = 0; j < sizeof seeds / sizeof seeds[0]; j++) {
        bp_rng r;
        ref_rng q;
        bp_rng_seed(&r, seeds[j]);
        ref_seed(&q, seeds[j]);
        int same = 1;
        for (int k = 0; k < 1000; k++) same &= bp_rng_next(&r) == ref_next(&q);
        CHECK(same);
        CHECK(memcmp(r.s, q.s, sizeof r.s) == 0);
    }
}

static void test_seeds(void) {
    /* Same seed, same sequence. */
    bp_rng a, b;
    bp_rng_seed(&a, 12345);
    bp_rng_seed(&b, 12345);
    int same = 1;
    for (int k = 0; k < 1000; k++) same &= bp_rng_next(&a) == bp_rng_next(&b);
    CHECK(same);

    /* Different seeds (neighbours included, and 0, whose state must not be
     * the all-zero fixed point of xoshiro): different streams. */
    static const uint64_t seeds[] = {0, 1, 2, 42, 43, 0xffffffffffffffffULL};
    enum { S = sizeof seeds / sizeof seeds[0], K = 8 };
    uint64_t out[S][K];
    for (int j = 0; j < S; j++) {
        bp_rng r;
        bp_rng_seed(&r, seeds[j]);
        CHECK((r.s[0] | r.s[1] | r.s[2] | r.s[3]) != 0);
        for (int k = 0; k < K; k++) out[j][k] = bp_rng_next(&r);
    }
    for (int j = 0; j < S; j++)
        for (int m = j + 1; m < S; m++) {
            int equal = 0;
            for (int k = 0; k < K; k++) equal += out[j][k] == out[m][k];
            CHECK(equal == 0);
        }
}

/* A bp_rng is a plain value: a copy saves the state, assignment restores. */
static void test_copy_state(void) {
    bp_rng r;
    bp_rng_seed(&r, 7);
    for (int k = 0; k < 10; k++) bp_rng_next(&r);
    bp_rng saved = r;
    double u[20];
    for (int k = 0; k < 20; k++)
        u[k] = k % 2 ? bp_rng_uniform(&r) : bp_rng_normal(&r, 0, 1);
    bp_rng later = r;
    r = saved;
    int same = 1;
    for (int k = 0; k < 20; k++)
        same &= u[k] == (k % 2 ? bp_rng_uniform(&r) : bp_rng_normal(&r, 0, 1));
    CHECK(same);
    CHECK(memcmp(&r, &later, sizeof r) == 0);
    /* Drawing from a copy leaves the original where it was. */
    bp_rng copy = saved;
    bp_rng_next(&copy);
    CHECK(memcmp(&copy, &saved, sizeof saved) != 0);
}

static void test_uniform(void) {
    bp_rng r;
    bp_rng_seed(&r, 42);
    const int N = 1000000;
    double sum = 0, lo = 1, hi = 0;
    int below_quarter = 0;
    for (int k = 0; k < N; k++) {
        double u = bp_rng_uniform(&r);
        sum += u;
        lo = fmin(lo, u);
        hi = fmax(hi, u);
        below_quarter += u < 0.25;
    }
    CHECK(lo >= 0.0 && hi < 1.0);
    CHECK(lo < 1e-5 && hi > 1 - 1e-5);
    /* Standard error of the mean: sqrt(1/12 / N) = 2.9e-4. */
    CHECK_NEAR(sum / N, 0.5, 5 * sqrt(1.0 / 12 / N));
    /* P(u < 1/4) = 1/4, standard error sqrt(3/16 / N) = 4.3e-4. */
    CHECK_NEAR((double)below_quarter / N, 0.25, 5 * sqrt(3.0 / 16 / N));

    /* The extremes of the 64 bits: 0 gives 0, all ones gives the largest
     * double below 1, never 1 itself. */
    bp_rng z = state_giving(0);
    CHECK(bp_rng_uniform(&z) == 0.0);
    bp_rng m = state_giving(UINT64_MAX);
    CHECK(bp_rng_uniform(&m) == 1.0 - DBL_EPSILON / 2);
    /* 53 bits: the top 53 of the 64, exactly. */
    bp_rng h = state_giving(0x8000000000000000ULL | 0x7ffULL);
    CHECK(bp_rng_uniform(&h) == 0.5);
    bp_rng g = state_giving(0x0000000000000800ULL);
    CHECK(bp_rng_uniform(&g) == 0x1.0p-53);
}

/* bp_rng_fill_uniform is bp_rng_uniform n times: the same bits in the same
 * order, the same state after (block sizes 0, 1, 7 and 1000, one stream). */
static void test_fill_uniform_matches(void) {
    static double u[1000];
    bp_rng a, b;
    bp_rng_seed(&a, 7);
    b = a;
    const size_t sizes[] = {0, 1, 7, 1000, 3};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        bp_rng_fill_uniform(&a, u, sizes[i]);
        int same = 1;
        for (size_t k = 0; k < sizes[i]; k++) {
            double want = bp_rng_uniform(&b);
            same &= memcmp(&u[k], &want, sizeof want) == 0;
        }
        CHECK(same);
        CHECK(memcmp(&a, &b, sizeof a) == 0);
    }
}

/* bp_rng_skip skips exactly n draws: its state is the reference's after n
 * ref_next calls, for n around the words' and the polynomial's edges and
 * W5's dropout (64 x 3136 values); for n too large to draw, jumps compose
 * (n1 then n2 is n1 + n2, either order), and the jump applied to Vigna's
 * published 2^128 polynomial (xoshiro256starstar.c's jump()) is his
 * jump's state. */
static void test_jump_matches_draws(void) {
    const uint64_t ns[] = {0, 1, 2, 63, 64, 65, 255, 256, 257, 1000, 100352, 200704};
    for (size_t i = 0; i < sizeof ns / sizeof *ns; i++) {
        bp_rng r;
        ref_rng f;
        bp_rng_seed(&r, 5 + i);
        ref_seed(&f, 5 + i);
        bp_rng_jump j;
        bp_rng_jump_make(&j, ns[i]);
        CHECK(j.n == ns[i]);
        bp_rng_skip(&r, &j);
        for (uint64_t k = 0; k < ns[i]; k++) ref_next(&f);
        CHECK(memcmp(r.s, f.s, sizeof r.s) == 0);
        CHECK(bp_rng_next(&r) == ref_next(&f));
    }
    const uint64_t n1 = (1ULL << 40) + 12345, n2 = (1ULL << 41) + 7;
    bp_rng_jump j1, j2, j12;
    bp_rng_jump_make(&j1, n1);
    bp_rng_jump_make(&j2, n2);
    bp_rng_jump_make(&j12, n1 + n2);
    bp_rng a, b, c;
    bp_rng_seed(&a, 11);
    b = c = a;
    bp_rng_skip(&a, &j1);
    bp_rng_skip(&a, &j2);
    bp_rng_skip(&b, &j2);
    bp_rng_skip(&b, &j1);
    bp_rng_skip(&c, &j12);
    CHECK(memcmp(&a, &c, sizeof a) == 0);
    CHECK(memcmp(&b, &c, sizeof b) == 0);

    /* Vigna's jump(): the same loop over his constant's bits. */
    static const uint64_t JUMP[] = {0x180ec6d33cfd0aba, 0xd5a61266f0c9392c,
                                    0xa9582618e03fc9aa, 0x39abdc4529b1661c};
    ref_rng f;
    ref_seed(&f, 3);
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int i = 0; i < 4; i++)
        for (int b2 = 0; b2 < 64; b2++) {
            if (JUMP[i] & UINT64_C(1) << b2) {
                s0 ^= f.s[0];
                s1 ^= f.s[1];
                s2 ^= f.s[2];
                s3 ^= f.s[3];
            }
            ref_next(&f);
        }
    bp_rng g;
    bp_rng_seed(&g, 3);
    bp_rng_jump vj = {0, {JUMP[0], JUMP[1], JUMP[2], JUMP[3]}};
    bp_rng_skip(&g, &vj);
    CHECK(g.s[0] == s0 && g.s[1] == s1 && g.s[2] == s2 && g.s[3] == s3);
}

static void test_below(void) {
    bp_rng r;
    bp_rng_seed(&r, 99);
    CHECK(bp_rng_below(&r, 0) == 0);
    int ones = 1;
    for (int k = 0; k < 100; k++) ones &= bp_rng_below(&r, 1) == 0;
    CHECK(ones);

    /* Ten buckets, 200000 draws: Pearson's chi-square with 9 degrees of
     * freedom stays below 33.7 with probability 1 - 1e-4. */
    enum { N = 10, DRAWS = 200000 };
    long count[N] = {0};
    int in_range = 1;
    for (int k = 0; k < DRAWS; k++) {
        uint64_t v = bp_rng_below(&r, N);
        in_range &= v < N;
        if (v < N) count[v]++;
    }
    CHECK(in_range);
    double chi2 = 0, expect = (double)DRAWS / N;
    for (int j = 0; j < N; j++)
        chi2 += (count[j] - expect) * (count[j] - expect) / expect;
    CHECK(chi2 < 33.7);

    /* Large n: in range, and both halves of [0, n) are reached evenly. */
    const uint64_t big = 0x8000000000000001ULL;
    int low_half = 0;
    in_range = 1;
    for (int k = 0; k < 10000; k++) {
        uint64_t v = bp_rng_below(&r, big);
        in_range &= v < big;
        low_half += v < big / 2;
    }
    CHECK(in_range);
    CHECK(abs(low_half - 5000) < 250); /* 5 standard errors of 50 */

    /* The rejection: for n = 3 the only 64-bit value in the partial top
     * bucket is 2^64 - 1 (2^64 - 1 is a multiple of 3); it must be thrown
     * away and the next output used instead. */
    bp_rng c = state_giving(UINT64_MAX);
    ref_rng q;
    memcpy(q.s, c.s, sizeof q.s);
    CHECK(ref_next(&q) == UINT64_MAX);
    uint64_t second = ref_next(&q);
    CHECK(bp_rng_below(&c, 3) == second % 3);
    CHECK(memcmp(c.s, q.s, sizeof q.s) == 0); /* exactly two draws */

    /* For n = 2^63 + 1 everything from n up is the partial bucket; a value
     * just under n is accepted as it is. */
    c = state_giving(big);
    memcpy(q.s, c.s, sizeof q.s);
    ref_next(&q);
    second = ref_next(&q);
    CHECK(second < big); /* this seed's second output, so the check means something */
    CHECK(bp_rng_below(&c, big) == second);
    c = state_giving(big - 1);
    CHECK(bp_rng_below(&c, big) == big - 1);
    c = state_giving(41);
    CHECK(bp_rng_below(&c, 10) == 1);
}

/* bp_rng_log against libm, in units of relative error. glibc's log is
 * correctly rounded in practice, so the difference is bp_rng_log's own. */
static double log_err(double x) {
    double want = log(x), got = bp_rng_log(x);
    if (want == 0) return got == 0 ? 0 : INFINITY;
    return fabs(got - want) / fabs(want);
}

static void test_log(void) {
    const double tol = 4e-16;
    double worst = 0, worst_x = 0;
#define TRY(xv)                                       \
    do {                                              \
        double x_ = (xv), e_ = log_err(x_);           \
        if (!(e_ <= worst)) worst = e_, worst_x = x_; \
    } while (0)

    /* Log-uniformly over 1e-300 .. 1e300, with random mantissas. */
    bp_rng r;
    bp_rng_seed(&r, 2024);
    for (int k = 0; k < 200000; k++) TRY(pow(10.0, -300 + 600 * bp_rng_uniform(&r)));
    /* Every binade's edges and middles, where frexp's split changes. */
    for (int e = -1074; e <= 1023; e++) {
        TRY(ldexp(1.0, e));
        if (e <= 1022) TRY(ldexp(0.70710678118654752440, e + 1));
        if (e <= 1022) TRY(nextafter(ldexp(0.70710678118654752440, e + 1), 0));
        if (e > -1074 && e < 1023) TRY(ldexp(1.5, e));
        if (e > -1074 && e < 1023) TRY(ldexp(1.999999999, e));
    }
    /* Near 1 from both sides, where log is small and has no k*ln2 to hide
     * behind: the series must carry all the precision. */
    for (int j = 1; j <= 2000; j++) {
        TRY(1.0 + j * DBL_EPSILON);
        TRY(1.0 - j * DBL_EPSILON / 2);
        TRY(1.0 + j * 1e-6);
        TRY(1.0 - j * 1e-6);
        TRY(1.0 + j * 1e-4);
    }
    /* Subnormals: frexp normalises them, so they behave like any other. */
    TRY(4.9406564584124654e-324);
    TRY(1e-310);
    TRY(DBL_MIN / 3);
    TRY(DBL_MAX);
    TRY(DBL_MIN);
#undef TRY
    if (worst > tol) fprintf(stderr, "bp_rng_log worst at x = %.17g\n", worst_x);
    CHECK(worst <= tol);
    /* Regression: summing the atanh series from the rounded s lost 3 ulps
     * here (0.12733724846119512 for 0.12733724846119504). */
    CHECK(log_err(1.1358) <= tol);
    CHECK(bp_rng_log(1.0) == 0.0);
    CHECK(bp_rng_log(2.0) == log(2.0));
    CHECK_NEAR(bp_rng_log(exp(1.0)), 1.0, 2e-16);
}

static void test_normal(void) {
    bp_rng r;
    bp_rng_seed(&r, 42);
    enum { N = 200000 };
    const double mean = 2.0, std = 3.0;
    double sum = 0, sq = 0;
    int within1 = 0, within2 = 0, finite = 1;
    for (int k = 0; k < N; k++) {
        double v = bp_rng_normal(&r, mean, std);
        finite &= isfinite(v);
        sum += v;
        sq += (v - mean) * (v - mean);
        within1 += fabs(v - mean) < std;
        within2 += fabs(v - mean) < 2 * std;
    }
    CHECK(finite);
    double m = sum / N, s = sqrt(sq / N);
    /* Standard errors: of the mean std/sqrt(N) = 0.0067, of the standard
     * deviation about std/sqrt(2N) = 0.0047; five of each. */
    CHECK_NEAR(m, mean, 5 * std / sqrt(N));
    CHECK_NEAR(s, std, 5 * std / sqrt(2.0 * N));
    /* The shape, not just two moments: P(|z| < 1) = 0.682689,
     * P(|z| < 2) = 0.954500; standard errors about 0.0010 and 0.0005. */
    CHECK_NEAR((double)within1 / N, 0.682689492, 5 * sqrt(0.6827 * 0.3173 / N));
    CHECK_NEAR((double)within2 / N, 0.954499736, 5 * sqrt(0.9545 * 0.0455 / N));

    /* std 0 gives the mean exactly, and still advances the generator. */
    bp_rng a = r;
    CHECK(bp_rng_normal(&r, 1.25, 0.0) == 1.25);
    CHECK(memcmp(&a, &r, sizeof r) != 0);
}

int main(void) {
    test_reference_anchor();
    test_golden_seed_42();
    test_matches_reference();
    test_seeds();
    test_copy_state();
    test_uniform();
    test_fill_uniform_matches();
    test_jump_matches_draws();
    test_below();
    test_log();
    test_normal();
    return check_report("test_rng");
}
