/* w5_parts.c: where a step of W5 (issue 25's CNN, float32, batch 64) goes,
 * and oneDNN's own convolution and pooling primitives on the same shapes.
 *
 *   w5_parts STEPS REPS
 *
 * Part 1, the step by parts, on the engine's public API (bp_net.h,
 * bp_optim.h) and kernels (bp_conv.h), one thread, random inputs: each
 * line is the median over REPS repetitions of STEPS steps, in ms a step:
 *   forward   bp_net_forward_as (training mode: dropout's mask drawn);
 *   backward  bp_net_zero_grad and bp_net_backward (every gradient);
 *   update    bp_optim_step (Adam);
 *   conv      the two convolutions as the graph runs them, forward and
 *             backward (the first without dx): oneDNN's primitives with
 *             their reorders in a build with oneDNN (bp_conv_dnnl), else
 *             im2col;
 *   conv_im2col the im2col path's kernels (bp_conv2d_forward_f32,
 *             bp_conv2d_backward_f32), and
 *   conv_gemm the same per-sample products alone (bp_sgemm), so that
 *             conv_im2col - conv_gemm is im2col/col2im, the bias and dbias;
 *   pool      both max pools' kernels alone, forward and backward.
 * Part 2, the primitives: oneDNN's convolution (forward training, backward
 * data, backward weights) of each conv, in plain NCHW layouts (what the
 * graph's buffers hold) and in the layouts oneDNN prefers (format "any"),
 * its max pooling forward and backward in NCHW, and its batch norm
 * (training forward and backward, NCHW, on each conv's output: not in W5,
 * but issue 25's batchnorm2d), each beside the engine's kernel of the same
 * work, ms per batch of 64, wall-clock and this thread's CPU time. In
 * oneDNN's layouts the primitives alone, and the reorders from and to NCHW
 * each pass needs (each conv's step "with reorders": what bp_conv_dnnl
 * runs). The library's implementation is printed with each.
 *
 *   w5_parts STEPS REPS prims     part 2 only
 *
 * oneDNN runs on one thread (OpenMP's count set to 1), as the engine runs
 * it (engine/gemm.c). Figures are wall-clock: on a shared machine, read
 * them beside the load. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>
#undef I

#include "bp_conv.h"
#include "bp_gemm.h"
#include "bp_graph.h"
#include "bp_net.h"
#include "bp_ops.h"
#include "bp_optim.h"
#include "bench_clock.h"

#ifdef BP_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
void omp_set_num_threads(int n);
#endif

enum { B = 64, MAXREPS = 64 };

static void die(const char *what) {
    fprintf(stderr, "w5_parts: %s\n", what);
    exit(1);
}

static float *randoms(size_t n) {
    float *v = malloc(sizeof(float) * n);
    if (!v) die("out of memory");
    for (size_t k = 0; k < n; k++) v[k] = (float)rand() / ((float)RAND_MAX + 1) - 0.5f;
    return v;
}

/* ------------------------------------------------------------------------ */
/* Part 1: the step by parts                                                 */

static int add(bp_graph *g, bp_op op, int x, bp_node_opts *o) {
    bp_err e;
    int id = bp_graph_add(g, op, &x, op == BP_OP_INPUT ? 0 : 1, o, &e);
    if (id < 0) die(e.msg);
    return id;
}

static int conv_pool(bp_graph *g, int x, int C, int O, bp_rng *r) {
    bp_node_opts o = bp_node_opts_default(BP_OP_CONV2D);
    o.in = C, o.out = O, o.kh = o.kw = 3, o.ph = o.pw = 1, o.rng = r;
    x = add(g, BP_OP_CONV2D, x, &o);
    o = bp_node_opts_default(BP_OP_ACT);
    o.act = BP_ACT_RELU;
    x = add(g, BP_OP_ACT, x, &o);
    o = bp_node_opts_default(BP_OP_MAXPOOL2D);
    o.kh = o.kw = o.sh = o.sw = 2;
    return add(g, BP_OP_MAXPOOL2D, x, &o);
}

/* scripts/fashion_cnn.lua's network */
static bp_net *w5_net(bp_rng *r) {
    bp_graph *g = bp_graph_new(BP_F32, NULL);
    bp_node_opts o = bp_node_opts_default(BP_OP_INPUT);
    o.ndim = 3, o.shape[0] = 1, o.shape[1] = o.shape[2] = 28;
    int x = add(g, BP_OP_INPUT, 0, &o);
    x = conv_pool(g, conv_pool(g, x, 1, 32, r), 32, 64, r);
    x = add(g, BP_OP_FLATTEN, x, NULL);
    o = bp_node_opts_default(BP_OP_DROPOUT);
    o.p = 0.25;
    x = add(g, BP_OP_DROPOUT, x, &o);
    o = bp_node_opts_default(BP_OP_LINEAR);
    o.in = 3136, o.out = 128, o.rng = r;
    x = add(g, BP_OP_LINEAR, x, &o);
    bp_node_opts a = bp_node_opts_default(BP_OP_ACT);
    a.act = BP_ACT_RELU;
    x = add(g, BP_OP_ACT, x, &a);
    o.in = 128, o.out = 10;
    x = add(g, BP_OP_LINEAR, x, &o);
    bp_err e;
    if (bp_graph_finish(g, x, &e)) die(e.msg);
    bp_net *net = bp_net_from_graph(g, &e);
    if (!net) die(e.msg);
    net->rng = r; /* dropout's masks, as the Lua module's generator */
    return net;
}

static const bp_conv_shape conv1 = {1, 28, 28, 32, 28, 28, 3, 3, 1, 1, 1, 1};
static const bp_conv_shape conv2 = {32, 14, 14, 64, 14, 14, 3, 3, 1, 1, 1, 1};
static const bp_conv_shape pool1 = {32, 28, 28, 32, 14, 14, 2, 2, 2, 2, 0, 0};
static const bp_conv_shape pool2 = {64, 14, 14, 64, 7, 7, 2, 2, 2, 2, 0, 0};

typedef struct bufs {
    float *x, *w, *b, *y, *dy, *dx, *dw, *db, *col;
    int32_t *arg;
} bufs;

static bufs bufs_of(const bp_conv_shape *s) {
    size_t nx = (size_t)B * s->C * s->H * s->W, ny = (size_t)B * s->O * s->P * s->Q;
    size_t nw = (size_t)s->O * s->C * s->KH * s->KW;
    bufs u = {randoms(nx),
              randoms(nw),
              randoms((size_t)s->O),
              randoms(ny),
              randoms(ny),
              randoms(nx),
              randoms(nw),
              randoms((size_t)s->O),
              randoms(bp_conv_cols(s)),
              malloc(sizeof(int32_t) * ny)};
    if (!u.arg) die("out of memory");
    return u;
}

/* im2col's forward and backward (the first conv without dx) */
static void conv_kernels(bufs *u, const bp_conv_shape *s, int dx) {
    bp_conv2d_forward_f32(u->y, u->col, u->x, u->w, u->b, B, s);
    bp_conv2d_backward_f32(dx ? u->dx : NULL, u->dw, u->db, u->col, u->dy, u->x, u->w, B,
                           s);
}

/* the same on oneDNN's primitives (bp_conv_dnnl), as a float32 graph runs
 * them: dx of few channels through im2col; c NULL: im2col's */
static void conv_graph(bp_conv_dnnl *c, bufs *u, const bp_conv_shape *s, int dx) {
    if (!c) {
        conv_kernels(u, s, dx);
        return;
    }
    int own = bp_conv_dnnl_takes_dx(s);
    if (bp_conv2d_forward_dnnl(c, u->y, u->x, u->w, u->b, B, s) ||
        bp_conv2d_backward_dnnl(c, dx && own ? u->dx : NULL, u->dw, u->db, u->dy, u->x,
                                u->w, B, s))
        die("oneDNN's convolution failed");
    if (dx && !own)
        bp_conv2d_backward_f32(u->dx, NULL, NULL, u->col, u->dy, u->x, u->w, B, s);
}

/* conv_fast.h's products alone: per sample y = w col, dw += dy col^T, and
 * dcol = w^T dy when dx is wanted */
static void conv_gemms(bufs *u, const bp_conv_shape *s, int dx) {
    int O = s->O, PQ = s->P * s->Q, K = s->C * s->KH * s->KW;
    for (int n = 0; n < B; n++) {
        float *yn = u->y + (size_t)n * O * PQ, *dyn = u->dy + (size_t)n * O * PQ;
        bp_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, O, PQ, K, 1, u->w, K, u->col,
                 PQ, 1, yn, PQ);
        bp_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, O, K, PQ, 1, dyn, PQ, u->col,
                 PQ, 1, u->dw, K);
        if (dx)
            bp_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, PQ, O, 1, u->w, K, dyn,
                     PQ, 0, u->col, PQ);
    }
}

static void pool_kernels(bufs *u, const bp_conv_shape *s) {
    bp_maxpool2d_forward_f32(u->y, u->arg, u->x, B, s);
    bp_maxpool2d_backward_f32(u->dx, u->y, u->arg, B, s);
}

enum { FWD, BWD, UPD, CONV, IM2COL, GEMMS, POOL, PARTS };
static const char *part_names[PARTS] = {"forward",     "backward",  "update", "conv",
                                        "conv_im2col", "conv_gemm", "pool"};

static void parts(int steps, int reps) {
    bp_rng r;
    bp_rng_seed(&r, 1);
    bp_net *net = w5_net(&r);
    bp_err e;
    bp_optim_config c = bp_optim_config_default(BP_OPTIM_ADAM);
    c.lr = 1e-3;
    bp_optim *opt = bp_optim_new(net, &c, &e);
    if (!opt) die(e.msg);
    float *x = randoms((size_t)B * 784);
    double dout[B * 10];
    for (int k = 0; k < B * 10; k++) dout[k] = ((k * 7) % 11 - 5) / 640.0;
    bufs c1 = bufs_of(&conv1), c2 = bufs_of(&conv2), p1 = bufs_of(&pool1),
         p2 = bufs_of(&pool2);
    bp_conv_dnnl *k1 = bp_conv_dnnl_new(), *k2 = bp_conv_dnnl_new();
    double t[PARTS][MAXREPS];
    for (int rep = -1; rep < reps; rep++) {
        double sum[PARTS] = {0};
        for (int s = 0; s < steps; s++) {
            double t0 = now();
            if (!bp_net_forward_as(net, x, BP_F32, B, &e)) die(e.msg);
            double t1 = now();
            bp_net_zero_grad(net);
            if (bp_net_backward(net, dout, &e)) die(e.msg);
            double t2 = now();
            if (bp_optim_step(opt, net, &e)) die(e.msg);
            double t3 = now();
            conv_graph(k1, &c1, &conv1, 0), conv_graph(k2, &c2, &conv2, 1);
            double t4 = now();
            conv_kernels(&c1, &conv1, 0), conv_kernels(&c2, &conv2, 1);
            double t5 = now();
            conv_gemms(&c1, &conv1, 0), conv_gemms(&c2, &conv2, 1);
            double t6 = now();
            pool_kernels(&p1, &pool1), pool_kernels(&p2, &pool2);
            double t7 = now();
            double d[PARTS] = {t1 - t0, t2 - t1, t3 - t2, t4 - t3,
                               t5 - t4, t6 - t5, t7 - t6};
            for (int k = 0; k < PARTS; k++) sum[k] += d[k];
        }
        for (int k = 0; rep >= 0 && k < PARTS; k++) t[k][rep] = sum[k] / steps * 1e3;
    }
    double m[PARTS];
    for (int k = 0; k < PARTS; k++) m[k] = median(t[k], reps);
    double step = m[FWD] + m[BWD] + m[UPD];
    for (int k = 0; k < PARTS; k++)
        printf("part_%s_ms %.4f\npart_%s_share %.4f\n", part_names[k], m[k],
               part_names[k], m[k] / step);
    printf("part_im2col_ms %.4f\npart_im2col_share %.4f\n", m[IM2COL] - m[GEMMS],
           (m[IM2COL] - m[GEMMS]) / step);
    printf("step_ms %.4f\nconv_path %s\n", step, k1 ? "oneDNN primitives" : "im2col");
    bp_conv_dnnl_free(k1), bp_conv_dnnl_free(k2);
    bp_optim_free(opt);
    bp_net_free(net);
}

/* ------------------------------------------------------------------------ */
/* Part 2: oneDNN's primitives                                               */

#ifdef BP_HAVE_DNNL
#define OK(call) \
    if ((call) != dnnl_success) die(#call " failed")

static dnnl_engine_t eng;
static dnnl_stream_t stream;

/* this thread's CPU time, s */
static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

typedef struct prim {
    dnnl_primitive_t p;
    int n;
    dnnl_exec_arg_t args[9];
} prim;

/* a memory of desc md, filled with random values */
static dnnl_memory_t mem_of(const dnnl_memory_desc_t *md) {
    dnnl_memory_t m;
    OK(dnnl_memory_create(&m, md, eng, DNNL_MEMORY_ALLOCATE));
    void *h;
    OK(dnnl_memory_get_data_handle(m, &h));
    size_t n = dnnl_memory_desc_get_size(md) / sizeof(float);
    for (size_t k = 0; k < n; k++) ((float *)h)[k] = (float)rand() / RAND_MAX - 0.5f;
    return m;
}

static void md4(dnnl_memory_desc_t *md, int a, int b, int c, int d, int tag) {
    dnnl_dims_t dims = {a, b, c, d};
    OK(dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, (dnnl_format_tag_t)tag));
}

/* a primitive of pd, with its arguments: kinds[k] the argument, queries[k]
 * the md to allocate for it, or mems[k] when given (not NULL) */
static prim prim_of(dnnl_primitive_desc_t pd, int n, const int *kinds,
                    const dnnl_query_t *queries, const dnnl_memory_t *mems,
                    const char *what) {
    prim q = {NULL, n, {{0, NULL}}};
    const char *impl = "?";
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
    printf("impl %s %s\n", what, impl);
    OK(dnnl_primitive_create(&q.p, pd));
    for (int k = 0; k < n; k++) {
        q.args[k].arg = kinds[k];
        q.args[k].memory = mems && mems[k]
                               ? mems[k]
                               : mem_of(dnnl_primitive_desc_query_md(pd, queries[k], 0));
    }
    return q;
}

/* ms of one pass of the n primitives in order, median of reps of iters
 * passes; *cpu the same in this thread's CPU time (what the load of a
 * shared machine moves least) */
static double time_seq(prim *q, int n, int iters, int reps, double *cpu) {
    double t[MAXREPS], c[MAXREPS];
    for (int r = -1; r < reps; r++) {
        double t0 = now(), c0 = cpu_now();
        for (int i = 0; i < iters; i++)
            for (int k = 0; k < n; k++) {
                OK(dnnl_primitive_execute(q[k].p, stream, q[k].n, q[k].args));
                OK(dnnl_stream_wait(stream));
            }
        if (r >= 0) t[r] = (now() - t0) / iters * 1e3, c[r] = (cpu_now() - c0) / iters * 1e3;
    }
    if (cpu) *cpu = median(c, reps);
    return median(t, reps);
}

/* A reorder from memory a to memory b (their layouts differ). */
static prim reorder_of(dnnl_memory_t a, dnnl_memory_t b) {
    const dnnl_memory_desc_t *ma, *mb;
    OK(dnnl_memory_get_memory_desc(a, &ma));
    OK(dnnl_memory_get_memory_desc(b, &mb));
    dnnl_primitive_desc_t pd;
    OK(dnnl_reorder_primitive_desc_create(&pd, ma, eng, mb, eng, NULL));
    prim q = {NULL, 2, {{DNNL_ARG_FROM, a}, {DNNL_ARG_TO, b}}};
    OK(dnnl_primitive_create(&q.p, pd));
    dnnl_primitive_desc_destroy(pd);
    return q;
}

/* A user's memory in layout tag for the primitive's memory m: m itself
 * when its layout is that, else a new one, with the reorder to add
 * (into m when in, out of m else) at *r, *nr incremented. */
static dnnl_memory_t user_of(dnnl_memory_t m, int n, int c, int h, int w, int tag, int in,
                             prim *r, int *nr) {
    dnnl_memory_desc_t u;
    const dnnl_memory_desc_t *mm;
    if (n) md4(&u, n, c, h, w, tag);
    else { /* a bias, or a 1-d */
        dnnl_dims_t d = {c};
        OK(dnnl_memory_desc_init_by_tag(&u, 1, d, dnnl_f32, dnnl_x));
    }
    OK(dnnl_memory_get_memory_desc(m, &mm));
    if (dnnl_memory_desc_equal(&u, mm)) return m;
    dnnl_memory_t um = mem_of(&u);
    r[(*nr)++] = in ? reorder_of(um, m) : reorder_of(m, um);
    return um;
}

/* One conv's three primitives in a layout (tag nchw, or any: oneDNN's
 * choice), and with any, the reorders from and to the graph's NCHW
 * buffers that each pass would need. */
typedef struct conv_prims {
    prim fwd, data, weights;
    prim fwd_in[2], fwd_out[1], bwd_in[2], data_out[1], weights_out[1];
    int n_fwd_in, n_fwd_out, n_bwd_in, n_data_out, n_weights_out;
} conv_prims;

static void conv_prims_of(conv_prims *c, const char *name, const bp_conv_shape *s,
                          int tag) {
    memset(c, 0, sizeof *c);
    dnnl_memory_desc_t src, w, b, dst;
    md4(&src, B, s->C, s->H, s->W, tag);
    md4(&w, s->O, s->C, s->KH, s->KW, tag == dnnl_format_tag_any ? tag : dnnl_oihw);
    md4(&dst, B, s->O, s->P, s->Q, tag);
    dnnl_dims_t bd = {s->O};
    OK(dnnl_memory_desc_init_by_tag(&b, 1, bd, dnnl_f32, dnnl_x));
    dnnl_dims_t st = {s->SH, s->SW}, pad = {s->PH, s->PW};
    dnnl_convolution_desc_t fd, dd, wd;
    OK(dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training,
                                          dnnl_convolution_direct, &src, &w, &b, &dst, st,
                                          pad, pad));
    OK(dnnl_convolution_backward_data_desc_init(&dd, dnnl_convolution_direct, &src, &w,
                                                &dst, st, pad, pad));
    OK(dnnl_convolution_backward_weights_desc_init(&wd, dnnl_convolution_direct, &src, &w,
                                                   &b, &dst, st, pad, pad));
    dnnl_primitive_desc_t fpd, dpd, wpd;
    OK(dnnl_primitive_desc_create(&fpd, &fd, NULL, eng, NULL));
    OK(dnnl_primitive_desc_create(&dpd, &dd, NULL, eng, fpd));
    OK(dnnl_primitive_desc_create(&wpd, &wd, NULL, eng, fpd));
    char what[64];
    const char *t = tag == dnnl_format_tag_any ? "any" : "nchw";
    snprintf(what, sizeof what, "%s_%s_fwd", name, t);
    c->fwd = prim_of(fpd, 4,
                     (int[]){DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST},
                     (dnnl_query_t[]){dnnl_query_src_md, dnnl_query_weights_md,
                                      dnnl_query_weights_md, dnnl_query_dst_md},
                     NULL, what);
    /* the bias's md is the second weights md */
    dnnl_memory_destroy(c->fwd.args[2].memory);
    c->fwd.args[2].memory =
        mem_of(dnnl_primitive_desc_query_md(fpd, dnnl_query_weights_md, 1));
    /* backward data reads forward's weights; backward weights forward's src,
     * and backward data's diff_dst when its layout is the same */
    dnnl_memory_t srcm = c->fwd.args[0].memory, wm = c->fwd.args[1].memory;
    snprintf(what, sizeof what, "%s_%s_bwd_data", name, t);
    c->data = prim_of(dpd, 3, (int[]){DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC},
                      (dnnl_query_t[]){dnnl_query_diff_dst_md, dnnl_query_weights_md,
                                       dnnl_query_diff_src_md},
                      (dnnl_memory_t[]){NULL, wm, NULL}, what);
    dnnl_memory_t ddm = c->data.args[0].memory;
    const dnnl_memory_desc_t *ddmd;
    OK(dnnl_memory_get_memory_desc(ddm, &ddmd));
    int same_dd =
        dnnl_memory_desc_equal(ddmd, dnnl_primitive_desc_query_md(wpd, dnnl_query_diff_dst_md, 0));
    snprintf(what, sizeof what, "%s_%s_bwd_weights", name, t);
    c->weights =
        prim_of(wpd, 4,
                (int[]){DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS,
                        DNNL_ARG_DIFF_BIAS},
                (dnnl_query_t[]){dnnl_query_src_md, dnnl_query_diff_dst_md,
                                 dnnl_query_diff_weights_md, dnnl_query_diff_weights_md},
                (dnnl_memory_t[]){srcm, same_dd ? ddm : NULL, NULL, NULL}, what);
    dnnl_memory_destroy(c->weights.args[3].memory);
    c->weights.args[3].memory =
        mem_of(dnnl_primitive_desc_query_md(wpd, dnnl_query_diff_weights_md, 1));
    /* the reorders from and to NCHW / OIHW */
    int n = B;
    user_of(srcm, n, s->C, s->H, s->W, dnnl_nchw, 1, c->fwd_in, &c->n_fwd_in);
    user_of(wm, s->O, s->C, s->KH, s->KW, dnnl_oihw, 1, c->fwd_in, &c->n_fwd_in);
    user_of(c->fwd.args[3].memory, n, s->O, s->P, s->Q, dnnl_nchw, 0, c->fwd_out,
            &c->n_fwd_out);
    user_of(ddm, n, s->O, s->P, s->Q, dnnl_nchw, 1, c->bwd_in, &c->n_bwd_in);
    if (!same_dd)
        user_of(c->weights.args[1].memory, n, s->O, s->P, s->Q, dnnl_nchw, 1, c->bwd_in,
                &c->n_bwd_in);
    user_of(c->data.args[2].memory, n, s->C, s->H, s->W, dnnl_nchw, 0, c->data_out,
            &c->n_data_out);
    user_of(c->weights.args[2].memory, s->O, s->C, s->KH, s->KW, dnnl_oihw, 0,
            c->weights_out, &c->n_weights_out);
    dnnl_primitive_desc_destroy(fpd);
    dnnl_primitive_desc_destroy(dpd);
    dnnl_primitive_desc_destroy(wpd);
}

/* out: forward, backward data, backward weights, then the reorders
 * around each (forward's in and out; diff_dst's in; backward data's out;
 * backward weights' out); cpu: the same in CPU time */
static void dnnl_conv(const char *name, const bp_conv_shape *s, int tag, int iters,
                      int reps, double out[8], double cpu[8]) {
    conv_prims c;
    conv_prims_of(&c, name, s, tag);
    out[0] = time_seq(&c.fwd, 1, iters, reps, &cpu[0]);
    out[1] = time_seq(&c.data, 1, iters, reps, &cpu[1]);
    out[2] = time_seq(&c.weights, 1, iters, reps, &cpu[2]);
    prim *r[5] = {c.fwd_in, c.fwd_out, c.bwd_in, c.data_out, c.weights_out};
    int nr[5] = {c.n_fwd_in, c.n_fwd_out, c.n_bwd_in, c.n_data_out, c.n_weights_out};
    for (int k = 0; k < 5; k++)
        out[3 + k] = nr[k] ? time_seq(r[k], nr[k], iters, reps, &cpu[3 + k]) : 0,
                cpu[3 + k] = nr[k] ? cpu[3 + k] : 0;
}

/* max pooling's forward and backward in NCHW, ms of both; cpu the same in
 * CPU time */
static double dnnl_pool(const char *name, const bp_conv_shape *s, int iters, int reps,
                        double *cpu) {
    dnnl_memory_desc_t src, dst;
    md4(&src, B, s->C, s->H, s->W, dnnl_nchw);
    md4(&dst, B, s->O, s->P, s->Q, dnnl_nchw);
    dnnl_dims_t st = {s->SH, s->SW}, k = {s->KH, s->KW}, pad = {0, 0};
    dnnl_pooling_desc_t fd, bd;
    OK(dnnl_pooling_forward_desc_init(&fd, dnnl_forward_training, dnnl_pooling_max, &src,
                                      &dst, st, k, pad, pad));
    OK(dnnl_pooling_backward_desc_init(&bd, dnnl_pooling_max, &src, &dst, st, k, pad,
                                       pad));
    dnnl_primitive_desc_t fpd, bpd;
    OK(dnnl_primitive_desc_create(&fpd, &fd, NULL, eng, NULL));
    OK(dnnl_primitive_desc_create(&bpd, &bd, NULL, eng, fpd));
    char what[64];
    snprintf(what, sizeof what, "%s_fwd", name);
    prim q[2];
    q[0] = prim_of(
        fpd, 3, (int[]){DNNL_ARG_SRC, DNNL_ARG_DST, DNNL_ARG_WORKSPACE},
        (dnnl_query_t[]){dnnl_query_src_md, dnnl_query_dst_md, dnnl_query_workspace_md},
        NULL, what);
    snprintf(what, sizeof what, "%s_bwd", name);
    /* backward reads forward's workspace */
    q[1] = prim_of(bpd, 3, (int[]){DNNL_ARG_DIFF_DST, DNNL_ARG_WORKSPACE, DNNL_ARG_DIFF_SRC},
                   (dnnl_query_t[]){dnnl_query_diff_dst_md, dnnl_query_workspace_md,
                                    dnnl_query_diff_src_md},
                   (dnnl_memory_t[]){NULL, q[0].args[2].memory, NULL}, what);
    return time_seq(q, 2, iters, reps, cpu);
}

/* batch norm's forward (training) and backward on B x C x H x W in NCHW
 * (not in W5; measured for issue 25's batchnorm2d), ms of both; cpu the
 * same in CPU time */
static double dnnl_bnorm(const char *name, int C, int H, int W, int iters, int reps,
                         double *cpu) {
    dnnl_memory_desc_t x, v;
    md4(&x, B, C, H, W, dnnl_nchw);
    dnnl_dims_t c = {C};
    OK(dnnl_memory_desc_init_by_tag(&v, 1, c, dnnl_f32, dnnl_x));
    unsigned flags = dnnl_use_scale | dnnl_use_shift;
    dnnl_batch_normalization_desc_t fd, bd;
    OK(dnnl_batch_normalization_forward_desc_init(&fd, dnnl_forward_training, &x, 1e-5f,
                                                  flags));
    OK(dnnl_batch_normalization_backward_desc_init(&bd, dnnl_backward, &x, &x, 1e-5f, flags));
    dnnl_primitive_desc_t fpd, bpd;
    OK(dnnl_primitive_desc_create(&fpd, &fd, NULL, eng, NULL));
    OK(dnnl_primitive_desc_create(&bpd, &bd, NULL, eng, fpd));
    dnnl_memory_t src = mem_of(&x), scale = mem_of(&v), shift = mem_of(&v),
                  mean = mem_of(&v), var = mem_of(&v);
    char what[64];
    snprintf(what, sizeof what, "%s_fwd", name);
    prim q[2];
    q[0] = prim_of(fpd, 6,
                   (int[]){DNNL_ARG_SRC, DNNL_ARG_DST, DNNL_ARG_SCALE, DNNL_ARG_SHIFT,
                           DNNL_ARG_MEAN, DNNL_ARG_VARIANCE},
                   (dnnl_query_t[]){dnnl_query_src_md, dnnl_query_dst_md, 0, 0, 0, 0},
                   (dnnl_memory_t[]){src, NULL, scale, shift, mean, var}, what);
    snprintf(what, sizeof what, "%s_bwd", name);
    q[1] = prim_of(bpd, 6,
                   (int[]){DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_MEAN,
                           DNNL_ARG_VARIANCE, DNNL_ARG_SCALE, DNNL_ARG_DIFF_SRC},
                   (dnnl_query_t[]){0, dnnl_query_diff_dst_md, 0, 0, 0,
                                    dnnl_query_diff_src_md},
                   (dnnl_memory_t[]){src, NULL, mean, var, scale, NULL}, what);
    /* the gradients of scale and shift, and the shift, which backward asks
     * for too */
    q[1].args[6].arg = DNNL_ARG_DIFF_SCALE, q[1].args[6].memory = mem_of(&v);
    q[1].args[7].arg = DNNL_ARG_DIFF_SHIFT, q[1].args[7].memory = mem_of(&v);
    q[1].args[8].arg = DNNL_ARG_SHIFT, q[1].args[8].memory = shift;
    q[1].n = 9;
    return time_seq(q, 2, iters, reps, cpu);
}

/* the engine's batch norm kernels (bp_ops.h) on the same work */
static double ours_bnorm(int C, int H, int W, int iters, int reps, double *cpu) {
    size_t n = (size_t)B * C * H * W;
    float *x = randoms(n), *y = randoms(n), *xhat = randoms(n), *dy = randoms(n),
          *dx = randoms(n), *v = randoms(7 * (size_t)C);
    double t[MAXREPS], c[MAXREPS];
    for (int r = -1; r < reps; r++) {
        double t0 = now(), c0 = cpu_now();
        for (int i = 0; i < iters; i++) {
            bp_batchnorm2d_forward_train_f32(y, xhat, v, v + C, v + 2 * C, x, v + 3 * C,
                                             v + 4 * C, B, C, H * W, 1e-5, 0.1);
            bp_batchnorm2d_backward_train_f32(dx, v + 5 * C, v + 6 * C, dy, xhat, v,
                                              v + 3 * C, B, C, H * W);
        }
        if (r >= 0) t[r] = (now() - t0) / iters * 1e3, c[r] = (cpu_now() - c0) / iters * 1e3;
    }
    *cpu = median(c, reps);
    free(x), free(y), free(xhat), free(dy), free(dx), free(v);
    return median(t, reps);
}

/* the engine's kernels of the same work, ms per batch; cpu in CPU time */
static double ours(void (*f)(bufs *, const bp_conv_shape *, int), bufs *u,
                   const bp_conv_shape *s, int dx, int iters, int reps, double *cpu) {
    double t[MAXREPS], c[MAXREPS];
    for (int r = -1; r < reps; r++) {
        double t0 = now(), c0 = cpu_now();
        for (int i = 0; i < iters; i++) f(u, s, dx);
        if (r >= 0) t[r] = (now() - t0) / iters * 1e3, c[r] = (cpu_now() - c0) / iters * 1e3;
    }
    *cpu = median(c, reps);
    return median(t, reps);
}

static void conv_fwd(bufs *u, const bp_conv_shape *s, int dx) {
    (void)dx;
    bp_conv2d_forward_f32(u->y, u->col, u->x, u->w, u->b, B, s);
}
static void conv_bwd(bufs *u, const bp_conv_shape *s, int dx) {
    bp_conv2d_backward_f32(dx ? u->dx : NULL, u->dw, u->db, u->col, u->dy, u->x, u->w, B,
                           s);
}
static void pool_both(bufs *u, const bp_conv_shape *s, int dx) {
    (void)dx;
    pool_kernels(u, s);
}

/* One conv's lines: the engine's forward and backward; oneDNN's three
 * passes in NCHW and in its own layouts, and the reorders the latter
 * needs; and a step's totals (backward data for conv2 only: the first
 * conv's dx is not wanted). clock 0 wall, 1 CPU. */
static void conv_lines(const char *name, int l, const double *f, const double *b,
                       double plain[2][8], double any[2][8]) {
    for (int k = 0; k < 2; k++) {
        const char *clock = k ? "cpu" : "wall";
        const double *p = plain[k], *a = any[k];
        printf("%s_%s_ms im2col fwd %.4f bwd %.4f | dnnl_nchw fwd %.4f bwd_data %.4f "
               "bwd_weights %.4f | dnnl_any fwd %.4f bwd_data %.4f bwd_weights %.4f | "
               "reorders fwd_in %.4f fwd_out %.4f diff_dst_in %.4f diff_src_out %.4f "
               "diff_w_out %.4f\n",
               name, clock, f[k], b[k], p[0], p[1], p[2], a[0], a[1], a[2], a[3], a[4], a[5],
               a[6], a[7]);
        double any_step = a[0] + (l ? a[1] : 0) + a[2];
        double moves = a[3] + a[4] + a[5] + (l ? a[6] : 0) + a[7];
        printf("%s_step_%s_ms im2col %.4f dnnl_nchw %.4f dnnl_any %.4f "
               "dnnl_any_with_reorders %.4f\n",
               name, clock, f[k] + b[k], p[0] + (l ? p[1] : 0) + p[2], any_step,
               any_step + moves);
    }
}

static void primitives(int iters, int reps) {
    omp_set_num_threads(1);
    OK(dnnl_engine_create(&eng, dnnl_cpu, 0));
    OK(dnnl_stream_create(&stream, eng, dnnl_stream_default_flags));
    const bp_conv_shape *cs[2] = {&conv1, &conv2};
    for (int l = 0; l < 2; l++) {
        char name[16];
        snprintf(name, sizeof name, "conv%d", l + 1);
        double plain[2][8], any[2][8], f[2], b[2];
        dnnl_conv(name, cs[l], dnnl_nchw, iters, reps, plain[0], plain[1]);
        dnnl_conv(name, cs[l], dnnl_format_tag_any, iters, reps, any[0], any[1]);
        bufs u = bufs_of(cs[l]);
        f[0] = ours(conv_fwd, &u, cs[l], l, iters, reps, &f[1]);
        b[0] = ours(conv_bwd, &u, cs[l], l, iters, reps, &b[1]);
        conv_lines(name, l, f, b, plain, any);
    }
    const bp_conv_shape *ps[2] = {&pool1, &pool2};
    for (int l = 0; l < 2; l++) {
        char name[16];
        snprintf(name, sizeof name, "pool%d", l + 1);
        double dc, oc;
        double d = dnnl_pool(name, ps[l], iters, reps, &dc);
        bufs u = bufs_of(ps[l]);
        double o = ours(pool_both, &u, ps[l], 0, iters, reps, &oc);
        printf("%s_step_ms ours %.4f dnnl_nchw %.4f | cpu ours %.4f dnnl_nchw %.4f\n", name,
               o, d, oc, dc);
    }
    /* batch norm on each conv's output, as a conv -> batchnorm2d network has */
    const bp_conv_shape *bs[2] = {&conv1, &conv2};
    for (int l = 0; l < 2; l++) {
        char name[16];
        snprintf(name, sizeof name, "bnorm%d", l + 1);
        const bp_conv_shape *s = bs[l];
        double dc, oc;
        double d = dnnl_bnorm(name, s->O, s->P, s->Q, iters, reps, &dc);
        double o = ours_bnorm(s->O, s->P, s->Q, iters, reps, &oc);
        printf("%s_step_ms ours %.4f dnnl_nchw %.4f | cpu ours %.4f dnnl_nchw %.4f\n", name,
               o, d, oc, dc);
    }
}
#endif

int main(int argc, char **argv) {
    if (argc < 3) die("usage: w5_parts STEPS REPS [prims]");
    int steps = atoi(argv[1]), reps = atoi(argv[2]);
    if (steps < 1 || reps < 1 || reps > MAXREPS) die("STEPS >= 1, REPS 1 to 64");
    if (argc < 4 || strcmp(argv[3], "prims")) parts(steps, reps);
#ifdef BP_HAVE_DNNL
    primitives(steps, reps);
#endif
    return 0;
}
