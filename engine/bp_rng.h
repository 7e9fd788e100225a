/* bp_rng.h: the engine's own seedable random generator.
 *
 * xoshiro256** (Blackman and Vigna), seeded through splitmix64. Everything it
 * returns is computed with integer arithmetic and IEEE +, -, *, / and sqrt
 * only (its logarithm is the engine's own, not libm's), so the same seed gives
 * bit-identical numbers on any machine and any C library. rand() is never used.
 * A bp_rng is a plain value: copy it to save the state, assign it to restore. */
#ifndef BP_RNG_H
#define BP_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct bp_rng {
    uint64_t s[4];
} bp_rng;

/* Seeds r; every 64-bit seed (0 included) gives a distinct, valid state. */
void bp_rng_seed(bp_rng *r, uint64_t seed);

/* The next 64 random bits. */
uint64_t bp_rng_next(bp_rng *r);

/* Uniform double in [0, 1), 53 random bits. */
double bp_rng_uniform(bp_rng *r);

/* u[0 .. n-1] = the next n uniforms, each what bp_rng_uniform would have
 * returned in turn (the same stream, the same bits): the state kept in
 * registers through the loop instead of a call and a store per draw
 * (dropout's masks, a draw per value). Pinned by test_rng.c
 * test_fill_uniform_matches. */
void bp_rng_fill_uniform(bp_rng *r, double *u, size_t n);

/* A jump of n draws: xoshiro256**'s state moves by a linear map T of
 * GF(2)^256, and T^n is q(T) for q = x^n modulo T's characteristic
 * polynomial, so a generator can skip n draws in 256 steps whatever n
 * (bp_rng_skip), as the members of a team do to draw their own parts of
 * one stream. */
typedef struct bp_rng_jump {
    uint64_t n;    /* the draws it skips */
    uint64_t q[4]; /* x^n mod the characteristic polynomial, bit i x^i */
} bp_rng_jump;

/* j made to skip n draws: some microseconds for n near 2^20 (a squaring
 * of q per bit of n), so keep it where the same n comes again. */
void bp_rng_jump_make(bp_rng_jump *j, uint64_t n);

/* r moved j->n draws ahead: the state j->n calls of bp_rng_next would
 * leave (its draws not made). Pinned by test_rng.c test_jump_matches_draws. */
void bp_rng_skip(bp_rng *r, const bp_rng_jump *j);

/* Uniform integer in [0, n); n must be > 0 (returns 0 otherwise). Unbiased. */
uint64_t bp_rng_below(bp_rng *r, uint64_t n);

/* Normal deviate with the given mean and standard deviation (Marsaglia's
 * polar method). */
double bp_rng_normal(bp_rng *r, double mean, double std);

/* Natural logarithm of x > 0 using only +, -, *, /: the deterministic log the
 * normal generator needs, exposed so that tests can hold it against libm. */
double bp_rng_log(double x);

#endif
