/* conv_dnnl.c: float32 convolution through oneDNN's own primitives
 * (bp_conv.h, bp_conv_dnnl), the path a float32 graph runs in a build with
 * oneDNN.
 *
 * Why: on W5's shapes oneDNN's convolutions in the layouts it prefers
 * (nChw16c, blocked weights; `jit:avx512_core` here) take 0.6 of the time
 * of im2col and per-sample GEMMs, reorders from and to the graph's NCHW
 * buffers counted; in NCHW itself they are no faster (scripts/bench/
 * NOTES.md, w5_parts prims). So each call reorders its inputs into the
 * primitive's layouts, runs the primitive and reorders its outputs back,
 * adding where bp_conv.h's kernels add (a reorder with a sum post-op).
 *
 * Primitives and their buffers are made on a cache's first call for a
 * batch size and shape, all three passes at once, and kept (three sizes,
 * the least recently used replaced): no allocation per step after the
 * first of each batch size. Each cache has its own stream, so each member
 * of a team holds its own cache. oneDNN's OpenMP runs on one thread on the
 * calling thread (bp_gemm_single).
 * Must equal bp_conv2d_forward_ref_f32 and bp_conv2d_backward_ref_f32 to
 * rounding: tests/test_conv.c, test_dnnl_matches_ref.
 *
 * The chain conv2d -> ReLU -> max pool (bp_conv_chain_forward_dnnl, what
 * a float32 graph runs for that pattern) keeps the convolution's output in
 * the blocked layout: the ReLU as its post-op, the pool by this file's own
 * kernels on the blocked values (oneDNN's pooling took 2 to 3 times as
 * long on W5's shapes, NOTES.md), its output written to NCHW directly; the
 * backward spreads the pool's dy to the winners (the ReLU's derivative
 * taken there) straight into the layout the convolution's backward reads.
 * Two reorders of 1.6 M values a step on W5's first convolution, the
 * ReLU's passes and the zeroing of its gradient go. The convolution runs a
 * part of the batch at a time (chain_parts), each part pooled while its
 * output is still in the core's cache rather than read back from memory;
 * oneDNN gives each sample the bits of the whole batch's call
 * (test_conv.c, test_chain_parts_bits). Must equal the
 * reference chain (bp_conv2d_*_ref_f32, the ReLU, bp_maxpool2d_*) to the
 * convolution's rounding: test_conv.c, test_chain_matches_ref.
 *
 * B, C, H, W, O, P, Q, KH, KW, SH, SW, PH, PW as in bp_conv.h. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "bp_alloc.h"
#include "bp_conv.h"
#include "bp_gemm.h"

#ifdef BP_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>

/* One argument of a primitive: the caller's buffer (user, in NCHW or
 * OIHW, its handle set per call) and the primitive's (prim: user itself
 * when the layouts agree and nothing is added, else its own memory), and
 * the reorder between them (NULL: none needed). */
typedef struct slot {
    dnnl_memory_t user, prim;
    dnnl_primitive_t move;
    int dir; /* IN, OUT or ADD */
} slot;

enum { IN, OUT, ADD }; /* a slot's direction: read, written, added into */

/* A primitive with its scratchpad. */
typedef struct prim {
    dnnl_primitive_t p;
    dnnl_memory_t pad;
} prim;

/* The batch sizes a cache keeps: a training run's batch, its epoch's last
 * short batch, and an evaluation's. */
#define N_ENTRIES 3

/* The chain conv2d -> ReLU -> max pool kept in oneDNN's blocked layout
 * (bp_conv_chain_forward_dnnl): the convolution with a ReLU post-op into h
 * (B x Cb x H x W x L: channels in blocks of L lanes), pooled by
 * pool_forward straight into the caller's NCHW with each output's winner
 * in code; backward, the caller's dy gathered into dyb (blocked, the
 * ReLU's derivative applied) and spread to the winners by pool_backward
 * into dh (backward weights' diff_dst, the same blocked layout), which the
 * convolution's backward passes read as it is. */
typedef struct chain {
    bp_conv_shape ps; /* the pool's */
    prim fwd;         /* the convolution of nb samples, a part of the batch */
    dnnl_memory_t xp, h; /* its src (a view into x.prim, set per part) and dst */
    size_t xstep;     /* floats of one sample in x.prim's layout */
    int nb;           /* samples a part: h stays in the cache while pooled */
    slot dh;     /* dh.prim: the blocked gradient; to the caller's NCHW for an im2col dx */
    float *hv, *dhv, *dyb; /* dyb: a plane's P Q L values of room (the kernels') */
    int16_t *code;
    int L;     /* lanes of a channel block: 8 or 16 */
    int valid;   /* a chained forward's h and code are there */
    int refused; /* chain_init failed for ps: not tried again */
} chain;

typedef struct entry {
    int B;
    unsigned long used; /* the cache's call count when last used */
    bp_conv_shape s;
    prim fwd, data, weights; /* data's NULL: dx not taken (few channels) */
    slot x, w, b, y;          /* forward's */
    slot dy, dyw, wd, dx;     /* backward data's (dy, wd, dx) and weights' dyw */
    slot xw, dw, db;
    float *zeros; /* O of them: the bias of a conv without one */
    const float *xin; /* the x whose reorder x.prim holds (a forward's), else NULL */
    chain ch;     /* made on the first chained call (ch.fwd.p) */
} entry;

struct bp_conv_dnnl {
    dnnl_engine_t eng;
    dnnl_stream_t stream;
    unsigned long calls;
    entry e[N_ENTRIES];
};

static void slot_free(slot *s) {
    if (s->prim && s->prim != s->user) dnnl_memory_destroy(s->prim);
    if (s->user) dnnl_memory_destroy(s->user);
    if (s->move) dnnl_primitive_destroy(s->move);
    memset(s, 0, sizeof *s);
}

static void prim_free(prim *p) {
    if (p->p) dnnl_primitive_destroy(p->p);
    if (p->pad) dnnl_memory_destroy(p->pad);
    p->p = NULL, p->pad = NULL;
}

static void chain_free(chain *ch) {
    prim_free(&ch->fwd);
    if (ch->h) dnnl_memory_destroy(ch->h);
    if (ch->xp) dnnl_memory_destroy(ch->xp);
    slot_free(&ch->dh);
    bp_free(ch->dyb), bp_free(ch->code);
    memset(ch, 0, sizeof *ch);
}

static void entry_free(entry *en) {
    chain_free(&en->ch);
    prim_free(&en->fwd), prim_free(&en->data), prim_free(&en->weights);
    slot *all[] = {&en->x, &en->w, &en->b, &en->y, &en->dy, &en->dyw,
                   &en->wd, &en->dx, &en->xw, &en->dw, &en->db};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) slot_free(all[k]);
    bp_free(en->zeros);
    memset(en, 0, sizeof *en);
}

/* The caller's layout of a 4-d (n > 0: n x c x h x w, NCHW or OIHW) or a
 * 1-d (n == 0: c values). */
static int user_md(dnnl_memory_desc_t *md, int n, int c, int h, int w) {
    dnnl_dims_t d4 = {n, c, h, w}, d1 = {c};
    return n ? dnnl_memory_desc_init_by_tag(md, 4, d4, dnnl_f32, dnnl_abcd) != dnnl_success
             : dnnl_memory_desc_init_by_tag(md, 1, d1, dnnl_f32, dnnl_a) != dnnl_success;
}

/* A reorder from a to b; add: b += a (a sum post-op). */
static dnnl_primitive_t reorder(dnnl_engine_t eng, dnnl_memory_t a, dnnl_memory_t b,
                                int add) {
    const dnnl_memory_desc_t *ma, *mb;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t p = NULL;
    if (dnnl_memory_get_memory_desc(a, &ma) || dnnl_memory_get_memory_desc(b, &mb) ||
        dnnl_primitive_attr_create(&attr))
        goto end;
    if (add && (dnnl_post_ops_create(&ops) || dnnl_post_ops_append_sum(ops, 1.0f) ||
                dnnl_primitive_attr_set_post_ops(attr, ops)))
        goto end;
    if (dnnl_reorder_primitive_desc_create(&pd, ma, eng, mb, eng, attr) == dnnl_success &&
        dnnl_primitive_create(&p, pd) != dnnl_success)
        p = NULL;
end:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (ops) dnnl_post_ops_destroy(ops);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return p;
}

/* Slot s for the caller's md u and the primitive's md pm, direction dir;
 * own: the primitive's buffer its own even when the layouts agree. 0 on
 * success. */
static int slot_init(slot *s, dnnl_engine_t eng, const dnnl_memory_desc_t *u,
                     const dnnl_memory_desc_t *pm, int dir, int own) {
    s->dir = dir;
    if (dnnl_memory_create(&s->user, u, eng, DNNL_MEMORY_NONE)) return -1;
    if (!own && dir != ADD && dnnl_memory_desc_equal(u, pm)) {
        s->prim = s->user;
        return 0;
    }
    if (dnnl_memory_create(&s->prim, pm, eng, DNNL_MEMORY_ALLOCATE)) return -1;
    s->move = dir == IN ? reorder(eng, s->user, s->prim, 0)
                        : reorder(eng, s->prim, s->user, dir == ADD);
    return s->move ? 0 : -1;
}

/* The primitive of pd with a scratchpad of its own. */
static int prim_init(prim *p, dnnl_engine_t eng, dnnl_primitive_desc_t pd) {
    const dnnl_memory_desc_t *pad = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    if (pad && dnnl_memory_create(&p->pad, pad, eng, DNNL_MEMORY_ALLOCATE)) return -1;
    return dnnl_primitive_create(&p->p, pd) != dnnl_success;
}

static const dnnl_memory_desc_t *md_of(dnnl_primitive_desc_t pd, dnnl_query_t q, int k) {
    return dnnl_primitive_desc_query_md(pd, q, k);
}

/* The three operations' descriptions for B samples of en's shape, every
 * layout "any" but the bias's. */
static int descs(dnnl_convolution_desc_t *fd, dnnl_convolution_desc_t *dd,
                 dnnl_convolution_desc_t *wd, const entry *en, int B) {
    const bp_conv_shape *s = &en->s;
    dnnl_dims_t dx = {B, s->C, s->H, s->W}, dw = {s->O, s->C, s->KH, s->KW},
                dy = {B, s->O, s->P, s->Q}, db = {s->O};
    dnnl_dims_t st = {s->SH, s->SW}, pad = {s->PH, s->PW};
    dnnl_memory_desc_t x, w, b, y;
    if (dnnl_memory_desc_init_by_tag(&x, 4, dx, dnnl_f32, dnnl_format_tag_any) ||
        dnnl_memory_desc_init_by_tag(&w, 4, dw, dnnl_f32, dnnl_format_tag_any) ||
        dnnl_memory_desc_init_by_tag(&y, 4, dy, dnnl_f32, dnnl_format_tag_any) ||
        dnnl_memory_desc_init_by_tag(&b, 1, db, dnnl_f32, dnnl_a))
        return -1;
    return dnnl_convolution_forward_desc_init(fd, dnnl_forward_training,
                                              dnnl_convolution_direct, &x, &w, &b, &y, st,
                                              pad, pad) ||
           dnnl_convolution_backward_data_desc_init(dd, dnnl_convolution_direct, &x, &w,
                                                    &y, st, pad, pad) ||
           dnnl_convolution_backward_weights_desc_init(wd, dnnl_convolution_direct, &x, &w,
                                                       &b, &y, st, pad, pad);
}

/* A primitive's attributes: a scratchpad the caller gives, and with relu
 * a ReLU post-op (max(v, 0), the chain's). NULL on failure. */
static dnnl_primitive_attr_t attr_of(int relu) {
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    int bad = dnnl_primitive_attr_create(&attr) ||
              dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) ||
              (relu && (dnnl_post_ops_create(&ops) ||
                        dnnl_post_ops_append_eltwise(ops, 1.0f, dnnl_eltwise_relu, 0.0f,
                                                     0.0f) ||
                        dnnl_primitive_attr_set_post_ops(attr, ops)));
    if (ops) dnnl_post_ops_destroy(ops);
    if (bad && attr) dnnl_primitive_attr_destroy(attr);
    return bad ? NULL : attr;
}

/* The primitive description of op (0 forward, 1 backward data, 2 backward
 * weights, 3 forward with a ReLU post-op) for B samples of en's shape,
 * with a scratchpad the caller gives; NULL on failure. */
static dnnl_primitive_desc_t pd_of(bp_conv_dnnl *c, const entry *en, int op, int B) {
    dnnl_convolution_desc_t d[3];
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t fpd = NULL, pd = NULL;
    if (descs(&d[0], &d[1], &d[2], en, B) || !(attr = attr_of(op == 3)) ||
        dnnl_primitive_desc_create(&fpd, &d[0], attr, c->eng, NULL))
        goto end;
    if (op == 3) op = 0;
    if (op == 0) pd = fpd, fpd = NULL;
    else if (dnnl_primitive_desc_create(&pd, &d[op], attr, c->eng, fpd))
        pd = NULL;
end:
    if (fpd) dnnl_primitive_desc_destroy(fpd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return pd;
}

/* The caller's layouts an argument can have: x, w, b, y (or their
 * gradients'). */
enum { UX, UW, UB, UY };

/* One argument of a primitive: its slot, the caller's layout, the
 * primitive's md (query and index) and the direction. */
typedef struct binding {
    slot *s;
    int user;
    dnnl_query_t q;
    int k, dir;
} binding;

/* Op's primitive (0 forward, 1 backward data, 2 backward weights) into p,
 * and the slots of its n arguments. */
static int init_op(bp_conv_dnnl *c, entry *en, int op, prim *p, const binding *bs, int n) {
    const bp_conv_shape *s = &en->s;
    dnnl_memory_desc_t u[4];
    dnnl_primitive_desc_t pd = pd_of(c, en, op, en->B);
    int bad = !pd || user_md(&u[UX], en->B, s->C, s->H, s->W) ||
              user_md(&u[UW], s->O, s->C, s->KH, s->KW) || user_md(&u[UB], 0, s->O, 0, 0) ||
              user_md(&u[UY], en->B, s->O, s->P, s->Q) || prim_init(p, c->eng, pd);
    for (int k = 0; !bad && k < n; k++)
        bad = slot_init(bs[k].s, c->eng, &u[bs[k].user], md_of(pd, bs[k].q, bs[k].k),
                        bs[k].dir, 0);
    if (pd) dnnl_primitive_desc_destroy(pd);
    return bad ? -1 : 0;
}

/* Forward: x, w, b read, y written; and the zeros of a missing bias. */
static int init_forward(bp_conv_dnnl *c, entry *en) {
    const binding b[] = {{&en->x, UX, dnnl_query_src_md, 0, IN},
                         {&en->w, UW, dnnl_query_weights_md, 0, IN},
                         {&en->b, UB, dnnl_query_weights_md, 1, IN},
                         {&en->y, UY, dnnl_query_dst_md, 0, OUT}};
    en->zeros = bp_calloc((size_t)en->s.O, sizeof(float));
    return en->zeros ? init_op(c, en, 0, &en->fwd, b, 4) : -1;
}

/* Backward data: dy, wd read, dx added into. */
static int init_data(bp_conv_dnnl *c, entry *en) {
    const binding b[] = {{&en->dy, UY, dnnl_query_diff_dst_md, 0, IN},
                         {&en->wd, UW, dnnl_query_weights_md, 0, IN},
                         {&en->dx, UX, dnnl_query_diff_src_md, 0, ADD}};
    return init_op(c, en, 1, &en->data, b, 3);
}

/* Backward weights: xw, dyw read, dw, db added into. */
static int init_weights(bp_conv_dnnl *c, entry *en) {
    const binding b[] = {{&en->xw, UX, dnnl_query_src_md, 0, IN},
                         {&en->dyw, UY, dnnl_query_diff_dst_md, 0, IN},
                         {&en->dw, UW, dnnl_query_diff_weights_md, 0, ADD},
                         {&en->db, UB, dnnl_query_diff_weights_md, 1, ADD}};
    return init_op(c, en, 2, &en->weights, b, 4);
}

static int same_shape(const bp_conv_shape *a, const bp_conv_shape *b) {
    return !memcmp(a, b, sizeof *a);
}

/* c's entry for B samples of shape s, made if new (with its primitives:
 * backward data's only if bp_conv_dnnl_takes_dx) in place of the least
 * recently used; NULL when oneDNN cannot. */
static entry *entry_for(bp_conv_dnnl *c, int B, const bp_conv_shape *s) {
    entry *en = &c->e[0];
    c->calls++;
    for (int k = 0; k < N_ENTRIES; k++)
        if (c->e[k].B == B && same_shape(&c->e[k].s, s)) {
            c->e[k].used = c->calls;
            return &c->e[k];
        }
    for (int k = 1; k < N_ENTRIES; k++)
        if (c->e[k].used < en->used) en = &c->e[k];
    entry_free(en);
    en->B = B, en->s = *s, en->used = c->calls;
    if (init_forward(c, en) || init_weights(c, en) ||
        (bp_conv_dnnl_takes_dx(s) && init_data(c, en))) {
        entry_free(en);
        return NULL;
    }
    return en;
}

/* Runs p on c's stream with n arguments (kind, memory) in pairs, and its
 * scratchpad. */
static int run(bp_conv_dnnl *c, const prim *p, int n, const dnnl_exec_arg_t *args) {
    dnnl_exec_arg_t a[8];
    memcpy(a, args, sizeof *a * (size_t)n);
    a[n].arg = DNNL_ARG_SCRATCHPAD, a[n].memory = p->pad;
    return dnnl_primitive_execute(p->p, c->stream, n + (p->pad != NULL), a) ||
           dnnl_stream_wait(c->stream);
}

/* The slot's caller's buffer is v. */
static int bind(slot *s, const void *v) {
    return dnnl_memory_set_data_handle(s->user, (void *)v) != dnnl_success;
}

/* The slot's reorder, when it has one: into the primitive's buffer (IN),
 * or out of it into the caller's (OUT, ADD). */
static int move(bp_conv_dnnl *c, const slot *s) {
    if (!s->move) return 0;
    int in = s->dir == IN;
    dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, in ? s->user : s->prim},
                            {DNNL_ARG_TO, in ? s->prim : s->user}};
    return dnnl_primitive_execute(s->move, c->stream, 2, a) || dnnl_stream_wait(c->stream);
}

bp_conv_dnnl *bp_conv_dnnl_new(void) {
    bp_conv_dnnl *c = bp_calloc(1, sizeof *c);
    if (!c) return NULL;
    if (dnnl_engine_create(&c->eng, dnnl_cpu, 0) ||
        dnnl_stream_create(&c->stream, c->eng, dnnl_stream_default_flags)) {
        bp_conv_dnnl_free(c);
        return NULL;
    }
    return c;
}

void bp_conv_dnnl_free(bp_conv_dnnl *c) {
    if (!c) return;
    for (int k = 0; k < N_ENTRIES; k++) entry_free(&c->e[k]);
    if (c->stream) dnnl_stream_destroy(c->stream);
    if (c->eng) dnnl_engine_destroy(c->eng);
    bp_free(c);
}

int bp_conv2d_forward_dnnl(bp_conv_dnnl *c, float *y, const float *x, const float *w,
                           const float *b, int B, const bp_conv_shape *s) {
    bp_gemm_single();
    entry *en = entry_for(c, B, s);
    if (en) en->xin = NULL;
    if (!en || bind(&en->x, x) || bind(&en->w, w) || bind(&en->b, b ? b : en->zeros) ||
        bind(&en->y, y) || move(c, &en->x) || move(c, &en->w) || move(c, &en->b))
        return -1;
    const dnnl_exec_arg_t a[4] = {{DNNL_ARG_SRC, en->x.prim},
                                  {DNNL_ARG_WEIGHTS, en->w.prim},
                                  {DNNL_ARG_BIAS, en->b.prim},
                                  {DNNL_ARG_DST, en->y.prim}};
    return run(c, &en->fwd, 4, a) || move(c, &en->y) ? -1 : 0;
}

/* dw += and db += (each when not NULL) through backward weights; its
 * diff_dst d when given (the chain's, in its layout), else dy's; its src
 * xs when given (the forward's reorder of x), else x's. */
static int backward_weights(bp_conv_dnnl *c, entry *en, float *dw, float *db,
                            const float *dy, const float *x, dnnl_memory_t d,
                            dnnl_memory_t xs) {
    if (!xs && (bind(&en->xw, x) || move(c, &en->xw))) return -1;
    if (!d && (bind(&en->dyw, dy) || move(c, &en->dyw))) return -1;
    const dnnl_exec_arg_t a[4] = {{DNNL_ARG_SRC, xs ? xs : en->xw.prim},
                                  {DNNL_ARG_DIFF_DST, d ? d : en->dyw.prim},
                                  {DNNL_ARG_DIFF_WEIGHTS, en->dw.prim},
                                  {DNNL_ARG_DIFF_BIAS, en->db.prim}};
    if (run(c, &en->weights, 4, a)) return -1;
    if (dw && (bind(&en->dw, dw) || move(c, &en->dw))) return -1;
    if (db && (bind(&en->db, db) || move(c, &en->db))) return -1;
    return 0;
}

/* dx += through backward data; its diff_dst d when given (backward
 * weights' own, when both read one layout, or the chain's), else dy's. */
static int backward_data(bp_conv_dnnl *c, entry *en, float *dx, const float *dy,
                         const float *w, dnnl_memory_t d) {
    if (bind(&en->wd, w) || bind(&en->dx, dx) || move(c, &en->wd)) return -1;
    if (!d && (bind(&en->dy, dy) || move(c, &en->dy))) return -1;
    const dnnl_exec_arg_t a[3] = {{DNNL_ARG_DIFF_DST, d ? d : en->dy.prim},
                                  {DNNL_ARG_WEIGHTS, en->wd.prim},
                                  {DNNL_ARG_DIFF_SRC, en->dx.prim}};
    return run(c, &en->data, 3, a) || move(c, &en->dx);
}

/* The md of memory m (NULL when oneDNN cannot say). */
static const dnnl_memory_desc_t *mem_md(dnnl_memory_t m) {
    const dnnl_memory_desc_t *md;
    return m && dnnl_memory_get_memory_desc(m, &md) == dnnl_success ? md : NULL;
}

/* Whether mds a and b are known and equal. */
static int same_md(const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b) {
    return a && b && dnnl_memory_desc_equal(a, b);
}

/* Whether the forward's reorder of x (x.prim, still x's: xin) is in
 * backward weights' src layout, so that backward weights reads it instead
 * of reordering x again (W5's second convolution: its 32-channel input). */
static int shares_x(const entry *en, const float *x) {
    return en->xin == x && en->x.move && en->xw.move &&
           same_md(mem_md(en->x.prim), mem_md(en->xw.prim));
}

/* Whether backward data reads dy in backward weights' layout, so that
 * the one reorder backward weights made serves both. */
static int shares_dy(const entry *en) {
    return en->dy.move && en->dyw.move && same_md(mem_md(en->dy.prim), mem_md(en->dyw.prim));
}

int bp_conv2d_backward_dnnl(bp_conv_dnnl *c, float *dx, float *dw, float *db,
                            const float *dy, const float *x, const float *w, int B,
                            const bp_conv_shape *s) {
    bp_gemm_single();
    entry *en = entry_for(c, B, s);
    int weights = dw || db;
    /* everything made before anything is added, so that -1 leaves the
     * gradients as they were */
    if (!en || (dx && !en->data.p)) return -1;
    if (weights && backward_weights(c, en, dw, db, dy, x, NULL, NULL)) return -2;
    if (dx && backward_data(c, en, dx, dy, w, weights && shares_dy(en) ? en->dyw.prim : NULL))
        return -2;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The chain conv2d -> ReLU -> max pool                                      */

/* The lanes L of md when it is B x O x H x W in plain channel blocks
 * (nChw16c or nChw8c: B x Cb x H x W x L, Cb = ceil(O / L), dense, from
 * offset 0), the layouts the chain's kernels read; else 0. */
static int lanes_of(const dnnl_memory_desc_t *md, int B, int O, int H, int W) {
    if (!md || md->format_kind != dnnl_blocked || md->ndims != 4 || md->offset0) return 0;
    const dnnl_blocking_desc_t *k = &md->format_desc.blocking;
    if (k->inner_nblks != 1 || k->inner_idxs[0] != 1) return 0;
    dnnl_dim_t L = k->inner_blks[0], Cb = (O + L - 1) / L;
    int ok = (L == 8 || L == 16) && md->dims[0] == B && md->dims[1] == O &&
             md->padded_dims[1] == Cb * L && k->strides[3] == L && k->strides[2] == W * L &&
             k->strides[1] == H * W * L && k->strides[0] == Cb * H * W * L;
    return ok ? (int)L : 0;
}

/* A winner's code when the ReLU's derivative there is 0 (the value is not
 * above 0): bp_ops.h's ReLU backward `h > 0 ? d : 0`, at h the winner's. */
#define NONE (-1)

/* The kernels below work on a channel block's L lanes as vectors of 8
 * (GCC's vector extension; L is 8 or 16), cloned for AVX-512 and AVX2 (as
 * ops.c's SGD). Vectors of 8, not 16: GCC makes a comparison's mask of
 * 16 floats lane by lane without AVX-512DQ, of 8 with one instruction. */
/* (Not under ThreadSanitizer, which would run the clones' resolver, called
 * by the loader, before it is set up: ops.c's SGD_CLONES.) */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    !defined(__SANITIZE_THREAD__)
#define CHAIN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CHAIN_CLONES
#endif
#pragma GCC diagnostic ignored "-Wpsabi" /* inlined vectors only: no ABI */
typedef float f8 __attribute__((vector_size(32)));
typedef int32_t i8 __attribute__((vector_size(32)));
/* A winner's code in 16 bits (a window of at most 255 places), half the
 * bytes of 32 to write in the forward and read back in the backward; GCC
 * converts 8 of them to and from i8 in vector instructions (vpmovsxwd, a
 * pack), where 8 bytes it converts one at a time. */
typedef int16_t h8 __attribute__((vector_size(16)));


/* The 8 x 8 transpose of r (r[i][k] becomes r[k][i]): three rounds of
 * shuffles (__builtin_shufflevector: GCC 12's and clang's alike), the same
 * whatever the clone. */
static inline __attribute__((always_inline)) void transpose8(f8 r[8]) {
    f8 t[8];
    for (int k = 0; k < 8; k += 2) {
        t[k] = __builtin_shufflevector(r[k], r[k + 1], 0, 8, 1, 9, 4, 12, 5, 13);
        t[k + 1] = __builtin_shufflevector(r[k], r[k + 1], 2, 10, 3, 11, 6, 14, 7, 15);
    }
    for (int k = 0; k < 8; k += 4)
        for (int m = 0; m < 2; m++) {
            r[k + m] = __builtin_shufflevector(t[k + m], t[k + m + 2], 0, 1, 8, 9, 4, 5, 12, 13);
            r[k + m + 2] =
                __builtin_shufflevector(t[k + m], t[k + m + 2], 2, 3, 10, 11, 6, 7, 14, 15);
        }
    for (int m = 0; m < 4; m++) {
        t[m] = __builtin_shufflevector(r[m], r[m + 4], 0, 1, 2, 3, 8, 9, 10, 11);
        t[m + 4] = __builtin_shufflevector(r[m], r[m + 4], 4, 5, 6, 7, 12, 13, 14, 15);
    }
    /* the second round left columns 1 and 2 (5 and 6) swapped */
    static const int at[8] = {0, 2, 1, 3, 4, 6, 5, 7};
    for (int c = 0; c < 8; c++) r[c] = t[at[c]];
}

/* y (lanes planes of n values, NCHW: y[l n + k]) from g (n x L: g[k L +
 * l]), the lanes below `lanes` of each row; 8 x 8 blocks by transpose8,
 * the last n % 8 values a value at a time. */
static inline __attribute__((always_inline)) void to_planes(float *y, const float *g, int n, int lanes, int L) {
    int k = 0;
    for (; k + 8 <= n; k += 8)
        for (int e = 0; e < lanes; e += 8) {
            f8 r[8];
            for (int m = 0; m < 8; m++) memcpy(&r[m], g + (size_t)(k + m) * L + e, sizeof r[m]);
            transpose8(r);
            for (int m = 0; m < 8 && e + m < lanes; m++)
                memcpy(y + (size_t)(e + m) * n + k, &r[m], sizeof r[m]);
        }
    for (int l = 0; l < lanes; l++)
        for (int q = k; q < n; q++) y[(size_t)l * n + q] = g[(size_t)q * L + l];
}

/* g (n x L) from y (lanes planes of n values) + 0 (-0 made +0, as the
 * reference's sum into zeros), the lanes from `lanes` to L 0: to_planes
 * backward. */
static inline __attribute__((always_inline)) void from_planes(float *g, const float *y, int n, int lanes, int L) {
    int k = 0;
    for (; k + 8 <= n; k += 8)
        for (int e = 0; e < L; e += 8) {
            f8 r[8];
            for (int m = 0; m < 8; m++) {
                r[m] = (f8){0};
                if (e + m < lanes) memcpy(&r[m], y + (size_t)(e + m) * n + k, sizeof r[m]);
                r[m] += 0.0f;
            }
            transpose8(r);
            for (int m = 0; m < 8; m++) memcpy(g + (size_t)(k + m) * L + e, &r[m], sizeof r[m]);
        }
    for (int q = k; q < n; q++)
        for (int l = 0; l < L; l++)
            g[(size_t)q * L + l] = l < lanes ? y[(size_t)l * n + q] + 0.0f : 0.0f;
}

/* One value x of a window, place k, against the window's best so far
 * (bp_maxpool2d_forward_ref's test): x wins if greater, or NaN. */
static inline __attribute__((always_inline)) void window_take(f8 *best, i8 *arg, f8 x, int k) {
    i8 win = (x > *best) | (x != x);
    *best = (f8)(((i8)x & win) | ((i8)*best & ~win));
    *arg = (win & k) | (*arg & ~win);
}

/* Max pooling of h (B x Cb x H x W x L) in ps's windows (no padding, not
 * overlapping) into y, the caller's NCHW (its O of the Cb L channels), and
 * code, each output lane's winner (i KW + j in its window; NONE where it
 * is not above 0): bp_maxpool2d_forward_ref's test, a later value wins
 * only if greater (or NaN), so ties go to the first maximum. A plane of
 * outputs goes to g (P Q x L), then to y by to_planes. */
CHAIN_CLONES static void pool_forward(float *y, int16_t *code, float *g, const float *h,
                                      int B, int O, const bp_conv_shape *ps, int L) {
    const int Cb = (O + L - 1) / L, W = ps->W, P = ps->P, Q = ps->Q;
    const int two = ps->KH == 2 && ps->KW == 2; /* W5's windows, unrolled */
    const f8 zero = {0};
    for (int nc = 0; nc < B * Cb; nc++) {
        const int n = nc / Cb, c0 = nc % Cb * L, lanes = O - c0 < L ? O - c0 : L;
        const float *hc = h + (size_t)nc * ps->H * W * L;
        int16_t *cd = code + (size_t)nc * P * Q * L;
        for (int p = 0; p < P; p++)
            for (int q = 0; q < Q; q++)
                for (int e = 0; e < L; e += 8) {
                    const float *at = hc + ((size_t)p * ps->SH * W + (size_t)q * ps->SW) * L + e;
                    f8 best, x;
                    i8 arg = {0};
                    memcpy(&best, at, sizeof best);
                    if (two) {
                        const size_t off[4] = {0, (size_t)L, (size_t)W * L, (size_t)(W + 1) * L};
                        for (int k = 1; k < 4; k++) {
                            memcpy(&x, at + off[k], sizeof x);
                            window_take(&best, &arg, x, k);
                        }
                    } else
                        for (int i = 0, k = 0; i < ps->KH; i++)
                            for (int j = 0; j < ps->KW; j++, k++) {
                                memcpy(&x, at + ((size_t)i * W + j) * L, sizeof x);
                                window_take(&best, &arg, x, k);
                            }
                    h8 c = __builtin_convertvector(arg | ~(best > zero), h8); /* NONE: -1 */
                    memcpy(cd + ((size_t)p * Q + q) * L + e, &c, sizeof c);
                    memcpy(g + ((size_t)p * Q + q) * L + e, &best, sizeof best);
                }
        to_planes(y + ((size_t)n * O + c0) * P * Q, g, P * Q, lanes, L);
    }
}

/* pool_backward's plane dc (H x W x L) for W5's 2x2 windows of stride 2:
 * each output's code and dy read once for its four places, in two rows. */
static inline __attribute__((always_inline)) void spread_two(float *dc, const float *g,
                                                             const int16_t *cd, int H, int W,
                                                             int P, int Q, int L) {
    for (int p = 0; p < P; p++) {
        float *o0 = dc + (size_t)2 * p * W * L, *o1 = o0 + (size_t)W * L;
        for (int q = 0; q < Q; q++)
            for (int e = 0; e < L; e += 8) {
                const size_t at = ((size_t)p * Q + q) * L + e, to = (size_t)2 * q * L + e;
                h8 ch;
                i8 c, v, u[4];
                memcpy(&ch, cd + at, sizeof ch);
                c = __builtin_convertvector(ch, i8);
                memcpy(&v, g + at, sizeof v);
                for (int k = 0; k < 4; k++) u[k] = v & (c == k);
                memcpy(o0 + to, &u[0], sizeof v), memcpy(o0 + to + L, &u[1], sizeof v);
                memcpy(o1 + to, &u[2], sizeof v), memcpy(o1 + to + L, &u[3], sizeof v);
            }
        for (int r = 0; r < 2; r++) /* past the last window */
            memset((r ? o1 : o0) + (size_t)2 * Q * L, 0, sizeof(float) * (W - 2 * Q) * L);
    }
    memset(dc + (size_t)2 * P * W * L, 0, sizeof(float) * (H - 2 * P) * W * L);
}

/* dh (B x Cb x H x W x L) from the caller's NCHW dy and code: at each
 * window's winner dy (+ 0, so that -0 is +0 as the reference's sum into
 * zeros), when its code is not NONE; 0 everywhere else, outside the
 * windows too (rows and columns past the last window, and between windows
 * of a stride above the kernel). g: P Q L values of room (dy gathered). */
CHAIN_CLONES static void pool_backward(float *dh, float *g, const float *dy,
                                       const int16_t *code, int B, int O,
                                       const bp_conv_shape *ps, int L) {
    const int Cb = (O + L - 1) / L, H = ps->H, W = ps->W, P = ps->P, Q = ps->Q;
    const int SH = ps->SH, SW = ps->SW, KH = ps->KH, KW = ps->KW;
    for (int nc = 0; nc < B * Cb; nc++) {
        const int n = nc / Cb, c0 = nc % Cb * L, lanes = O - c0 < L ? O - c0 : L;
        const int16_t *cd = code + (size_t)nc * P * Q * L;
        from_planes(g, dy + ((size_t)n * O + c0) * P * Q, P * Q, lanes, L);
        float *dc = dh + (size_t)nc * H * W * L;
        if (KH == 2 && KW == 2 && SH == 2 && SW == 2) {
            spread_two(dc, g, cd, H, W, P, Q, L);
            continue;
        }
        for (int r = 0; r < H; r++) {
            float *o = dc + (size_t)r * W * L;
            const int p = r / SH, i = r % SH;
            if (p >= P || i >= KH) {
                memset(o, 0, sizeof(float) * (size_t)W * L);
                continue;
            }
            for (int q = 0; q < Q; q++)
                for (int j = 0; j < SW && q * SW + j < W; j++)
                    for (int e = 0; e < L; e += 8) {
                        const size_t at = ((size_t)p * Q + q) * L + e;
                        h8 ch;
                        i8 c, v;
                        memcpy(&ch, cd + at, sizeof ch);
                        c = __builtin_convertvector(ch, i8);
                        memcpy(&v, g + at, sizeof v);
                        v &= c == (j < KW ? i * KW + j : -2); /* -2: no window */
                        memcpy(o + ((size_t)q * SW + j) * L + e, &v, sizeof v);
                    }
            for (int v = Q * SW; v < W; v++) /* past the last window */
                memset(o + (size_t)v * L, 0, sizeof(float) * L);
        }
    }
}

/* Floats of one sample in md (B samples, dense, the batch outermost and
 * not blocked) when part is the same layout of nb samples, so that md's
 * samples n to n + nb - 1 are part at n times that; else 0. */
static size_t sample_step(const dnnl_memory_desc_t *md, const dnnl_memory_desc_t *part,
                          int nb) {
    if (!md || !part || md->format_kind != dnnl_blocked || md->offset0) return 0;
    const dnnl_blocking_desc_t *k = &md->format_desc.blocking;
    dnnl_dim_t one = 1;
    for (int d = 1; d < md->ndims; d++) one *= md->padded_dims[d];
    for (int i = 0; i < k->inner_nblks; i++)
        if (k->inner_idxs[i] == 0) return 0;
    dnnl_memory_desc_t m = *md;
    m.dims[0] = m.padded_dims[0] = nb;
    return k->strides[0] == one && dnnl_memory_desc_equal(&m, part) ? (size_t)one : 0;
}

/* The bytes of the convolution's output a part of the chain's forward
 * makes: pooled while still in the core's cache (L2 holds 1 to 2 MB on
 * the machines measured, NOTES.md), instead of written out whole and read
 * back. */
#define PART_BYTES (512 << 10)

/* Samples in a part of B: the largest divisor of B whose outputs, each
 * of `one` bytes, fit in PART_BYTES (at least 1). */
static int part_size(int B, size_t one) {
    int nb = B;
    while (nb > 1 && (B % nb || (size_t)nb * one > PART_BYTES)) nb--;
    return nb;
}

/* en's chain for pool shape ps: the convolution with its ReLU post-op for
 * a part of nb samples, reading the forward's x (a part of it, in the same
 * layout), w and b as they are, into h; dh in backward weights' diff_dst
 * layout, which backward data must read too; h and dh in channel blocks
 * of the same L lanes (lanes_of), else -1: no chain. */
static int chain_init(bp_conv_dnnl *c, entry *en, const bp_conv_shape *ps) {
    chain *ch = &en->ch;
    const bp_conv_shape *s = &en->s;
    const dnnl_memory_desc_t *h, *dh = mem_md(en->dyw.prim);
    dnnl_memory_desc_t u;
    size_t n = (size_t)en->B * (s->O + 16) * ps->P * ps->Q; /* code's: Cb L < O + 16 */
    ch->nb = part_size(en->B, sizeof(float) * ((size_t)(s->O + 15) / 16 * 16) * s->P * s->Q);
    dnnl_primitive_desc_t pd = pd_of(c, en, 3, ch->nb);
    void *hv = NULL, *dhv = NULL;
    ch->ps = *ps;
    int bad = !pd || !dh ||
              !(ch->xstep = sample_step(mem_md(en->x.prim), md_of(pd, dnnl_query_src_md, 0),
                                        ch->nb)) ||
              !same_md(md_of(pd, dnnl_query_weights_md, 0), mem_md(en->w.prim)) ||
              !same_md(md_of(pd, dnnl_query_weights_md, 1), mem_md(en->b.prim)) ||
              (en->data.p && !same_md(dh, mem_md(en->dy.prim)));
    bad = bad || !(h = md_of(pd, dnnl_query_dst_md, 0)) ||
          !(ch->L = lanes_of(h, ch->nb, s->O, s->P, s->Q)) ||
          lanes_of(dh, en->B, s->O, s->P, s->Q) != ch->L || prim_init(&ch->fwd, c->eng, pd) ||
          dnnl_memory_create(&ch->h, h, c->eng, DNNL_MEMORY_ALLOCATE) ||
          dnnl_memory_create(&ch->xp, md_of(pd, dnnl_query_src_md, 0), c->eng,
                             DNNL_MEMORY_NONE) ||
          user_md(&u, en->B, s->O, s->P, s->Q) || slot_init(&ch->dh, c->eng, &u, dh, OUT, 1) ||
          dnnl_memory_get_data_handle(ch->h, &hv) ||
          dnnl_memory_get_data_handle(ch->dh.prim, &dhv) || !hv || !dhv ||
          !(ch->dyb = bp_malloc(sizeof(float) * 16 * ps->P * ps->Q)) ||
          !(ch->code = bp_malloc(sizeof(int16_t) * n));
    ch->hv = hv, ch->dhv = dhv;
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (bad) chain_free(ch), ch->ps = *ps, ch->refused = 1;
    return bad ? -1 : 0;
}

/* The chain's forward over x.prim (bound and moved), a part of nb samples
 * at a time: the convolution into h, then its pool into y and code. */
static int chain_parts(bp_conv_dnnl *c, entry *en, float *y, int B) {
    chain *ch = &en->ch;
    const bp_conv_shape *s = &en->s, *ps = &ch->ps;
    const size_t ystep = (size_t)s->O * ps->P * ps->Q,
                 cstep = (size_t)(s->O + ch->L - 1) / ch->L * ch->L * ps->P * ps->Q;
    void *xv = NULL;
    if (dnnl_memory_get_data_handle(en->x.prim, &xv) || !xv) return -1;
    for (int n = 0; n < B; n += ch->nb) {
        if (dnnl_memory_set_data_handle(ch->xp, (float *)xv + (size_t)n * ch->xstep))
            return -1;
        const dnnl_exec_arg_t a[4] = {{DNNL_ARG_SRC, ch->xp},
                                      {DNNL_ARG_WEIGHTS, en->w.prim},
                                      {DNNL_ARG_BIAS, en->b.prim},
                                      {DNNL_ARG_DST, ch->h}};
        if (run(c, &ch->fwd, 4, a)) return -1;
        pool_forward(y + n * ystep, ch->code + n * cstep, ch->dyb, ch->hv, ch->nb, s->O, ps,
                     ch->L);
    }
    return 0;
}

int bp_conv_chain_forward_dnnl(bp_conv_dnnl *c, float *y, const float *x, const float *w,
                               const float *b, int B, const bp_conv_shape *s,
                               const bp_conv_shape *ps) {
    bp_gemm_single();
    entry *en = entry_for(c, B, s);
    if (!en) return -1;
    chain *ch = &en->ch;
    ch->valid = 0;
    if ((ch->fwd.p || ch->refused) && !same_shape(&ch->ps, ps)) chain_free(ch);
    en->xin = NULL;
    if (ch->refused || (!ch->fwd.p && chain_init(c, en, ps)) || bind(&en->x, x) ||
        bind(&en->w, w) || bind(&en->b, b ? b : en->zeros) || move(c, &en->x) ||
        move(c, &en->w) || move(c, &en->b))
        return -1;
    en->xin = x;
    if (chain_parts(c, en, y, B)) return -1;
    ch->valid = 1;
    return 0;
}

int bp_conv_chain_backward_dnnl(bp_conv_dnnl *c, float *dx, float *dw, float *db, float *dh,
                                const float *dy, const float *x, const float *w, int B,
                                const bp_conv_shape *s) {
    bp_gemm_single();
    entry *en = entry_for(c, B, s);
    if (!en || !en->ch.valid || (dx && !en->data.p)) return -1;
    chain *ch = &en->ch;
    pool_backward(ch->dhv, ch->dyb, dy, ch->code, B, s->O, &ch->ps, ch->L);
    dnnl_memory_t xs = shares_x(en, x) ? en->x.prim : NULL;
    if ((dw || db) && backward_weights(c, en, dw, db, NULL, x, ch->dh.prim, xs)) return -2;
    if (dx && backward_data(c, en, dx, NULL, w, ch->dh.prim)) return -2;
    if (dh && (bind(&ch->dh, dh) || move(c, &ch->dh))) return -2;
    return 0;
}

int bp_conv_chain_takes(const bp_conv_shape *ps) {
    return ps->PH == 0 && ps->PW == 0 && ps->SH >= ps->KH && ps->SW >= ps->KW &&
           ps->KH * ps->KW <= 255;
}

int bp_conv_dnnl_takes_dx(const bp_conv_shape *s) { return s->C >= 16; }

#else /* a build without oneDNN: no cache, so the caller's own path */

bp_conv_dnnl *bp_conv_dnnl_new(void) { return NULL; }
void bp_conv_dnnl_free(bp_conv_dnnl *c) { (void)c; }
int bp_conv2d_forward_dnnl(bp_conv_dnnl *c, float *y, const float *x, const float *w,
                           const float *b, int B, const bp_conv_shape *s) {
    (void)c, (void)y, (void)x, (void)w, (void)b, (void)B, (void)s;
    return -1;
}
int bp_conv2d_backward_dnnl(bp_conv_dnnl *c, float *dx, float *dw, float *db,
                            const float *dy, const float *x, const float *w, int B,
                            const bp_conv_shape *s) {
    (void)c, (void)dx, (void)dw, (void)db, (void)dy, (void)x, (void)w, (void)B, (void)s;
    return -1;
}
int bp_conv_dnnl_takes_dx(const bp_conv_shape *s) {
    (void)s;
    return 0;
}
int bp_conv_chain_forward_dnnl(bp_conv_dnnl *c, float *y, const float *x, const float *w,
                               const float *b, int B, const bp_conv_shape *s,
                               const bp_conv_shape *ps) {
    (void)c, (void)y, (void)x, (void)w, (void)b, (void)B, (void)s, (void)ps;
    return -1;
}
int bp_conv_chain_backward_dnnl(bp_conv_dnnl *c, float *dx, float *dw, float *db, float *dh,
                                const float *dy, const float *x, const float *w, int B,
                                const bp_conv_shape *s) {
    (void)c, (void)dx, (void)dw, (void)db, (void)dh, (void)dy, (void)x, (void)w, (void)B,
        (void)s;
    return -1;
}
int bp_conv_chain_takes(const bp_conv_shape *ps) {
    (void)ps;
    return 0;
}
#endif
