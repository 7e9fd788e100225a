/* w8_lstm.c: W8's two LSTM layers, forward and backward, by the engine's
 * loop of products (seq_fast.h) and by oneDNN's LSTM primitives, on one
 * thread (issue 26: measure the primitives before choosing).
 *
 *   w8_lstm ITERS REPS
 *
 * The shapes of W8 (scripts/bench/w8.lua): 50 sequences of 50 steps, an
 * input of 128 a step (the embedding's), 2 layers of 128, float32, zero
 * initial state. An iteration is what the graph runs for the LSTM node in
 * a training step: both layers forward (keeping what backward reads), then
 * both backward from a gradient at every step's output, with the weights'
 * gradients and dLoss/d(input) (the embedding takes it). Each line is the
 * median over REPS repetitions of ITERS iterations, in ms an iteration,
 * wall-clock and the thread's CPU time:
 *   engine     bp_lstm_forward_f32 and bp_lstm_backward_f32 per layer;
 *   onednn     one 2-layer dnnl_lstm_forward (training) and
 *              dnnl_lstm_backward primitive, the batch in the engine's
 *              layout (ntc), the weights in the layouts oneDNN chose
 *              (format "any"): the two primitives' executions alone;
 *   onednn+io  the same with what an engine built on them would add each
 *              step: the weights (changed by every update) reordered from
 *              PyTorch's layout into the forward's and the backward's
 *              layouts, the weight gradients zeroed (oneDNN adds into
 *              them) and reordered back.
 * Before timing, both compute the same layers from the same weights and
 * the largest difference of their outputs, dLoss/dx and weight gradients
 * is printed (the two must be one computation). oneDNN's implementation
 * is printed too. oneDNN runs on one thread (OpenMP's count set to 1), as
 * the engine runs it (engine/gemm.c). On a shared machine, read the
 * figures beside the load. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_clock.h"
#include "bp_seq.h"

#ifdef BP_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
void omp_set_num_threads(int n);
#endif

enum { NB = 50, NT = 50, NI = 128, NH = 128, NG = 4 * NH, NL = 2, MAXREPS = 64 };

static void die(const char *what) {
    fprintf(stderr, "w8_lstm: %s\n", what);
    exit(1);
}

static float *randoms(size_t n, float scale) {
    float *v = malloc(sizeof(float) * n);
    if (!v) die("out of memory");
    for (size_t k = 0; k < n; k++)
        v[k] = scale * ((float)rand() / ((float)RAND_MAX + 1) * 2 - 1);
    return v;
}

static float *zeros(size_t n) {
    float *v = calloc(n, sizeof(float));
    if (!v) die("out of memory");
    return v;
}

/* The problem: input, output gradient and PyTorch's weights per layer;
 * the engine's buffers and gradients. */
typedef struct lstm {
    float *x, *dy, *w[NL][4]; /* w: wih, whh, bih, bhh */
    float *h[NL], *c[NL], *a[NL], *dh0, *dx, *dz, *carry, *g[NL][4];
} lstm;

static lstm make(void) {
    lstm p;
    const float k = 1 / sqrtf(NH); /* PyTorch's initialisation's range */
    p.x = randoms((size_t)NB * NT * NI, 1);
    p.dy = randoms((size_t)NB * NT * NH, 1e-3f);
    for (int l = 0; l < NL; l++) {
        p.w[l][0] = randoms((size_t)NG * (l ? NH : NI), k);
        p.w[l][1] = randoms((size_t)NG * NH, k);
        p.w[l][2] = randoms(NG, k), p.w[l][3] = randoms(NG, k);
        p.h[l] = zeros((size_t)NB * NT * NH), p.c[l] = zeros((size_t)NB * NT * NH);
        p.a[l] = zeros((size_t)NB * NT * NG);
        p.g[l][0] = zeros((size_t)NG * (l ? NH : NI)), p.g[l][1] = zeros((size_t)NG * NH);
        p.g[l][2] = zeros(NG), p.g[l][3] = zeros(NG);
    }
    p.dh0 = zeros((size_t)NB * NT * NH), p.dx = zeros((size_t)NB * NT * NI);
    p.dz = zeros((size_t)NB * NT * NG), p.carry = zeros(2 * (size_t)NB * NH);
    return p;
}

/* The engine's iteration: graph_real.h's rec_forward and rec_backward. */
static void engine_iteration(lstm *p) {
    for (int l = 0; l < NL; l++)
        bp_lstm_forward_f32(p->h[l], p->c[l], p->a[l], l ? p->h[l - 1] : p->x, NULL, NULL,
                            p->w[l][0], p->w[l][1], p->w[l][2], p->w[l][3], NB, NT,
                            l ? NH : NI, NH);
    for (int l = 0; l < NL; l++)
        for (int j = 0; j < 4; j++)
            memset(p->g[l][j], 0, sizeof(float) * (j < 2 ? NG * (size_t)(l ? NH : NI) : NG));
    memset(p->dh0, 0, sizeof(float) * NB * NT * NH);
    memset(p->dx, 0, sizeof(float) * NB * NT * NI);
    for (int l = NL - 1; l >= 0; l--)
        bp_lstm_backward_f32(l ? p->dh0 : p->dx, NULL, NULL, p->g[l][0], p->g[l][1],
                             p->g[l][2], p->g[l][3], p->dz, p->carry, l ? p->dy : p->dh0,
                             l ? p->h[l - 1] : p->x, NULL, NULL, p->h[l], p->c[l], p->a[l],
                             p->w[l][0], p->w[l][1], NB, NT, l ? NH : NI, NH);
}

#ifdef BP_HAVE_DNNL
#define OK(call)                                                   \
    do {                                                           \
        if ((call) != dnnl_success) die("oneDNN refused: " #call); \
    } while (0)

/* oneDNN's side: engine, stream, the two primitives and their memories;
 * user-layout (ldigo, ldgo) weights and gradients, and reorders between
 * them and the primitives' layouts. */
typedef struct dn {
    dnnl_engine_t eng;
    dnnl_stream_t s;
    dnnl_primitive_t fwd, bwd, to_f[2], to_b[2], back[2];
    dnnl_memory_t src, dst, ws, bias, dsrc, ddst, dbias;
    dnnl_memory_t uw[2], fw[2], bw[2], udw[2], bdw[2]; /* layer, iter */
    const char *fimpl, *bimpl;
} dn;

static dnnl_memory_t mem(dn *d, const dnnl_memory_desc_t *md) {
    dnnl_memory_t m;
    OK(dnnl_memory_create(&m, md, d->eng, DNNL_MEMORY_ALLOCATE));
    void *p;
    OK(dnnl_memory_get_data_handle(m, &p));
    memset(p, 0, dnnl_memory_desc_get_size(md));
    return m;
}

static float *data_of(dnnl_memory_t m) {
    void *p;
    OK(dnnl_memory_get_data_handle(m, &p));
    return p;
}

static dnnl_primitive_t reorder(dn *d, dnnl_memory_t from, dnnl_memory_t to) {
    const dnnl_memory_desc_t *a, *b;
    OK(dnnl_memory_get_memory_desc(from, &a));
    OK(dnnl_memory_get_memory_desc(to, &b));
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t r;
    OK(dnnl_reorder_primitive_desc_create(&pd, a, d->eng, b, d->eng, NULL));
    OK(dnnl_primitive_create(&r, pd));
    dnnl_primitive_desc_destroy(pd);
    return r;
}

static void run(dn *d, dnnl_primitive_t p, int n, const dnnl_exec_arg_t *args) {
    OK(dnnl_primitive_execute(p, d->s, n, args));
    OK(dnnl_stream_wait(d->s));
}

static void run_reorder(dn *d, dnnl_primitive_t r, dnnl_memory_t from, dnnl_memory_t to) {
    dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    run(d, r, 2, a);
}

/* The primitives' descriptors: the batch ntc, weights "any", no state. */
static dnnl_format_tag_t batch_tag = dnnl_ntc;

static void make_pds(dn *d, dnnl_primitive_desc_t *fpd, dnnl_primitive_desc_t *bpd) {
    dnnl_memory_desc_t src, dst, wl, wi, bias, any_l, any_i;
    dnnl_dims_t sd = {NT, NB, NI}, dd = {NT, NB, NH}, wd = {NL, 1, NI, 4, NH},
                bd = {NL, 1, 4, NH};
    OK(dnnl_memory_desc_init_by_tag(&src, 3, sd, dnnl_f32, batch_tag));
    OK(dnnl_memory_desc_init_by_tag(&dst, 3, dd, dnnl_f32, batch_tag));
    OK(dnnl_memory_desc_init_by_tag(&wl, 5, wd, dnnl_f32, dnnl_format_tag_any));
    OK(dnnl_memory_desc_init_by_tag(&wi, 5, wd, dnnl_f32, dnnl_format_tag_any));
    OK(dnnl_memory_desc_init_by_tag(&bias, 4, bd, dnnl_f32, dnnl_ldgo));
    any_l = wl, any_i = wi;
    dnnl_rnn_desc_t f, b;
    OK(dnnl_lstm_forward_desc_init(&f, dnnl_forward_training,
                                   dnnl_unidirectional_left2right, &src, NULL, NULL, &wl,
                                   &wi, &bias, &dst, NULL, NULL, 0));
    OK(dnnl_primitive_desc_create(fpd, &f, NULL, d->eng, NULL));
    OK(dnnl_lstm_backward_desc_init(&b, dnnl_backward, dnnl_unidirectional_left2right, &src,
                                    NULL, NULL, &wl, &wi, &bias, &dst, NULL, NULL, &src,
                                    NULL, NULL, &any_l, &any_i, &bias, &dst, NULL, NULL, 0));
    OK(dnnl_primitive_desc_create(bpd, &b, NULL, d->eng, *fpd));
}

static dn dn_make(void) {
    dn d;
    OK(dnnl_engine_create(&d.eng, dnnl_cpu, 0));
    OK(dnnl_stream_create(&d.s, d.eng, dnnl_stream_default_flags));
    dnnl_primitive_desc_t fpd, bpd;
    make_pds(&d, &fpd, &bpd);
    OK(dnnl_primitive_desc_query(fpd, dnnl_query_impl_info_str, 0, &d.fimpl));
    OK(dnnl_primitive_desc_query(bpd, dnnl_query_impl_info_str, 0, &d.bimpl));
    d.src = mem(&d, dnnl_primitive_desc_query_md(fpd, dnnl_query_src_md, 0));
    d.dst = mem(&d, dnnl_primitive_desc_query_md(fpd, dnnl_query_dst_md, 0));
    d.ws = mem(&d, dnnl_primitive_desc_query_md(fpd, dnnl_query_workspace_md, 0));
    d.bias = mem(&d, dnnl_primitive_desc_query_md(fpd, dnnl_query_weights_md, 2));
    d.dsrc = mem(&d, dnnl_primitive_desc_query_md(bpd, dnnl_query_diff_src_md, 0));
    d.ddst = mem(&d, dnnl_primitive_desc_query_md(bpd, dnnl_query_diff_dst_md, 0));
    d.dbias = mem(&d, dnnl_primitive_desc_query_md(bpd, dnnl_query_diff_weights_md, 2));
    dnnl_dims_t wd = {NL, 1, NI, 4, NH};
    for (int k = 0; k < 2; k++) {
        dnnl_memory_desc_t user;
        OK(dnnl_memory_desc_init_by_tag(&user, 5, wd, dnnl_f32, dnnl_ldigo));
        d.uw[k] = mem(&d, &user), d.udw[k] = mem(&d, &user);
        d.fw[k] = mem(&d, dnnl_primitive_desc_query_md(fpd, dnnl_query_weights_md, k));
        d.bw[k] = mem(&d, dnnl_primitive_desc_query_md(bpd, dnnl_query_weights_md, k));
        d.bdw[k] = mem(&d, dnnl_primitive_desc_query_md(bpd, dnnl_query_diff_weights_md, k));
        d.to_f[k] = reorder(&d, d.uw[k], d.fw[k]);
        d.to_b[k] = reorder(&d, d.uw[k], d.bw[k]);
        d.back[k] = reorder(&d, d.bdw[k], d.udw[k]);
    }
    OK(dnnl_primitive_create(&d.fwd, fpd));
    OK(dnnl_primitive_create(&d.bwd, bpd));
    return d;
}

/* PyTorch's weights (4H x I, gates i f g o) into ldigo: [l][0][i][g][o] =
 * W[g H + o][i]; the bias b_ih + b_hh into ldgo; input and gradient. */
static void dn_load(dn *d, const lstm *p) {
    for (int k = 0; k < 2; k++) {
        float *u = data_of(d->uw[k]);
        for (int l = 0; l < NL; l++)
            for (int i = 0; i < NI; i++)
                for (int r = 0; r < NG; r++)
                    u[((size_t)l * NI + i) * NG + r] = p->w[l][k][(size_t)r * NI + i];
    }
    float *b = data_of(d->bias);
    for (int l = 0; l < NL; l++)
        for (int r = 0; r < NG; r++) b[l * NG + r] = p->w[l][2][r] + p->w[l][3][r];
    memcpy(data_of(d->src), p->x, sizeof(float) * NB * NT * NI);
    memcpy(data_of(d->ddst), p->dy, sizeof(float) * NB * NT * NH);
}

/* One iteration; io: with the weights' reorders and the gradients'. */
static void dn_iteration(dn *d, int io) {
    for (int k = 0; io && k < 2; k++) run_reorder(d, d->to_f[k], d->uw[k], d->fw[k]);
    dnnl_exec_arg_t f[] = {{DNNL_ARG_SRC_LAYER, d->src},     {DNNL_ARG_WEIGHTS_LAYER, d->fw[0]},
                           {DNNL_ARG_WEIGHTS_ITER, d->fw[1]}, {DNNL_ARG_BIAS, d->bias},
                           {DNNL_ARG_DST_LAYER, d->dst},      {DNNL_ARG_WORKSPACE, d->ws}};
    run(d, d->fwd, 6, f);
    for (int k = 0; io && k < 2; k++) run_reorder(d, d->to_b[k], d->uw[k], d->bw[k]);
    const dnnl_memory_desc_t *md;
    for (int k = 0; k < 2; k++) {
        OK(dnnl_memory_get_memory_desc(d->bdw[k], &md));
        memset(data_of(d->bdw[k]), 0, dnnl_memory_desc_get_size(md));
    }
    memset(data_of(d->dbias), 0, sizeof(float) * NL * NG);
    dnnl_exec_arg_t b[] = {{DNNL_ARG_SRC_LAYER, d->src},
                           {DNNL_ARG_WEIGHTS_LAYER, d->bw[0]},
                           {DNNL_ARG_WEIGHTS_ITER, d->bw[1]},
                           {DNNL_ARG_BIAS, d->bias},
                           {DNNL_ARG_DST_LAYER, d->dst},
                           {DNNL_ARG_WORKSPACE, d->ws},
                           {DNNL_ARG_DIFF_DST_LAYER, d->ddst},
                           {DNNL_ARG_DIFF_SRC_LAYER, d->dsrc},
                           {DNNL_ARG_DIFF_WEIGHTS_LAYER, d->bdw[0]},
                           {DNNL_ARG_DIFF_WEIGHTS_ITER, d->bdw[1]},
                           {DNNL_ARG_DIFF_BIAS, d->dbias}};
    run(d, d->bwd, 11, b);
    for (int k = 0; io && k < 2; k++) run_reorder(d, d->back[k], d->bdw[k], d->udw[k]);
}

/* The largest |a - b| / (1 + |b|) between oneDNN's results and the
 * engine's: the outputs, dLoss/dx, the weights' and biases' gradients. */
static double dn_diff(dn *d, const lstm *p) {
    double w = 0;
#define WORST(u, v) w = fmax(w, fabs((double)(u) - (double)(v)) / (1 + fabs((double)(v))))
    const float *y = data_of(d->dst), *dx = data_of(d->dsrc), *db = data_of(d->dbias);
    for (size_t k = 0; k < (size_t)NB * NT * NH; k++) WORST(y[k], p->h[NL - 1][k]);
    for (size_t k = 0; k < (size_t)NB * NT * NI; k++) WORST(dx[k], p->dx[k]);
    for (int k = 0; k < 2; k++) {
        const float *u = data_of(d->udw[k]);
        for (int l = 0; l < NL; l++)
            for (int i = 0; i < NI; i++)
                for (int r = 0; r < NG; r++)
                    WORST(u[((size_t)l * NI + i) * NG + r], p->g[l][k][(size_t)r * NI + i]);
    }
    for (int l = 0; l < NL; l++)
        for (int r = 0; r < NG; r++) WORST(db[l * NG + r], p->g[l][2][r]);
#undef WORST
    return w;
}
#endif

/* Seconds of CPU this thread has used. */
static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* Prints the medians over reps of ms an iteration of iters calls of f,
 * wall-clock and the thread's CPU time (which a loaded machine's other
 * processes inflate less: they take the core away, but the time off it is
 * not counted). */
static void timed(const char *what, void (*f)(void *), void *arg, int iters, int reps) {
    double v[MAXREPS], c[MAXREPS];
    f(arg); /* warm: pages, kernels */
    for (int r = 0; r < reps; r++) {
        double t0 = now(), c0 = cpu_now();
        for (int i = 0; i < iters; i++) f(arg);
        v[r] = (now() - t0) / iters * 1e3;
        c[r] = (cpu_now() - c0) / iters * 1e3;
    }
    printf("%-10s %8.2f wall %8.2f cpu\n", what, median(v, reps), median(c, reps));
}

static void engine_fn(void *p) { engine_iteration(p); }
#ifdef BP_HAVE_DNNL
static void dn_fn(void *p) { dn_iteration(p, 0); }
static void dn_io_fn(void *p) { dn_iteration(p, 1); }
#endif

int main(int argc, char **argv) {
    int iters = argc > 1 ? atoi(argv[1]) : 10, reps = argc > 2 ? atoi(argv[2]) : 5;
    if (iters < 1 || reps < 1 || reps > MAXREPS) die("usage: w8_lstm ITERS REPS (REPS <= 64)");
    srand(1);
#ifdef BP_HAVE_DNNL
    if (argc > 3 && !strcmp(argv[3], "tnc")) batch_tag = dnnl_tnc;
#endif
    lstm p = make();
    printf("W8's LSTM: %d x %d steps, %d inputs, %d layers of %d, float32, 1 thread, "
           "forward + backward, ms an iteration (median of %d x %d)\n",
           NB, NT, NI, NL, NH, reps, iters);
#ifdef BP_HAVE_DNNL
    omp_set_num_threads(1);
    dn d = dn_make();
    dn_load(&d, &p);
    engine_iteration(&p);
    dn_iteration(&d, 1);
    printf("onednn forward: %s\nonednn backward: %s\n", d.fimpl, d.bimpl);
    printf("largest difference, oneDNN against the engine: %.3g\n", dn_diff(&d, &p));
#endif
    for (int round = 0; round < 2; round++) { /* alternating, twice */
        timed("engine", engine_fn, &p, iters, reps);
#ifdef BP_HAVE_DNNL
        timed("onednn", dn_fn, &d, iters, reps);
        timed("onednn+io", dn_io_fn, &d, iters, reps);
#endif
    }
    return 0;
}
