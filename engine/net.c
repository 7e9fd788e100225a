/* net.c: a stack of dense layers and the four stages of training.
 *
 * The network owns every buffer a step needs (inputs, h, o and their
 * gradients), sized for the largest batch seen so far, so that a training
 * loop allocates only on its first step or when the batch grows. Everything
 * that can fail is checked here, before the kernels in ops.c run: they
 * assume their sizes are right.
 *
 * The stages themselves are in net_real.h, compiled twice (double, float);
 * this file checks, allocates and converts at the boundary, where the public
 * functions take and return doubles whatever the network computes in. Two
 * fast paths give the stages' results for the steps they fit, and this file
 * decides when: a large mini-batch goes to the net's team of threads
 * (net_team_real.h), and a step on one sample through small layers, the
 * lecture's loop, to the single-sample path (net_one_real.h). A
 * layer's arrays are owned through mem[] (void pointers, one per bp_field),
 * and W, b, ... or W32, b32, ... are typed views of the same memory. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_net.h"
#include "bp_team.h"
#include "bp_util.h"
#include "ops_vec.h"

/* ------------------------------------------------------------------------ */
/* The two instantiations of the stages                                      */

static void take_in(void *dst, bp_dtype t, const void *src, bp_dtype st, size_t n);

/* An input type of net.c's own beside bp_dtype's: rows of byte codes, each
 * standing for net->codes[code] (bp_net_step_codes). */
#define XT_CODES ((bp_dtype)BP_DTYPE_COUNT)
static size_t in_size(bp_dtype xt) { return xt == XT_CODES ? 1 : bp_dtype_size(xt); }
static void take_in_net(const bp_net *net, void *dst, const void *src, bp_dtype st,
                        size_t n);
static void take_rows(const bp_net *net, void *in, const void *x, bp_dtype xt,
                      const int *rows, int s0, int s1);

/* A mini-batch step for the net's team of threads (team_member). */
typedef struct team_job {
    bp_net *net;
    const void *x; /* the inputs: rows[0 .. B-1] of x, or its first B rows */
    bp_dtype xt;   /* x's number type */
    const int *rows;
    const void *y; /* B x outputs targets (B labels), in the net's number type */
    int B;
    bp_crit crit;
    double lr;   /* < 0: no step */
    int guard;   /* no step either when the loss is not finite */
    double loss; /* out: the batch's loss */
} team_job;

/* F(field): the layer's array of the type, W or W32, ... */
#define BP_REAL_F32 0
#define F(field) field
#include "real.h"
#include "net_real.h"
#include "net_team_real.h"
#include "net_one_real.h"
#undef BP_REAL_F32
#undef F

#define BP_REAL_F32 1
#define F(field) field##32
#include "real.h"
#include "net_real.h"
#include "net_team_real.h"
#include "net_one_real.h"
#undef BP_REAL_F32
#undef F

/* ------------------------------------------------------------------------ */
/* Layers' memory                                                            */

static const char *const init_names[BP_INIT_COUNT] = {
    "constant", "uniform", "normal", "xavier", "xavier_normal", "he", "he_uniform"};

const char *bp_init_name(bp_init k) {
    return bp_name_of(init_names, BP_INIT_COUNT, (int)k);
}
int bp_init_parse(const char *name) {
    return bp_name_find(init_names, BP_INIT_COUNT, name);
}

/* Points the typed views of L at mem[], the set of L's dtype. */
static void set_views(bp_layer *L) {
    void **m = L->mem;
    if (L->dtype == BP_F32) {
        L->W32 = m[BP_FIELD_W], L->b32 = m[BP_FIELD_B];
        L->dW32 = m[BP_FIELD_DW], L->db32 = m[BP_FIELD_DB];
        L->h32 = m[BP_FIELD_H], L->o32 = m[BP_FIELD_O];
        L->dh32 = m[BP_FIELD_DH], L->dout32 = m[BP_FIELD_DOUT];
    } else {
        L->W = m[BP_FIELD_W], L->b = m[BP_FIELD_B];
        L->dW = m[BP_FIELD_DW], L->db = m[BP_FIELD_DB];
        L->h = m[BP_FIELD_H], L->o = m[BP_FIELD_O];
        L->dh = m[BP_FIELD_DH], L->dout = m[BP_FIELD_DOUT];
    }
}

static int is_batch_field(int f) { return f >= BP_FIELD_H; }

/* A layer's per-batch arrays start on a 64-byte line: a team whose members
 * write a layer's neurons of every row (net_team_real.h forward_cols) then
 * shares no line between two members where its split falls on a multiple
 * of 16 floats. The byte before the block says how far it was moved from
 * what bp_malloc gave. */
static void *line_alloc(size_t size) {
    unsigned char *p = bp_malloc(size + 64);
    if (!p) return NULL;
    unsigned char *a = p + 64 - (uintptr_t)p % 64;
    a[-1] = (unsigned char)(a - p);
    return a;
}

static void line_free(void *a) {
    if (a) bp_free((unsigned char *)a - ((unsigned char *)a)[-1]);
}

static void free_fields(bp_layer *L, int batch) {
    for (int f = 0; f < BP_FIELD_COUNT; f++)
        if (is_batch_field(f) == batch) {
            if (batch) line_free(L->mem[f]);
            else bp_free(L->mem[f]);
            L->mem[f] = NULL;
        }
    set_views(L);
}

double bp_layer_get(const bp_layer *L, bp_field f, size_t k) {
    return L->dtype == BP_F32 ? ((const float *)L->mem[f])[k]
                              : ((const double *)L->mem[f])[k];
}

void bp_layer_set(bp_layer *L, bp_field f, size_t k, double v) {
    if (L->dtype == BP_F32) ((float *)L->mem[f])[k] = (float)v;
    else ((double *)L->mem[f])[k] = v;
}

/* n values from doubles into the dtype's array, and back. */
static void from_double(void *dst, bp_dtype t, const double *src, size_t n) {
    if (t == BP_F64) {
        if (dst != src) memcpy(dst, src, sizeof(double) * n);
        return;
    }
    float *d = dst;
    for (size_t k = 0; k < n; k++) d[k] = (float)src[k];
}

/* n inputs of type st into the net's array of type t: a copy when the two
 * agree, else each value converted (float to double exactly). */
static void take_in(void *dst, bp_dtype t, const void *src, bp_dtype st, size_t n) {
    if (st == BP_F64) {
        from_double(dst, t, src, n);
    } else if (t == BP_F32) {
        memcpy(dst, src, sizeof(float) * n);
    } else {
        double *d = dst;
        const float *f = src;
        for (size_t k = 0; k < n; k++) d[k] = f[k];
    }
}

/* take_in into the net's dtype, or the codes' values (XT_CODES). */
static void take_in_net(const bp_net *net, void *dst, const void *src, bp_dtype st,
                        size_t n) {
    const unsigned char *c = src;
    if (st != XT_CODES) take_in(dst, net->dtype, src, st, n);
    else if (net->codes_affine) bp_codes_affine_vec(dst, c, n, net->code_c, net->code_a);
    else if (net->dtype == BP_F32)
        for (size_t k = 0; k < n; k++) ((float *)dst)[k] = ((const float *)net->codes)[c[k]];
    else
        for (size_t k = 0; k < n; k++)
            ((double *)dst)[k] = ((const double *)net->codes)[c[k]];
}

/* Rows rows[s0 .. s1-1] of x (of type xt, inputs values each) into rows
 * s0 .. s1-1 of the net's input buffer in. Codes go through a buffer on the
 * stack first, whole rows at a time: a plain copy of a row from anywhere
 * in a large set has its cache lines fetched together, where decoding it
 * straight from there waited for them one after another (NOTES.md; so did
 * the decode by arithmetic, codes_affine, in vectors). */
static void take_rows(const bp_net *net, void *in, const void *x, bp_dtype xt,
                      const int *rows, int s0, int s1) {
    const size_t I = (size_t)net->inputs, z = bp_dtype_size(net->dtype), zx = in_size(xt);
    unsigned char stage[16384];
    const size_t fit = xt == XT_CODES ? sizeof stage / I : 0;
    for (int s = s0; s < s1;) {
        if (!fit) {
            take_in_net(net, (char *)in + z * I * s, (const char *)x + zx * I * rows[s], xt,
                        I);
            s++;
            continue;
        }
        int e = s1 - s < (int)fit ? s1 : s + (int)fit;
        for (int r = s; r < e; r++)
            memcpy(stage + I * (r - s), (const unsigned char *)x + I * rows[r], I);
        take_in_net(net, (char *)in + z * I * s, stage, XT_CODES, I * (e - s));
        s = e;
    }
}

static void to_double(double *dst, const void *src, bp_dtype t, size_t n) {
    if (t == BP_F64) {
        if (dst != src) memcpy(dst, src, sizeof(double) * n);
        return;
    }
    const float *s = src;
    for (size_t k = 0; k < n; k++) dst[k] = s[k];
}

/* ------------------------------------------------------------------------ */
/* The single-sample path                                                    */

/* Whether step_one may run this net: layers the general path runs in plain
 * loops for one sample, none of them softmax or log_softmax (whose row
 * couples the outputs), and the caller has not turned it off. */
/* The first layer of a stack with a tensor to train (n_layers when every
 * one is frozen): backward stops there, the layers below it having nothing
 * to learn and nobody to pass a gradient to. */
static int first_trained(const bp_net *net) {
    for (int k = 0; k < 2 * net->n_layers; k++)
        if (!net->params[k].frozen) return k / 2;
    return net->n_layers;
}

/* Whether a stack has a frozen tensor: its steps then take the general
 * path, whose update is a pass of its own that looks at the flags (the
 * single-sample path and the team fuse theirs into backward). */
static int any_frozen(const bp_net *net) {
    for (int k = 0; k < 2 * net->n_layers; k++)
        if (net->params[k].frozen) return 1;
    return 0;
}

static void decide_fast(bp_net *net) {
    int ok = net->n_layers > 0 && !net->fast_off && !any_frozen(net);
    for (int l = 0; l < net->n_layers && ok; l++) {
        const bp_layer *L = &net->layers[l];
        ok = (long)L->I * L->O < BP_BLAS_MIN_WORK && !bp_act_is_row(L->act);
    }
    net->fast = ok;
}

int bp_net_fast(const bp_net *net) { return net->fast; }

void bp_net_set_fast(bp_net *net, int on) {
    net->fast_off = !on;
    decide_fast(net);
}

/* ------------------------------------------------------------------------ */
/* Making a network                                                          */

bp_net *bp_net_new_dtype(int inputs, bp_dtype dtype, bp_err *e) {
    if (inputs < 1) {
        bp_err_set(e, "a network needs at least 1 input (got %d)", inputs);
        return NULL;
    }
    if ((unsigned)dtype >= BP_DTYPE_COUNT) {
        bp_err_set(e, "unknown dtype %d", (int)dtype);
        return NULL;
    }
    bp_net *net = bp_calloc(1, sizeof *net);
    if (!net) {
        bp_err_set(e, "out of memory");
        return NULL;
    }
    net->inputs = inputs;
    net->dtype = dtype;
    net->training = 1;
    return net;
}

bp_net *bp_net_new(int inputs, bp_err *e) { return bp_net_new_dtype(inputs, BP_F64, e); }

static void free_net_batch(bp_net *net) {
    bp_free(net->x);
    bp_free(net->x32);
    bp_free(net->y32);
    bp_free(net->out);
    bp_free(net->row_loss);
    net->x = NULL;
    net->x32 = net->y32 = NULL;
    net->out = NULL;
    net->row_loss = NULL;
}

void bp_net_free(bp_net *net) {
    if (!net) return;
    for (int l = 0; l < net->n_layers; l++) {
        free_fields(&net->layers[l], 0);
        free_fields(&net->layers[l], 1);
    }
    bp_free(net->layers);
    free_net_batch(net);
    bp_team_free(net->team);
    bp_graph_free(net->graph);
    bp_free(net->params);
    bp_free(net->note);
    bp_free(net);
}

int bp_net_set_note(bp_net *net, const void *p, size_t n, bp_err *e) {
    if (n > BP_NET_MAX_NOTE)
        return bp_err_set(e, "a note of %zu bytes (at most %zu)", n, BP_NET_MAX_NOTE);
    unsigned char *copy = n ? bp_malloc(n) : NULL;
    if (n && !copy) return bp_err_set(e, "out of memory");
    if (n) memcpy(copy, p, n);
    bp_free(net->note);
    net->note = copy;
    net->note_len = n;
    return 0;
}

BP_STEP_PATH int bp_net_outputs(const bp_net *net) {
    if (net->graph) return bp_graph_outputs(net->graph);
    return net->n_layers ? net->layers[net->n_layers - 1].O : net->inputs;
}

/* Names and points the stack's tensors of layer l (from 0) at its arrays. */
static void stack_tensors(bp_net *net, int l) {
    bp_layer *L = &net->layers[l];
    bp_param *w = &net->params[2 * l], *b = w + 1;
    *w = (bp_param){.ndim = 2,
                    .shape = {L->O, L->I},
                    .count = (size_t)L->O * L->I,
                    .data = L->mem[BP_FIELD_W],
                    .grad = L->mem[BP_FIELD_DW],
                    .trainable = 1};
    *b = (bp_param){.ndim = 1,
                    .shape = {L->O},
                    .count = (size_t)L->O,
                    .data = L->mem[BP_FIELD_B],
                    .grad = L->mem[BP_FIELD_DB],
                    .trainable = 1};
    snprintf(w->name, sizeof w->name, "%d.weight", l + 1);
    snprintf(b->name, sizeof b->name, "%d.bias", l + 1);
}

static int graph_add_layer(bp_net *net, int outputs, bp_act act, double alpha, bp_err *e);

int bp_net_add(bp_net *net, int outputs, bp_act act, double alpha, bp_err *e) {
    if (net->graph) return graph_add_layer(net, outputs, act, alpha, e);
    if (outputs < 1)
        return bp_err_set(e, "a layer needs at least 1 neuron (got %d)", outputs);
    if ((unsigned)act >= BP_ACT_COUNT)
        return bp_err_set(e, "unknown activation %d", (int)act);
    int I = bp_net_outputs(net), O = outputs;
    if ((size_t)I * O > (size_t)1 << 31)
        return bp_err_set(e, "layer of %d x %d weights is too large", O, I);
    bp_layer *grown = bp_realloc(net->layers, sizeof *grown * (net->n_layers + 1));
    if (!grown) return bp_err_set(e, "out of memory");
    net->layers = grown;
    bp_param *list = bp_realloc(net->params, sizeof *list * 2 * (net->n_layers + 1));
    if (!list) return bp_err_set(e, "out of memory");
    net->params = list;
    bp_layer L = {.I = I, .O = O, .act = act, .alpha = alpha, .dtype = net->dtype};
    size_t z = bp_dtype_size(net->dtype);
    L.mem[BP_FIELD_W] = bp_calloc((size_t)O * I, z);
    L.mem[BP_FIELD_DW] = bp_calloc((size_t)O * I, z);
    L.mem[BP_FIELD_B] = bp_calloc((size_t)O, z);
    L.mem[BP_FIELD_DB] = bp_calloc((size_t)O, z);
    if (!L.mem[BP_FIELD_W] || !L.mem[BP_FIELD_DW] || !L.mem[BP_FIELD_B] ||
        !L.mem[BP_FIELD_DB]) {
        free_fields(&L, 0);
        return bp_err_set(e, "out of memory");
    }
    set_views(&L);
    net->layers[net->n_layers++] = L;
    stack_tensors(net, net->n_layers - 1);
    /* Batch buffers of the earlier layers stay; the new layer's are made by
     * the next forward, which sees cap smaller than needed. Until then the
     * last forward's values do not reach the new layer, so there is none:
     * backward (and anything reading h, o) must wait for a new forward. */
    net->cap = 0;
    net->B = 0;
    decide_fast(net);
    return 0;
}

/* Layer l's sizes and arrays (by bp_field: W, b, dW, db), of a stack or a
 * graph (its l-th linear, whose b is NULL without a bias); NULL when l is
 * out of range. */
typedef struct layer_view {
    int I, O;
    void *mem[BP_FIELD_DB + 1];
} layer_view;

static int layers_of(const bp_net *net) {
    return net->graph ? bp_graph_count_linear(net->graph) : net->n_layers;
}

static int view_layer(const bp_net *net, int l, layer_view *v, bp_err *e) {
    if (l < 1 || l > layers_of(net))
        return bp_err_set(e, "layer %d out of range 1..%d", l, layers_of(net));
    if (!net->graph) {
        const bp_layer *L = &net->layers[l - 1];
        v->I = L->I, v->O = L->O;
        for (int f = 0; f <= BP_FIELD_DB; f++) v->mem[f] = L->mem[f];
        return 0;
    }
    int id = bp_graph_linear(net->graph, l), n;
    const bp_param *t = bp_graph_node_params(net->graph, id, &n);
    v->I = t[0].shape[1], v->O = t[0].shape[0];
    v->mem[BP_FIELD_W] = t[0].data, v->mem[BP_FIELD_DW] = t[0].grad;
    v->mem[BP_FIELD_B] = n > 1 ? t[1].data : NULL;
    v->mem[BP_FIELD_DB] = n > 1 ? t[1].grad : NULL;
    return 0;
}

/* One value of scheme k for a layer of I inputs and O outputs. */
static double init_value(bp_init k, double a, double b, int I, int O, bp_rng *r) {
    double fan = I + O;
    switch (k) {
        case BP_INIT_CONSTANT: return a;
        case BP_INIT_UNIFORM: return a + (b - a) * bp_rng_uniform(r);
        case BP_INIT_NORMAL: return bp_rng_normal(r, a, b);
        case BP_INIT_XAVIER: {
            double lim = sqrt(6.0 / fan);
            return -lim + 2.0 * lim * bp_rng_uniform(r);
        }
        case BP_INIT_XAVIER_NORMAL: return bp_rng_normal(r, 0.0, sqrt(2.0 / fan));
        case BP_INIT_HE: return bp_rng_normal(r, 0.0, sqrt(2.0 / I));
        case BP_INIT_HE_UNIFORM: {
            double lim = sqrt(6.0 / I);
            return -lim + 2.0 * lim * bp_rng_uniform(r);
        }
        default: return 0;
    }
}

int bp_net_init(bp_net *net, int l, char what, bp_init k, double a, double b, bp_rng *r,
                bp_err *e) {
    layer_view L = {0};
    if (view_layer(net, l, &L, e)) return -1;
    if (what != 'w' && what != 'b')
        return bp_err_set(e, "can initialise 'w' or 'b', not '%c'", what);
    if ((unsigned)k >= BP_INIT_COUNT)
        return bp_err_set(e, "unknown initialisation %d", (int)k);
    if (!isfinite(a) || !isfinite(b))
        return bp_err_set(e, "%s initialisation needs finite parameters", init_names[k]);
    if (k == BP_INIT_UNIFORM && a > b)
        return bp_err_set(e, "uniform initialisation needs low <= high (got %g > %g)", a,
                          b);
    if (k == BP_INIT_NORMAL && b < 0)
        return bp_err_set(e, "normal initialisation needs std >= 0 (got %g)", b);
    if (k != BP_INIT_CONSTANT && !r)
        return bp_err_set(e, "%s initialisation needs a random generator", init_names[k]);
    void *dst = L.mem[what == 'w' ? BP_FIELD_W : BP_FIELD_B];
    if (!dst) return bp_err_set(e, "layer %d has no bias", l);
    size_t count = what == 'w' ? (size_t)L.O * L.I : (size_t)L.O;
    /* The same draws for both dtypes: a float32 network gets the float64
     * one's values, rounded. */
    for (size_t j = 0; j < count; j++) {
        if ((j & 0xffff) == 0 && net->stop && *net->stop)
            return bp_err_set(e, "interrupted");
        double v = init_value(k, a, b, L.I, L.O, r);
        if (net->dtype == BP_F32) ((float *)dst)[j] = (float)v;
        else ((double *)dst)[j] = v;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Reaching single numbers                                                   */

/* The place of w_{l,n,i} (weight) or b_{l,n} (not weight; i ignored). */
static long index_of(const bp_net *net, int l, int n, int i, int weight, bp_err *e) {
    layer_view L = {0};
    if (view_layer(net, l, &L, e)) return -1;
    if (n < 1 || n > L.O) {
        bp_err_set(e, "neuron %d out of range 1..%d in layer %d", n, L.O, l);
        return -1;
    }
    if (!weight) {
        if (!L.mem[BP_FIELD_B]) return bp_err_set(e, "layer %d has no bias", l);
        return n - 1;
    }
    if (i < 1 || i > L.I) {
        bp_err_set(e, "input %d out of range 1..%d in layer %d", i, L.I, l);
        return -1;
    }
    return (long)(n - 1) * L.I + (i - 1);
}

long bp_net_param_index(const bp_net *net, int l, int n, int i, bp_err *e) {
    return index_of(net, l, n, i, i != 0, e);
}

/* A pointer into a float64 network's array f (W, b, dW or db). */
static double *param_ptr(bp_net *net, bp_field f, int l, int n, int i, bp_err *e) {
    int weight = f == BP_FIELD_W || f == BP_FIELD_DW;
    long k = index_of(net, l, n, i, weight, e);
    if (k < 0) return NULL;
    if (net->dtype != BP_F64) {
        bp_err_set(e, "the network is float32: its numbers are floats (use "
                      "bp_net_param_index with bp_layer_get and bp_layer_set)");
        return NULL;
    }
    layer_view L = {0};
    view_layer(net, l, &L, NULL);
    return (double *)L.mem[f] + k;
}

double *bp_net_weight(bp_net *net, int l, int n, int i, bp_err *e) {
    return param_ptr(net, BP_FIELD_W, l, n, i, e);
}
double *bp_net_grad_weight(bp_net *net, int l, int n, int i, bp_err *e) {
    return param_ptr(net, BP_FIELD_DW, l, n, i, e);
}
double *bp_net_bias(bp_net *net, int l, int n, bp_err *e) {
    return param_ptr(net, BP_FIELD_B, l, n, 0, e);
}
double *bp_net_grad_bias(bp_net *net, int l, int n, bp_err *e) {
    return param_ptr(net, BP_FIELD_DB, l, n, 0, e);
}

/* ------------------------------------------------------------------------ */
/* The stages                                                                */

/* Makes every per-batch buffer hold B rows. Only grows; on failure the old
 * buffers are kept (and cap is unchanged) so the net stays usable. */
static int reserve(bp_net *net, int B, bp_err *e) {
    if (B <= net->cap) return 0;
    if (net->fuse_sgd && net->dtype == BP_F32) settle_grads_f32(net); /* from buffers freed below */
    if (net->graph && bp_graph_reserve(net->graph, B, e)) return -1;
    size_t z = bp_dtype_size(net->dtype), out = (size_t)B * bp_net_outputs(net);
    int f32 = net->dtype == BP_F32;
    void *x = bp_malloc(z * B * net->inputs);
    void *y32 = f32 ? bp_malloc(sizeof(float) * out) : NULL;
    double *out64 = f32 ? bp_malloc(sizeof(double) * out) : NULL;
    double *row_loss = bp_malloc(sizeof(double) * B);
    if (!x || !row_loss || (f32 && (!y32 || !out64))) {
        bp_free(x);
        bp_free(y32);
        bp_free(out64);
        bp_free(row_loss);
        goto oom;
    }
    for (int l = 0; l < net->n_layers; l++) {
        bp_layer *L = &net->layers[l];
        void *m[BP_FIELD_COUNT] = {0};
        int ok = 1;
        for (int f = BP_FIELD_H; f < BP_FIELD_COUNT; f++)
            ok &= (m[f] = line_alloc(z * B * L->O)) != NULL;
        if (!ok) {
            for (int f = BP_FIELD_H; f < BP_FIELD_COUNT; f++) line_free(m[f]);
            bp_free(x);
            bp_free(y32);
            bp_free(out64);
            bp_free(row_loss);
            goto oom;
        }
        free_fields(L, 1);
        for (int f = BP_FIELD_H; f < BP_FIELD_COUNT; f++) L->mem[f] = m[f];
        set_views(L);
    }
    free_net_batch(net);
    if (f32) net->x32 = x;
    else net->x = x;
    net->y32 = y32;
    net->out = out64;
    net->row_loss = row_loss;
    net->cap = B;
    return 0;
oom:
    /* Some layers may already hold B rows and others not: force a retry. */
    net->cap = 0;
    net->B = 0;
    return bp_err_set(e, "out of memory for a batch of %d", B);
}

/* Checks, makes room for B rows and takes in x (rows[0..B-1] of it, or its
 * first B rows when rows is NULL): what precedes every forward. A shuffled
 * batch's rows go from the data straight into the input buffer, converted
 * on the way in a float32 network: one pass over them, not a gather into
 * doubles and a second pass to convert. */
static int begin_forward(bp_net *net, const void *x, bp_dtype xt, const int *rows, int B,
                         bp_err *e) {
    if (net->n_layers == 0 && !net->graph)
        return bp_err_set(e, "the network has no layers");
    if (B < 1) return bp_err_set(e, "a batch needs at least 1 sample (got %d)", B);
    if ((unsigned)xt >= BP_DTYPE_COUNT && !(xt == XT_CODES && net->codes))
        return bp_err_set(e, "unknown dtype %d", (int)xt);
    if (reserve(net, B, e)) return -1;
    net->B = B;
    const int I = net->inputs;
    void *in = net->dtype == BP_F32 ? (void *)net->x32 : (void *)net->x;
    if (!rows) {
        take_in_net(net, in, x, xt, (size_t)B * I);
        return 0;
    }
    take_rows(net, in, x, xt, rows, 0, B);
    return 0;
}

static void forward_layers_any(bp_net *net) {
    if (net->dtype == BP_F32) forward_layers_f32(net, net->B);
    else forward_layers(net, net->B);
}

/* ------------------------------------------------------------------------ */
/* The graph form                                                            */
/*                                                                           */
/* A graph's stages are the graph's executor (graph.c) between the same      */
/* boundary as a stack's: begin_forward takes the input into the net's x,   */
/* the loss is the same kernel on the graph's output, and the gradients and  */
/* updates walk the parameter list. A large step goes to the net's team    */
/* (lend_team; bp_graph_set_team splits it), the rest runs on this thread,   */
/* float64's large products with OpenBLAS's threads.                         */

bp_net *bp_net_from_graph(bp_graph *g, bp_err *e) {
    if (!bp_graph_finished(g)) {
        bp_graph_free(g);
        bp_err_set(e, "the graph is not finished (bp_graph_finish)");
        return NULL;
    }
    bp_net *net = bp_net_new_dtype(bp_graph_inputs(g), bp_graph_dtype(g), e);
    if (!net) {
        bp_graph_free(g);
        return NULL;
    }
    net->graph = g;
    return net;
}

int bp_net_is_graph(const bp_net *net) { return net->graph != NULL; }

int bp_net_set_training(bp_net *net, int on) {
    int was = net->training;
    net->training = on != 0;
    return was;
}

static int check_step(const bp_net *net, bp_crit c, const double *y, int B, bp_err *e);
static int target_width(const bp_net *net, bp_crit c);

static int have_team(bp_net *net, int T);
/* The multiply-adds a step needs to go to the team (NOTES.md, the team). */
#define TEAM_MIN_WORK (1L << 20)

/* Lends the net's team to its graph for a pass over B rows when the rule
 * of a stack's steps says so (take_team: at least 2 rows a member and 2^20
 * multiply-adds), with the GEMM library single-threaded inside, as
 * team_step; returns the thread count give_back restores, 0 when nothing
 * was lent (the pass runs on this thread, with the library's threads: no
 * team could be had, or the graph cannot be split, bp_graph_set_team). */
static int lend_team(bp_net *net, int B) {
    int T = bp_threads();
    if (T < 2 || B < 2 * T || bp_graph_work(net->graph, B) < TEAM_MIN_WORK ||
        !have_team(net, T) || bp_graph_set_team(net->graph, net->team, NULL))
        return 0;
    bp_set_threads(1, NULL);
    return T;
}

static void give_back(bp_net *net, int T) {
    if (!T) return;
    bp_graph_set_team(net->graph, NULL, NULL);
    bp_set_threads(T, NULL);
}

/* Forward through the graph of rows[0..B-1] of x (or its first B rows). */
static int graph_run(bp_net *net, const void *x, bp_dtype xt, const int *rows, int B,
                     bp_err *e) {
    if (begin_forward(net, x, xt, rows, B, e)) return -1;
    const void *in = net->dtype == BP_F32 ? (void *)net->x32 : (void *)net->x;
    if (bp_graph_forward(net->graph, in, B, net->training, net->rng, e)) {
        net->B = 0;
        return -1;
    }
    return 0;
}

static const double *graph_forward(bp_net *net, const void *x, bp_dtype xt,
                                   const int *rows, int B, bp_err *e) {
    int T = lend_team(net, B), rc = graph_run(net, x, xt, rows, B, e);
    give_back(net, T);
    if (rc) return NULL;
    const void *out = bp_graph_output_value(net->graph);
    if (net->dtype == BP_F64) return out;
    to_double(net->out, out, BP_F32, (size_t)B * bp_net_outputs(net));
    return net->out;
}

static void graph_zero_grad(bp_net *net) {
    int n;
    const bp_param *t = bp_graph_params(net->graph, &n);
    for (int k = 0; k < n; k++)
        if (t[k].trainable) memset(t[k].grad, 0, t[k].count * bp_dtype_size(net->dtype));
}

static void graph_sgd(bp_net *net, double lr) {
    int n;
    const bp_param *t = bp_graph_params(net->graph, &n);
    for (int k = 0; k < n; k++) {
        if (!t[k].trainable || t[k].frozen) continue;
        if (net->dtype == BP_F32) bp_sgd_update_f32(t[k].data, t[k].grad, t[k].count, lr);
        else bp_sgd_update(t[k].data, t[k].grad, t[k].count, lr);
    }
}

static int graph_backward(bp_net *net, const double *dout, int want_dx, bp_err *e) {
    if (net->B == 0) return bp_err_set(e, "backward needs a forward first");
    from_double(bp_graph_output_grad(net->graph), net->dtype, dout,
                (size_t)net->B * bp_net_outputs(net));
    int T = lend_team(net, net->B), rc = bp_graph_backward(net->graph, want_dx, e);
    give_back(net, T);
    return rc;
}

/* With lengths (bp_graph_set_lengths), the loss must be over steps (class
 * labels of a T x C output: T, else 0) and each length at most T. */
static int check_step_lengths(const int *len, int B, int T, bp_err *e) {
    if (!T)
        return bp_err_set(e, "with lengths set, the loss must be over steps: class labels "
                             "of a T x C output, a label a step");
    for (int b = 0; b < B; b++)
        if (len[b] > T)
            return bp_err_set(e, "length %d of sequence %d is longer than the output's %d steps",
                              len[b], b + 1, T);
    return 0;
}

/* The loss of B samples of T steps of O outputs (T 1: whole samples) and
 * dLoss/dout into dout, y in the net's dtype. With lengths, the mean over
 * the steps that count: each sequence's mean over its len[b] steps,
 * weighted by len[b] / (all the lengths' sum), its gradient so scaled,
 * and zeros for the steps past its length. */
static double step_loss(const bp_net *net, void *dout, const void *out, const void *y, int B,
                        int T, int O, bp_crit c, const int *len) {
    const int f32 = net->dtype == BP_F32;
    if (!len && f32 && c.labels && c.loss == BP_LOSS_SOFTMAX_CE) /* ops_vec.h's */
        return bp_softmax_ce_labels_vec(dout, out, y, B * T, O);
    if (!len)
        return f32 ? bp_loss_grad_crit_f32(dout, out, y, B * T, O, c)
                   : bp_loss_grad_crit(dout, out, y, B * T, O, c);
    const size_t z = bp_dtype_size(net->dtype);
    double n = 0, sum = 0;
    for (int b = 0; b < B; b++) n += len[b];
    for (int b = 0; b < B; b++) {
        size_t at = (size_t)b * T * O, m = (size_t)len[b] * O;
        char *d = (char *)dout + at * z;
        const char *o = (const char *)out + at * z, *t = (const char *)y + (size_t)b * T * z;
        double l = f32 ? bp_loss_grad_crit_f32((float *)d, (const float *)o,
                                               (const float *)t, len[b], O, c)
                       : bp_loss_grad_crit((double *)d, (const double *)o,
                                           (const double *)t, len[b], O, c);
        sum += l * len[b];
        double k = len[b] / n;
        for (size_t j = 0; j < m; j++)
            if (f32) ((float *)d)[j] = (float)(((float *)d)[j] * k);
            else ((double *)d)[j] *= k;
        memset(d + m * z, 0, ((size_t)T * O - m) * z);
    }
    return sum / n;
}

/* A step of the graph: forward, loss, zeroed gradients, backward and, when
 * lr >= 0, gradient descent (not when guard is set and the loss is not
 * finite); the arguments as bp_net_step_rows's. */
static int graph_pass(bp_net *net, const void *x, bp_dtype xt, const int *rows,
                      const double *y, int B, bp_crit crit, double lr, int guard,
                      double *loss_out, bp_err *e) {
    if (check_step(net, crit, y, B, e) || graph_run(net, x, xt, rows, B, e)) return -1;
    /* labels of a sequence: B T rows of its steps' O / T outputs */
    int T = crit.labels ? bp_net_label_steps(net) : 1, O = bp_net_outputs(net) / T;
    void *out = bp_graph_output_value(net->graph),
         *dout = bp_graph_output_grad(net->graph);
    size_t ny = (size_t)B * target_width(net, crit);
    if (net->dtype == BP_F32) from_double(net->y32, BP_F32, y, ny);
    int nl;
    const int *len = bp_graph_lengths(net->graph, &nl);
    if (len && check_step_lengths(len, B, crit.labels ? T : 0, e)) return -1;
    double l = step_loss(net, dout, out, net->dtype == BP_F32 ? (const void *)net->y32 : y, B,
                         T, O, crit, len);
    if (bp_graph_backward_fresh(net->graph, 0, e)) return -1; /* zeroed grads */
    if (lr >= 0 && (!guard || isfinite(l))) graph_sgd(net, lr);
    if (loss_out) *loss_out = l;
    return 0;
}

/* graph_pass with the team lent for it (lend_team). */
static int graph_step(bp_net *net, const void *x, bp_dtype xt, const int *rows,
                      const double *y, int B, bp_crit crit, double lr, int guard,
                      double *loss_out, bp_err *e) {
    int T = lend_team(net, B),
        rc = graph_pass(net, x, xt, rows, y, B, crit, lr, guard, loss_out, e);
    give_back(net, T);
    return rc;
}

/* Appends n modules, each taking the one before (the first the output);
 * on failure the graph is as it was. */
static int append(bp_net *net, const bp_op *ops, const bp_node_opts *const *opts, int n,
                  bp_err *e) {
    bp_graph *g = net->graph;
    int n0 = bp_graph_nodes(g), out = bp_graph_output(g), prev = out;
    for (int k = 0; k < n && prev >= 0; k++)
        prev = bp_graph_add(g, ops[k], &prev, 1, opts[k], e);
    if (prev < 0 || bp_graph_finish(g, prev, e)) {
        bp_graph_truncate(g, n0, out, NULL);
        return -1;
    }
    net->cap = 0;
    net->B = 0;
    return 0;
}

static int graph_add_layer(bp_net *net, int outputs, bp_act act, double alpha,
                           bp_err *e) {
    if (outputs < 1)
        return bp_err_set(e, "a layer needs at least 1 neuron (got %d)", outputs);
    if ((unsigned)act >= BP_ACT_COUNT)
        return bp_err_set(e, "unknown activation %d", (int)act);
    bp_node_opts lin = bp_node_opts_default(BP_OP_LINEAR);
    bp_node_opts a = bp_node_opts_default(BP_OP_ACT);
    lin.in = bp_net_outputs(net), lin.out = outputs;
    a.act = act, a.alpha = alpha;
    const bp_op ops[2] = {BP_OP_LINEAR, BP_OP_ACT};
    const bp_node_opts *opts[2] = {&lin, &a};
    return append(net, ops, opts, 2, e);
}

int bp_net_add_module(bp_net *net, bp_op op, const bp_node_opts *o, bp_err *e) {
    if (op == BP_OP_INPUT) return bp_err_set(e, "an input module cannot be appended");
    if (bp_net_to_graph(net, e)) return -1;
    return append(net, &op, &o, 1, e);
}

/* The stack's layers as linear and act modules of a new graph g. */
static int stack_graph(const bp_net *net, bp_graph *g, bp_err *e) {
    bp_node_opts o = bp_node_opts_default(BP_OP_INPUT);
    o.ndim = 1, o.shape[0] = net->inputs;
    int prev = bp_graph_add(g, BP_OP_INPUT, NULL, 0, &o, e);
    size_t z = bp_dtype_size(net->dtype);
    char name[32];
    for (int l = 0; prev >= 0 && l < net->n_layers; l++) {
        const bp_layer *L = &net->layers[l];
        o = bp_node_opts_default(BP_OP_LINEAR);
        snprintf(name, sizeof name, "%d", l + 1);
        o.name = name, o.in = L->I, o.out = L->O;
        int lin = bp_graph_add(g, BP_OP_LINEAR, &prev, 1, &o, e), n;
        if (lin < 0) return -1;
        const bp_param *t = bp_graph_node_params(g, lin, &n);
        memcpy(t[0].data, L->mem[BP_FIELD_W], z * t[0].count);
        memcpy(t[1].data, L->mem[BP_FIELD_B], z * t[1].count);
        o = bp_node_opts_default(BP_OP_ACT);
        snprintf(name, sizeof name, "%d.act", l + 1);
        o.name = name, o.act = L->act, o.alpha = L->alpha;
        prev = bp_graph_add(g, BP_OP_ACT, &lin, 1, &o, e);
    }
    return prev < 0 ? -1 : bp_graph_finish(g, prev, e);
}

int bp_net_to_graph(bp_net *net, bp_err *e) {
    if (net->graph) return 0;
    bp_graph *g = bp_graph_new(net->dtype, e);
    if (!g) return -1;
    if (stack_graph(net, g, e)) {
        bp_graph_free(g);
        return -1;
    }
    for (int k = 0; k < 2 * net->n_layers; k++) /* the same list, in order */
        bp_graph_set_frozen(g, k, net->params[k].frozen);
    for (int l = 0; l < net->n_layers; l++) {
        free_fields(&net->layers[l], 0);
        free_fields(&net->layers[l], 1);
    }
    bp_free(net->layers);
    bp_free(net->params);
    net->layers = NULL;
    net->params = NULL;
    net->n_layers = 0;
    net->graph = g;
    net->cap = 0;
    net->B = 0;
    decide_fast(net);
    return 0;
}

/* dLoss/d(input) of a stack after its backward: dx = dh W of layer 1, each
 * sum in the dtype and in the order bp_dense_backward adds it (n = 0, 1,
 * ...), so a graph of the same layers gives the same bits. */
static void stack_dx(const bp_net *net, double *dx) {
    const bp_layer *L = &net->layers[0];
    const int I = L->I, O = L->O;
    for (int s = 0; s < net->B; s++)
        for (int i = 0; i < I; i++) {
            if (net->dtype == BP_F32) {
                float acc = 0;
                for (int n = 0; n < O; n++)
                    acc += L->dh32[(size_t)s * O + n] * L->W32[(size_t)n * I + i];
                dx[(size_t)s * I + i] = acc;
            } else {
                double acc = 0;
                for (int n = 0; n < O; n++)
                    acc += L->dh[(size_t)s * O + n] * L->W[(size_t)n * I + i];
                dx[(size_t)s * I + i] = acc;
            }
        }
}

static int backward_dout(bp_net *net, const double *dout, int want_dx, bp_err *e);

int bp_net_backward_input(bp_net *net, const double *dout, double *dx, bp_err *e) {
    if (net->graph) {
        if (graph_backward(net, dout, 1, e)) return -1;
        to_double(dx, bp_graph_input_grad(net->graph), net->dtype,
                  (size_t)net->B * net->inputs);
        return 0;
    }
    if (backward_dout(net, dout, 1, e)) return -1;
    stack_dx(net, dx);
    return 0;
}

const double *bp_net_forward(bp_net *net, const double *x, int B, bp_err *e) {
    return bp_net_forward_as(net, x, BP_F64, B, e);
}

static const double *forward_rows(bp_net *net, const void *x, bp_dtype xt, const int *rows,
                                  int B, bp_err *e);

const double *bp_net_forward_as(bp_net *net, const void *x, bp_dtype xt, int B,
                                bp_err *e) {
    return forward_rows(net, x, xt, NULL, B, e);
}

/* The 256 values byte codes stand for, in the net's dtype: on the caller's
 * stack while a pass reads them through net->codes. */
typedef union code_values {
    float f[256];
    double d[256];
} code_values;

static void codes_in(bp_net *net, code_values *values, const double *table) {
    for (int v = 0; v < 256; v++)
        if (net->dtype == BP_F32) values->f[v] = (float)table[v];
        else values->d[v] = table[v];
    net->codes = values;
}

const double *bp_net_forward_rows(bp_net *net, const void *x, bp_dtype xt,
                                  const double *table, const int *rows, int B, bp_err *e) {
    if (!table) return forward_rows(net, x, xt, rows, B, e);
    code_values values;
    codes_in(net, &values, table);
    const double *out = forward_rows(net, x, XT_CODES, rows, B, e);
    net->codes = NULL;
    return out;
}

static const double *forward_rows(bp_net *net, const void *x, bp_dtype xt, const int *rows,
                                  int B, bp_err *e) {
    if (net->graph) return graph_forward(net, x, xt, rows, B, e);
    if (begin_forward(net, x, xt, rows, B, e)) return NULL;
    forward_layers_any(net);
    bp_layer *top = &net->layers[net->n_layers - 1];
    if (net->dtype == BP_F64) return top->o;
    to_double(net->out, top->o32, BP_F32, (size_t)B * top->O);
    return net->out;
}

void bp_net_zero_grad(bp_net *net) {
    if (net->graph) {
        graph_zero_grad(net);
        return;
    }
    size_t z = bp_dtype_size(net->dtype);
    for (int l = 0; l < net->n_layers; l++) {
        bp_layer *L = &net->layers[l];
        memset(L->mem[BP_FIELD_DW], 0, z * L->O * L->I);
        memset(L->mem[BP_FIELD_DB], 0, z * L->O);
        L->dw_lazy = 0;
    }
}

void bp_net_set_fused_sgd(bp_net *net, int on) {
    if (!on && net->dtype == BP_F32) settle_grads_f32(net);
    else if (!on) settle_grads(net);
    net->fuse_sgd = on != 0;
}

static void sgd_all(bp_net *net, double lr);

/* The stack's backward; with a frozen tensor, the layers below the first
 * trained one are skipped unless want_dx (their gradients zeroed, unless
 * accumulating) and the update is sgd_all's, which leaves frozen tensors
 * alone. */
static void backward_stack(bp_net *net, int acc, double lr, int want_dx) {
    int first = want_dx ? 0 : first_trained(net), frozen = any_frozen(net);
    for (int l = 0; l < first && !acc; l++) {
        bp_layer *L = &net->layers[l];
        size_t z = bp_dtype_size(net->dtype);
        memset(L->mem[BP_FIELD_DW], 0, z * L->O * L->I);
        memset(L->mem[BP_FIELD_DB], 0, z * L->O);
        L->dw_lazy = 0;
    }
    if (net->dtype == BP_F32) backward_layers_f32(net, acc, frozen ? -1 : lr, first);
    else backward_layers(net, acc, frozen ? -1 : lr, first);
    if (frozen && lr >= 0) sgd_all(net, lr);
}

static void backward_layers_any(bp_net *net, int acc, double lr) {
    backward_stack(net, acc, lr, 0);
}

/* bp_net_backward, and with want_dx down to the first layer whatever is
 * frozen (for bp_net_backward_input). */
static int backward_dout(bp_net *net, const double *dout, int want_dx, bp_err *e) {
    if (net->graph) return graph_backward(net, dout, want_dx, e);
    if (net->n_layers == 0 || net->B == 0)
        return bp_err_set(e, "backward needs a forward first");
    bp_layer *top = &net->layers[net->n_layers - 1];
    from_double(top->mem[BP_FIELD_DOUT], net->dtype, dout, (size_t)net->B * top->O);
    backward_stack(net, 1, -1, want_dx);
    return 0;
}

int bp_net_backward(bp_net *net, const double *dout, bp_err *e) {
    return backward_dout(net, dout, 0, e);
}

static int check_lr(double lr, bp_err *e) {
    if (isnan(lr) || isinf(lr) || lr < 0)
        return bp_err_set(e, "learning rate must be a finite number >= 0 (got %g)", lr);
    return 0;
}

static void sgd_all(bp_net *net, double lr) {
    if (net->graph) {
        graph_sgd(net, lr);
        return;
    }
    for (int l = 0; l < net->n_layers; l++) {
        int w = !net->params[2 * l].frozen, b = !net->params[2 * l + 1].frozen;
        if (net->dtype == BP_F32) sgd_layer_f32(&net->layers[l], lr, w, b);
        else sgd_layer(&net->layers[l], lr, w, b);
    }
}

int bp_net_update(bp_net *net, double lr, bp_err *e) {
    if (check_lr(lr, e)) return -1;
    sgd_all(net, lr);
    return 0;
}

int bp_net_check_crit(const bp_net *net, bp_crit c, bp_err *e) {
    if (bp_crit_check(&c, NULL, 0, bp_net_outputs(net), e)) return -1;
    int top = net->graph      ? bp_graph_output_act(net->graph)
              : net->n_layers ? (int)net->layers[net->n_layers - 1].act
                              : -1;
    if (c.loss == BP_LOSS_SOFTMAX_CE && top == BP_ACT_SOFTMAX)
        return bp_err_set(e, "softmax_ce takes logits: make the last layer "
                             "'identity' (softmax_ce applies the softmax itself)");
    /* nll of probabilities would train towards the wrong optimum with no
     * sign of it: log_softmax is nll's input, as in PyTorch. */
    if (c.loss == BP_LOSS_NLL && top == BP_ACT_SOFTMAX)
        return bp_err_set(e, "nll takes log-probabilities: make the last layer "
                             "'log_softmax' (or use softmax_ce on logits)");
    return 0;
}

int bp_net_check_loss(const bp_net *net, bp_loss loss, bp_err *e) {
    return bp_net_check_crit(net, bp_crit_of(loss), e);
}

int bp_net_label_steps(const bp_net *net) {
    if (!net->graph || !bp_graph_finished(net->graph)) return 1;
    int out = bp_graph_output(net->graph), ndim, shape[BP_GRAPH_MAX_DIMS];
    bp_graph_node_shape(net->graph, out, &ndim, shape);
    return ndim == 2 && shape[1] >= 2 ? shape[0] : 1;
}

/* What every step checks first: the criterion after this net, and each of
 * B labels (B T of a sequence's) when y holds labels. */
static int check_step(const bp_net *net, bp_crit c, const double *y, int B, bp_err *e) {
    if (bp_net_check_crit(net, c, e)) return -1;
    int T = c.labels ? bp_net_label_steps(net) : 1;
    return c.labels ? bp_crit_check(&c, y, B * T, bp_net_outputs(net) / T, e) : 0;
}

/* Values of a row of targets: the outputs, or a label (a step). */
static int target_width(const bp_net *net, bp_crit c) {
    return c.labels ? bp_net_label_steps(net) : bp_net_outputs(net);
}

/* Forward, loss and its gradient: the part of a step before backward. The
 * loss gradient goes straight into the top layer's dout. */
static int forward_loss(bp_net *net, const void *x, bp_dtype xt, const int *rows,
                        const double *y, int B, bp_crit crit, double *loss_out,
                        bp_err *e) {
    if (check_step(net, crit, y, B, e) || begin_forward(net, x, xt, rows, B, e))
        return -1;
    forward_layers_any(net);
    if (net->dtype == BP_F32) {
        from_double(net->y32, BP_F32, y, (size_t)B * target_width(net, crit));
        loss_grad_f32(net, net->y32, crit, loss_out);
    } else {
        loss_grad(net, y, crit, loss_out);
    }
    return 0;
}

/* A step's code out of line: the steps' entries below keep the
 * single-sample path's test and call short, without the registers and
 * stack the general path's calls need (at the lecture's size a step costs
 * about 40 ns, and saving six registers before the test showed). */
#if defined(__GNUC__)
#define OUT_OF_LINE __attribute__((noinline))
#else
#define OUT_OF_LINE
#endif

/* Whether a criterion with a parameter or a label is one the general path
 * would accept, for the single-sample path. */
static OUT_OF_LINE int fast_crit_ok(const bp_net *net, bp_crit c, const double *y) {
    return bp_crit_check(&c, y, 1, bp_net_outputs(net), NULL) == 0;
}

/* Whether a step of B samples can take the single-sample path: the net
 * allows it, its buffers are made (the general path makes them on a net's
 * first step), and the criterion and the label are ones the general path
 * would accept (no softmax layer, so only they can be refused; a plain loss
 * is checked by one compare, the lecture's loop paying no more). */
static int take_fast(const bp_net *net, int B, bp_crit c, const double *y) {
    if (B != 1 || !net->fast || net->cap <= 0) return 0;
    if (c.param == 0 && !c.labels) return (unsigned)c.loss < BP_LOSS_COUNT;
    return fast_crit_ok(net, c, y);
}

/* The single-sample path's step of a float32 net: x and y converted into
 * its buffers, as the general path takes them in. */
static OUT_OF_LINE double one_f32(bp_net *net, const double *x, const double *y,
                                  bp_crit crit, double lr) {
    const int I = net->inputs, K = target_width(net, crit);
    for (int i = 0; i < I; i++) net->x32[i] = (float)x[i];
    for (int n = 0; n < K; n++) net->y32[n] = (float)y[n];
    return step_one_f32(net, net->y32, crit, lr);
}

/* The single-sample path's step: x and y taken in as the general path takes
 * them (y converted only in a float32 net), the loss into *loss_out when it
 * is not NULL; lr < 0: no update. Returns 0, as the step cannot fail. */
BP_STEP_PATH static int one(bp_net *net, const double *x, const double *y, bp_crit crit,
                            double lr, double *loss_out) {
    const int I = net->inputs;
    double l;
    net->B = 1;
    if (net->dtype == BP_F64) {
        if (x != net->x)
            for (int i = 0; i < I; i++) net->x[i] = x[i];
        l = step_one(net, y, crit, lr);
    } else {
        l = one_f32(net, x, y, crit, lr);
    }
    if (loss_out) *loss_out = l;
    return 0;
}

/* Whether a step of B rows goes to the team of bp_threads() threads, made (or
 * remade, when the count changed) here. Only for a step with enough
 * arithmetic to pay for the team's meetings (one a step, plus the run's
 * start and end) and with at least 2 rows for each member. Without a team
 * (threads or memory could not be had, which is not tried again for that
 * count) the step runs on this thread, with OpenBLAS's. */
/* The net's team of T, made or remade here; 0 when it cannot be had. */
static int have_team(bp_net *net, int T) {
    if (T == net->team_failed) return 0;
    if (net->team && bp_team_size(net->team) != T) {
        bp_team_free(net->team);
        net->team = NULL;
    }
    if (!net->team && !(net->team = bp_team_new(T, NULL))) net->team_failed = T;
    return net->team != NULL;
}

static int take_team(bp_net *net, int B) {
    int T = bp_threads();
    if (T < 2 || B < 2 * T || net->n_layers == 0 || any_frozen(net)) return 0;
    long work = 0;
    for (int l = 0; l < net->n_layers; l++)
        work += (long)B * net->layers[l].I * net->layers[l].O;
    return work >= TEAM_MIN_WORK && have_team(net, T);
}

/* The step of bp_net_step_rows (x, rows) or bp_net_train_step (rows NULL)
 * by the team. OpenBLAS runs single-threaded inside it: each member makes
 * its own products, and OpenBLAS's threads would only compete for the same
 * cores. */
static int team_step(bp_net *net, const void *x, bp_dtype xt, const int *rows,
                     const double *y, int B, bp_crit crit, double lr, int guard,
                     double *loss_out, bp_err *e) {
    if (check_step(net, crit, y, B, e) || reserve(net, B, e)) return -1;
    net->B = B;
    team_job j = {net, x, xt, rows, y, B, crit, lr, guard, NAN};
    if (net->dtype == BP_F32) {
        from_double(net->y32, BP_F32, y, (size_t)B * target_width(net, crit));
        j.y = net->y32;
    }
    int T = bp_team_size(net->team);
    bp_set_threads(1, NULL);
    bp_team_run(net->team, net->dtype == BP_F32 ? team_member_f32 : team_member, &j);
    bp_set_threads(T, NULL);
    if (loss_out) *loss_out = j.loss;
    return 0;
}

static int step_rows(bp_net *net, const void *x, bp_dtype xt, const int *rows,
                     const double *y, int B, bp_crit crit, double lr, double *loss_out,
                     bp_err *e);

int bp_net_step_rows_crit(bp_net *net, const void *x, bp_dtype xt, const int *rows,
                          const double *y, int B, bp_crit crit, double lr,
                          double *loss_out, bp_err *e) {
    if ((unsigned)xt >= BP_DTYPE_COUNT) return bp_err_set(e, "unknown dtype %d", (int)xt);
    return step_rows(net, x, xt, rows, y, B, crit, lr, loss_out, e);
}

int bp_net_step_codes(bp_net *net, const unsigned char *codes, const double *table,
                      const int *rows, const double *y, int B, bp_crit crit, double lr,
                      double *loss_out, bp_err *e) {
    code_values values;
    codes_in(net, &values, table);
    net->codes_affine = net->dtype == BP_F32 &&
                        bp_codes_affine_of(&net->code_c, &net->code_a, values.f);
    int rc = step_rows(net, codes, XT_CODES, rows, y, B, crit, lr, loss_out, e);
    net->codes = NULL;
    net->codes_affine = 0;
    return rc;
}

/* bp_net_step_rows_crit, for x of a bp_dtype or XT_CODES. */
static int step_rows(bp_net *net, const void *x, bp_dtype xt, const int *rows,
                     const double *y, int B, bp_crit crit, double lr, double *loss_out,
                     bp_err *e) {
    double l;
    if ((lr >= 0 || isnan(lr)) && check_lr(lr, e)) return -1;
    if (net->graph) return graph_step(net, x, xt, rows, y, B, crit, lr, 1, loss_out, e);
    if (xt == BP_F64 && take_fast(net, B, crit, y)) {
        /* one's fused update cannot wait for the loss: the step's update
         * is a pass of its own, as in bp_net_update. */
        const double *xd = x;
        for (int k = 0; k < net->n_layers; k++) net->layers[k].dw_lazy = 0; /* one's dW */
        one(net, rows ? xd + (size_t)rows[0] * net->inputs : xd, y, crit, -1, &l);
        if (lr >= 0 && isfinite(l)) sgd_all(net, lr);
    } else if (take_team(net, B)) {
        return team_step(net, x, xt, rows, y, B, crit, lr, 1, loss_out, e);
    } else {
        if (forward_loss(net, x, xt, rows, y, B, crit, &l, e)) return -1;
        backward_layers_any(net, 0, lr >= 0 && isfinite(l) ? lr : -1);
    }
    if (loss_out) *loss_out = l;
    return 0;
}

int bp_net_step_rows(bp_net *net, const void *x, bp_dtype xt, const int *rows,
                     const double *y, int B, bp_loss loss, double lr, double *loss_out,
                     bp_err *e) {
    return bp_net_step_rows_crit(net, x, xt, rows, y, B, bp_crit_of(loss), lr, loss_out,
                                 e);
}

int bp_net_compute_grads_crit(bp_net *net, const double *x, const double *y, int B,
                              bp_crit crit, double *loss_out, bp_err *e) {
    if (net->graph)
        return graph_step(net, x, BP_F64, NULL, y, B, crit, -1, 0, loss_out, e);
    if (take_fast(net, B, crit, y)) return one(net, x, y, crit, -1, loss_out);
    if (take_team(net, B))
        return team_step(net, x, BP_F64, NULL, y, B, crit, -1, 0, loss_out, e);
    if (forward_loss(net, x, BP_F64, NULL, y, B, crit, loss_out, e)) return -1;
    backward_layers_any(net, 0, -1);
    return 0;
}

int bp_net_compute_grads(bp_net *net, const double *x, const double *y, int B,
                         bp_loss loss, double *loss_out, bp_err *e) {
    return bp_net_compute_grads_crit(net, x, y, B, bp_crit_of(loss), loss_out, e);
}

/* bp_net_train_step_crit's step when it is not the single-sample path's. */
static OUT_OF_LINE int train_step_general(bp_net *net, const double *x, const double *y,
                                          int B, bp_crit crit, double lr,
                                          double *loss_out, bp_err *e) {
    if (check_lr(lr, e)) return -1;
    if (net->graph)
        return graph_step(net, x, BP_F64, NULL, y, B, crit, lr, 0, loss_out, e);
    if (take_team(net, B))
        return team_step(net, x, BP_F64, NULL, y, B, crit, lr, 0, loss_out, e);
    if (forward_loss(net, x, BP_F64, NULL, y, B, crit, loss_out, e)) return -1;
    backward_layers_any(net, 0, lr);
    return 0;
}

BP_STEP_PATH int bp_net_train_step_crit(bp_net *net, const double *x, const double *y,
                                        int B, bp_crit crit, double lr, double *loss_out,
                                        bp_err *e) {
    if (take_fast(net, B, crit, y) && lr >= 0 && lr < INFINITY)
        return one(net, x, y, crit, lr, loss_out);
    return train_step_general(net, x, y, B, crit, lr, loss_out, e);
}

int bp_net_train_step(bp_net *net, const double *x, const double *y, int B, bp_loss loss,
                      double lr, double *loss_out, bp_err *e) {
    return bp_net_train_step_crit(net, x, y, B, bp_crit_of(loss), lr, loss_out, e);
}

/* ------------------------------------------------------------------------ */
/* Every parameter at once                                                   */

const bp_param *bp_net_param_list(const bp_net *net, int *n) {
    if (net->graph) return bp_graph_params(net->graph, n);
    *n = 2 * net->n_layers;
    return net->params;
}

const bp_param *bp_net_param_find(const bp_net *net, const char *name, bp_err *e) {
    int n;
    const bp_param *t = bp_net_param_list(net, &n);
    for (int k = 0; k < n; k++)
        if (strcmp(t[k].name, name) == 0) return &t[k];
    bp_err_set(e, "no parameter named '%s'", name);
    return NULL;
}

/* Trainable tensors of the list picked by pattern (bp_name_matches). */
static int count_matches(const bp_net *net, const char *pattern) {
    int n, hits = 0;
    const bp_param *t = bp_net_param_list(net, &n);
    for (int k = 0; k < n; k++) hits += t[k].trainable && bp_name_matches(pattern, t[k].name);
    return hits;
}

int bp_net_freeze(bp_net *net, const char *pattern, int frozen, bp_err *e) {
    int hits = count_matches(net, pattern);
    if (!hits)
        return bp_err_set(e, "no parameter or module matches '%s'", pattern);
    if (!net->graph) {
        for (int k = 0; k < 2 * net->n_layers; k++)
            if (bp_name_matches(pattern, net->params[k].name))
                net->params[k].frozen = frozen != 0;
        decide_fast(net); /* the fused paths update every layer */
        return hits;
    }
    int n;
    const bp_param *t = bp_graph_params(net->graph, &n);
    for (int k = 0; k < n; k++)
        if (t[k].trainable && bp_name_matches(pattern, t[k].name))
            bp_graph_set_frozen(net->graph, k, frozen);
    return hits;
}

/* The graph's list in flat order: every value, buffers too. */
static size_t graph_param_count(const bp_net *net) {
    int n;
    const bp_param *t = bp_graph_params(net->graph, &n);
    size_t c = 0;
    for (int k = 0; k < n; k++) c += t[k].count;
    return c;
}

size_t bp_net_param_count(const bp_net *net) {
    if (net->graph) return graph_param_count(net);
    size_t n = 0;
    for (int l = 0; l < net->n_layers; l++)
        n += (size_t)net->layers[l].O * (net->layers[l].I + 1);
    return n;
}

void bp_net_params_get(const bp_net *net, double *out) {
    if (net->graph) {
        int n;
        const bp_param *t = bp_graph_params(net->graph, &n);
        for (int k = 0; k < n; out += t[k++].count)
            to_double(out, t[k].data, net->dtype, t[k].count);
        return;
    }
    for (int l = 0; l < net->n_layers; l++) {
        const bp_layer *L = &net->layers[l];
        size_t N = (size_t)L->O * L->I;
        to_double(out, L->mem[BP_FIELD_W], net->dtype, N);
        out += N;
        to_double(out, L->mem[BP_FIELD_B], net->dtype, (size_t)L->O);
        out += L->O;
    }
}

void bp_net_params_set(bp_net *net, const double *in) {
    if (net->graph) {
        int n;
        const bp_param *t = bp_graph_params(net->graph, &n);
        for (int k = 0; k < n; in += t[k++].count)
            from_double(t[k].data, net->dtype, in, t[k].count);
        return;
    }
    for (int l = 0; l < net->n_layers; l++) {
        bp_layer *L = &net->layers[l];
        size_t N = (size_t)L->O * L->I;
        from_double(L->mem[BP_FIELD_W], net->dtype, in, N);
        in += N;
        from_double(L->mem[BP_FIELD_B], net->dtype, in, (size_t)L->O);
        in += L->O;
    }
}
