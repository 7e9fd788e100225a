/* test_ops.c: the kernels of bp_ops.h, against oracles that do not share
 * their code.
 *
 *  - Gradients by central finite differences, through whole networks
 *    (bp_net_forward, bp_loss_forward/backward, bp_net_backward): every
 *    activation with every loss, on several shapes, batch sizes 1 and more,
 *    one shape large enough for the OpenBLAS path. Checked: every dW and db,
 *    and every layer's dout.
 *  - The dense layer against naive triple loops, on both sides of the BLAS
 *    threshold, including that backward adds and that dx may be NULL.
 *  - Losses and activations on values worked out by hand, huge logits
 *    included; the names' round trip.
 *  - The halves a team of threads splits a layer's backward and the loss
 *    into, run member after member, against the whole kernels.
 *
 * Dimensions: B = batch, I = inputs of a layer, O = outputs of a layer. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bp_net.h"
#include "bp_ops.h"
#include "check.h"
#include "ops_vec.h"
#include "vmath.h"

/* ------------------------------------------------------------------------ */
/* Finite-difference gradient checks                                         */

/* Central differences err by ~h^2 times the third derivative, plus
 * rounding ~eps |L| / h; h = 1e-5 keeps both small. The rounding part does
 * not shrink with the gradient, though: whatever the gradient,
 * (L(w+h) - L(w-h)) / 2h is off by up to ~1e-10 |L| absolutely (measured
 * here), so a gradient of 1e-8 cannot be known to a relative 1e-6 in double.
 * The relative error is therefore taken against
 * max(|analytic|, |numeric|, FD_FLOOR * max(1, |L|)): gradients from
 * 1e-3 |L| up are held to a relative 1e-6, smaller ones to an absolute
 * 1e-9 |L|. (The worst relative error seen is 1.1e-7; a wrong derivative,
 * even a 0.1% one, shows as 1e-3.) */
#define FD_H 1e-5
#define FD_TOL 1e-6
#define FD_FLOOR 1e-3
/* relu, leaky_relu and elu (of alpha other than 1) are not differentiable
 * at 0: every pre-activation of such a layer is kept at least this far from
 * it, which no step of FD_H times a weight or input of order 1 can cross. */
#define KINK_MARGIN 1e-3
#define DOUBLED_FLOOR 1e-2

static double rel_err(double a, double b, double floor) {
    double d = fmax(fmax(fabs(a), fabs(b)), floor);
    return fabs(a - b) / d;
}

/* What one network's check found, for the message and for coverage. */
typedef struct fd_stats {
    double worst;            /* largest relative error */
    int compared;            /* gradients compared */
    int nonzero;             /* of which the analytic one was not exactly 0 */
    double floor;            /* the denominator's least value, see FD_FLOOR */
    double worst_a, worst_n; /* the pair behind worst, for the message */
} fd_stats;

static void fd_note(fd_stats *st, double analytic, double numeric) {
    double r = rel_err(analytic, numeric, st->floor);
    if (!(r <= st->worst)) { /* NaN sticks */
        st->worst = r;
        st->worst_a = analytic;
        st->worst_n = numeric;
    }
    st->compared++;
    st->nonzero += analytic != 0.0;
}

static double net_loss(bp_net *net, const double *x, const double *y, int B,
                       bp_loss loss) {
    bp_err e;
    const double *out = bp_net_forward(net, x, B, &e);
    if (!out) return NAN;
    return bp_loss_forward(out, y, B, bp_net_outputs(net), loss);
}

/* dLoss/d*p by central differences, *p restored after. The step actually
 * taken, (p+h) - (p-h), is the denominator, not 2h. */
static double fd_param(bp_net *net, double *p, const double *x, const double *y, int B,
                       bp_loss loss) {
    double saved = *p, up = saved + FD_H, down = saved - FD_H;
    *p = up;
    double lp = net_loss(net, x, y, B, loss);
    *p = down;
    double lm = net_loss(net, x, y, B, loss);
    *p = saved;
    return (lp - lm) / (up - down);
}

/* Whether the last forward is fit for differences: every h of a layer with
 * a kink at least `margin` from it, and at least half of a relu layer's
 * values alive (a dead relu unit has gradient 0 on both sides, which checks
 * nothing). */
static int fit_for_differences(const bp_net *net, double margin) {
    for (int l = 0; l < net->n_layers; l++) {
        const bp_layer *L = &net->layers[l];
        if (L->act != BP_ACT_RELU && L->act != BP_ACT_LEAKY_RELU && L->act != BP_ACT_ELU)
            continue;
        int N = net->B * L->O, alive = 0;
        for (int k = 0; k < N; k++) {
            double h = bp_layer_get(L, BP_FIELD_H, (size_t)k);
            if (fabs(h) < margin) return 0;
            alive += h > 0;
        }
        if (L->act == BP_ACT_RELU && 2 * alive < N) return 0;
    }
    return 1;
}

/* The top layer that can carry `loss` for the activation under test: the
 * activation itself wherever it can, else the nearest that works (the
 * activation under test is then checked in the hidden layers only):
 *  - bce needs probabilities: sigmoid, or softmax over more than 1 output;
 *  - softmax_ce and nll are refused after softmax: identity there;
 *  - l1 after softmax: dh = o (d - sum_k d_k o_k) is 0 wherever the row's
 *    signs of out - y agree, which checks little: identity there;
 *  - softmax and log_softmax over a single output are the constants 1 and
 *    0, which check nothing: identity there, sigmoid for bce. */
static bp_act top_act(bp_act act, bp_loss loss, int O) {
    int constant = bp_act_is_row(act) && O == 1;
    switch (loss) {
        case BP_LOSS_BCE:
            return act == BP_ACT_SIGMOID || (act == BP_ACT_SOFTMAX && O > 1)
                       ? act
                       : BP_ACT_SIGMOID;
        case BP_LOSS_SOFTMAX_CE: return act == BP_ACT_SOFTMAX ? BP_ACT_IDENTITY : act;
        case BP_LOSS_NLL:
            return act == BP_ACT_SOFTMAX || constant ? BP_ACT_IDENTITY : act;
        case BP_LOSS_L1: /* softmax's row turns l1's gradients of one sign to 0 */
            return act == BP_ACT_SOFTMAX || constant ? BP_ACT_IDENTITY : act;
        default: return constant ? BP_ACT_IDENTITY : act;
    }
}

/* Targets the loss is defined on: anything for the squared errors, l1 and
 * huber (differences up to 2, either side of huber's delta 1),
 * probabilities in [0, 1] for bce, a distribution per row for softmax_ce
 * and nll. */
static void make_targets(double *y, int B, int O, bp_loss loss, bp_rng *r) {
    for (int s = 0; s < B; s++) {
        double *ys = y + (size_t)s * O, sum = 0;
        for (int n = 0; n < O; n++) {
            switch (loss) {
                case BP_LOSS_HALF_SE:
                case BP_LOSS_MSE:
                case BP_LOSS_L1:
                case BP_LOSS_HUBER: ys[n] = 2 * bp_rng_uniform(r) - 1; break;
                default: ys[n] = bp_rng_uniform(r); break;
            }
            sum += ys[n];
        }
        if (loss == BP_LOSS_SOFTMAX_CE || loss == BP_LOSS_NLL)
            for (int n = 0; n < O; n++) ys[n] /= sum;
    }
}

enum { MAX_LAYERS = 3 };

typedef struct shape {
    int n; /* entries in sizes: inputs, then each layer */
    int sizes[MAX_LAYERS + 1];
    int B;
} shape;

/* A network of the given shape, act in every hidden layer and top on top,
 * with Xavier weights and small random biases. */
static bp_net *make_net(const shape *sh, bp_act act, bp_act top, bp_rng *r) {
    bp_err e;
    bp_net *net = bp_net_new(sh->sizes[0], &e);
    for (int l = 1; l < sh->n; l++) {
        bp_act a = l == sh->n - 1 ? top : act;
        CHECK(bp_net_add(net, sh->sizes[l], a, 0.1, &e) == 0);
        CHECK(bp_net_init(net, l, 'w', BP_INIT_XAVIER, 0, 0, r, &e) == 0);
        CHECK(bp_net_init(net, l, 'b', BP_INIT_UNIFORM, -0.5, 0.5, r, &e) == 0);
    }
    return net;
}

/* Checks one network: the analytic gradients of one backward against
 * finite differences of the loss. */
static void gradcheck(const shape *sh, bp_act act, bp_loss loss, uint64_t seed) {
    int B = sh->B, In = sh->sizes[0], L_n = sh->n - 1, Out = sh->sizes[L_n];
    bp_act top = top_act(act, loss, Out);
    bp_err e;
    bp_rng r;
    bp_rng_seed(&r, seed);
    double *x = malloc(sizeof(double) * (size_t)B * In);
    double *y = malloc(sizeof(double) * (size_t)B * Out);
    double *dout = malloc(sizeof(double) * (size_t)B * Out);

    /* Draw networks and inputs until they are fit for differences. */
    bp_net *net = NULL;
    int fit = 0;
    for (int tries = 0; tries < 200 && !fit; tries++) {
        bp_net_free(net);
        net = make_net(sh, act, top, &r);
        for (int k = 0; k < B * In; k++) x[k] = 2 * bp_rng_uniform(&r) - 1;
        CHECK(bp_net_forward(net, x, B, &e) != NULL);
        fit = fit_for_differences(net, KINK_MARGIN);
    }
    CHECK(fit);
    CHECK(bp_net_check_loss(net, loss, &e) == 0);
    make_targets(y, B, Out, loss, &r);
    /* l1 and huber have kinks where out - y is 0 and +-delta (1): targets
     * are drawn again until every difference is KINK_MARGIN from them. */
    for (int tries = 0; (loss == BP_LOSS_L1 || loss == BP_LOSS_HUBER) && tries < 200;
         tries++) {
        const double *o = bp_net_forward(net, x, B, &e);
        int away = 1;
        for (int k = 0; k < B * Out; k++) {
            double d = fabs(o[k] - y[k]);
            away &= d > KINK_MARGIN && (loss == BP_LOSS_L1 || fabs(d - 1) > KINK_MARGIN);
        }
        if (away) break;
        make_targets(y, B, Out, loss, &r);
    }

    /* The analytic gradients, copied out before the differences reuse the
     * network's buffers. */
    const double *out = bp_net_forward(net, x, B, &e);
    memset(dout, 0, sizeof(double) * (size_t)B * Out);
    bp_loss_backward(dout, out, y, B, Out, loss);
    bp_net_zero_grad(net);
    CHECK(bp_net_backward(net, dout, &e) == 0);
    size_t P = bp_net_param_count(net);
    double *params = malloc(sizeof(double) * P);
    double *grads[MAX_LAYERS][3]; /* dW, db, dout of each layer */
    for (int l = 0; l < L_n; l++) {
        const bp_layer *Ly = &net->layers[l];
        size_t n[3] = {(size_t)Ly->O * Ly->I, (size_t)Ly->O, (size_t)B * Ly->O};
        const double *src[3] = {Ly->dW, Ly->db, Ly->dout};
        for (int j = 0; j < 3; j++) {
            grads[l][j] = malloc(sizeof(double) * n[j]);
            memcpy(grads[l][j], src[j], sizeof(double) * n[j]);
        }
    }
    /* The top layer's dout is the loss gradient itself. */
    CHECK(memcmp(grads[L_n - 1][2], dout, sizeof(double) * (size_t)B * Out) == 0);
    /* Backward adds into dW and db: a second one without zeroing doubles
     * them (to rounding: BLAS may add in another order). Relative to at
     * least DOUBLED_FLOOR: l1's and nll's gradients of +-1/(B O) can cancel
     * in a sum to a few ulps of its terms, whose rounding in another order
     * is then of the order of the sum itself. */
    CHECK(bp_net_backward(net, dout, &e) == 0);
    double doubled = 0;
    for (int l = 0; l < L_n; l++) {
        const bp_layer *Ly = &net->layers[l];
        for (int k = 0; k < Ly->O * Ly->I; k++)
            doubled =
                fmax(doubled, rel_err(Ly->dW[k], 2 * grads[l][0][k], DOUBLED_FLOOR));
        for (int k = 0; k < Ly->O; k++)
            doubled =
                fmax(doubled, rel_err(Ly->db[k], 2 * grads[l][1][k], DOUBLED_FLOOR));
    }
    CHECK(doubled < 1e-14);

    fd_stats st = {0, 0, 0, 0, 0, 0};
    st.floor = FD_FLOOR * fmax(1, fabs(net_loss(net, x, y, B, loss)));
    for (int l = 1; l <= L_n; l++) {
        const bp_layer *Ly = &net->layers[l - 1];
        for (int n = 1; n <= Ly->O; n++) {
            for (int i = 1; i <= Ly->I; i++)
                fd_note(&st, grads[l - 1][0][(size_t)(n - 1) * Ly->I + (i - 1)],
                        fd_param(net, bp_net_weight(net, l, n, i, &e), x, y, B, loss));
            fd_note(&st, grads[l - 1][1][n - 1],
                    fd_param(net, bp_net_bias(net, l, n, &e), x, y, B, loss));
        }
    }

    /* dLoss/do of layer l: perturb o_l and run the layers above it, as a
     * network of their own (same weights: the flat parameter order puts
     * them last). The top layer's o is the loss's input directly. The
     * forward puts back the o of the unperturbed weights. */
    CHECK(bp_net_forward(net, x, B, &e) != NULL);
    bp_net_params_get(net, params);
    size_t offset = 0;
    for (int l = 0; l < L_n; l++) {
        const bp_layer *Ly = &net->layers[l];
        size_t N = (size_t)B * Ly->O;
        double *o = malloc(sizeof(double) * N);
        memcpy(o, Ly->o, sizeof(double) * N);
        offset += (size_t)Ly->O * (Ly->I + 1);
        bp_net *tail = NULL;
        if (l < L_n - 1) {
            tail = bp_net_new(Ly->O, &e);
            for (int j = l + 1; j < L_n; j++)
                CHECK(bp_net_add(tail, net->layers[j].O, net->layers[j].act,
                                 net->layers[j].alpha, &e) == 0);
            bp_net_params_set(tail, params + offset);
        }
        for (size_t k = 0; k < N; k++) {
            double saved = o[k], up = saved + FD_H, down = saved - FD_H, lp, lm;
            o[k] = up;
            lp = tail ? net_loss(tail, o, y, B, loss)
                      : bp_loss_forward(o, y, B, Out, loss);
            o[k] = down;
            lm = tail ? net_loss(tail, o, y, B, loss)
                      : bp_loss_forward(o, y, B, Out, loss);
            o[k] = saved;
            fd_note(&st, grads[l][2][k], (lp - lm) / (up - down));
        }
        bp_net_free(tail);
        free(o);
    }

    /* Every weight, bias and layer output was compared, and enough of the
     * gradients were non-zero for the comparison to mean something. */
    size_t douts = 0;
    for (int l = 0; l < L_n; l++) douts += (size_t)B * net->layers[l].O;
    CHECK((size_t)st.compared == P + douts);
    /* (softmax_ce over one logit is the constant 0: nothing to see there.) */
    if (!(loss == BP_LOSS_SOFTMAX_CE && Out == 1)) {
        if (!(st.nonzero > st.compared / 4))
            fprintf(stderr, "nonzero %d of %d: B=%d act=%s loss=%s\n", st.nonzero,
                    st.compared, B, bp_act_name(act), bp_loss_name(loss));
        CHECK(st.nonzero > st.compared / 4);
    }
    if (!(st.worst < FD_TOL)) {
        char name[64];
        int len = 0;
        for (int l = 0; l < sh->n; l++)
            len += snprintf(name + len, sizeof name - (size_t)len, "%s%d", l ? "-" : "",
                            sh->sizes[l]);
        fprintf(stderr,
                "gradcheck %s B=%d act=%s top=%s loss=%s: relative error %.3g "
                "(analytic %.17g, numeric %.17g)\n",
                name, B, bp_act_name(act), bp_act_name(top), bp_loss_name(loss), st.worst,
                st.worst_a, st.worst_n);
    }
    CHECK(st.worst < FD_TOL);

    for (int l = 0; l < L_n; l++)
        for (int j = 0; j < 3; j++) free(grads[l][j]);
    free(params);
    free(x);
    free(y);
    free(dout);
    bp_net_free(net);
}

static void test_gradients(void) {
    /* The last shape takes OpenBLAS in both layers: B*I*O = 16*32*16 = 8192
     * and 16*16*16 = 4096, at least BP_BLAS_MIN_WORK (4096). Batches of 1
     * and more for each of the others. (With one output, softmax_ce is the
     * constant 0 and checks nothing; the other shapes carry it.) */
    static const shape shapes[] = {
        {3, {2, 3, 1}, 1},     {3, {2, 3, 1}, 4},    {3, {4, 5, 3}, 1},
        {3, {4, 5, 3}, 3},     {4, {3, 7, 6, 2}, 1}, {4, {3, 7, 6, 2}, 2},
        {3, {32, 16, 16}, 16},
    };
    uint64_t seed = 1;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int a = 0; a < BP_ACT_COUNT; a++)
            for (int l = 0; l < BP_LOSS_COUNT; l++)
                /* (Not bce above log_softmax layers: their outputs, of order
                 * -log O, saturate the sigmoid above them, where bce's
                 * curvature, of order 1 / p^3, makes a difference of step
                 * FD_H wrong by more than FD_TOL. log_softmax is checked
                 * under every other loss.) */
                if (!(a == BP_ACT_LOG_SOFTMAX && l == BP_LOSS_BCE))
                    gradcheck(&shapes[s], (bp_act)a, (bp_loss)l, seed++);
}

/* A float32 stack with every activation in its hidden layers, against
 * finite differences of its own loss, computed in float: the loss's
 * rounding is float's (~1e-7 max(1, |L|)), ~1e-5 of a gradient over a step
 * of F32_H, so they are held to a relative F32_TOL above a floor of
 * F32_FLOOR max(1, |L|) (measured: worst 1.6e-3; a wrong derivative shows as
 * a relative error of order 1). Every pre-activation of a kinked layer is
 * kept F32_MARGIN from 0, more than a step of F32_H can move it. The same
 * net in float64, from the same (float) weights, gives the same gradients
 * to float's rounding: the float kernels are the double ones' formulas. */
#define F32_H 1e-2
#define F32_TOL 1e-2
#define F32_FLOOR 1e-2
#define F32_MARGIN 0.05

static double f32_loss(bp_net *net, const double *x, const double *y, int B) {
    bp_err e;
    const double *out = bp_net_forward(net, x, B, &e);
    return out ? bp_loss_forward(out, y, B, bp_net_outputs(net), BP_LOSS_HALF_SE) : NAN;
}

static void f32_stack_case(bp_act act, int B, uint64_t seed) {
    enum { I = 3, H1 = 5, H2 = 4, O = 2, MAXB = 3 };
    static const int sizes[] = {H1, H2, O};
    bp_rng r;
    bp_rng_seed(&r, seed);
    bp_err e;
    double x[MAXB * I], y[MAXB * O];
    bp_net *net[2] = {NULL, NULL};
    int fit = 0;
    for (int tries = 0; tries < 500 && !fit; tries++) {
        bp_net_free(net[1]);
        net[1] = bp_net_new_dtype(I, BP_F32, &e);
        for (int l = 1; l <= 3; l++) {
            CHECK(bp_net_add(net[1], sizes[l - 1], l == 3 ? BP_ACT_IDENTITY : act, 0.1,
                             &e) == 0);
            CHECK(bp_net_init(net[1], l, 'w', BP_INIT_XAVIER, 0, 0, &r, &e) == 0);
            CHECK(bp_net_init(net[1], l, 'b', BP_INIT_UNIFORM, -0.5, 0.5, &r, &e) == 0);
        }
        for (int k = 0; k < B * I; k++) x[k] = 2 * bp_rng_uniform(&r) - 1;
        CHECK(bp_net_forward(net[1], x, B, &e) != NULL);
        fit = fit_for_differences(net[1], F32_MARGIN);
    }
    CHECK(fit);
    for (int k = 0; k < B * O; k++) y[k] = 2 * bp_rng_uniform(&r) - 1;
    size_t P = bp_net_param_count(net[1]);
    double *p = malloc(sizeof(double) * P), *g[2];
    bp_net_params_get(net[1], p);
    net[0] = bp_net_new(I, &e);
    for (int l = 1; l <= 3; l++)
        CHECK(bp_net_add(net[0], sizes[l - 1], l == 3 ? BP_ACT_IDENTITY : act, 0.1, &e) ==
              0);
    bp_net_params_set(net[0], p);
    for (int t = 0; t < 2; t++) {
        double l;
        CHECK(bp_net_compute_grads(net[t], x, y, B, BP_LOSS_HALF_SE, &l, &e) == 0);
        g[t] = malloc(sizeof(double) * P);
        size_t k = 0;
        for (int j = 0; j < 3; j++) {
            const bp_layer *Ly = &net[t]->layers[j];
            for (size_t m = 0; m < (size_t)Ly->O * Ly->I; m++)
                g[t][k++] = bp_layer_get(Ly, BP_FIELD_DW, m);
            for (size_t m = 0; m < (size_t)Ly->O; m++)
                g[t][k++] = bp_layer_get(Ly, BP_FIELD_DB, m);
        }
    }
    fd_stats st = {0, 0, 0, 0, 0, 0};
    st.floor = F32_FLOOR * fmax(1, fabs(f32_loss(net[1], x, y, B)));
    double worst64 = 0;
    for (size_t k = 0; k < P; k++) {
        /* the step actually taken is between the two floats */
        double saved = p[k], up = (float)(saved + F32_H), down = (float)(saved - F32_H);
        p[k] = up;
        bp_net_params_set(net[1], p);
        double lp = f32_loss(net[1], x, y, B);
        p[k] = down;
        bp_net_params_set(net[1], p);
        double lm = f32_loss(net[1], x, y, B);
        p[k] = saved;
        fd_note(&st, g[1][k], (lp - lm) / (up - down));
        worst64 = fmax(worst64, rel_err(g[1][k], g[0][k], st.floor));
    }
    CHECK(st.nonzero > st.compared / 2);
    if (!(st.worst < F32_TOL && worst64 < 1e-5))
        fprintf(stderr,
                "float32 stack act=%s B=%d: relative error %.3g (analytic %.9g, numeric "
                "%.9g), against float64 %.3g\n",
                bp_act_name(act), B, st.worst, st.worst_a, st.worst_n, worst64);
    if (getenv("BP_VERBOSE"))
        printf("float32 stack act=%s B=%d: differences %.3g, float64 %.3g\n",
               bp_act_name(act), B, st.worst, worst64);
    CHECK(st.worst < F32_TOL);
    CHECK(worst64 < 1e-5);
    free(p), free(g[0]), free(g[1]);
    bp_net_free(net[0]);
    bp_net_free(net[1]);
}

/* The fused float32 layer (forward, then backward with a step) against the
 * float32 reference kernels it replaces, for every activation: the same
 * sums in the same order on the plain-loop path (B = 1 and 3 here), so the
 * same bits. (test_net.c's test_fused_kernels does this in float64.) */
static int same_floats(const float *a, const float *b, size_t n) {
    for (size_t k = 0; k < n; k++) /* == : a stored -0 is an added-to +0 */
        if (!(a[k] == b[k])) return 0;
    return 1;
}

static void f32_fused_case(bp_act act, int B, bp_rng *r) {
    enum { I = 6, O = 5, MAXB = 3 };
    float x[MAXB * I], W[O * I], b[O], dout[MAXB * O];
    for (int k = 0; k < B * I; k++) x[k] = (float)(2 * bp_rng_uniform(r) - 1);
    for (int k = 0; k < O * I; k++) W[k] = (float)(bp_rng_uniform(r) - 0.5);
    for (int k = 0; k < O; k++) b[k] = (float)(bp_rng_uniform(r) - 0.5);
    for (int k = 0; k < B * O; k++) dout[k] = (float)(2 * bp_rng_uniform(r) - 1);
    float h1[MAXB * O], o1[MAXB * O], h2[MAXB * O], o2[MAXB * O];
    bp_layer_forward_f32(h1, o1, x, W, b, B, I, O, act, 0.1);
    bp_dense_forward_f32(h2, x, W, b, B, I, O);
    bp_act_forward_f32(o2, h2, B, O, act, 0.1);
    CHECK(same_floats(h1, h2, (size_t)B * O));
    CHECK(same_floats(o1, o2, (size_t)B * O));
    float dh1[MAXB * O], dW1[O * I], db1[O], dx1[MAXB * I], Wc[O * I], bc[O];
    float dh2[MAXB * O] = {0}, dW2[O * I] = {0}, db2[O] = {0}, dx2[MAXB * I] = {0};
    memcpy(Wc, W, sizeof W);
    memcpy(bc, b, sizeof b);
    bp_layer_backward_f32(dx1, dW1, db1, dh1, dout, h1, o1, x, Wc, bc, B, I, O, act, 0.1,
                          0, 0.5);
    bp_act_backward_f32(dh2, dout, h2, o2, B, O, act, 0.1);
    bp_dense_backward_f32(dx2, dW2, db2, dh2, x, W, B, I, O);
    CHECK(same_floats(dh1, dh2, (size_t)B * O));
    CHECK(same_floats(dW1, dW2, sizeof dW1 / sizeof(float)));
    CHECK(same_floats(db1, db2, sizeof db1 / sizeof(float)));
    CHECK(same_floats(dx1, dx2, (size_t)B * I));
    bp_sgd_update_f32(W, dW2, (size_t)O * I, 0.5);
    bp_sgd_update_f32(b, db2, O, 0.5);
    CHECK(same_floats(Wc, W, sizeof W / sizeof(float)));
    CHECK(same_floats(bc, b, sizeof b / sizeof(float)));
}

static void test_float32_stacks(void) {
    bp_rng r;
    bp_rng_seed(&r, 41);
    for (int a = 0; a < BP_ACT_COUNT; a++)
        for (int B = 1; B <= 3; B += 2) {
            f32_stack_case((bp_act)a, B, 500 + 10 * (uint64_t)a + (uint64_t)B);
            f32_fused_case((bp_act)a, B, &r);
        }
}

/* The loss gradients on their own, with targets no network would meet:
 * softmax_ce's y need not sum to 1 (its gradient is softmax * sum(y) - y). */
static void test_loss_gradients(void) {
    enum { B = 3, O = 4 };
    bp_rng r;
    bp_rng_seed(&r, 77);
    for (int l = 0; l < BP_LOSS_COUNT; l++) {
        double out[B * O], y[B * O], d[B * O];
        for (int k = 0; k < B * O; k++) {
            out[k] = l == BP_LOSS_BCE ? 0.05 + 0.9 * bp_rng_uniform(&r)
                                      : 6 * bp_rng_uniform(&r) - 3;
            y[k] = l == BP_LOSS_BCE ? bp_rng_uniform(&r) : 4 * bp_rng_uniform(&r) - 2;
        }
        if (l == BP_LOSS_SOFTMAX_CE)
            for (int k = 0; k < B * O; k++) y[k] = fabs(y[k]);
        for (int k = 0; k < B * O; k++) d[k] = 0.5; /* backward adds */
        bp_loss_backward(d, out, y, B, O, (bp_loss)l);
        double worst = 0;
        for (int k = 0; k < B * O; k++) {
            double saved = out[k], up = saved + FD_H, down = saved - FD_H;
            out[k] = up;
            double lp = bp_loss_forward(out, y, B, O, (bp_loss)l);
            out[k] = down;
            double lm = bp_loss_forward(out, y, B, O, (bp_loss)l);
            out[k] = saved;
            worst = fmax(worst, rel_err(d[k] - 0.5, (lp - lm) / (up - down), FD_FLOOR));
        }
        CHECK(worst < FD_TOL);
    }
}

/* ------------------------------------------------------------------------ */
/* The dense layer against naive loops                                       */

/* h = x W^T + b, with mag the same sums of absolute values: the scale that
 * any order of summation may round against. */
static void naive_forward(double *h, double *mag, const double *x, const double *W,
                          const double *b, int B, int I, int O) {
    for (int s = 0; s < B; s++)
        for (int n = 0; n < O; n++) {
            double acc = b[n], m = fabs(b[n]);
            for (int i = 0; i < I; i++) {
                acc += W[n * I + i] * x[s * I + i];
                m += fabs(W[n * I + i] * x[s * I + i]);
            }
            h[s * O + n] = acc;
            mag[s * O + n] = m;
        }
}

/* dW += dh^T x, db += sums of dh over the batch, dx += dh W, each with its
 * mag likewise (the starting value counts). */
static void naive_backward(double *dx, double *dxm, double *dW, double *dWm, double *db,
                           double *dbm, const double *dh, const double *x,
                           const double *W, int B, int I, int O) {
    for (int n = 0; n < O; n++) {
        for (int i = 0; i < I; i++) {
            double acc = dW[n * I + i], m = fabs(acc);
            for (int s = 0; s < B; s++) {
                acc += dh[s * O + n] * x[s * I + i];
                m += fabs(dh[s * O + n] * x[s * I + i]);
            }
            dW[n * I + i] = acc;
            dWm[n * I + i] = m;
        }
        double acc = db[n], m = fabs(acc);
        for (int s = 0; s < B; s++) {
            acc += dh[s * O + n];
            m += fabs(dh[s * O + n]);
        }
        db[n] = acc;
        dbm[n] = m;
    }
    for (int s = 0; s < B; s++)
        for (int i = 0; i < I; i++) {
            double acc = dx[s * I + i], m = fabs(acc);
            for (int n = 0; n < O; n++) {
                acc += dh[s * O + n] * W[n * I + i];
                m += fabs(dh[s * O + n] * W[n * I + i]);
            }
            dx[s * I + i] = acc;
            dxm[s * I + i] = m;
        }
}

/* Largest |got - want| / mag over n entries (0 when they agree exactly). */
static double worst_scaled(const double *got, const double *want, const double *mag,
                           size_t n) {
    double w = 0;
    for (size_t k = 0; k < n; k++) {
        double d = fabs(got[k] - want[k]);
        double r = d == 0 ? 0 : d / mag[k];
        if (!(r <= w)) w = r;
    }
    return w;
}

static void fill(double *v, size_t n, double lo, double hi, bp_rng *r) {
    for (size_t k = 0; k < n; k++) v[k] = lo + (hi - lo) * bp_rng_uniform(r);
}

static double *alloc_fill(size_t n, double lo, double hi, bp_rng *r) {
    double *v = malloc(sizeof(double) * n);
    fill(v, n, lo, hi, r);
    return v;
}

static void dense_case(int B, int I, int O, bp_rng *r) {
    size_t nx = (size_t)B * I, nh = (size_t)B * O, nw = (size_t)O * I;
    double *x = alloc_fill(nx, -1, 1, r), *W = alloc_fill(nw, -1, 1, r);
    double *b = alloc_fill(O, -1, 1, r), *dh = alloc_fill(nh, -1, 1, r);

    /* Forward overwrites h: NaN left behind by an accumulation would show. */
    double *h = malloc(sizeof(double) * nh), *h_ref = malloc(sizeof(double) * nh);
    double *mag = malloc(sizeof(double) * nh);
    for (size_t k = 0; k < nh; k++) h[k] = NAN;
    bp_dense_forward(h, x, W, b, B, I, O);
    naive_forward(h_ref, mag, x, W, b, B, I, O);
    CHECK(worst_scaled(h, h_ref, mag, nh) < 1e-12);

    /* The naive gradients from zero, with their scales. */
    double *dW_ref = calloc(nw, sizeof(double)), *dWm = malloc(sizeof(double) * nw);
    double *db_ref = calloc(O, sizeof(double)), *dbm = malloc(sizeof(double) * O);
    double *dx_ref = calloc(nx, sizeof(double)), *dxm = malloc(sizeof(double) * nx);
    naive_backward(dx_ref, dxm, dW_ref, dWm, db_ref, dbm, dh, x, W, B, I, O);

    /* Backward adds into non-zero gradients: pre-filled with values far from
     * the contributions, the result is pre-fill + contribution. */
    double *dW = alloc_fill(nw, 2, 3, r), *db = alloc_fill(O, -3, -2, r);
    double *dx = alloc_fill(nx, 5, 6, r);
    double *dW0 = malloc(sizeof(double) * nw), *db0 = malloc(sizeof(double) * O);
    double *dx0 = malloc(sizeof(double) * nx);
    memcpy(dW0, dW, sizeof(double) * nw);
    memcpy(db0, db, sizeof(double) * O);
    memcpy(dx0, dx, sizeof(double) * nx);
    bp_dense_backward(dx, dW, db, dh, x, W, B, I, O);
    for (size_t k = 0; k < nw; k++) dW[k] -= dW0[k];
    for (int k = 0; k < O; k++) db[k] -= db0[k];
    for (size_t k = 0; k < nx; k++) dx[k] -= dx0[k];
    /* Subtracting the pre-fill back costs a rounding of its size (< 6). */
    for (size_t k = 0; k < nw; k++) dWm[k] += 3;
    for (int k = 0; k < O; k++) dbm[k] += 3;
    for (size_t k = 0; k < nx; k++) dxm[k] += 6;
    CHECK(worst_scaled(dW, dW_ref, dWm, nw) < 1e-12);
    CHECK(worst_scaled(db, db_ref, dbm, O) < 1e-12);
    CHECK(worst_scaled(dx, dx_ref, dxm, nx) < 1e-12);
    for (size_t k = 0; k < nw; k++) dWm[k] -= 3;
    for (int k = 0; k < O; k++) dbm[k] -= 3;

    /* dx NULL: the same dW and db; twice on zeros: twice the contribution. */
    double *dW2 = calloc(nw, sizeof(double)), *db2 = calloc(O, sizeof(double));
    bp_dense_backward(NULL, dW2, db2, dh, x, W, B, I, O);
    CHECK(worst_scaled(dW2, dW_ref, dWm, nw) < 1e-12);
    CHECK(worst_scaled(db2, db_ref, dbm, O) < 1e-12);
    bp_dense_backward(NULL, dW2, db2, dh, x, W, B, I, O);
    for (size_t k = 0; k < nw; k++) dW_ref[k] *= 2, dWm[k] *= 2;
    for (int k = 0; k < O; k++) db_ref[k] *= 2, dbm[k] *= 2;
    CHECK(worst_scaled(dW2, dW_ref, dWm, nw) < 1e-12);
    CHECK(worst_scaled(db2, db_ref, dbm, O) < 1e-12);

    /* add 0 (bp_dense_backward_to): dx overwritten over NaN, the naive dx. */
    for (size_t k = 0; k < nx; k++) dx[k] = NAN;
    bp_dense_backward_to(dx, NULL, NULL, dh, x, W, B, I, O, 0);
    CHECK(worst_scaled(dx, dx_ref, dxm, nx) < 1e-12);

    double *all[] = {x,      W,   b,  dh, h,  h_ref, mag, dW_ref, dWm, db_ref, dbm,
                     dx_ref, dxm, dW, db, dx, dW0,   db0, dx0,    dW2, db2};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) free(all[k]);
}

/* Dropout's float32 blocks (ops_fast.h) against the reference
 * (ops_ref.h), bit for bit: from one generator state, the same mask, the
 * same y and the same state after, for lengths around the block of 256
 * and p = 0, 0.25, 0.5, 1; x and dy with -0.0, NaN and infinities, dx
 * starting at -0.0 where dropped. And the keep rate at p = 0.25 over
 * 100,000 values within 5 standard errors of 0.75 (seeds fixed). */
static void test_dropout_fast_matches_ref(void) {
    enum { N = 1000 };
    static float x[N], y0[N], y1[N], dy[N], dx0[N], dx1[N];
    static uint8_t k0[N], k1[N];
    const float special[] = {-0.0f, NAN, INFINITY, -INFINITY, 0.0f};
    for (int k = 0; k < N; k++) {
        x[k] = k % 97 == 3 ? special[(k / 97) % 5] : (float)sin(k) * 3;
        dy[k] = k % 89 == 5 ? special[(k / 89) % 5] : (float)cos(k);
    }
    const size_t sizes[] = {1, 7, 255, 256, 257, 1000};
    const double ps[] = {0, 0.25, 0.5, 1};
    int same = 1;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        for (size_t j = 0; j < sizeof ps / sizeof *ps; j++) {
            size_t n = sizes[i];
            bp_rng a, b;
            bp_rng_seed(&a, 11 + i);
            b = a;
            bp_dropout_forward_f32(y0, k0, x, n, ps[j], &a);
            bp_dropout_forward_fast_f32(y1, k1, x, n, ps[j], &b);
            same &= !memcmp(y0, y1, sizeof(float) * n) && !memcmp(k0, k1, n) &&
                    !memcmp(&a, &b, sizeof a);
            for (size_t k = 0; k < n; k++) dx0[k] = dx1[k] = k % 3 ? (float)k : -0.0f;
            bp_dropout_backward_f32(dx0, dy, k0, n, ps[j]);
            bp_dropout_backward_fast_f32(dx1, dy, k1, n, ps[j]);
            same &= !memcmp(dx0, dx1, sizeof(float) * n);
        }
    CHECK(same);
    enum { M = 100000 };
    float *big = calloc(M, sizeof(float)), *out = malloc(sizeof(float) * M);
    uint8_t *keep = malloc(M);
    bp_rng r;
    bp_rng_seed(&r, 3);
    bp_dropout_forward_fast_f32(out, keep, big, M, 0.25, &r);
    size_t kept = 0;
    for (size_t k = 0; k < M; k++) kept += keep[k];
    CHECK(fabs((double)kept / M - 0.75) <= 5 * sqrt(0.75 * 0.25 / M));
    free(big);
    free(out);
    free(keep);
}

static void test_dense_reference(void) {
    bp_rng r;
    bp_rng_seed(&r, 5);
    /* Plain loops below BP_BLAS_MIN_WORK (4096) multiply-adds, OpenBLAS
     * from it: 1, 24 and 5*9*91 = 4095 one side, 16*16*16 = 4096,
     * 16*32*8 = 4096, 16*32*16, 7*33*29 (odd sizes) and 1*64*100 (one
     * sample) the other. */
    static const int cases[][3] = {{1, 1, 1},   {2, 3, 4},    {5, 9, 91},  {16, 16, 16},
                                   {16, 32, 8}, {16, 32, 16}, {7, 33, 29}, {1, 64, 100}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        dense_case(cases[c][0], cases[c][1], cases[c][2], &r);
}

/* ------------------------------------------------------------------------ */
/* Losses by hand                                                            */

static void test_losses(void) {
    /* The lecture: out 1.106, y 3: (3 - 1.106)^2 / 2 = 1.894^2 / 2
     * = 3.587236 / 2 = 1.793618; dLoss/dout = -(3 - 1.106) = -1.894. */
    double out1[1] = {1.106}, y1[1] = {3}, d1[1] = {0};
    CHECK_NEAR(bp_loss_forward(out1, y1, 1, 1, BP_LOSS_HALF_SE), 1.793618, 1e-12);
    bp_loss_backward(d1, out1, y1, 1, 1, BP_LOSS_HALF_SE);
    CHECK_NEAR(d1[0], -1.894, 1e-12);
    /* half_se sums over outputs: (1, 2) against (0, 4): (1 + 4) / 2 = 2.5. */
    double out2[2] = {1, 2}, y2[2] = {0, 4};
    CHECK(bp_loss_forward(out2, y2, 1, 2, BP_LOSS_HALF_SE) == 2.5);

    /* mse: the mean over outputs, then over samples.
     * Sample 1: out (1, 2), y (0, 4): (1 + 4) / 2 = 2.5.
     * Sample 2: out (3, 3), y (3, 1): (0 + 4) / 2 = 2.    Batch: 2.25.
     * dLoss/dout = -2 (y - out) / (B O) = -(y - out) / 2:
     * (0.5, -1) and (0, 1). */
    double out3[4] = {1, 2, 3, 3}, y3[4] = {0, 4, 3, 1};
    CHECK(bp_loss_forward(out3, y3, 1, 2, BP_LOSS_MSE) == 2.5);
    CHECK(bp_loss_forward(out3, y3, 2, 2, BP_LOSS_MSE) == 2.25);
    double d3[4] = {0, 0, 0, 0};
    bp_loss_backward(d3, out3, y3, 2, 2, BP_LOSS_MSE);
    CHECK(d3[0] == 0.5 && d3[1] == -1 && d3[2] == 0 && d3[3] == 1);

    /* bce: p (0.8, 0.25), y (1, 0): (-ln 0.8 - ln 0.75) / 2 = -ln(0.6) / 2
     * = 0.2554128118829953. dLoss/dp = (p - y) / (p (1 - p)) / O:
     * -0.2 / 0.16 / 2 = -0.625 and 0.25 / 0.1875 / 2 = 2/3. */
    double p4[2] = {0.8, 0.25}, y4[2] = {1, 0}, d4[2] = {0, 0};
    CHECK_NEAR(bp_loss_forward(p4, y4, 1, 2, BP_LOSS_BCE), -log(0.6) / 2, 1e-15);
    CHECK_NEAR(bp_loss_forward(p4, y4, 1, 2, BP_LOSS_BCE), 0.2554128118829953, 1e-15);
    bp_loss_backward(d4, p4, y4, 1, 2, BP_LOSS_BCE);
    CHECK_NEAR(d4[0], -0.625, 1e-15);
    CHECK_NEAR(d4[1], 2.0 / 3, 1e-15);
    /* A soft target: p 0.5, y 0.3: -(0.3 + 0.7) ln 0.5 = ln 2; gradient
     * 0.2 / 0.25 = 0.8. */
    double p5[1] = {0.5}, y5[1] = {0.3}, d5[1] = {0};
    CHECK_NEAR(bp_loss_forward(p5, y5, 1, 1, BP_LOSS_BCE), log(2.0), 1e-15);
    bp_loss_backward(d5, p5, y5, 1, 1, BP_LOSS_BCE);
    CHECK_NEAR(d5[0], 0.8, 1e-15);
    /* A saturated p is clamped to 1e-12 from the ends, not sent to log(0):
     * p 0 against y 1 costs -ln(1e-12) = 27.631021115928547. */
    double p6[2] = {0, 1}, y6[2] = {1, 1}, d6[2] = {0, 0};
    CHECK_NEAR(bp_loss_forward(p6, y6, 1, 1, BP_LOSS_BCE), 27.631021115928547, 1e-9);
    CHECK(isfinite(bp_loss_forward(p6, y6, 1, 2, BP_LOSS_BCE)));
    CHECK(bp_loss_forward(p6 + 1, y6 + 1, 1, 1, BP_LOSS_BCE) < 1e-11);
    bp_loss_backward(d6, p6, y6, 1, 2, BP_LOSS_BCE);
    CHECK(isfinite(d6[0]) && isfinite(d6[1]));

    /* softmax_ce on logits (1, 2, 3) against class 3:
     * ln(e + e^2 + e^3) - 3 = ln(1 + e^-1 + e^-2) = 0.4076059644443803;
     * gradient softmax - y = (0.0900306, 0.2447285, 0.6652410 - 1). */
    const double lse3 = log1p(exp(-1.0) + exp(-2.0));
    const double sm[3] = {exp(-2.0 - lse3), exp(-1.0 - lse3), exp(-lse3)};
    CHECK_NEAR(lse3, 0.4076059644443803, 1e-15);
    CHECK_NEAR(sm[0], 0.09003057317038046, 1e-15);
    CHECK_NEAR(sm[1], 0.24472847105479764, 1e-15);
    CHECK_NEAR(sm[2], 0.6652409557748219, 1e-15);
    double z7[3] = {1, 2, 3}, y7[3] = {0, 0, 1}, d7[3] = {0, 0, 0};
    CHECK_NEAR(bp_loss_forward(z7, y7, 1, 3, BP_LOSS_SOFTMAX_CE), lse3, 1e-15);
    bp_loss_backward(d7, z7, y7, 1, 3, BP_LOSS_SOFTMAX_CE);
    CHECK_NEAR(d7[0], sm[0], 1e-15);
    CHECK_NEAR(d7[1], sm[1], 1e-15);
    CHECK_NEAR(d7[2], sm[2] - 1, 1e-15);
    /* Uniform logits: ln 3 whatever the class. */
    double z8[3] = {0.5, 0.5, 0.5}, y8[3] = {0, 1, 0};
    CHECK_NEAR(bp_loss_forward(z8, y8, 1, 3, BP_LOSS_SOFTMAX_CE), log(3.0), 1e-15);

    /* Huge logits, where exp overflows (e^1000 = inf): shifting by the
     * largest leaves the same numbers as above.
     * (1000, 1001, 999) against class 2 = (0, 1, -1) + 1000 against the
     * largest: ln(1 + e^-1 + e^-2) again, gradient (sm1, sm2 - 1, sm0). */
    CHECK(isinf(exp(1000.0))); /* so a naive exp would fail here */
    /* The gradient is exp(z - lse): lse near 1001 is only known to its ulp,
     * 1.1e-13, and so is the gradient (found 3e-14 off here). */
    double z9[3] = {1000, 1001, 999}, y9[3] = {0, 1, 0}, d9[3] = {0, 0, 0};
    CHECK_NEAR(bp_loss_forward(z9, y9, 1, 3, BP_LOSS_SOFTMAX_CE), lse3, 1e-12);
    bp_loss_backward(d9, z9, y9, 1, 3, BP_LOSS_SOFTMAX_CE);
    CHECK_NEAR(d9[0], sm[1], 2e-13);
    CHECK_NEAR(d9[1], sm[2] - 1, 2e-13);
    CHECK_NEAR(d9[2], sm[0], 2e-13);
    /* (-1000, -1001, -999) against class 1: logits (-1, -2, 0) shifted,
     * 1 + ln(1 + e^-1 + e^-2) = 1.4076059644443803. Here naive exps all
     * underflow to 0 and the loss would be ln 0. */
    double z10[3] = {-1000, -1001, -999}, y10[3] = {1, 0, 0}, d10[3] = {0, 0, 0};
    CHECK_NEAR(bp_loss_forward(z10, y10, 1, 3, BP_LOSS_SOFTMAX_CE), 1 + lse3, 1e-12);
    bp_loss_backward(d10, z10, y10, 1, 3, BP_LOSS_SOFTMAX_CE);
    CHECK_NEAR(d10[0], sm[1] - 1, 2e-13);
    CHECK_NEAR(d10[1], sm[0], 2e-13);
    CHECK_NEAR(d10[2], sm[2], 2e-13);
    /* (1000, -1000, 0) against class 2: softmax is (1, 0, 0) to double
     * precision, the loss 1000 - (-1000) = 2000, the gradient (1, -1, 0). */
    double z11[3] = {1000, -1000, 0}, y11[3] = {0, 1, 0}, d11[3] = {0, 0, 0};
    CHECK(bp_loss_forward(z11, y11, 1, 3, BP_LOSS_SOFTMAX_CE) == 2000);
    bp_loss_backward(d11, z11, y11, 1, 3, BP_LOSS_SOFTMAX_CE);
    CHECK(d11[0] == 1 && d11[1] == -1 && d11[2] == 0);

    /* The batch loss is the mean: two copies of a sample cost what one does,
     * and each copy's gradient is half the single one's. Two different
     * samples cost the average of their losses. */
    double z12[6] = {1, 2, 3, 1, 2, 3}, y12[6] = {0.2, 0.3, 0.5, 0.2, 0.3, 0.5};
    for (int l = 0; l < BP_LOSS_COUNT; l++) {
        double zz[6], one[3] = {0, 0, 0}, two[6] = {0, 0, 0, 0, 0, 0};
        for (int k = 0; k < 6; k++) zz[k] = l == BP_LOSS_BCE ? z12[k] / 4 : z12[k];
        double l1 = bp_loss_forward(zz, y12, 1, 3, (bp_loss)l);
        CHECK_NEAR(bp_loss_forward(zz, y12, 2, 3, (bp_loss)l), l1, 1e-15 * fabs(l1));
        bp_loss_backward(one, zz, y12, 1, 3, (bp_loss)l);
        bp_loss_backward(two, zz, y12, 2, 3, (bp_loss)l);
        for (int k = 0; k < 6; k++) CHECK_NEAR(two[k], one[k % 3] / 2, 1e-16);
    }
    double y13[6] = {0, 0, 1, 0, 1, 0};
    double la = bp_loss_forward(z7, y13, 1, 3, BP_LOSS_SOFTMAX_CE);
    double lb = bp_loss_forward(z7, y13 + 3, 1, 3, BP_LOSS_SOFTMAX_CE);
    double z13[6] = {1, 2, 3, 1, 2, 3};
    CHECK_NEAR(bp_loss_forward(z13, y13, 2, 3, BP_LOSS_SOFTMAX_CE), (la + lb) / 2, 1e-15);
    CHECK_NEAR(lb, 1 + lse3, 1e-15); /* class 2: ln(...) + 3 - 2 */
}

/* nll, l1 and huber by hand; class labels against their one-hot rows;
 * what bp_crit_check refuses. */
static void test_criteria(void) {
    /* nll of log-probabilities: row 1's class 2, row 2's class 3:
     * (1.2 + 0.25) / 2; the gradient -1/B at each class. */
    double lp[6] = {-0.5, -1.2, -2.0, -0.1, -3, -0.25}, hot[6] = {0, 1, 0, 0, 0, 1};
    double cls[2] = {2, 3}, d[6] = {0}, dl[6] = {0};
    bp_crit nll = {.loss = BP_LOSS_NLL, .labels = 1};
    CHECK(bp_loss_forward(lp, hot, 2, 3, BP_LOSS_NLL) == (1.2 + 0.25) / 2);
    CHECK(bp_loss_forward_crit(lp, cls, 2, 3, nll) == (1.2 + 0.25) / 2);
    bp_loss_backward(d, lp, hot, 2, 3, BP_LOSS_NLL);
    bp_loss_backward_crit(dl, lp, cls, 2, 3, nll);
    double want[6] = {0, -0.5, 0, 0, 0, -0.5};
    for (int k = 0; k < 6; k++) CHECK(d[k] == want[k] && dl[k] == want[k]);
    /* soft targets: -(0.2 (-0.5) + 0.3 (-1.2) + 0.5 (-2)) = 1.46 */
    double soft[3] = {0.2, 0.3, 0.5};
    CHECK_NEAR(bp_loss_forward(lp, soft, 1, 3, BP_LOSS_NLL), 1.46, 1e-15);
    /* PyTorch's NLLLoss reads only the class: an output of -inf elsewhere
     * leaves a label's loss finite (its one-hot row's would be nan). */
    double inf_lp[3] = {-INFINITY, -0.7, -1}, c2 = 2;
    CHECK(bp_loss_forward_crit(inf_lp, &c2, 1, 3, nll) == 0.7);

    /* l1: the mean of |out - y| over B x O, gradient sign(out - y) / (B O),
     * 0 where they are equal. */
    double o1[3] = {1, -2, 0.5}, y1[3] = {0.5, 1, 0.5}, g1[3] = {0, 0, 0};
    CHECK(bp_loss_forward(o1, y1, 1, 3, BP_LOSS_L1) == 3.5 / 3);
    bp_loss_backward(g1, o1, y1, 1, 3, BP_LOSS_L1);
    CHECK(g1[0] == 1.0 / 3 && g1[1] == -1.0 / 3 && g1[2] == 0);

    /* huber, delta 1 (the default) and 0.5: differences 0.5, -3, 0, 1;
     * 0.5 d^2 within delta, delta (|d| - delta / 2) beyond, both equal at
     * |d| = delta; the gradient d clamped to [-delta, delta], over B O. */
    double o2[4] = {1, -2, 0.5, 3}, y2[4] = {0.5, 1, 0.5, 2}, g2[4] = {0}, g3[4] = {0};
    bp_crit h1 = bp_crit_of(BP_LOSS_HUBER), h05 = {.loss = BP_LOSS_HUBER, .param = 0.5};
    CHECK(bp_crit_param(&h1) == 1.0 && bp_crit_param(&h05) == 0.5);
    CHECK(bp_loss_forward(o2, y2, 1, 4, BP_LOSS_HUBER) == (0.125 + 2.5 + 0 + 0.5) / 4);
    CHECK(bp_loss_forward_crit(o2, y2, 1, 4, h05) == (0.125 + 1.375 + 0 + 0.375) / 4);
    bp_loss_backward(g2, o2, y2, 1, 4, BP_LOSS_HUBER);
    bp_loss_backward_crit(g3, o2, y2, 1, 4, h05);
    double w1[4] = {0.125, -0.25, 0, 0.25}, w05[4] = {0.125, -0.125, 0, 0.125};
    for (int k = 0; k < 4; k++) CHECK(g2[k] == w1[k] && g3[k] == w05[k]);
    /* and its gradient is the loss's, by differences, for delta 0.5 */
    double o3[8], y3[8], g[8];
    bp_rng r;
    bp_rng_seed(&r, 5);
    for (int k = 0; k < 8; k++) o3[k] = 4 * bp_rng_uniform(&r) - 2, y3[k] = 0;
    memset(g, 0, sizeof g);
    bp_loss_backward_crit(g, o3, y3, 2, 4, h05);
    for (int k = 0; k < 8; k++) {
        double saved = o3[k];
        o3[k] = saved + FD_H;
        double lp1 = bp_loss_forward_crit(o3, y3, 2, 4, h05);
        o3[k] = saved - FD_H;
        double lm1 = bp_loss_forward_crit(o3, y3, 2, 4, h05);
        o3[k] = saved;
        CHECK(rel_err(g[k], (lp1 - lm1) / (2 * FD_H), FD_FLOOR) < FD_TOL);
    }

    /* softmax_ce of class 3 is lse - z_3, as its one-hot row's. */
    double z[3] = {1, 2, 3}, c3 = 3, lse3 = log(exp(1) + exp(2) + exp(3));
    bp_crit ce = {.loss = BP_LOSS_SOFTMAX_CE, .labels = 1};
    CHECK_NEAR(bp_loss_forward_crit(z, &c3, 1, 3, ce), lse3 - 3, 1e-15);

    /* Labels are their one-hot rows to the bit, in every kernel and both
     * dtypes, for both losses that take them. */
    enum { B = 9, O = 5 };
    double out[B * O], y[B * O], lab[B], da[B * O], db[B * O], rl[B];
    float outf[B * O], yf[B * O], labf[B], fa[B * O], fb[B * O];
    for (int l = BP_LOSS_SOFTMAX_CE; l <= BP_LOSS_NLL; l++) {
        bp_crit c = {.loss = (bp_loss)l, .labels = 1};
        for (int k = 0; k < B * O; k++) out[k] = 6 * bp_rng_uniform(&r) - 5, y[k] = 0;
        for (int s = 0; s < B; s++) {
            lab[s] = 1 + (double)bp_rng_below(&r, O);
            y[s * O + (int)lab[s] - 1] = 1;
        }
        for (int k = 0; k < B * O; k++) outf[k] = (float)out[k], yf[k] = (float)y[k];
        for (int s = 0; s < B; s++) labf[s] = (float)lab[s];
        CHECK(bp_crit_check(&c, lab, B, O, NULL) == 0);
        double a = bp_loss_forward(out, y, B, O, (bp_loss)l);
        double b = bp_loss_forward_crit(out, lab, B, O, c);
        CHECK(memcmp(&a, &b, sizeof a) == 0);
        memset(da, 0, sizeof da), memset(db, 0, sizeof db);
        bp_loss_backward(da, out, y, B, O, (bp_loss)l);
        bp_loss_backward_crit(db, out, lab, B, O, c);
        CHECK(memcmp(da, db, sizeof da) == 0);
        a = bp_loss_grad(da, out, y, B, O, (bp_loss)l);
        b = bp_loss_grad_crit(db, out, lab, B, O, c);
        CHECK(memcmp(&a, &b, sizeof a) == 0 && memcmp(da, db, sizeof da) == 0);
        bp_loss_grad_rows_crit(db, rl, out, lab, B, B, O, c);
        CHECK(memcmp(da, db, sizeof da) == 0);
        a = bp_loss_grad_f32(fa, outf, yf, B, O, (bp_loss)l);
        b = bp_loss_grad_crit_f32(fb, outf, labf, B, O, c);
        CHECK(memcmp(&a, &b, sizeof a) == 0 && memcmp(fa, fb, sizeof fa) == 0);
        a = bp_loss_forward_f32(outf, yf, B, O, (bp_loss)l);
        b = bp_loss_forward_crit_f32(outf, labf, B, O, c);
        CHECK(memcmp(&a, &b, sizeof a) == 0);
        /* the team's rows: members' rows of labels, one per row */
        bp_loss_grad_rows_crit_f32(fb, rl, outf, labf, 4, B, O, c);
        bp_loss_grad_rows_crit_f32(fb + 4 * O, rl + 4, outf + 4 * O, labf + 4, B - 4, B,
                                   O, c);
        CHECK(memcmp(fa, fb, sizeof fa) == 0);
    }

    /* What bp_crit_check refuses. */
    bp_err e;
    double bad[3] = {1, 3.5, 2};
    CHECK(bp_crit_check(&nll, bad, 3, 3, &e) == -1);
    CHECK_STR(e.msg, "label 3.5 in row 2 is not a class in 1..3");
    bad[1] = 4;
    CHECK(bp_crit_check(&nll, bad, 3, 3, &e) == -1);
    CHECK_STR(e.msg, "label 4 in row 2 is not a class in 1..3");
    bad[1] = -1;
    CHECK(bp_crit_check(&nll, bad, 3, 3, &e) == -1);
    CHECK_STR(e.msg, "label -1 in row 2 is not a class in 1..3");
    bad[1] = 3;
    CHECK(bp_crit_check(&nll, bad, 3, 3, &e) == 0);
    CHECK(bp_crit_check(&nll, NULL, 0, 1, &e) == -1);
    CHECK_STR(e.msg, "class labels need 2 or more outputs (the network gives 1)");
    bp_crit m = {.loss = BP_LOSS_L1, .labels = 1};
    CHECK(bp_crit_check(&m, bad, 3, 4, &e) == -1);
    CHECK_STR(e.msg, "l1 takes no class labels: give 4 targets per row");
    bp_crit h = {.loss = BP_LOSS_HUBER, .param = NAN};
    CHECK(bp_crit_check(&h, NULL, 0, 4, &e) == -1);
    CHECK_STR(e.msg, "huber's delta must be a finite number > 0 (got nan)");
    h.param = -0.5;
    CHECK(bp_crit_check(&h, NULL, 0, 4, &e) == -1);
    CHECK_STR(e.msg, "huber's delta must be a finite number > 0 (got -0.5)");
    bp_crit u = {.loss = BP_LOSS_COUNT};
    CHECK(bp_crit_check(&u, NULL, 0, 4, &e) == -1);
    CHECK_STR(e.msg, "unknown loss 7");
    /* a parameter given to a loss without one is ignored, as documented */
    bp_crit mp = {.loss = BP_LOSS_MSE, .param = -3};
    CHECK(bp_crit_check(&mp, NULL, 0, 4, &e) == 0);
    CHECK(bp_loss_forward_crit(o2, y2, 1, 4, mp) ==
          bp_loss_forward(o2, y2, 1, 4, BP_LOSS_MSE));
}

/* log_softmax by hand: o = h - lse; dh = d - softmax(h) sum d; finite
 * where softmax underflows. */
static void test_log_softmax(void) {
    double h[3] = {1, 2, 3}, o[3], lse3 = log(exp(1) + exp(2) + exp(3));
    bp_act_forward(o, h, 1, 3, BP_ACT_LOG_SOFTMAX, 0);
    for (int n = 0; n < 3; n++) CHECK_NEAR(o[n], h[n] - lse3, 1e-15);
    double dout[3] = {1, 0, -2}, dh[3] = {0.5, 0.5, 0.5};
    bp_act_backward(dh, dout, h, o, 1, 3, BP_ACT_LOG_SOFTMAX, 0); /* adds */
    for (int n = 0; n < 3; n++)
        CHECK_NEAR(dh[n], 0.5 + dout[n] - exp(h[n] - lse3) * (1 + 0 - 2), 1e-15);
    double big[4] = {1000, 0, -5, 1}, ob[4];
    bp_act_forward(ob, big, 2, 2, BP_ACT_LOG_SOFTMAX, 0);
    CHECK(ob[0] == 0 && ob[1] == -1000);
    CHECK_NEAR(ob[2], -6 - log1p(exp(-6)), 1e-15);
    /* nll after log_softmax is softmax_ce of the logits */
    double c2[2] = {2, 1};
    bp_crit nll = {.loss = BP_LOSS_NLL, .labels = 1};
    bp_crit ce = {.loss = BP_LOSS_SOFTMAX_CE, .labels = 1};
    CHECK_NEAR(bp_loss_forward_crit(ob, c2, 2, 2, nll),
               bp_loss_forward_crit(big, c2, 2, 2, ce), 1e-12);
    float hf[3] = {1, 2, 3}, of[3];
    bp_act_forward_f32(of, hf, 1, 3, BP_ACT_LOG_SOFTMAX, 0);
    for (int n = 0; n < 3; n++) CHECK_NEAR(of[n], o[n], 1e-6);
}

/* ------------------------------------------------------------------------ */
/* Activations by hand                                                       */

static void test_activations(void) {
    /* sigmoid: 1/2 at 0, e^2/(1 + e^2) at 2, its mirror at -2; at +-800
     * exp would overflow one way, and the result is exactly 1 and 0, never
     * NaN; at -40 the small value keeps its digits (e^-40/(1 + e^-40)). */
    double h[8] = {0, 2, -2, 800, -800, -40, 40, -1e308}, o[8], dh[8], d[8];
    bp_act_forward(o, h, 1, 8, BP_ACT_SIGMOID, 0);
    CHECK(o[0] == 0.5);
    CHECK_NEAR(o[1], 0.8807970779778823, 1e-16);
    CHECK_NEAR(o[2], 0.11920292202211755, 1e-16);
    CHECK(o[3] == 1.0 && o[4] == 0.0);
    CHECK_NEAR(o[5], 4.248354255291589e-18, 1e-31);
    CHECK(o[6] == 1.0 && o[7] == 0.0);
    for (int k = 0; k < 8; k++) d[k] = 1, dh[k] = 0;
    bp_act_backward(dh, d, h, o, 1, 8, BP_ACT_SIGMOID, 0);
    CHECK(dh[0] == 0.25);
    CHECK(dh[3] == 0 && dh[4] == 0 && dh[7] == 0); /* saturated: 0, not NaN */

    /* tanh */
    double th[4] = {0, 0.5, -800, 800}, to[4], td[4] = {1, 1, 1, 1},
           tdh[4] = {0, 0, 0, 0};
    bp_act_forward(to, th, 1, 4, BP_ACT_TANH, 0);
    CHECK(to[0] == 0);
    CHECK_NEAR(to[1], 0.46211715726000974, 1e-16);
    CHECK(to[2] == -1 && to[3] == 1);
    bp_act_backward(tdh, td, th, to, 1, 4, BP_ACT_TANH, 0);
    CHECK(tdh[0] == 1);
    CHECK_NEAR(tdh[1], 1 - 0.46211715726000974 * 0.46211715726000974, 1e-16);

    /* relu and leaky_relu (alpha 0.1); backward adds into dh = 10. */
    double rh[4] = {-2, 3, -0.5, 0.25}, ro[4], rd[4] = {1, 1, 2, 2};
    double rdh[4] = {10, 10, 10, 10};
    bp_act_forward(ro, rh, 2, 2, BP_ACT_RELU, 0);
    CHECK(ro[0] == 0 && ro[1] == 3 && ro[2] == 0 && ro[3] == 0.25);
    bp_act_backward(rdh, rd, rh, ro, 2, 2, BP_ACT_RELU, 0);
    CHECK(rdh[0] == 10 && rdh[1] == 11 && rdh[2] == 10 && rdh[3] == 12);
    bp_act_forward(ro, rh, 2, 2, BP_ACT_LEAKY_RELU, 0.1);
    CHECK_NEAR(ro[0], -0.2, 1e-16);
    CHECK(ro[1] == 3);
    CHECK_NEAR(ro[2], -0.05, 1e-16);
    CHECK(ro[3] == 0.25);
    for (int k = 0; k < 4; k++) rdh[k] = 10;
    bp_act_backward(rdh, rd, rh, ro, 2, 2, BP_ACT_LEAKY_RELU, 0.1);
    CHECK_NEAR(rdh[0], 10.1, 1e-14);
    CHECK(rdh[1] == 11);
    CHECK_NEAR(rdh[2], 10.2, 1e-14);
    CHECK(rdh[3] == 12);

    /* identity copies, and its backward adds dout as it is. */
    double ih[3] = {-1.5, 0, 7}, io[3], id[3] = {1, 2, 3}, idh[3] = {1, 1, 1};
    bp_act_forward(io, ih, 1, 3, BP_ACT_IDENTITY, 0);
    CHECK(memcmp(io, ih, sizeof ih) == 0);
    bp_act_backward(idh, id, ih, io, 1, 3, BP_ACT_IDENTITY, 0);
    CHECK(idh[0] == 2 && idh[1] == 3 && idh[2] == 4);

    /* softmax, row by row: (0, ln 3) is (1/4, 3/4); huge and tiny rows are
     * finite and sum to 1; (1000, 1001, 999) equals (1, 2, 0)'s softmax. */
    double sh[3 * 3] = {0, log(3.0), -INFINITY, 1000, 1001, 999, -1000, -1000, -1000};
    double so[9];
    /* First row with O = 2 on its own (the -inf is not part of it). */
    bp_act_forward(so, sh, 1, 2, BP_ACT_SOFTMAX, 0);
    CHECK_NEAR(so[0], 0.25, 1e-16);
    CHECK_NEAR(so[1], 0.75, 1e-16);
    double sd[2] = {1, 0}, sdh[2] = {0, 0};
    /* dh_n = o_n (dout_n - sum_k dout_k o_k): 0.25 * 0.75 and 0.75 * -0.25. */
    bp_act_backward(sdh, sd, sh, so, 1, 2, BP_ACT_SOFTMAX, 0);
    CHECK_NEAR(sdh[0], 0.1875, 1e-16);
    CHECK_NEAR(sdh[1], -0.1875, 1e-16);
    bp_act_forward(so + 3, sh + 3, 2, 3, BP_ACT_SOFTMAX, 0);
    double ref_row[3] = {1, 2, 0}, ref_o[3];
    bp_act_forward(ref_o, ref_row, 1, 3, BP_ACT_SOFTMAX, 0);
    CHECK_NEAR(ref_o[2], exp(-2.0) / (1 + exp(-1.0) + exp(-2.0)), 1e-16);
    for (int s = 1; s < 3; s++) {
        double sum = 0;
        for (int n = 0; n < 3; n++) {
            CHECK(isfinite(so[3 * s + n]));
            sum += so[3 * s + n];
        }
        CHECK_NEAR(sum, 1, 1e-15);
    }
    for (int n = 0; n < 3; n++) CHECK_NEAR(so[3 + n], ref_o[n], 1e-16);
    for (int n = 0; n < 3; n++) CHECK_NEAR(so[6 + n], 1.0 / 3, 1e-16);
    /* Random rows sum to 1 as well. */
    bp_rng r;
    bp_rng_seed(&r, 3);
    double rows[5 * 7], ro7[5 * 7];
    fill(rows, 35, -20, 20, &r);
    bp_act_forward(ro7, rows, 5, 7, BP_ACT_SOFTMAX, 0);
    for (int s = 0; s < 5; s++) {
        double sum = 0;
        for (int n = 0; n < 7; n++) sum += ro7[7 * s + n];
        CHECK_NEAR(sum, 1, 1e-15);
    }
}

/* gelu and elu on values worked out by hand, in both dtypes (float to its
 * rounding). gelu(v) = v Phi(v), gelu'(v) = Phi(v) + v phi(v), with
 * Phi(1) = 0.8413447460685429, phi(1) = 0.24197072451914337 and
 * Phi(2) = 0.9772498680518208: gelu(1) = Phi(1), gelu(-1) = -Phi(-1) =
 * -(1 - Phi(1)), gelu'(1) = Phi(1) + phi(1), gelu'(-1) = Phi(-1) - phi(1).
 * elu(v) = a (e^v - 1) below 0, elu'(v) = a e^v: with a = 1 at -1,
 * e^-1 - 1 and e^-1; with a = 0.5 at -2, 0.5 (e^-2 - 1) and 0.5 e^-2. At
 * -1e-10, where e^v - 1 would lose six digits to cancellation, elu keeps
 * them: -1e-10 + 5e-21. Backward adds into dh = 1 and multiplies by d = 2. */
static void test_gelu_elu(void) {
    static const double gh[5] = {0, 1, -1, 2, -40};
    static const double gf[5] = {0, 0.8413447460685429, -0.15865525393145707,
                                 1.9544997361036416, 0};
    static const double gdf[5] = {0.5, 1.0833154705876864, -0.08331547058768629,
                                  1.085231801078197, 0};
    static const double eh[5] = {-1, 0.75, -2, -1e-10, 0};
    static const double ea[5] = {1, 1, 0.5, 1, 1};
    static const double ef[5] = {-0.6321205588285577, 0.75, -0.43233235838169365,
                                 -9.9999999995e-11, 0};
    static const double edf[5] = {0.36787944117144233, 1, 0.06766764161830635,
                                  0.9999999999, 1};
    for (int t = 0; t < 2; t++) {
        double tol = t ? 2e-7 : 4e-16; /* a few units in the last place */
        for (int k = 0; k < 5; k++) {
            double o, dh = 1, d = 2;
            float of, dhf = 1, df = 2, hf = (float)gh[k];
            if (t) {
                bp_act_forward_f32(&of, &hf, 1, 1, BP_ACT_GELU, 0);
                bp_act_backward_f32(&dhf, &df, &hf, &of, 1, 1, BP_ACT_GELU, 0);
                o = of, dh = dhf;
            } else {
                bp_act_forward(&o, &gh[k], 1, 1, BP_ACT_GELU, 0);
                bp_act_backward(&dh, &d, &gh[k], &o, 1, 1, BP_ACT_GELU, 0);
            }
            CHECK_NEAR(o, gf[k], tol * fmax(1, fabs(gf[k])));
            CHECK_NEAR(dh, 1 + 2 * gdf[k], tol * 4);
            hf = (float)eh[k], dhf = 1;
            if (t) {
                bp_act_forward_f32(&of, &hf, 1, 1, BP_ACT_ELU, ea[k]);
                bp_act_backward_f32(&dhf, &df, &hf, &of, 1, 1, BP_ACT_ELU, ea[k]);
                o = of, dh = dhf;
            } else {
                dh = 1;
                bp_act_forward(&o, &eh[k], 1, 1, BP_ACT_ELU, ea[k]);
                bp_act_backward(&dh, &d, &eh[k], &o, 1, 1, BP_ACT_ELU, ea[k]);
            }
            /* relative to the value: elu's -1e-10 is held to its digits */
            CHECK_NEAR(o, ef[k], tol * fabs(ef[k]));
            CHECK_NEAR(dh, 1 + 2 * edf[k], tol * 4);
        }
    }
    /* gelu at -40 is -0 or a denormal away, never NaN; elu at -800 is -a. */
    double big[2] = {-800, 800}, ob[2];
    bp_act_forward(ob, big, 1, 2, BP_ACT_ELU, 0.5);
    CHECK(ob[0] == -0.5 && ob[1] == 800);
    bp_act_forward(ob, big, 1, 2, BP_ACT_GELU, 0);
    CHECK(ob[0] == 0 && ob[1] == 800);
}

/* ------------------------------------------------------------------------ */
/* Names                                                                     */

static void test_names(void) {
    static const char *acts[] = {"identity", "sigmoid",    "tanh",
                                 "relu",     "leaky_relu", "softmax",
                                 "gelu",     "elu",        "log_softmax"};
    static const char *losses[] = {"half_se", "mse", "bce",  "softmax_ce",
                                   "nll",     "l1",  "huber"};
    CHECK(sizeof acts / sizeof acts[0] == BP_ACT_COUNT);
    CHECK(sizeof losses / sizeof losses[0] == BP_LOSS_COUNT);
    for (int a = 0; a < BP_ACT_COUNT; a++) {
        CHECK_STR(bp_act_name((bp_act)a), acts[a]);
        CHECK(bp_act_parse(acts[a]) == a);
        CHECK(bp_act_parse(bp_act_name((bp_act)a)) == a);
    }
    for (int l = 0; l < BP_LOSS_COUNT; l++) {
        CHECK_STR(bp_loss_name((bp_loss)l), losses[l]);
        CHECK(bp_loss_parse(losses[l]) == l);
        CHECK(bp_loss_parse(bp_loss_name((bp_loss)l)) == l);
    }
    static const char *unknown[] = {"",        "Sigmoid", "relu ",        "leaky",
                                    "GELU",    "selu",    "softmax_ce",   "mse2",
                                    "half-se", "bce\n",   "cross_entropy"};
    for (size_t k = 0; k < sizeof unknown / sizeof unknown[0]; k++) {
        int as_act = bp_act_parse(unknown[k]), as_loss = bp_loss_parse(unknown[k]);
        /* softmax_ce is a loss, not an activation. */
        CHECK(as_act == -1);
        CHECK(as_loss ==
              (strcmp(unknown[k], "softmax_ce") == 0 ? BP_LOSS_SOFTMAX_CE : -1));
    }
    CHECK(bp_loss_parse("sigmoid") == -1);
    /* Appended rows: saved networks store the enum's numbers, so the old
     * ones keep theirs (bp_save.h lists them). */
    CHECK(BP_ACT_SOFTMAX == 5 && BP_ACT_GELU == 6 && BP_ACT_ELU == 7 &&
          BP_ACT_LOG_SOFTMAX == 8);
    CHECK(BP_LOSS_SOFTMAX_CE == 3 && BP_LOSS_NLL == 4 && BP_LOSS_L1 == 5 &&
          BP_LOSS_HUBER == 6);
    CHECK_STR(bp_act_expected(), "identity, sigmoid, tanh, relu, leaky_relu, softmax, "
                                 "gelu, elu or log_softmax");
    CHECK_STR(bp_loss_expected(), "half_se, mse, bce, softmax_ce, nll, l1 or huber");
    /* The rows: which act on a whole row, which take labels, which a
     * parameter. */
    for (int a = 0; a < BP_ACT_COUNT; a++)
        CHECK(bp_act_is_row((bp_act)a) ==
              (a == BP_ACT_SOFTMAX || a == BP_ACT_LOG_SOFTMAX));
    double def = -1;
    for (int l = 0; l < BP_LOSS_COUNT; l++) {
        CHECK(bp_loss_takes_labels((bp_loss)l) ==
              (l == BP_LOSS_SOFTMAX_CE || l == BP_LOSS_NLL));
        CHECK((bp_loss_param((bp_loss)l, &def) != NULL) == (l == BP_LOSS_HUBER));
    }
    CHECK_STR(bp_loss_param(BP_LOSS_HUBER, &def), "delta");
    CHECK(def == 1.0);
    CHECK(!bp_loss_takes_labels(BP_LOSS_COUNT) && !bp_loss_param(BP_LOSS_COUNT, NULL));
    CHECK_STR(bp_act_name(BP_ACT_COUNT), "?");
    CHECK_STR(bp_loss_name(BP_LOSS_COUNT), "?");
}

/* ------------------------------------------------------------------------ */
/* The team's halves against the whole                                       */

/* bp_layer_backward (acc 0, with a step) against its halves run as a team
 * of T would run them, one member after another: backward_rows on each
 * member's rows, then backward_cols on each member's neurons. On the
 * plain-loop path (small layers) every sum is the same in the same order,
 * so the bits must agree; on the BLAS path a member's product has fewer
 * rows than the whole one, which OpenBLAS may round differently. */
static void split_case(int B, int I, int O, bp_act act, int T, bp_rng *r) {
    size_t nx = (size_t)B * I, nh = (size_t)B * O, nw = (size_t)O * I;
    double *x = alloc_fill(nx, -1, 1, r), *h = alloc_fill(nh, -2, 2, r);
    double *dout = alloc_fill(nh, -1, 1, r), *o = malloc(sizeof(double) * nh);
    bp_act_forward(o, h, B, O, act, 0.1);
    double *W[2], *b[2], *dW[2], *db[2], *dh[2], *dx[2];
    W[0] = alloc_fill(nw, -1, 1, r);
    b[0] = alloc_fill(O, -1, 1, r);
    W[1] = malloc(sizeof(double) * nw);
    b[1] = malloc(sizeof(double) * O);
    memcpy(W[1], W[0], sizeof(double) * nw);
    memcpy(b[1], b[0], sizeof(double) * O);
    for (int k = 0; k < 2; k++) {
        /* NaN everywhere the kernels must overwrite. */
        dW[k] = alloc_fill(nw, NAN, NAN, r);
        db[k] = alloc_fill(O, NAN, NAN, r);
        dh[k] = alloc_fill(nh, NAN, NAN, r);
        dx[k] = alloc_fill(nx, NAN, NAN, r);
    }
    bp_layer_backward(dx[0], dW[0], db[0], dh[0], dout, h, o, x, W[0], b[0], B, I, O, act,
                      0.1, 0, 0.05);
    for (int t = 0; t < T; t++) {
        int r0 = B * t / T, r1 = B * (t + 1) / T;
        bp_layer_backward_rows(dx[1] + (size_t)r0 * I, dh[1] + (size_t)r0 * O,
                               dout + (size_t)r0 * O, h + (size_t)r0 * O,
                               o + (size_t)r0 * O, W[1], r1 - r0, I, O, act, 0.1);
    }
    for (int t = 0; t < T; t++)
        bp_layer_backward_cols(dW[1], db[1], W[1], b[1], dh[1], x, B, I, O, O * t / T,
                               O * (t + 1) / T, 0.05);
    int blas = (long)B * I * O >= BP_BLAS_MIN_WORK;
    double tol = blas ? 1e-13 : 0;
    CHECK(check_worst(dh[1], dh[0], nh) == 0);
    CHECK(check_worst(db[1], db[0], O) == 0);
    CHECK(check_worst(dx[1], dx[0], nx) <= tol);
    CHECK(check_worst(dW[1], dW[0], nw) <= tol);
    CHECK(check_worst(W[1], W[0], nw) <= tol);
    CHECK(check_worst(b[1], b[0], O) == 0);
    double *all[] = {x,     h,     dout,  o,     W[0],  b[0],  W[1],  b[1],
                     dW[0], dW[1], db[0], db[1], dh[0], dh[1], dx[0], dx[1]};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) free(all[k]);
}

/* bp_layer_forward_cols against bp_layer_forward, in double and float: the
 * members' blocks of neurons (n0 .. n1-1, an uneven split and empty parts
 * included) together give the whole layer's h and o, to the bit on the
 * plain loops and to BLAS's rounding of a block of W's rows otherwise
 * (the relative difference bounded, NaN-filled outputs all overwritten),
 * and a block writes its own columns only. */
static void split_forward_case(int B, int I, int O, bp_act act, const int *cut, int parts,
                               bp_rng *r) {
    size_t nx = (size_t)B * I, nh = (size_t)B * O, nw = (size_t)O * I;
    double *x = alloc_fill(nx, -1, 1, r), *W = alloc_fill(nw, -1, 1, r);
    double *b = alloc_fill(O, -1, 1, r);
    double *h[2], *o[2];
    float *xf = malloc(sizeof(float) * nx), *Wf = malloc(sizeof(float) * nw),
          *bf = malloc(sizeof(float) * O), *hf[2], *of[2];
    for (size_t k = 0; k < nx; k++) xf[k] = (float)x[k];
    for (size_t k = 0; k < nw; k++) Wf[k] = (float)W[k];
    for (int n = 0; n < O; n++) bf[n] = (float)b[n];
    for (int k = 0; k < 2; k++) {
        h[k] = alloc_fill(nh, NAN, NAN, r);
        o[k] = alloc_fill(nh, NAN, NAN, r);
        hf[k] = malloc(sizeof(float) * nh);
        of[k] = malloc(sizeof(float) * nh);
        for (size_t j = 0; j < nh; j++) hf[k][j] = of[k][j] = NAN;
    }
    bp_layer_forward(h[0], o[0], x, W, b, B, I, O, act, 0.1);
    bp_layer_forward_f32(hf[0], of[0], xf, Wf, bf, B, I, O, act, 0.1);
    for (int t = 0; t < parts; t++) {
        bp_layer_forward_cols(h[1], o[1], x, W, b, B, I, O, cut[t], cut[t + 1], act, 0.1);
        bp_layer_forward_cols_f32(hf[1], of[1], xf, Wf, bf, B, I, O, cut[t], cut[t + 1],
                                  act, 0.1);
        if (t > 0) continue;
        int outside = 0; /* the first block alone: every other column untouched */
        for (size_t j = 0; j < nh; j++) {
            int n = (int)(j % (size_t)O), in = n >= cut[0] && n < cut[1];
            outside += !in && (!isnan(h[1][j]) || !isnan(o[1][j]) || !isnan(hf[1][j]));
        }
        CHECK(outside == 0);
    }
    const int blas = (long)B * I * O >= BP_BLAS_MIN_WORK;
    double worst = 0, worst_f = 0;
    for (size_t j = 0; j < nh; j++) {
        double d[4] = {fabs(h[1][j] - h[0][j]) / (1 + fabs(h[0][j])),
                       fabs(o[1][j] - o[0][j]) / (1 + fabs(o[0][j])),
                       fabs((double)hf[1][j] - hf[0][j]) / (1 + fabs(hf[0][j])),
                       fabs((double)of[1][j] - of[0][j]) / (1 + fabs(of[0][j]))};
        for (int k = 0; k < 4; k++) {
            double *w = k < 2 ? &worst : &worst_f;
            if (!(d[k] <= *w)) *w = d[k]; /* a NaN left behind stays NaN */
        }
    }
    if (blas) {
        CHECK(worst <= 1e-13);
        CHECK(worst_f <= 1e-5);
    } else {
        CHECK(memcmp(h[0], h[1], sizeof(double) * nh) == 0);
        CHECK(memcmp(o[0], o[1], sizeof(double) * nh) == 0);
        CHECK(memcmp(hf[0], hf[1], sizeof(float) * nh) == 0);
        CHECK(memcmp(of[0], of[1], sizeof(float) * nh) == 0);
    }
    double *all[] = {x, W, b, h[0], h[1], o[0], o[1]};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) free(all[k]);
    float *allf[] = {xf, Wf, bf, hf[0], hf[1], of[0], of[1]};
    for (size_t k = 0; k < sizeof allf / sizeof allf[0]; k++) free(allf[k]);
}

static void test_split_forward(void) {
    bp_rng r;
    bp_rng_seed(&r, 12);
    static const int shapes[][3] = {{6, 5, 4}, {3, 7, 33}, {64, 40, 48}, {64, 200, 100}};
    static const bp_act acts[] = {BP_ACT_IDENTITY, BP_ACT_SIGMOID, BP_ACT_RELU,
                                  BP_ACT_LEAKY_RELU};
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++)
        for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) {
            const int O = shapes[c][2];
            for (int T = 1; T <= 3; T++) {
                int cut[4];
                for (int t = 0; t <= T; t++) cut[t] = O * t / T;
                split_forward_case(shapes[c][0], shapes[c][1], O, acts[a], cut, T, &r);
            }
            /* uneven, with an empty part, as a team's split on 64-byte lines */
            const int cut[4] = {0, O / 4, O / 4, O};
            split_forward_case(shapes[c][0], shapes[c][1], O, acts[a], cut, 3, &r);
        }
}

/* bp_loss_grad against bp_loss_grad_rows on each member's rows: the same
 * dLoss/dout, and the rows' losses summed in row order over B give the same
 * total, to the bit. */
static void split_loss_case(int B, int O, bp_loss loss, int T, bp_rng *r) {
    size_t n = (size_t)B * O;
    double *out = alloc_fill(n, -2, 2, r), *y = alloc_fill(n, 0, 1, r);
    if (loss == BP_LOSS_BCE)
        for (size_t k = 0; k < n; k++) out[k] = 0.05 + 0.9 * (out[k] + 2) / 4;
    double *d0 = alloc_fill(n, NAN, NAN, r), *d1 = alloc_fill(n, NAN, NAN, r);
    double *rl = alloc_fill(B, NAN, NAN, r);
    double total = bp_loss_grad(d0, out, y, B, O, loss);
    for (int t = 0; t < T; t++) {
        int r0 = B * t / T, r1 = B * (t + 1) / T;
        bp_loss_grad_rows(d1 + (size_t)r0 * O, rl + r0, out + (size_t)r0 * O,
                          y + (size_t)r0 * O, r1 - r0, B, O, loss);
    }
    double sum = 0;
    for (int s = 0; s < B; s++) sum += rl[s];
    CHECK(sum / B == total);
    CHECK(memcmp(d0, d1, sizeof(double) * n) == 0);
    free(out), free(y), free(d0), free(d1), free(rl);
}

static void test_split_backward(void) {
    bp_rng r;
    bp_rng_seed(&r, 11);
    static const int shapes[][3] = {{6, 5, 4}, {8, 3, 7}, {64, 40, 30}, {33, 17, 9}};
    static const bp_act acts[] = {BP_ACT_IDENTITY, BP_ACT_SIGMOID, BP_ACT_RELU,
                                  BP_ACT_LEAKY_RELU, BP_ACT_SOFTMAX};
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++)
        for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++)
            for (int T = 1; T <= 3; T++)
                split_case(shapes[c][0], shapes[c][1], shapes[c][2], acts[a], T, &r);
    for (int loss = 0; loss < BP_LOSS_COUNT; loss++)
        for (int T = 1; T <= 3; T++) {
            split_loss_case(7, 3, (bp_loss)loss, T, &r);
            split_loss_case(64, 10, (bp_loss)loss, T, &r);
        }
}

/* bp_loss_grad, softmax_ce's fused row (ops_fast.h softmax_ce_loss_grad_row:
 * one logsumexp for the loss and the gradient), against the reference's
 * two kernels, bp_loss_forward and bp_loss_backward into zeros, to the bit,
 * in double and float: class labels, one-hot rows and soft targets (rows
 * summing to 0.7), logits from -60 to 60 and rows of equal logits. */
static void test_softmax_ce_grad_is_stages(void) {
    enum { B = 7, O = 5 };
    bp_rng r;
    bp_rng_seed(&r, 24);
    double out[B * O], y[B * O], lab[B], da[B * O], db[B * O];
    float outf[B * O], yf[B * O], labf[B], fa[B * O], fb[B * O];
    for (int k = 0; k < B * O; k++) out[k] = 120 * bp_rng_uniform(&r) - 60;
    for (int n = 0; n < O; n++) out[2 * O + n] = 3.25; /* a row of ties */
    for (int s = 0; s < B; s++) lab[s] = 1 + (double)bp_rng_below(&r, O);
    for (int targets = 0; targets < 3; targets++) {
        const bp_crit c = {.loss = BP_LOSS_SOFTMAX_CE, .labels = targets == 0};
        const double *t = targets ? y : lab;
        for (int k = 0; k < B * O; k++)
            y[k] =
                targets == 1 ? (k % O == (int)lab[k / O] - 1) : 0.7 * ((k * 7) % 5) / 10;
        for (int k = 0; k < B * O; k++) outf[k] = (float)out[k], yf[k] = (float)y[k];
        for (int s = 0; s < B; s++) labf[s] = (float)lab[s];
        const float *tf = targets ? yf : labf;
        memset(db, 0, sizeof db);
        double want = bp_loss_forward_crit(out, t, B, O, c);
        bp_loss_backward_crit(db, out, t, B, O, c);
        double got = bp_loss_grad_crit(da, out, t, B, O, c);
        CHECK(memcmp(&got, &want, sizeof got) == 0 && memcmp(da, db, sizeof da) == 0);
        memset(fb, 0, sizeof fb);
        want = bp_loss_forward_crit_f32(outf, tf, B, O, c);
        bp_loss_backward_crit_f32(fb, outf, tf, B, O, c);
        got = bp_loss_grad_crit_f32(fa, outf, tf, B, O, c);
        CHECK(memcmp(&got, &want, sizeof got) == 0 && memcmp(fa, fb, sizeof fa) == 0);
    }
}

/* Two floats the same bits, or both zeros (the references add into a
 * zeroed buffer, where 0 + -0 is +0; the fast passes store). */
static int same_or_zeros(float a, float b) {
    return memcmp(&a, &b, sizeof a) == 0 || (a == 0 && b == 0);
}

/* The float layer's passes outside its products, built for AVX-512 and AVX2
 * too (ops_fast.h bias_act, act_grad, dense_cols; whichever clone the
 * processor picks) against the reference kernels (ops_ref.h, built for the
 * default target only), value by value: every elementwise activation,
 * lengths 1 to 37 (every vector's tail), 3 rows on the plain loops and 64
 * on BLAS (where the bias joins the activation's pass), values with zeros
 * of either sign, large, subnormal and NaN ones (as h: neurons of zero
 * weights and such a bias; in dout). The forward's o is f(h) of its own
 * h, and on BLAS h is the product without the bias (a bias of zeros) plus
 * b (the plain loops start their sums at b); dh
 * (bp_layer_backward_rows) is bp_act_backward's; db (backward_cols) the
 * column sums of dh in row order. */
static void test_act_pass_clones(void) {
    enum { I = 8, MAXO = 37, MAXB = 64 };
    static const float special[] = {0.0f, -0.0f, 1e30f, -1e-40f, NAN, 2.5f};
    bp_rng r;
    bp_rng_seed(&r, 23);
    float x[MAXB * I], W[MAXO * I], b[MAXO], zb[MAXO] = {0}, h[MAXB * MAXO],
        h0[MAXB * MAXO], o[MAXB * MAXO], oref[MAXB * MAXO], dout[MAXB * MAXO],
        dh[MAXB * MAXO], dref[MAXB * MAXO], db[MAXO], dW[MAXO * I], bb[MAXO];
    for (int k = 0; k < MAXB * I; k++) x[k] = (float)(2 * bp_rng_uniform(&r) - 1);
    for (int k = 0; k < MAXO * I; k++) W[k] = (float)(2 * bp_rng_uniform(&r) - 1);
    for (int k = 0; k < MAXO; k++) b[k] = (float)(bp_rng_uniform(&r) - 0.5);
    /* neurons whose h is a special value: zero weights, the value as bias */
    for (int j = 0; j < 4; j++) {
        b[2 + 3 * j] = special[j + 1];
        memset(W + (size_t)(2 + 3 * j) * I, 0, sizeof(float) * I);
    }
    for (int k = 0; k < MAXB * MAXO; k++)
        dout[k] = k % 13 == 4 ? special[k % 6] : (float)(2 * bp_rng_uniform(&r) - 1);
    int wrong = 0, cases = 0;
    for (int act = 0; act < BP_ACT_COUNT; act++) {
        if (bp_act_is_row((bp_act)act)) continue;
        for (int B = 3; B <= MAXB; B += MAXB - 3)
            for (int O = 1; O <= MAXO; O++) {
                const size_t n = (size_t)B * O;
                const int blas = (long)B * I * O >= BP_BLAS_MIN_WORK;
                bp_layer_forward_f32(h0, o, x, W, zb, B, I, O, (bp_act)act, 0.1);
                bp_layer_forward_f32(h, o, x, W, b, B, I, O, (bp_act)act, 0.1);
                for (size_t k = 0; blas && k < n; k++) {
                    float want = h0[k] + b[k % O];
                    wrong += !same_or_zeros(h[k], want);
                }
                bp_act_forward_f32(oref, h, B, O, (bp_act)act, 0.1);
                for (size_t k = 0; k < n; k++) wrong += !same_or_zeros(o[k], oref[k]);
                bp_layer_backward_rows_f32(NULL, dh, dout, h, oref, W, B, I, O,
                                           (bp_act)act, 0.1);
                memset(dref, 0, sizeof(float) * n);
                bp_act_backward_f32(dref, dout, h, oref, B, O, (bp_act)act, 0.1);
                for (size_t k = 0; k < n; k++) wrong += !same_or_zeros(dh[k], dref[k]);
                memcpy(bb, b, sizeof(float) * O);
                bp_layer_backward_cols_f32(dW, db, W, bb, dh, x, B, I, O, 0, O, -1);
                for (int j = 0; j < O; j++) {
                    float sum = 0;
                    for (int s = 0; s < B; s++) sum += dh[(size_t)s * O + j];
                    wrong += !same_or_zeros(db[j], sum);
                }
                cases++;
            }
    }
    CHECK(cases > 2 * MAXO * 3);
    CHECK(wrong == 0);
}

/* ------------------------------------------------------------------------ */
/* The SGD step                                                              */

/* bp_sgd_update (whichever clone the processor picks: AVX-512, AVX2 or
 * plain, ops.c) against bp_sgd_step one weight at a time, to the bit, in
 * double and float: lengths 1 to 70 (every tail of 16, 8 and 4 values),
 * offsets that misalign the vectors, and values with a zero of either sign,
 * subnormals, large and infinite ones and a NaN. */
static void test_sgd_update(void) {
    enum { MAX = 70 };
    static const double special[] = {0.0,    -0.0,     1e-310, -3e-45, 1.5e38,
                                     -1e300, INFINITY, -0.25,  NAN};
    double w[MAX + 3], dw[MAX + 3], want[MAX + 3];
    float w32[MAX + 3], dw32[MAX + 3], want32[MAX + 3];
    int wrong = 0;
    for (int k = 0; k < MAX + 3; k++) {
        dw[k] = k % 11 == 3 ? special[k % 9] : sin(0.7 * k) * (1 + k);
        w[k] = k % 7 == 5 ? special[(k + 4) % 9] : cos(1.3 * k) / (1 + k % 5);
        dw32[k] = (float)dw[k];
        w32[k] = (float)w[k];
    }
    const double lrs[] = {0.05, 1e-3, 0.0};
    for (int r = 0; r < 3; r++)
        for (int at = 0; at < 3; at++)
            for (int N = 1; N <= MAX; N++) {
                double a[MAX + 3];
                float a32[MAX + 3];
                memcpy(a, w, sizeof a);
                memcpy(a32, w32, sizeof a32);
                for (int k = 0; k < N; k++) {
                    want[k] = bp_sgd_step(a[at + k], dw[at + k], lrs[r]);
                    want32[k] = (float)bp_sgd_step(a32[at + k], dw32[at + k], lrs[r]);
                }
                bp_sgd_update(a + at, dw + at, (size_t)N, lrs[r]);
                bp_sgd_update_f32(a32 + at, dw32 + at, (size_t)N, lrs[r]);
                wrong += memcmp(a + at, want, sizeof(double) * N) != 0;
                wrong += memcmp(a32 + at, want32, sizeof(float) * N) != 0;
                wrong += memcmp(a, w, sizeof(double) * at) != 0; /* before: untouched */
                wrong += memcmp(a + at + N, w + at + N,
                                sizeof(double) * (MAX + 3 - at - N)) != 0;
            }
    CHECK(wrong == 0);
}

/* ------------------------------------------------------------------------ */
/* ops_vec.c's float kernels against their references                       */

/* vmath.h's erf against double erf over [0, 4] in steps of 1e-5 and far
 * beyond: at most 1.2e-7 off (8.5e-8 measured, near x = 1 where the two
 * fits meet; glibc's erff is 5.8e-8 off), and exactly 1 from 4 on. */
static void test_vec_erf(void) {
    double worst = 0;
    for (int k = 0; k <= 400000; k++) {
        float x = (float)(k * 1e-5);
        worst = fmax(worst, fabs(vm_erf(x) - erf((double)x)));
    }
    if (worst > 1.2e-7) fprintf(stderr, "vm_erf off by %g\n", worst);
    CHECK(worst <= 1.2e-7);
    CHECK(vm_erf(0) == 0 && vm_erf(4) == 1 && vm_erf(1e30f) == 1 && vm_erf(INFINITY) == 1);
    CHECK(isnan(vm_erf(NAN)));
    /* e^(-x^2), the GELU's density's, against double over [0, 9.3]: 2e-7
     * relative at most (1.4e-7 measured) */
    double we = 0;
    for (int k = 0; k <= 93000; k++) {
        float x = (float)(k * 1e-4);
        double want = exp(-(double)x * x);
        we = fmax(we, fabs(vm_exp_minus_sq(x) - want) / want);
    }
    if (we > 2e-7) fprintf(stderr, "vm_exp_minus_sq off by %g\n", we);
    CHECK(we <= 2e-7);
}

/* GELU (bp_gelu_forward_vec, bp_gelu_backward_vec) against the reference
 * (bp_act_forward_f32 and bp_act_backward_f32, libm's erff and expf) and
 * against double over [-12, 12] in 2,400,001 steps: forward at most 1.5e-7
 * times max(1, |v|) from both (1.09e-7 from double, 1.19e-7 from the
 * reference, measured), backward (into dh = 0.5, d = 1, Phi taken as o / h
 * from the forward's output) at most 3e-7 (2.0e-7 and 2.4e-7 measured:
 * 2 units in the last place of 1, where the derivative is); far values
 * and non-numbers as the reference's. */
/* bp_gelu_forward_d_vec's o is bp_gelu_forward_vec's, and dout d
 * (bp_gelu_backward_d_vec, in place) bp_gelu_backward_vec's store, to the
 * bit: h over [-16, 16] (the density's cut at 9.3 sqrt 2 inside it), 0,
 * the far values and a tail of 7 past the vectors; dout of either sign. */
static void test_vec_gelu_d(void) {
    enum { N = 1200007 };
    float *h = malloc(sizeof(float) * N), *o = malloc(sizeof(float) * N),
          *ro = malloc(sizeof(float) * N), *d = malloc(sizeof(float) * N),
          *dout = malloc(sizeof(float) * N), *rdh = malloc(sizeof(float) * N);
    for (int k = 0; k < N; k++)
        h[k] = (float)(32.0 * (k - N / 2) / (N - 1)), dout[k] = (float)(k % 7) - 3.25f;
    h[0] = -1e30f, h[1] = INFINITY, h[2] = 0, h[N - 1] = -40;
    bp_gelu_forward_d_vec(o, d, h, N);
    bp_gelu_forward_vec(ro, h, N);
    bp_gelu_backward_vec(rdh, dout, h, ro, N, 0);
    bp_gelu_backward_d_vec(d, dout, d, N);
    CHECK(!memcmp(o, ro, sizeof(float) * N));
    CHECK(!memcmp(d, rdh, sizeof(float) * N));
    free(h), free(o), free(ro), free(d), free(dout), free(rdh);
}

/* bp_gelu_backward_d_bias_vec: dh equal to bp_gelu_backward_d_vec's and db
 * to dh's columns added row by row onto db's start (bias_backward_ref's
 * order), bit for bit, O = 37 for the vectors' tail, dh in place of d. */
static void test_vec_gelu_d_bias(void) {
    enum { R = 131, O = 37 };
    float dout[R * O], d[R * O], rdh[R * O], db[O], rdb[O];
    for (int k = 0; k < R * O; k++)
        dout[k] = (float)sin(k * 0.37) * 3, d[k] = (float)cos(k * 0.11) + 0.25f;
    for (int j = 0; j < O; j++) db[j] = rdb[j] = (float)j / 7 - 2;
    bp_gelu_backward_d_vec(rdh, dout, d, (size_t)R * O);
    for (int r = 0; r < R; r++)
        for (int j = 0; j < O; j++) rdb[j] += rdh[r * O + j];
    bp_gelu_backward_d_bias_vec(d, db, dout, d, R, O);
    CHECK(!memcmp(d, rdh, sizeof d));
    CHECK(!memcmp(db, rdb, sizeof db));
    float once[O];
    for (int j = 0; j < O; j++) once[j] = (float)j / 7 - 2 + rdh[j];
    CHECK(memcmp(db, once, sizeof db) != 0); /* every row was added, not the first */
}

static void test_vec_gelu(void) {
    enum { N = 2400001 };
    float *h = malloc(sizeof(float) * N), *o = malloc(sizeof(float) * N),
          *ro = malloc(sizeof(float) * N), *dh = malloc(sizeof(float) * N),
          *rdh = malloc(sizeof(float) * N), *d = malloc(sizeof(float) * N);
    for (int k = 0; k < N; k++) h[k] = (float)(24.0 * (k - N / 2) / (N - 1)), d[k] = 1;
    for (int k = 0; k < N; k++) dh[k] = rdh[k] = 0.5f;
    bp_gelu_forward_vec(o, h, N);
    bp_act_forward_f32(ro, h, 1, N, BP_ACT_GELU, 0);
    bp_gelu_backward_vec(dh, d, h, o, N, 1);
    bp_act_backward_f32(rdh, d, h, ro, 1, N, BP_ACT_GELU, 0);
    double ef = 0, er = 0, eb = 0, ebr = 0;
    for (int k = 0; k < N; k++) {
        double v = h[k], cdf = 0.5 * erfc(-v / sqrt(2));
        double pdf = exp(-v * v / 2) * 0.39894228040143267794;
        double scale = fmax(1, fabs(v));
        ef = fmax(ef, fabs(o[k] - v * cdf) / scale);
        er = fmax(er, fabs(o[k] - ro[k]) / scale);
        eb = fmax(eb, fabs(dh[k] - (0.5 + cdf + v * pdf)));
        ebr = fmax(ebr, fabs(dh[k] - rdh[k]));
    }
    if (ef > 1.5e-7 || er > 1.5e-7 || eb > 3e-7 || ebr > 3e-7)
        fprintf(stderr, "gelu vec: forward %g (ref %g), backward %g (ref %g)\n", ef, er, eb,
                ebr);
    CHECK(ef <= 1.5e-7 && er <= 1.5e-7 && eb <= 3e-7 && ebr <= 3e-7);
    const float far[6] = {-40, 40, -1e30f, 1e30f, -INFINITY, INFINITY};
    float fo[6], fr[6], fd[6] = {0}, frd[6] = {0}, ones[6] = {1, 1, 1, 1, 1, 1};
    bp_gelu_forward_vec(fo, far, 6);
    bp_act_forward_f32(fr, far, 1, 6, BP_ACT_GELU, 0);
    bp_gelu_backward_vec(fd, ones, far, fo, 6, 1);
    bp_act_backward_f32(frd, ones, far, fr, 1, 6, BP_ACT_GELU, 0);
    for (int k = 0; k < 6; k++) {
        CHECK(isnan(fo[k]) == isnan(fr[k]) && (isnan(fo[k]) || fo[k] == fr[k]));
        CHECK(isnan(fd[k]) == isnan(frd[k]) && (isnan(fd[k]) || fd[k] == frd[k]));
    }
    /* add 0 overwrites dh with what add 1 adds to zeros */
    for (int k = 0; k < N; k++) dh[k] = 0, rdh[k] = NAN;
    bp_gelu_backward_vec(dh, d, h, o, N, 1);
    bp_gelu_backward_vec(rdh, d, h, o, N, 0);
    int same = 1;
    for (int k = 0; k < N; k++) same &= dh[k] == rdh[k];
    CHECK(same);
    float nan = NAN, on, dn = 0;
    bp_gelu_forward_vec(&on, &nan, 1);
    bp_gelu_backward_vec(&dn, ones, &nan, &on, 1, 1);
    CHECK(isnan(on) && isnan(dn));
    free(h), free(o), free(ro), free(dh), free(rdh), free(d);
}

/* Layer norm (bp_layernorm_forward_vec and _backward_vec) against the
 * reference (bp_layernorm_forward_f32, _backward_f32) on random rows of
 * F = 128 (whole lanes) and F = 13 (a tail), gradients added into random
 * values: the sums differ only in their order (in double), so every
 * output is within 2 units in the last place of the reference's (relative
 * to max(1, |value|)); measured, they are the same bits on these rows. */
static void test_vec_layernorm(void) {
    bp_rng r;
    bp_rng_seed(&r, 17);
    const int shapes[2][2] = {{9, 128}, {7, 13}};
    for (int s = 0; s < 2; s++) {
        const int R = shapes[s][0], F = shapes[s][1];
        const size_t n = (size_t)R * F;
        /* x, w, b, dy, then outputs y, xhat, rstd, dx, dw, db of each side */
        float *v[4], *out[2][6];
        size_t sizes[6] = {n, n, (size_t)R, n, (size_t)F, (size_t)F};
        for (int k = 0; k < 4; k++) {
            size_t m = k == 1 || k == 2 ? (size_t)F : n;
            v[k] = malloc(sizeof(float) * m);
            for (size_t j = 0; j < m; j++) v[k][j] = (float)(3 * bp_rng_uniform(&r) - 1);
        }
        for (int k = 0; k < 6; k++) {
            out[0][k] = malloc(sizeof(float) * sizes[k]);
            out[1][k] = malloc(sizeof(float) * sizes[k]);
            for (size_t j = 0; j < sizes[k]; j++)
                out[0][k][j] = out[1][k][j] = (float)bp_rng_uniform(&r);
        }
        for (int side = 0; side < 2; side++) {
            float **o = out[side];
            (side ? bp_layernorm_forward_vec : bp_layernorm_forward_f32)(
                o[0], o[1], o[2], v[0], v[1], v[2], R, F, 1e-5);
            if (side)
                bp_layernorm_backward_vec(o[3], o[4], o[5], v[3], o[1], o[2], v[1], R, F, 1);
            else bp_layernorm_backward_f32(o[3], o[4], o[5], v[3], o[1], o[2], v[1], R, F);
        }
        /* add 0 overwrites dx with what add 1 adds to zeros */
        float *dx0 = calloc(n, sizeof(float)), *dx1 = malloc(sizeof(float) * n),
              *dwb = calloc(2 * (size_t)F, sizeof(float));
        for (size_t j = 0; j < n; j++) dx1[j] = NAN;
        bp_layernorm_backward_vec(dx0, dwb, dwb + F, v[3], out[1][1], out[1][2], v[1], R, F,
                                  1);
        bp_layernorm_backward_vec(dx1, dwb, dwb + F, v[3], out[1][1], out[1][2], v[1], R, F,
                                  0);
        for (size_t j = 0; j < n; j++) CHECK(dx0[j] == dx1[j]);
        free(dx0), free(dx1), free(dwb);
        double worst = 0;
        for (int k = 0; k < 6; k++)
            for (size_t j = 0; j < sizes[k]; j++)
                worst = fmax(worst, fabs(out[1][k][j] - out[0][k][j]) /
                                        fmax(1, fabs(out[0][k][j])));
        if (worst > 2.4e-7) fprintf(stderr, "layernorm vec F=%d off by %g\n", F, worst);
        CHECK(worst <= 2.4e-7);
        for (int k = 0; k < 4; k++) free(v[k]);
        for (int k = 0; k < 6; k++) free(out[0][k]), free(out[1][k]);
    }
}

/* softmax_ce on labels (bp_softmax_ce_labels_vec) against the reference
 * (bp_loss_grad_crit_f32 with labels) and double, on 37 rows of 114
 * logits in [-8, 8] and of 5 (lanes' tails), stored over NaN: the loss
 * within 1e-6 relative of the reference's (7.5e-9 measured); every
 * gradient within 2e-7 / R of double's (1.2e-7 measured; the reference's
 * own is 3.0e-7 off, its exp(z - lse) carrying lse's rounding) and 5e-7 / R
 * of the reference's (3.1e-7). */
static void test_vec_softmax_ce(void) {
    bp_rng r;
    bp_rng_seed(&r, 23);
    const int widths[2] = {114, 5};
    for (int w = 0; w < 2; w++) {
        const int R = 37, O = widths[w];
        const size_t n = (size_t)R * O;
        float *z = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * R),
              *d = malloc(sizeof(float) * n), *dr = malloc(sizeof(float) * n);
        for (size_t k = 0; k < n; k++) z[k] = (float)(16 * bp_rng_uniform(&r) - 8), d[k] = NAN;
        for (int k = 0; k < R; k++) y[k] = (float)(1 + (int)(O * bp_rng_uniform(&r)));
        bp_crit c = {.loss = BP_LOSS_SOFTMAX_CE, .labels = 1};
        double l = bp_softmax_ce_labels_vec(d, z, y, R, O);
        double lr = bp_loss_grad_crit_f32(dr, z, y, R, O, c);
        double worst = 0, exact = 0, ref = 0; /* gradients' errors times R */
        for (int i = 0; i < R; i++) {
            const float *zi = z + (size_t)i * O;
            double m = zi[0], sum = 0;
            for (int k = 1; k < O; k++) m = fmax(m, zi[k]);
            for (int k = 0; k < O; k++) sum += exp(zi[k] - m);
            for (int k = 0; k < O; k++) {
                size_t at = (size_t)i * O + k;
                double want = exp(zi[k] - m) / sum - (k == (int)y[i] - 1);
                exact = fmax(exact, fabs(d[at] * R - want));
                ref = fmax(ref, fabs(dr[at] * R - want));
                worst = fmax(worst, fabs(d[at] - dr[at]) * R);
            }
        }
        if (fabs(l - lr) > 1e-6 * lr || worst > 5e-7 || exact > 2e-7)
            fprintf(stderr,
                    "softmax_ce vec O=%d: loss %g relative, gradient %g / R from the reference, "
                    "%g from double (the reference's %g)\n",
                    O, fabs(l - lr) / lr, worst, exact, ref);
        CHECK(fabs(l - lr) <= 1e-6 * lr && worst <= 5e-7 && exact <= 2e-7);
        free(z), free(y), free(d), free(dr);
    }
}

/* Attention's softmax rows (ops_vec.c, in whole vectors with the masked
 * lanes selected away) against their definition written a value at a
 * time: lane l of 16 sums the values at l, l + 16, ... below n in that
 * order, the lanes then added by halving; every output to the bit, forward
 * and backward, causal or not, for T = 1, 5, 16, 37 (two vectors and a
 * tail) and 64 (W9's), the masked scores and gradients NaN, inf or huge
 * (a kernel that let them into a kept result, or summed a lane otherwise,
 * fails). */
static float lanes_sum_ref(float *acc) {
    for (int w = 8; w > 0; w /= 2)
        for (int l = 0; l < w; l++) acc[l] += acc[l + w];
    return acc[0];
}
static void softmax_row_ref(float *p, int n, int T) {
    float mx[16], acc[16] = {0}, m;
    for (int l = 0; l < 16; l++) mx[l] = p[0];
    for (int j = 0; j < n; j++) mx[j % 16] = p[j] > mx[j % 16] ? p[j] : mx[j % 16];
    m = mx[0];
    for (int l = 1; l < 16; l++) m = mx[l] > m ? mx[l] : m;
    for (int j = 0; j < n; j++) p[j] = vm_exp(p[j] - m), acc[j % 16] += p[j];
    const float sum = lanes_sum_ref(acc);
    for (int j = 0; j < n; j++) p[j] /= sum;
    for (int j = n; j < T; j++) p[j] = 0;
}
static void softmax_back_ref(float *d, const float *p, int n, int T, float scale) {
    float acc[16] = {0};
    for (int j = 0; j < n; j++) acc[j % 16] += p[j] * d[j];
    const float dot = lanes_sum_ref(acc);
    for (int j = 0; j < n; j++) d[j] = scale * p[j] * (d[j] - dot);
    for (int j = n; j < T; j++) d[j] = 0;
}
/* T x T scores p and gradients d for the softmax rows' tests: uniform in
 * [-6, 6) and [-1, 1), junk (NaN, infinities, 3e38) where a causal mask
 * hides them; with ties, row 3's scores zeros of both signs and row 5's
 * all equal. */
static void softmax_inputs(float *p, float *d, int T, int causal, int ties, bp_rng *r) {
    static const float junk[] = {NAN, INFINITY, -INFINITY, 3e38f};
    for (int i = 0; i < T; i++)
        for (int j = 0; j < T; j++) {
            const size_t at = (size_t)i * T + j;
            const int masked = causal && j > i;
            const float z = ties && i == 3   ? (j % 2 ? -0.f : 0.f)
                            : ties && i == 5 ? 2.5f
                                             : (float)(12 * bp_rng_uniform(r) - 6);
            p[at] = masked ? junk[j % 4] : z;
            d[at] = masked ? junk[(i + j) % 4] : (float)(2 * bp_rng_uniform(r) - 1);
        }
}
static void test_vec_softmax_rows(void) {
    bp_rng r;
    bp_rng_seed(&r, 29);
    const int Ts[] = {1, 5, 16, 37, 64};
    for (int t = 0; t < 5; t++)
        for (int causal = 0; causal < 2; causal++) {
            const int T = Ts[t];
            const size_t n = (size_t)T * T;
            float *p = malloc(sizeof(float) * n), *pr = malloc(sizeof(float) * n),
                  *d = malloc(sizeof(float) * n), *dr = malloc(sizeof(float) * n);
            softmax_inputs(p, d, T, causal, 0, &r);
            memcpy(pr, p, sizeof(float) * n);
            bp_attn_softmax_rows_vec(p, T, causal);
            for (int i = 0; i < T; i++) softmax_row_ref(pr + (size_t)i * T, causal ? i + 1 : T, T);
            CHECK(memcmp(p, pr, sizeof(float) * n) == 0);
            memcpy(dr, d, sizeof(float) * n);
            bp_attn_softmax_backward_rows_vec(d, p, T, causal, 0.125f);
            for (int i = 0; i < T; i++)
                softmax_back_ref(dr + (size_t)i * T, pr + (size_t)i * T, causal ? i + 1 : T, T,
                                 0.125f);
            CHECK(memcmp(d, dr, sizeof(float) * n) == 0);
            for (size_t k = 0; k < n; k++) CHECK(isfinite(p[k]) && isfinite(d[k]));
            free(p), free(pr), free(d), free(dr);
        }
}

/* ops_vec.c's 16-row kernels (attn_vec.c's heads, T a multiple of 16)
 * against the row kernels above, pinned to their definition: every value
 * up to the vector of each row's last kept value equal bit for bit, and
 * the values past it left as they were (not written: the junk still
 * there), causal or not; rows with equal maxima of either sign of zero,
 * and junk (NaN, inf) in the masked lanes. A group's row reduced in
 * another order, or a row's values taken from another row, fails. */
static void test_vec_softmax_rows16(void) {
    bp_rng r;
    bp_rng_seed(&r, 31);
    const int Ts[] = {16, 32, 64};
    for (int t = 0; t < 3; t++)
        for (int causal = 0; causal < 2; causal++) {
            const int T = Ts[t];
            const size_t n = (size_t)T * T;
            float *p = malloc(sizeof(float) * n), *pr = malloc(sizeof(float) * n),
                  *in = malloc(sizeof(float) * n), *d = malloc(sizeof(float) * n),
                  *dr = malloc(sizeof(float) * n), *din = malloc(sizeof(float) * n);
            softmax_inputs(p, d, T, causal, 1, &r);
            memcpy(pr, p, sizeof(float) * n), memcpy(in, p, sizeof(float) * n);
            memcpy(dr, d, sizeof(float) * n), memcpy(din, d, sizeof(float) * n);
            bp_attn_softmax_rows16_vec(p, T, causal);
            bp_attn_softmax_rows_vec(pr, T, causal);
            bp_attn_softmax_backward_rows16_vec(d, p, T, causal, 0.125f);
            bp_attn_softmax_backward_rows_vec(dr, pr, T, causal, 0.125f);
            int bad = 0;
            for (int i = 0; i < T; i++) {
                const int end = causal ? (i / 16 + 1) * 16 : T;
                const size_t at = (size_t)i * T, kept = sizeof(float) * end,
                             past = sizeof(float) * (T - end);
                bad += memcmp(p + at, pr + at, kept) != 0;
                bad += memcmp(d + at, dr + at, kept) != 0;
                bad += memcmp(p + at + end, in + at + end, past) != 0;
                bad += memcmp(d + at + end, din + at + end, past) != 0;
            }
            if (bad) fprintf(stderr, "softmax rows16 T=%d causal=%d: %d rows differ\n", T, causal, bad);
            CHECK(bad == 0);
            free(p), free(pr), free(in), free(d), free(dr), free(din);
        }
}

int main(void) {
    test_names();
    test_activations();
    test_gelu_elu();
    test_losses();
    test_criteria();
    test_log_softmax();
    test_loss_gradients();
    test_dense_reference();
    test_dropout_fast_matches_ref();
    test_gradients();
    test_float32_stacks();
    test_split_backward();
    test_split_forward();
    test_softmax_ce_grad_is_stages();
    test_sgd_update();
    test_act_pass_clones();
    test_vec_erf();
    test_vec_gelu();
    test_vec_gelu_d();
    test_vec_gelu_d_bias();
    test_vec_layernorm();
    test_vec_softmax_ce();
    test_vec_softmax_rows();
    test_vec_softmax_rows16();
    return check_report("test_ops");
}
