/* rng.c: xoshiro256** with splitmix64 seeding, and the deviates built on it.
 *
 * Bit-identical across machines is the point (see bp_rng.h): libm's log is not
 * the same function on every C library or CPU (glibc picks an FMA variant at
 * run time), so the polar method below uses a logarithm written here with
 * plain IEEE arithmetic. The engine is compiled with -ffp-contract=off so that
 * no compiler fuses these operations differently on another target. */
#include <math.h>

#include "bp_rng.h"

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void bp_rng_seed(bp_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

/* One step of xoshiro256** on the words s: the next 64 bits. Inline, so
 * that bp_rng_fill_uniform's loop keeps the words in registers (a call to
 * the exported bp_rng_next cannot be inlined in this position-independent
 * build). */
static inline uint64_t next_of(uint64_t *s) {
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t bp_rng_next(bp_rng *r) { return next_of(r->s); }

/* 53 random bits as a double in [0, 1); below 2^53, so the signed
 * conversion is exact and the same value. */
static inline double uniform_of(uint64_t bits) {
    return (double)(int64_t)(bits >> 11) * 0x1.0p-53;
}

double bp_rng_uniform(bp_rng *r) { return uniform_of(next_of(r->s)); }

void bp_rng_fill_uniform(bp_rng *r, double *u, size_t n) {
    uint64_t s[4] = {r->s[0], r->s[1], r->s[2], r->s[3]}; /* in registers */
    for (size_t k = 0; k < n; k++) u[k] = uniform_of(next_of(s));
    for (int i = 0; i < 4; i++) r->s[i] = s[i];
}

uint64_t bp_rng_below(bp_rng *r, uint64_t n) {
    if (n == 0) return 0;
    /* Rejection keeps it unbiased: throw away the top partial bucket. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = bp_rng_next(r);
    while (x >= limit);
    return x % n;
}

double bp_rng_log(double x) {
    /* x = m * 2^k with m in [sqrt(1/2), sqrt(2)); log m = 2 atanh(s) with
     * s = (m-1)/(m+1) = f/(2+f), |s| < 0.1716, whose odd series converges to
     * below one ulp in 14 terms. frexp and ldexp are exact bit manipulations.
     * Summing 2s + 2s^3/3 + ... directly loses up to 3 ulps to the rounding
     * of s; as in fdlibm's log, the leading part is instead carried by the
     * exact f = m - 1 (Sterbenz), using 2s = f - s*f = f - hfsq + s*hfsq with
     * hfsq = f^2/2, so only the small corrections carry s's rounding. */
    int k;
    double m = frexp(x, &k);
    if (m < 0.70710678118654752440) {
        m *= 2.0;
        k -= 1;
    }
    double f = m - 1.0, s = f / (2.0 + f), z = s * s, P = 0.0;
    for (int n = 29; n >= 3; n -= 2) P = P * z + 1.0 / n; /* 1/3 + z/5 + ... */
    double R = 2.0 * z * P, hfsq = 0.5 * f * f;
    /* ln 2 split in two so that k * LN2_HI is exact for |k| < 2^11. */
    const double LN2_HI = 6.93147180369123816490e-01;
    const double LN2_LO = 1.90821492927058770002e-10;
    return k * LN2_HI - ((hfsq - (s * (hfsq + R) + k * LN2_LO)) - f);
}

double bp_rng_normal(bp_rng *r, double mean, double std) {
    double u, v, q;
    do {
        u = 2.0 * bp_rng_uniform(r) - 1.0;
        v = 2.0 * bp_rng_uniform(r) - 1.0;
        q = u * u + v * v;
    } while (q >= 1.0 || q == 0.0);
    /* The second deviate (v * f) is dropped so that the state after n draws
     * does not depend on whether an odd or even count was asked for. */
    double f = sqrt(-2.0 * bp_rng_log(q) / q);
    return mean + std * (u * f);
}
