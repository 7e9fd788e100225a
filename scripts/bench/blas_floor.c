/* blas_floor.c: the limit lines the float32 benchmarks hold the engine to,
 * measured on this machine in the same run as the workload.
 *
 *   blas_floor peak THREADS REPS
 *     The processor's single-precision FMA peak: THREADS threads, each a
 *     loop of independent fused multiply-adds on the widest vectors the
 *     processor has (AVX-512, else AVX2, else SSE without FMA); one line
 *     per repetition, "gflops <total>", and first "isa <name>". Nothing
 *     that multiplies floats on this machine runs faster.
 *   blas_floor LIB sgemm N THREADS REPS
 *     One N x N by N x N product, "gflops <2 N^3 / time / 1e9>" a line.
 *   blas_floor LIB w5 THREADS REPS [ROWS]
 *     Only the products of an epoch of W5 (issue 25's CNN: conv 1->32 and
 *     32->64, 3x3 padding 1, on 28x28 and 14x14, linear 3136->128 and
 *     128->10; ROWS rows, default 60,000, in batches of 64), each layer's
 *     step as three GEMM calls on the whole batch at once (im2col's
 *     shapes, the columns of all B samples side by side: forward, dW, and
 *     dx but for the first conv), the most favourable shapes a GEMM gets
 *     from this network; nothing else of a step (im2col itself, pooling,
 *     activations, loss, update). At THREADS > 1 each of THREADS threads
 *     makes its rows' forward and dx and its output channels' dW, oneDNN
 *     single-threaded, as the team splits a dense step. "seconds <epoch>"
 *     and "gflop <the epoch's>" a line.
 *   blas_floor LIB w2|w3 THREADS REPS
 *     Only the products of an epoch of W2 (784-128-64-10, 938 batches of
 *     60,000 rows: 937 of 64 and the last of 32) or of W3
 *     (1024-1024-1024-10, 20 batches of 256), with the engine's shapes and
 *     transposes: forward h = x W^T, backward dW = dh^T x and dx = dh W
 *     (none for the first layer), as engine/ops_fast.h makes them on one
 *     thread. "seconds <epoch>" a line. Nothing else of a step (bias,
 *     activation, loss, update) is timed, so an engine within a small
 *     factor of this has little left to gain.
 *
 *   blas_floor LIB w8 THREADS REPS [V]
 *     Only the products of a training iteration of W8 (issue 26's
 *     char-rnn: ids -> embedding of 128 -> two LSTM layers of H = 128 ->
 *     linear 128 -> V, V default 114; 50 sequences of 50 steps), with the
 *     engine's shapes (engine/seq_fast.h, the linear's of ops_fast.h):
 *     each layer's input projection of all steps as one product and a
 *     recurrent product of 50 rows a step, forward; backward each step's
 *     dh = dz W_hh and dW_hh += dz^T h, then dW_ih and dx over all steps;
 *     the head's forward, dW and dx. Nothing else (the cells, the
 *     embedding, the loss, clipping, Adam). "ms <an iteration>" and "gflop
 *     <an iteration's>" a line, each the mean of 20 iterations; the
 *     library's own THREADS threads.
 * LIB: openblas (cblas_sgemm, with OPENBLAS_CORETYPE as the environment
 * sets it), dnnl (oneDNN's dnnl_sgemm), dnnl_omp (the same) or matmul
 * (oneDNN's matmul primitive, created once per shape and cached, as an
 * engine would); the last three only in a build with oneDNN
 * (BP_HAVE_DNNL). dnnl_act and matmul_act (w2 and w3 only): as dnnl and
 * matmul, each forward product followed by its layer's bias and ReLU (none
 * on the last layer), as the engine's step has them: dnnl_sgemm and then
 * one pass over the rows (the engine's bias_act), against a matmul
 * primitive with the bias and the ReLU fused into it as post-ops. THREADS
 * is the library's own thread count (openblas_set_num_threads, or
 * OpenMP's for oneDNN), except for dnnl's w2 and w3 at THREADS > 1: there
 * THREADS threads each make their share of each product, as a team's
 * members do (engine/net_team_real.h), with oneDNN single-threaded, which
 * is how the engine runs it (dnnl_omp gives whole products to oneDNN's
 * OpenMP instead). One repetition warms up first and is not printed.
 *
 * The buffers hold random floats in [0, 1): the figures do not depend on the
 * values, but denormals or NaNs would. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>
/* OpenBLAS's header pulls in <complex.h>, whose macro I would rename the
 * glossary's I (inputs). */
#undef I
#ifdef BP_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
/* OpenMP's API, which oneDNN runs on (declared here: clang has no omp.h
 * without libomp-dev, and the symbol is libgomp's either way). */
void omp_set_num_threads(int n);
#endif
#if defined(__x86_64__)
#include <immintrin.h>
#endif

static double clock_of(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}
static double now(void) { return clock_of(CLOCK_MONOTONIC); }
/* The CPU time of every thread of the process: on a machine shared with
 * other work, what the figure would be had the threads had their cores. */
static double cpu(void) { return clock_of(CLOCK_PROCESS_CPUTIME_ID); }

static void die(const char *what) {
    fprintf(stderr, "blas_floor: %s\n", what);
    exit(1);
}

static float *randoms(size_t n) {
    float *v = malloc(sizeof(float) * n);
    if (!v) die("out of memory");
    for (size_t k = 0; k < n; k++) v[k] = (float)rand() / ((float)RAND_MAX + 1);
    return v;
}

/* ------------------------------------------------------------------------ */
/* The FMA peak                                                              */

/* ACC independent accumulators, enough to cover an FMA's latency times the
 * FMA units (4 cycles x 2 units on recent x86); a = a m + c stays near 1,
 * far from denormals. Returns the flops done. */
enum { ACC = 12 };
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f"))) static double fma_avx512(long iters, float *sink) {
    __m512 a[ACC], m = _mm512_set1_ps(0.9999999f), c = _mm512_set1_ps(1e-7f);
    for (int k = 0; k < ACC; k++) a[k] = _mm512_set1_ps(1.0f + k);
    for (long i = 0; i < iters; i++)
        for (int k = 0; k < ACC; k++) a[k] = _mm512_fmadd_ps(a[k], m, c);
    for (int k = 1; k < ACC; k++) a[0] = _mm512_add_ps(a[0], a[k]);
    *sink = _mm512_reduce_add_ps(a[0]);
    return 2.0 * 16 * ACC * iters;
}

__attribute__((target("avx2,fma"))) static double fma_avx2(long iters, float *sink) {
    __m256 a[ACC], m = _mm256_set1_ps(0.9999999f), c = _mm256_set1_ps(1e-7f);
    for (int k = 0; k < ACC; k++) a[k] = _mm256_set1_ps(1.0f + k);
    for (long i = 0; i < iters; i++)
        for (int k = 0; k < ACC; k++) a[k] = _mm256_fmadd_ps(a[k], m, c);
    for (int k = 1; k < ACC; k++) a[0] = _mm256_add_ps(a[0], a[k]);
    float v[8];
    _mm256_storeu_ps(v, a[0]);
    *sink = v[0];
    return 2.0 * 8 * ACC * iters;
}
#endif

static const char *peak_isa(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (__builtin_cpu_supports("avx512f")) return "avx512";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "avx2";
#endif
    return "none";
}

static void *peak_thread(void *arg) {
    double *flops = arg;
    float sink = 0;
    const long iters = 20000000;
#if defined(__x86_64__) && defined(__GNUC__)
    if (!strcmp(peak_isa(), "avx512")) *flops = fma_avx512(iters, &sink);
    else if (!strcmp(peak_isa(), "avx2")) *flops = fma_avx2(iters, &sink);
#endif
    if (sink == 12345.0f) printf("(sink)\n"); /* keeps the loop */
    return NULL;
}

static void peak(int threads, int reps) {
    printf("isa %s\n", peak_isa());
    if (!strcmp(peak_isa(), "none")) return;
    pthread_t th[64];
    double flops[64];
    if (threads < 1 || threads > 64) die("threads must be 1 to 64");
    for (int r = -1; r < reps; r++) {
        double t0 = now(), c0 = cpu();
        for (int t = 0; t < threads; t++)
            if (pthread_create(&th[t], NULL, peak_thread, &flops[t]))
                die("pthread_create");
        double total = 0;
        for (int t = 0; t < threads; t++) {
            pthread_join(th[t], NULL);
            total += flops[t];
        }
        double dt = now() - t0, dc = cpu() - c0;
        if (r >= 0)
            printf("gflops %.3f\ncpu_gflops %.3f\n", total / dt / 1e9,
                   total / dc * threads / 1e9);
    }
}

/* ------------------------------------------------------------------------ */
/* The libraries, behind one row-major sgemm                                  */

typedef enum { OPENBLAS, DNNL, MATMUL } lib;

#ifdef BP_HAVE_DNNL
/* The matmul primitives made so far, one per shape, transposes, leading
 * dimensions and beta; executed with the caller's pointers. */
typedef struct prim {
    char ta, tb;
    long M, N, K, lda, ldb, ldc;
    float beta;
    int bias, relu; /* the fused forward's: a bias row added, then ReLU */
    dnnl_primitive_t p;
    dnnl_memory_t a, b, c, bias_mem;
} prim;
static prim cache[64];
static int cached;
static dnnl_engine_t engine;
static dnnl_stream_t stream;

#define OK(call) \
    if ((call) != dnnl_success) die(#call " failed")

static void md_of(dnnl_memory_desc_t *md, long rows, long cols, long ld, int trans) {
    dnnl_dims_t dims = {rows, cols};
    dnnl_dims_t strides = {trans ? 1 : ld, trans ? ld : 1};
    OK(dnnl_memory_desc_init_by_strides(md, 2, dims, dnnl_f32, strides));
}

static prim *prim_get(char ta, char tb, long M, long N, long K, long lda, long ldb,
                      long ldc, float beta, int bias, int relu) {
    for (int k = 0; k < cached; k++) {
        prim *q = &cache[k];
        if (q->ta == ta && q->tb == tb && q->M == M && q->N == N && q->K == K &&
            q->lda == lda && q->ldb == ldb && q->ldc == ldc && q->beta == beta &&
            q->bias == bias && q->relu == relu)
            return q;
    }
    if (cached == 64) die("too many shapes");
    if (!engine) {
        OK(dnnl_engine_create(&engine, dnnl_cpu, 0));
        OK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
    }
    prim *q = &cache[cached++];
    *q = (prim){.ta = ta, .tb = tb, .beta = beta, .bias = bias, .relu = relu};
    q->M = M, q->N = N, q->K = K, q->lda = lda, q->ldb = ldb, q->ldc = ldc;
    dnnl_memory_desc_t a, b, c, bm;
    md_of(&a, M, K, lda, ta == 'T');
    md_of(&b, K, N, ldb, tb == 'T');
    md_of(&c, M, N, ldc, 0);
    md_of(&bm, 1, N, N, 0);
    dnnl_matmul_desc_t d;
    OK(dnnl_matmul_desc_init(&d, &a, &b, bias ? &bm : NULL, &c));
    dnnl_primitive_attr_t attr;
    OK(dnnl_primitive_attr_create(&attr));
    if (beta != 0 || relu) {
        dnnl_post_ops_t ops;
        OK(dnnl_post_ops_create(&ops));
        if (beta != 0) OK(dnnl_post_ops_append_sum(ops, beta));
        if (relu) OK(dnnl_post_ops_append_eltwise(ops, 1.0f, dnnl_eltwise_relu, 0, 0));
        OK(dnnl_primitive_attr_set_post_ops(attr, ops));
        dnnl_post_ops_destroy(ops);
    }
    dnnl_primitive_desc_t pd;
    OK(dnnl_primitive_desc_create(&pd, &d, attr, engine, NULL));
    const char *impl = "?";
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
    fprintf(stderr, "matmul %c%c %ldx%ldx%ld%s%s: %s\n", ta, tb, M, N, K,
            bias ? " +bias" : "", relu ? " relu" : "", impl);
    OK(dnnl_primitive_create(&q->p, pd));
    OK(dnnl_memory_create(&q->a, &a, engine, DNNL_MEMORY_NONE));
    OK(dnnl_memory_create(&q->b, &b, engine, DNNL_MEMORY_NONE));
    OK(dnnl_memory_create(&q->c, &c, engine, DNNL_MEMORY_NONE));
    if (bias) OK(dnnl_memory_create(&q->bias_mem, &bm, engine, DNNL_MEMORY_NONE));
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    return q;
}

/* C = op(A) op(B) + beta C; with bias (N values), C = relu? (op(A) op(B) +
 * bias), the bias and the ReLU fused into the product as post-ops. */
static void matmul_act(char ta, char tb, long M, long N, long K, const float *A, long lda,
                       const float *B, long ldb, float beta, float *C, long ldc,
                       const float *bias, int relu) {
    prim *q = prim_get(ta, tb, M, N, K, lda, ldb, ldc, beta, bias != NULL, relu);
    OK(dnnl_memory_set_data_handle(q->a, (void *)A));
    OK(dnnl_memory_set_data_handle(q->b, (void *)B));
    OK(dnnl_memory_set_data_handle(q->c, C));
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, q->a},
                               {DNNL_ARG_WEIGHTS, q->b},
                               {DNNL_ARG_DST, q->c},
                               {DNNL_ARG_BIAS, q->bias_mem}};
    if (bias) OK(dnnl_memory_set_data_handle(q->bias_mem, (void *)bias));
    OK(dnnl_primitive_execute(q->p, stream, bias ? 4 : 3, args));
    OK(dnnl_stream_wait(stream));
}

static void matmul(char ta, char tb, long M, long N, long K, const float *A, long lda,
                   const float *B, long ldb, float beta, float *C, long ldc) {
    matmul_act(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc, NULL, 0);
}
#endif

static lib the_lib;

/* C = op(A) op(B) + beta C, row-major, 'N' or 'T'. */
static void gemm(char ta, char tb, int M, int N, int K, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc) {
    switch (the_lib) {
        case OPENBLAS:
            cblas_sgemm(CblasRowMajor, ta == 'T' ? CblasTrans : CblasNoTrans,
                        tb == 'T' ? CblasTrans : CblasNoTrans, M, N, K, 1, A, lda, B, ldb,
                        beta, C, ldc);
            return;
#ifdef BP_HAVE_DNNL
        case DNNL:
            if (dnnl_sgemm(ta, tb, M, N, K, 1, A, lda, B, ldb, beta, C, ldc) !=
                dnnl_success)
                die("dnnl_sgemm failed");
            return;
        case MATMUL: matmul(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc); return;
#endif
        default: die("not built with oneDNN");
    }
}

static int the_threads = 1;

/* LIB dnnl_act or matmul_act: each forward product of w2 and w3 also adds
 * the layer's bias and, but for the last layer, applies ReLU. */
static int the_act;

/* h = x W^T over S rows of I inputs to O outputs, then o = relu?(h + b):
 * with matmul, one primitive with the bias and the ReLU as post-ops,
 * writing o alone; otherwise the product into h and then the engine's
 * pass (engine/ops_fast.h bias_act), h += b and o = relu(h), both kept,
 * as the backward reads h. */
static void forward_act(int S, int O, int I, const float *x, const float *W,
                        const float *b, float *h, float *o, int relu) {
#ifdef BP_HAVE_DNNL
    if (the_lib == MATMUL) {
        matmul_act('N', 'T', S, O, I, x, I, W, I, 0, o, O, b, relu);
        return;
    }
#endif
    gemm('N', 'T', S, O, I, x, I, W, I, 0, h, O);
    for (int s = 0; s < S; s++) {
        float *hs = h + (size_t)s * O, *os = o + (size_t)s * O;
        for (int n = 0; n < O; n++) {
            float v = hs[n] + b[n];
            hs[n] = v;
            os[n] = relu && !(v > 0) ? 0 : v;
        }
    }
}

static void set_threads(int n) {
    the_threads = n;
    openblas_set_num_threads(n);
#ifdef BP_HAVE_DNNL
    omp_set_num_threads(n);
#endif
}

static void sgemm_square(int N, int reps) {
    float *a = randoms((size_t)N * N), *b = randoms((size_t)N * N);
    float *c = randoms((size_t)N * N);
    for (int r = -1; r < reps; r++) { /* r = -1 warms up */
        double t0 = now(), c0 = cpu();
        gemm('N', 'N', N, N, N, a, N, b, N, 0, c, N);
        double t = now() - t0, tc = cpu() - c0;
        if (r >= 0)
            printf("gflops %.3f\ncpu_gflops %.3f\n", 2.0 * N * N * N / t / 1e9,
                   2.0 * N * N * N / tc * the_threads / 1e9);
    }
}

/* The products of an epoch of a network of L layers, size[0] inputs to
 * size[L] outputs, ROWS rows in batches of BMAX (B = batch, I = inputs,
 * O = outputs of a layer, as in engine/bp_ops.h), as member t of T makes
 * them in a team's step (engine/net_team_real.h): its rows' h = x W^T and
 * dx = dh W, its neurons' dW = dh^T x over all rows. */
typedef struct share {
    const int *size;
    int L, BMAX, ROWS, reps, t, T;
    float **W, **dW, **o, **d, **b;
} share;

static void *epochs(void *arg) {
    share *j = arg;
    const int *size = j->size, t = j->t, T = j->T;
    for (int r = -1; r < j->reps; r++) {
        double t0 = now(), c0 = cpu();
        for (int row = 0; row < j->ROWS; row += j->BMAX) {
            int B = j->ROWS - row < j->BMAX ? j->ROWS - row : j->BMAX;
            int r0 = B * t / T, S = B * (t + 1) / T - r0;
            for (int l = 0; l < j->L; l++) { /* h = x W^T */
                const float *x = j->o[l] + (size_t)r0 * size[l];
                float *h = j->o[l + 1] + (size_t)r0 * size[l + 1];
                if (the_act) /* d[l + 1], dh later, as h */
                    forward_act(S, size[l + 1], size[l], x, j->W[l], j->b[l],
                                j->d[l + 1] + (size_t)r0 * size[l + 1], h, l < j->L - 1);
                else
                    gemm('N', 'T', S, size[l + 1], size[l], x, size[l], j->W[l], size[l],
                         0, h, size[l + 1]);
            }
            for (int l = j->L - 1; l >= 0; l--) {
                int I = size[l], O = size[l + 1], n0 = O * t / T,
                    N = O * (t + 1) / T - n0;
                /* dx = dh W, then dW = dh^T x (backward_rows, backward_cols) */
                if (l > 0)
                    gemm('N', 'N', S, I, O, j->d[l + 1] + (size_t)r0 * O, O, j->W[l], I,
                         0, j->d[l] + (size_t)r0 * I, I);
                gemm('T', 'N', N, I, B, j->d[l + 1] + n0, O, j->o[l], I, 0,
                     j->dW[l] + (size_t)n0 * I, I);
            }
        }
        double dt = now() - t0, tc = cpu() - c0;
        if (r >= 0 && t == 0) printf("seconds %.6f\ncpu_seconds %.6f\n", dt, tc / T);
    }
    return NULL;
}

/* T = 1: the library's own threads (the_threads); T > 1: T threads, each
 * its share with the library single-threaded, as a team's members. */
static void net_epoch(const int *size, int L, int BMAX, int ROWS, int reps, int T) {
    float *W[8], *dW[8], *o[9], *d[9], *b[8];
    for (int l = 0; l <= L; l++) {
        o[l] = randoms((size_t)BMAX * size[l]);
        d[l] = randoms((size_t)BMAX * size[l]);
        if (l < L) {
            W[l] = randoms((size_t)size[l + 1] * size[l]);
            dW[l] = randoms((size_t)size[l + 1] * size[l]);
            b[l] = randoms((size_t)size[l + 1]);
        }
    }
    share j[8];
    pthread_t th[8];
    for (int t = 0; t < T; t++) {
        j[t] = (share){size, L, BMAX, ROWS, reps, t, T, W, dW, o, d, b};
        if (t && pthread_create(&th[t], NULL, epochs, &j[t])) die("pthread_create");
    }
    epochs(&j[0]);
    for (int t = 1; t < T; t++) pthread_join(th[t], NULL);
}

/* W5's layers as products (M x N x K of forward, dW and dx, per sample
 * for a conv, per row for a linear): conv O x (B P Q) x (C KH KW), its
 * dW O x K x (B P Q), its dx K x (B P Q) x O; a linear's as W2's. */
typedef struct w5_layer {
    int conv, O, K, PQ; /* a linear: O outputs, K inputs, PQ = 1 */
    int dx;             /* whether its dx is made (not the first layer's) */
} w5_layer;
static const w5_layer w5_net[] = {
    {1, 32, 9, 784, 0}, {1, 64, 288, 196, 1}, {0, 128, 3136, 1, 1}, {0, 10, 128, 1, 1}};
#define W5_L 4

typedef struct w5_share {
    int ROWS, reps, t, T;
    float *a, *b, *c; /* operands big enough for any product */
} w5_share;

static double w5_flops(int ROWS) {
    double f = 0;
    for (int l = 0; l < W5_L; l++)
        f += 2.0 * ROWS * w5_net[l].PQ * w5_net[l].O * w5_net[l].K * (2 + w5_net[l].dx);
    return f;
}

static void *w5_epochs(void *arg) {
    w5_share *j = arg;
    for (int r = -1; r < j->reps; r++) {
        double t0 = now(), c0 = cpu();
        for (int row = 0; row < j->ROWS; row += 64) {
            int B = j->ROWS - row < 64 ? j->ROWS - row : 64;
            int S = B * (j->t + 1) / j->T - B * j->t / j->T;
            for (int l = 0; l < W5_L; l++) {
                const w5_layer *y = &w5_net[l];
                int n0 = y->O * j->t / j->T, N = y->O * (j->t + 1) / j->T - n0;
                int cols = S * y->PQ, all = B * y->PQ;
                if (y->conv) { /* y = w col; dw = dy col^T; dcol = w^T dy */
                    gemm('N', 'N', y->O, cols, y->K, j->a, y->K, j->b, cols, 0, j->c,
                         cols);
                    gemm('N', 'T', N, y->K, all, j->a, all, j->b, all, 0, j->c, y->K);
                    if (y->dx)
                        gemm('T', 'N', y->K, cols, y->O, j->a, y->K, j->b, cols, 0, j->c,
                             cols);
                } else { /* h = x W^T; dW = dh^T x; dx = dh W */
                    gemm('N', 'T', S, y->O, y->K, j->a, y->K, j->b, y->K, 0, j->c, y->O);
                    gemm('T', 'N', N, y->K, B, j->a, y->O, j->b, y->K, 0, j->c, y->K);
                    if (y->dx)
                        gemm('N', 'N', S, y->K, y->O, j->a, y->O, j->b, y->K, 0, j->c,
                             y->K);
                }
            }
        }
        double dt = now() - t0, tc = cpu() - c0;
        if (r >= 0 && j->t == 0)
            printf("seconds %.6f\ncpu_seconds %.6f\ngflop %.3f\n", dt, tc / j->T,
                   w5_flops(j->ROWS) / 1e9);
    }
    return NULL;
}

static void w5_epoch(int ROWS, int reps, int T) {
    /* the largest operand: conv2's columns of 64 samples, 288 x 12,544 */
    size_t big = (size_t)288 * 64 * 196;
    float *a = randoms(big), *b = randoms(big), *c[8];
    w5_share j[8];
    pthread_t th[8];
    for (int t = 0; t < T; t++) {
        c[t] = randoms(big); /* each member its own output */
        j[t] = (w5_share){ROWS, reps, t, T, a, b, c[t]};
        if (t && pthread_create(&th[t], NULL, w5_epochs, &j[t])) die("pthread_create");
    }
    w5_epochs(&j[0]);
    for (int t = 1; t < T; t++) pthread_join(th[t], NULL);
}

/* W8's iteration (see the top): B sequences of T steps, embeddings of E,
 * L LSTM layers of H (G = 4 H gates), V outputs a step. */
enum { W8_B = 50, W8_T = 50, W8_E = 128, W8_H = 128, W8_G = 4 * W8_H, W8_L = 2 };

static void w8_iteration(int V, float *x, float *z, float *h, float *w, float *dw,
                         float *y) {
    const int B = W8_B, T = W8_T, H = W8_H, G = W8_G, BT = B * T;
    for (int l = 0; l < W8_L; l++) { /* I = E = H: every layer's input is BT x 128 */
        gemm('N', 'T', BT, G, W8_E, x, W8_E, w, W8_E, 1, z, G);
        for (int t = 1; t < T; t++)
            gemm('N', 'T', B, G, H, h + (size_t)(t - 1) * H, T * H, w, H, 1,
                 z + (size_t)t * G, T * G);
    }
    gemm('N', 'T', BT, V, H, h, H, w, H, 0, y, V);  /* head: y = h W^T */
    gemm('T', 'N', V, H, BT, y, V, h, H, 1, dw, H); /* dW = dy^T h */
    gemm('N', 'N', BT, H, V, y, V, w, H, 0, x, H);  /* dh = dy W */
    for (int l = W8_L - 1; l >= 0; l--) {
        for (int t = T - 1; t >= 0; t--) {
            gemm('N', 'N', B, H, G, z + (size_t)t * G, T * G, w, H, 0, x, H);
            if (t)
                gemm('T', 'N', G, H, B, z + (size_t)t * G, T * G, h + (size_t)(t - 1) * H,
                     T * H, 1, dw, H);
        }
        gemm('T', 'N', G, W8_E, BT, z, G, x, W8_E, 1, dw, W8_E);
        gemm('N', 'N', BT, W8_E, G, z, G, w, W8_E, 1, h, W8_E);
    }
}

static double w8_flops(int V) {
    const double B = W8_B, T = W8_T, H = W8_H, G = W8_G, E = W8_E;
    double layer =
        2 * B * T * G * E * 3 + 2 * B * (T - 1) * G * H * 2 + 2 * B * T * H * G;
    return W8_L * layer + 3 * 2 * B * T * V * H;
}

static void w8(int V, int reps) {
    size_t big = (size_t)W8_B * W8_T * W8_G, rows = (size_t)W8_B * W8_T;
    float *x = randoms(rows * (W8_H > V ? W8_H : V)), *z = randoms(big);
    float *h = randoms(rows * W8_H), *w = randoms((size_t)W8_G * (W8_H > V ? W8_H : V));
    float *dw = randoms((size_t)W8_G * (W8_H > V ? W8_H : V)), *y = randoms(rows * V);
    for (int r = -1; r < reps; r++) { /* r = -1 warms up */
        double t0 = now(), c0 = cpu();
        for (int it = 0; it < 20; it++) w8_iteration(V, x, z, h, w, dw, y);
        double dt = (now() - t0) / 20, tc = (cpu() - c0) / 20;
        if (r >= 0)
            printf("ms %.4f\ncpu_ms %.4f\ngflop %.4f\n", dt * 1e3, tc * 1e3 / the_threads,
                   w8_flops(V) / 1e9);
    }
}

int main(int argc, char **argv) {
    if (argc >= 4 && !strcmp(argv[1], "peak")) {
        peak(atoi(argv[2]), atoi(argv[3]));
        return 0;
    }
    const char *usage =
        "usage: blas_floor peak THREADS REPS | LIB sgemm N THREADS REPS "
        "| LIB w2|w3 THREADS REPS | LIB w5 THREADS REPS [ROWS] | LIB w8 THREADS REPS [V]   "
        "(LIB: openblas, dnnl, dnnl_omp, matmul, dnnl_act, matmul_act)\n";
    if (argc < 5) {
        fputs(usage, stderr);
        return 2;
    }
    int omp = !strcmp(argv[1], "dnnl_omp");
    the_act = !strcmp(argv[1], "dnnl_act") || !strcmp(argv[1], "matmul_act");
    if (!strcmp(argv[1], "openblas")) the_lib = OPENBLAS;
    else if (!strcmp(argv[1], "dnnl") || !strcmp(argv[1], "dnnl_act") || omp)
        the_lib = DNNL;
    else if (!strcmp(argv[1], "matmul") || !strcmp(argv[1], "matmul_act"))
        the_lib = MATMUL;
    else {
        fputs(usage, stderr);
        return 2;
    }
#ifndef BP_HAVE_DNNL
    if (the_lib != OPENBLAS) die("this build has no oneDNN (BP_DNNL=OFF)");
#endif
    static const int w2[] = {784, 128, 64, 10}, w3[] = {1024, 1024, 1024, 10};
    /* dnnl at THREADS > 1: the team's split, oneDNN single-threaded in
     * each member, as the engine runs it; dnnl_omp: oneDNN's own OpenMP
     * threads on whole products */
    int split = 1;
    if (the_lib == DNNL && !omp && strcmp(argv[2], "sgemm") && atoi(argv[3]) > 1)
        split = atoi(argv[3]);
    if (split > 8) die("at most 8 threads");
    if (argc >= 6 && !strcmp(argv[2], "sgemm")) {
        set_threads(atoi(argv[4]));
        sgemm_square(atoi(argv[3]), atoi(argv[5]));
    } else if (!strcmp(argv[2], "w2")) {
        set_threads(split > 1 ? 1 : atoi(argv[3]));
        net_epoch(w2, 3, 64, 60000, atoi(argv[4]), split);
    } else if (!strcmp(argv[2], "w5")) {
        set_threads(split > 1 ? 1 : atoi(argv[3]));
        w5_epoch(argc >= 6 ? atoi(argv[5]) : 60000, atoi(argv[4]), split);
    } else if (!strcmp(argv[2], "w8")) {
        set_threads(atoi(argv[3]));
        w8(argc >= 6 ? atoi(argv[5]) : 114, atoi(argv[4]));
    } else if (!strcmp(argv[2], "w3")) {
        set_threads(split > 1 ? 1 : atoi(argv[3]));
        net_epoch(w3, 3, 256, 20 * 256, atoi(argv[4]), split);
    } else {
        fputs(usage, stderr);
        return 2;
    }
    return 0;
}
