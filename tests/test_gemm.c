/* test_gemm.c: the float32 products (bp_gemm.h), on oneDNN in a build with
 * it and on OpenBLAS in one without (the CI builds both), against products
 * summed in double, on every shape class the engine's kernels call: each
 * transpose, tall and wide, leading dimensions larger than the width, sizes
 * of 1, beta 0 and 1; then the float32 kernels of ops_fast.h that call
 * them, against the same kernels in double; then threads and bits, and
 * pinning the kernels' instruction set.
 *
 * Bound of a product: |C - C_exact| <= K u (|alpha| sum_k |a_ik b_kj| +
 * |beta c_ij|) + u |C_exact| with u = 2^-24 (float32's unit roundoff): the
 * classical bound of a sum of K products in any order (Higham, 3.5), and
 * the final rounding. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <pthread.h>
#include <stdint.h>

#include "bp_gemm.h"
#include "bp_ops.h"
#include "check.h"

/* CBLAS's values (cblas.h), which bp_sgemm takes as int. */
enum { ROW = 101, NOTRANS = 111, TRANS = 112 };
static const double U = 1.0 / (1 << 24);

static uint64_t state = 88172645463325252ULL;
static float uniform(void) { /* in [-1, 1), on a grid of 2^-23 */
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    return (float)((double)(state >> 41) / (1 << 22) - 1.0);
}
static float *randoms(size_t n) {
    float *v = malloc(sizeof(float) * (n ? n : 1));
    for (size_t k = 0; k < n; k++) v[k] = uniform();
    return v;
}

/* Element (r, c) of op(X), X stored row-major with leading dimension ld. */
static double at(const float *X, int ld, int trans, int r, int c) {
    return trans ? X[(size_t)c * ld + r] : X[(size_t)r * ld + c];
}

/* One product of M x K by K x N, each operand (and C) stored with ld =
 * width + pad, against the sum in double; the pad of C untouched. */
static void one_product(int ta, int tb, int M, int N, int K, int pad, float alpha,
                        float beta) {
    int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    float *A = randoms((size_t)(ta ? K : M) * lda),
          *B = randoms((size_t)(tb ? N : K) * ldb);
    float *C = randoms((size_t)M * ldc), *C0 = malloc(sizeof(float) * (size_t)M * ldc);
    memcpy(C0, C, sizeof(float) * (size_t)M * ldc);
    bp_sgemm(ROW, ta ? TRANS : NOTRANS, tb ? TRANS : NOTRANS, M, N, K, alpha, A, lda, B,
             ldb, beta, C, ldc);
    double worst = 0; /* error over its bound, the largest */
    int pad_kept = 1;
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double s = 0, mag = 0;
            for (int k = 0; k < K; k++) {
                double p = at(A, lda, ta, i, k) * at(B, ldb, tb, k, j);
                s += p, mag += fabs(p);
            }
            double c0 = C0[(size_t)i * ldc + j], exact = alpha * s + beta * c0;
            double bound =
                K * U * (fabs(alpha) * mag + fabs(beta * c0)) + U * fabs(exact);
            double err = fabs(C[(size_t)i * ldc + j] - exact);
            if (err > bound && err / (bound + 1e-300) > worst) worst = err / bound;
        }
        for (int j = N; j < ldc; j++)
            pad_kept &= C[(size_t)i * ldc + j] == C0[(size_t)i * ldc + j];
    }
    if (worst > 0 || !pad_kept)
        fprintf(stderr, "product %c%c %dx%dx%d pad %d beta %g: %g x its bound%s\n",
                ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, pad, beta, worst,
                pad_kept ? "" : ", the pad written");
    CHECK(worst == 0);
    CHECK(pad_kept);
    free(A), free(B), free(C), free(C0);
}

static void test_shapes(void) {
    /* M, N, K: square, tall, wide, deep, and sizes of 1 */
    static const int shapes[][3] = {{64, 64, 64},   {300, 3, 17}, {3, 300, 17},
                                    {5, 7, 2000},   {1, 1, 1},    {1, 100, 1},
                                    {100, 1, 1},    {1, 1, 500},  {64, 128, 784},
                                    {128, 784, 64}, {32, 10, 64}, {10, 64, 32}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++)
            for (int pad = 0; pad <= 3; pad += 3) {
                one_product(t & 1, t >> 1, shapes[s][0], shapes[s][1], shapes[s][2], pad,
                            1, 0);
                one_product(t & 1, t >> 1, shapes[s][0], shapes[s][1], shapes[s][2], pad,
                            1, 1);
            }
    one_product(0, 1, 33, 17, 50, 1, 0.5f, -2); /* alpha and beta of other values */
}

/* ------------------------------------------------------------------------ */
/* The float32 kernels against the same kernels in double                   */

static double *widen(const float *v, size_t n) {
    double *d = malloc(sizeof(double) * (n ? n : 1));
    for (size_t k = 0; k < n; k++) d[k] = v[k];
    return d;
}

/* Largest |f - d| over n values, in units of tol. */
static double worst_over(const float *f, const double *d, size_t n, double tol) {
    double w = 0;
    for (size_t k = 0; k < n; k++) {
        double e = fabs(f[k] - d[k]) / tol;
        if (!(e <= w)) w = e;
    }
    return w;
}

/* A layer of B rows, I inputs, O outputs (act relu) forward and back,
 * float32 against double on the same values: the forward's product (N T,
 * beta 0), the backward at once (acc 0: its rows' dx, N N; its columns' dW,
 * T N) and accumulated (acc 1: T N with beta 1), and the columns of
 * neurons o0 .. O-1 alone (dh's leading dimension O, wider than them). The
 * products' inner dimensions are I, O and B: each value within
 * max(I, O, B) x 2^-22 (inputs in [-1, 1), sums of |terms| under the
 * dimension; twice float's rounding of each, for the relu between). */
static void one_layer(int B, int I, int O) {
    size_t nx = (size_t)B * I, nh = (size_t)B * O, nw = (size_t)O * I;
    float *x = randoms(nx), *W = randoms(nw), *b = randoms((size_t)O),
          *dout = randoms(nh);
    float *h = randoms(nh), *o = randoms(nh), *dh = randoms(nh), *dx = randoms(nx);
    float *dW = randoms(nw), *db = randoms((size_t)O);
    double *xd = widen(x, nx), *Wd = widen(W, nw), *bd = widen(b, (size_t)O),
           *doutd = widen(dout, nh);
    double *hd = widen(h, nh), *od = widen(o, nh), *dhd = widen(dh, nh),
           *dxd = widen(dx, nx);
    double *dWd = widen(dW, nw), *dbd = widen(db, (size_t)O);
    int K = B > I ? B : I;
    K = K > O ? K : O;
    const double tol = K * 4 * U;
    bp_layer_forward_f32(h, o, x, W, b, B, I, O, BP_ACT_RELU, 0);
    bp_layer_forward(hd, od, xd, Wd, bd, B, I, O, BP_ACT_RELU, 0);
    CHECK(worst_over(h, hd, nh, tol) <= 1);
    for (int acc = 0; acc <= 1; acc++) {
        bp_layer_backward_f32(dx, dW, db, dh, dout, h, o, x, W, b, B, I, O, BP_ACT_RELU,
                              0, acc, -1);
        bp_layer_backward(dxd, dWd, dbd, dhd, doutd, hd, od, xd, Wd, bd, B, I, O,
                          BP_ACT_RELU, 0, acc, -1);
        CHECK(worst_over(dx, dxd, nx, tol) <= 1);
        CHECK(worst_over(dW, dWd, nw, 2 * tol) <= 1); /* acc: two sums' roundings */
    }
    int o0 = O / 3;
    bp_layer_backward_cols_f32(dW, db, W, b, dh, x, B, I, O, o0, O, -1);
    bp_layer_backward_cols(dWd, dbd, Wd, bd, dhd, xd, B, I, O, o0, O, -1);
    CHECK(worst_over(dW + (size_t)o0 * I, dWd + (size_t)o0 * I, (size_t)(O - o0) * I,
                     tol) <= 1);
    bp_dense_forward_f32(h, x, W, b, B, I, O); /* the bias: bp_sgemm_bias's */
    bp_dense_forward(hd, xd, Wd, bd, B, I, O);
    CHECK(worst_over(h, hd, nh, tol) <= 1);
    free(x), free(W), free(b), free(dout), free(h), free(o), free(dh), free(dx), free(dW);
    free(db), free(xd), free(Wd), free(bd), free(doutd), free(hd), free(od), free(dhd);
    free(dxd), free(dWd), free(dbd);
}

static void test_kernels(void) {
    one_layer(64, 784, 128); /* W2's layers */
    one_layer(64, 64, 10);
    one_layer(300, 20, 3); /* tall */
    one_layer(2, 50, 500); /* wide */
    one_layer(1, 4096, 1); /* one sample, one neuron, at the BLAS threshold */
    one_layer(4096, 1, 1); /* one input */
}

/* bp_sgemm_bias: C = A W^T + b against the sum in double, each value within
 * (K + 1) u (sum_k |a_ik w_jk| + |b_j|) + u |exact| (the bias one more
 * addition); C filled with NaN before, so every value must be written.
 * Then the same bits again, from a primitive made anew after the cache's
 * eight shapes were replaced (nine others between), and on another
 * thread. Without oneDNN it declines (-1) and writes nothing. */
typedef struct bias_job {
    const float *A, *W, *b;
    float *C;
    int M, N, K;
} bias_job;

static void *bias_product(void *arg) {
    bias_job *j = arg;
    CHECK(bp_sgemm_bias(j->C, j->A, j->W, j->b, j->M, j->N, j->K) == 0);
    return NULL;
}

static int one_bias_product(int M, int N, int K, int dnnl) {
    float *A = randoms((size_t)M * K), *W = randoms((size_t)N * K), *b = randoms((size_t)N);
    float *C = malloc(sizeof(float) * (size_t)M * N);
    for (size_t k = 0; k < (size_t)M * N; k++) C[k] = NAN;
    int rc = bp_sgemm_bias(C, A, W, b, M, N, K);
    CHECK(rc == (dnnl ? 0 : -1));
    double worst = 0; /* error over its bound, the largest */
    for (int i = 0; i < M && !rc; i++)
        for (int j = 0; j < N; j++) {
            double sum = b[j], mag = fabs(b[j]);
            for (int k = 0; k < K; k++) {
                double p = (double)A[(size_t)i * K + k] * W[(size_t)j * K + k];
                sum += p, mag += fabs(p);
            }
            double err = fabs(C[(size_t)i * N + j] - sum);
            double bound = (K + 1) * U * mag + U * fabs(sum);
            if (!(err <= bound)) worst = fmax(worst, isnan(err) ? INFINITY : err / bound);
        }
    if (rc) CHECK(isnan(C[0]) && isnan(C[(size_t)M * N - 1]));
    if (worst > 0) fprintf(stderr, "bias product %dx%dx%d: %g x its bound\n", M, N, K, worst);
    CHECK(worst == 0);
    free(A), free(W), free(b), free(C);
    return rc;
}

static void test_sgemm_bias(void) {
    char f32[128];
    bp_gemm_backend(f32, sizeof f32, BP_F32);
    int dnnl = !strncmp(f32, "oneDNN ", 7);
    static const int cases[][3] = {{256, 384, 128}, {256, 128, 512}, {64, 114, 128},
                                   {7, 29, 33},     {1, 100, 64},    {300, 3, 20},
                                   {1, 1, 1},       {33, 17, 1},     {5, 1, 40}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        one_bias_product(cases[c][0], cases[c][1], cases[c][2], dnnl);
    if (!dnnl) return;
    /* Bits: once, again, after the cache turned over, on another thread. */
    enum { M = 96, N = 80, K = 72 };
    float *A = randoms((size_t)M * K), *W = randoms((size_t)N * K), *b = randoms(N);
    float *C[4];
    for (int k = 0; k < 4; k++) C[k] = malloc(sizeof(float) * M * N);
    bias_job j[4];
    for (int k = 0; k < 4; k++) j[k] = (bias_job){A, W, b, C[k], M, N, K};
    bias_product(&j[0]);
    bias_product(&j[1]);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        one_bias_product(cases[c][0], cases[c][1], cases[c][2], dnnl);
    bias_product(&j[2]);
    pthread_t t;
    pthread_create(&t, NULL, bias_product, &j[3]);
    pthread_join(t, NULL);
    for (int k = 1; k < 4; k++) CHECK(!memcmp(C[0], C[k], sizeof(float) * M * N));
    for (int k = 0; k < 4; k++) free(C[k]);
    free(A), free(W), free(b);
}

/* ------------------------------------------------------------------------ */
/* Threads and bits                                                           */

typedef struct job {
    const float *A, *B;
    float *C;
    int n;
} job;

static void *product(void *arg) {
    job *j = arg;
    bp_sgemm(ROW, NOTRANS, TRANS, j->n, j->n, j->n, 1, j->A, j->n, j->B, j->n, 0, j->C,
             j->n);
    return NULL;
}

/* The threads of this process, from /proc. */
static int threads_now(void) {
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* The same product gives the same bits again, on another thread, and on
 * two threads at once (a team's members); and no product starts a thread
 * (oneDNN's OpenMP would start one per core for a product this size). */
static void test_threads_and_bits(void) {
    enum { N = 256 };
    float *A = randoms((size_t)N * N), *B = randoms((size_t)N * N);
    float *C[4];
    for (int k = 0; k < 4; k++) C[k] = calloc((size_t)N * N, sizeof(float));
    job j[4] = {{A, B, C[0], N}, {A, B, C[1], N}, {A, B, C[2], N}, {A, B, C[3], N}};
    int before = threads_now();
    product(&j[0]);
    CHECK(threads_now() == before);
    pthread_t t1, t2, t3;
    pthread_create(&t1, NULL, product, &j[1]);
    pthread_join(t1, NULL);
    pthread_create(&t2, NULL, product, &j[2]);
    pthread_create(&t3, NULL, product, &j[3]);
    pthread_join(t2, NULL);
    pthread_join(t3, NULL);
    for (int k = 1; k < 4; k++) CHECK(!memcmp(C[0], C[k], sizeof(float) * N * N));
    CHECK(threads_now() == before);
    for (int k = 0; k < 4; k++) free(C[k]);
    free(A), free(B);
}

/* Pinning: a name not in the list, and (with oneDNN) too late, after the
 * products above; the backend's line names the library. */
static void test_pin(void) {
    bp_err e = {{0}};
    CHECK(bp_gemm_pin_isa("avx3", &e) == -1);
    CHECK_STR(e.msg, "unknown instruction set 'avx3' (expected sse41, avx, avx2, "
                     "avx512_core, avx512_core_vnni, avx512_core_bf16, avx512_core_amx "
                     "or avx2_vnni)");
    char f32[128], f64[128];
    bp_gemm_backend(f32, sizeof f32, BP_F32);
    bp_gemm_backend(f64, sizeof f64, BP_F64);
    CHECK(!strncmp(f64, "OpenBLAS ", 9));
    if (!strncmp(f32, "oneDNN ", 7)) {
        CHECK(bp_gemm_pin_isa("avx2", &e) == -1);
        CHECK_STR(e.msg, "cannot pin oneDNN's kernels to avx2: they are chosen already "
                         "(pin before the first float32 product)");
        CHECK(bp_gemm_pinned() == NULL);
    } else {
        CHECK(!strncmp(f32, "OpenBLAS ", 9));
        CHECK(bp_gemm_pin_isa("avx2", &e) == 0);
        CHECK_STR(bp_gemm_pinned(), "avx2");
    }
    printf("float32: %s; float64: %s\n", f32, f64);
}

int main(void) {
    test_shapes();
    test_kernels();
    test_sgemm_bias();
    test_threads_and_bits();
    test_pin();
    return check_report("test_gemm");
}
