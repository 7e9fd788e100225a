/* blas_floor.c: the OpenBLAS figures the benchmarks hold the engine against.
 *
 *   blas_floor sgemm N THREADS REPS
 *     cblas_sgemm on N x N by N x N floats, one line per repetition:
 *     "gflops <2 N^3 / time / 1e9>". W3's ceiling: no network step can run
 *     its products faster than the library runs one large square product.
 *   blas_floor w2 THREADS REPS
 *     W2's floor: only the cblas_sgemm calls that one training step of the
 *     784-128-64-10 network makes (3 forward, 3 for dW, 2 for dx: the first
 *     layer passes no gradient to its input), with the engine's shapes and
 *     transposes, for the 938 batches of an epoch of 60,000 rows (937 of 64
 *     and the last of 32). One line per repetition: "seconds <epoch time>".
 *     Nothing else of a step (bias, activation, loss, update) is timed, so
 *     an engine within a small factor of this has little left to gain.
 *
 * The buffers hold random floats in [0, 1): the figures do not depend on the
 * values, but denormals or NaNs would. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>
/* OpenBLAS's header pulls in <complex.h>, whose macro I would rename the
 * glossary's I (inputs). */
#undef I

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static float *randoms(size_t n) {
    float *v = malloc(sizeof(float) * n);
    if (!v) {
        fprintf(stderr, "blas_floor: out of memory\n");
        exit(1);
    }
    for (size_t k = 0; k < n; k++) v[k] = (float)rand() / ((float)RAND_MAX + 1);
    return v;
}

static void sgemm_square(int N, int reps) {
    float *a = randoms((size_t)N * N), *b = randoms((size_t)N * N);
    float *c = randoms((size_t)N * N);
    for (int r = -1; r < reps; r++) { /* r = -1 warms up */
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1, a, N, b, N, 0,
                    c, N);
        double t = now() - t0;
        if (r >= 0) printf("gflops %.3f\n", 2.0 * N * N * N / t / 1e9);
    }
}

/* Layer sizes of W2 and the shapes of one step's products (B = batch,
 * I = inputs, O = outputs of a layer, as in engine/bp_ops.h). */
static void w2_epoch(int reps) {
    enum { L = 3, BMAX = 64, ROWS = 60000 };
    const int size[L + 1] = {784, 128, 64, 10};
    float *W[L], *dW[L], *o[L + 1], *d[L + 1];
    for (int l = 0; l <= L; l++) {
        o[l] = randoms((size_t)BMAX * size[l]);
        d[l] = randoms((size_t)BMAX * size[l]);
        if (l < L) {
            W[l] = randoms((size_t)size[l + 1] * size[l]);
            dW[l] = randoms((size_t)size[l + 1] * size[l]);
        }
    }
    for (int r = -1; r < reps; r++) {
        double t0 = now();
        for (int row = 0; row < ROWS; row += BMAX) {
            int B = ROWS - row < BMAX ? ROWS - row : BMAX;
            for (int l = 0; l < L; l++) /* h = x W^T */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, size[l + 1],
                            size[l], 1, o[l], size[l], W[l], size[l], 0, o[l + 1],
                            size[l + 1]);
            for (int l = L - 1; l >= 0; l--) {
                int I = size[l], O = size[l + 1];
                /* dW = dh^T x, dx = dh W */
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, O, I, B, 1, d[l + 1],
                            O, o[l], I, 0, dW[l], I);
                if (l > 0)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, I, O, 1,
                                d[l + 1], O, W[l], I, 0, d[l], I);
            }
        }
        double t = now() - t0;
        if (r >= 0) printf("seconds %.6f\n", t);
    }
}

int main(int argc, char **argv) {
    if (argc >= 5 && strcmp(argv[1], "sgemm") == 0) {
        openblas_set_num_threads(atoi(argv[3]));
        sgemm_square(atoi(argv[2]), atoi(argv[4]));
    } else if (argc >= 4 && strcmp(argv[1], "w2") == 0) {
        openblas_set_num_threads(atoi(argv[2]));
        w2_epoch(atoi(argv[3]));
    } else {
        fprintf(stderr, "usage: blas_floor sgemm N THREADS REPS | w2 THREADS REPS\n");
        return 2;
    }
    return 0;
}
