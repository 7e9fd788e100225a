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

/* xoshiro256's characteristic polynomial x^256 + CHAR_LOW (bit i of word
 * i / 64 the coefficient of x^i): Berlekamp-Massey's on 700 steps of the
 * state's lowest bit. It is primitive (the period is 2^256 - 1), so every
 * nonzero state satisfies it; test_rng.c checks the jumps it makes against
 * the draws themselves. */
static const uint64_t CHAR_LOW[4] = {0x9d116f2bb0f0f001ULL, 0x0280002bcefd1a5eULL,
                                     0x04b4edcf26259f85ULL, 0x0003c03c3f3ecb19ULL};

/* a = a x mod the polynomial. */
static void times_x(uint64_t a[4]) {
    uint64_t top = a[3] >> 63;
    for (int k = 3; k > 0; k--) a[k] = a[k] << 1 | a[k - 1] >> 63;
    a[0] <<= 1;
    if (top)
        for (int k = 0; k < 4; k++) a[k] ^= CHAR_LOW[k];
}

/* r = a b mod the polynomial (r may be a or b): b's terms from x^0 up,
 * a multiplied by x each time. */
static void times_mod(uint64_t r[4], const uint64_t a[4], const uint64_t b[4]) {
    uint64_t acc[4] = {0}, s[4] = {a[0], a[1], a[2], a[3]};
    for (int i = 0; i < 256; i++) {
        if (b[i / 64] >> (i % 64) & 1)
            for (int k = 0; k < 4; k++) acc[k] ^= s[k];
        times_x(s);
    }
    for (int k = 0; k < 4; k++) r[k] = acc[k];
}

void bp_rng_jump_make(bp_rng_jump *j, uint64_t n) {
    uint64_t q[4] = {1, 0, 0, 0}; /* x^0; then x^(n's leading bits) */
    int top = 63;
    while (top >= 0 && !(n >> top & 1)) top--; /* 1 squared is 1 */
    for (int b = top; b >= 0; b--) {
        times_mod(q, q, q);
        if (n >> b & 1) times_x(q);
    }
    j->n = n;
    for (int k = 0; k < 4; k++) j->q[k] = q[k];
}

void bp_rng_skip(bp_rng *r, const bp_rng_jump *j) {
    uint64_t acc[4] = {0}, s[4] = {r->s[0], r->s[1], r->s[2], r->s[3]};
    for (int i = 0; i < 256; i++) { /* q(T) s = T^n s */
        if (j->q[i / 64] >> (i % 64) & 1)
            for (int k = 0; k < 4; k++) acc[k] ^= s[k];
        (void)next_of(s);
    }
    for (int k = 0; k < 4; k++) r->s[k] = acc[k];
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
