/* optim.c: the update rules that can replace the lecture's w -= lr * dw.
 *
 * Each rule is PyTorch's documented algorithm (torch.optim.SGD, Adam, AdamW,
 * RMSprop), restated in the comment above its loop, so that a run here can
 * be checked against PyTorch step by step. Where PyTorch's code arranges the
 * same formula differently (Adam's bias correction), the loop follows the
 * code, because that is what decides the last bits.
 *
 * All the state (moments, momentum) lives in one block allocated by
 * bp_optim_new, a vector per kind of state over the trainable tensors of
 * the net's parameter list (bp_net_param_list) in its order, so a step only
 * walks arrays: it never allocates and never fails once the shape and the
 * gradient norm have been checked. For a stack that is the flat order of
 * bp_net_params_get (W1, b1, W2, ...), as before the list existed; a
 * graph's buffers (batch norm's running statistics) are not in it. The
 * optimiser remembers the shape of the net it was made for rather than the
 * net itself, so any net of that shape (a copy, a reloaded one, a stack made
 * a graph) can use it.
 *
 * A float32 network's parameters go through the same double rules a block
 * at a time (converted into a buffer on the stack, updated, rounded back to
 * float once), and its state stays double: one set of rules to check against
 * PyTorch, and no allocation either way.
 *
 * Dimensions: I = inputs of a layer, O = outputs of a layer, N = entries of
 * one parameter array (O * I for W, O for b), P = parameters of the net. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bp_optim.h"
#include "bp_util.h"

/* math.h's M_PI is POSIX, not C11; this is the double Python calls pi. */
static const double PI = 3.14159265358979323846;

/* A kind keeps at most three buffers (centered RMSprop with momentum). */
#define MAX_BUFS 3

struct bp_optim {
    bp_optim_config c;
    bp_schedule s;
    int scheduled;
    int n_layers;
    int *shape;    /* I and O of each layer of a stack, as when made */
    int n_tensors; /* trainable tensors of the list, as when made */
    size_t *sizes; /* and their counts */
    size_t P;      /* trainable parameters: the sum of sizes */
    int64_t steps; /* steps taken */
    double last_norm;
    int n_bufs;
    const char *names[MAX_BUFS];
    double *bufs[MAX_BUFS]; /* each P doubles, inside state */
    double *state;          /* n_bufs * P doubles */
    /* The same buffers by role (NULL when this kind has none). */
    double *momentum, *m, *v, *grad_avg;
};

static const char *const optim_names[BP_OPTIM_COUNT] = {"sgd", "adam", "adamw",
                                                        "rmsprop"};
static const char *const sched_names[BP_SCHED_COUNT] = {"none", "step", "exponential",
                                                        "cosine"};

const char *bp_optim_name(bp_optim_kind k) {
    return bp_name_of(optim_names, BP_OPTIM_COUNT, (int)k);
}
int bp_optim_parse(const char *name) {
    return bp_name_find(optim_names, BP_OPTIM_COUNT, name);
}
const char *bp_sched_name(bp_sched_kind k) {
    return bp_name_of(sched_names, BP_SCHED_COUNT, (int)k);
}
int bp_sched_parse(const char *name) {
    return bp_name_find(sched_names, BP_SCHED_COUNT, name);
}

/* ------------------------------------------------------------------------ */
/* Configuration                                                            */

bp_optim_config bp_optim_config_default(bp_optim_kind k) {
    if ((unsigned)k >= BP_OPTIM_COUNT) k = BP_OPTIM_SGD;
    bp_optim_config c = {
        .kind = k, .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .alpha = 0.99};
    if (k == BP_OPTIM_ADAMW) c.weight_decay = 1e-2;
    if (k == BP_OPTIM_RMSPROP) c.lr = 1e-2;
    return c;
}

static int finite_nonneg(double x) { return isfinite(x) && x >= 0; }

static int check_lr(double lr, bp_err *e) {
    if (!finite_nonneg(lr))
        return bp_err_set(e, "learning rate must be a finite number >= 0 (got %g)", lr);
    return 0;
}

static int check_unit(const char *what, double x, bp_err *e) {
    if (!(x >= 0 && x < 1))
        return bp_err_set(e, "%s must be in [0, 1) (got %g)", what, x);
    return 0;
}

static int check_eps(double eps, bp_err *e) {
    if (!(isfinite(eps) && eps > 0))
        return bp_err_set(e, "eps must be a finite number > 0 (got %g)", eps);
    return 0;
}

static int check_momentum(double mu, bp_err *e) {
    if (!finite_nonneg(mu))
        return bp_err_set(e, "momentum must be a finite number >= 0 (got %g)", mu);
    return 0;
}

int bp_optim_config_check(const bp_optim_config *c, bp_err *e) {
    if ((unsigned)c->kind >= BP_OPTIM_COUNT)
        return bp_err_set(e, "unknown optimiser %d", (int)c->kind);
    if (check_lr(c->lr, e)) return -1;
    if (!finite_nonneg(c->weight_decay))
        return bp_err_set(e, "weight_decay must be a finite number >= 0 (got %g)",
                          c->weight_decay);
    if (!finite_nonneg(c->clip_norm))
        return bp_err_set(e,
                          "clip_norm must be a finite number >= 0, 0 for "
                          "no clipping (got %g)",
                          c->clip_norm);
    switch (c->kind) {
        case BP_OPTIM_SGD:
            if (check_momentum(c->momentum, e)) return -1;
            if (!(c->dampening >= 0 && c->dampening <= 1))
                return bp_err_set(e, "dampening must be in [0, 1] (got %g)",
                                  c->dampening);
            /* PyTorch refuses these too: Nesterov's look-ahead is defined on an
         * undamped momentum buffer. */
            if (c->nesterov && c->momentum == 0)
                return bp_err_set(e, "nesterov needs momentum > 0");
            if (c->nesterov && c->dampening != 0)
                return bp_err_set(e, "nesterov needs dampening = 0 (got %g)",
                                  c->dampening);
            break;
        case BP_OPTIM_ADAM:
        case BP_OPTIM_ADAMW:
            if (check_unit("beta1", c->beta1, e) || check_unit("beta2", c->beta2, e) ||
                check_eps(c->eps, e))
                return -1;
            break;
        case BP_OPTIM_RMSPROP:
            if (check_unit("alpha", c->alpha, e) || check_eps(c->eps, e) ||
                check_momentum(c->momentum, e))
                return -1;
            break;
        default: break;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Schedules: closed forms of PyTorch's LinearLR, StepLR, ExponentialLR and  */
/* CosineAnnealingLR. PyTorch's schedulers usually update the lr step by     */
/* step (lr *= gamma); a closed form gives the same numbers without the      */
/* rounding that accumulates, and any step can be asked for directly.        */

static int check_gamma(const bp_schedule *s, bp_err *e) {
    if (!(isfinite(s->gamma) && s->gamma > 0))
        return bp_err_set(e, "%s schedule needs a finite gamma > 0 (got %g)",
                          sched_names[s->kind], s->gamma);
    return 0;
}

int bp_schedule_check(const bp_schedule *s, bp_err *e) {
    switch (s->kind) {
        case BP_SCHED_NONE: break;
        case BP_SCHED_STEP:
            if (s->step_size < 1)
                return bp_err_set(e,
                                  "step schedule needs step_size >= 1 (got %" PRId64 ")",
                                  s->step_size);
            if (check_gamma(s, e)) return -1;
            break;
        case BP_SCHED_EXP:
            if (check_gamma(s, e)) return -1;
            break;
        case BP_SCHED_COSINE:
            if (s->t_max < 1)
                return bp_err_set(e, "cosine schedule needs t_max >= 1 (got %" PRId64 ")",
                                  s->t_max);
            if (!finite_nonneg(s->eta_min))
                return bp_err_set(e,
                                  "cosine schedule needs a finite eta_min >= 0 (got %g)",
                                  s->eta_min);
            break;
        default: return bp_err_set(e, "unknown schedule %d", (int)s->kind);
    }
    if (s->warmup_steps < 0)
        return bp_err_set(e, "warmup_steps must be >= 0 (got %" PRId64 ")",
                          s->warmup_steps);
    if (s->warmup_steps > 0 && !(s->start_factor > 0 && s->start_factor <= 1))
        return bp_err_set(e, "warm-up start_factor must be in (0, 1] (got %g)",
                          s->start_factor);
    return 0;
}

double bp_schedule_lr(const bp_schedule *s, double lr0, int64_t t) {
    if (!s) return lr0;
    int64_t W = s->warmup_steps;
    /* LinearLR with end_factor 1: the factor climbs from start_factor by
     * (1 - start_factor) / W a step and reaches 1 at t = W. */
    if (t < W)
        return lr0 * (s->start_factor + (1 - s->start_factor) * (double)t / (double)W);
    int64_t u = t - W;
    switch (s->kind) {
        /* StepLR: gamma once every step_size steps. */
        case BP_SCHED_STEP: return lr0 * pow(s->gamma, (double)(u / s->step_size));
        /* ExponentialLR: gamma every step. */
        case BP_SCHED_EXP: return lr0 * pow(s->gamma, (double)u);
        /* CosineAnnealingLR: half a cosine from lr0 at u = 0 to eta_min at
     * u = t_max, written as PyTorch's closed form writes it. */
        case BP_SCHED_COSINE:
            return s->eta_min +
                   (lr0 - s->eta_min) * (1 + cos(PI * (double)u / (double)s->t_max)) / 2;
        default: return lr0;
    }
}

/* ------------------------------------------------------------------------ */
/* Making and inspecting an optimiser                                        */

static void add_buf(bp_optim *o, const char *name) { o->names[o->n_bufs++] = name; }

bp_optim *bp_optim_new(const bp_net *net, const bp_optim_config *c, bp_err *e) {
    if (bp_optim_config_check(c, e)) return NULL;
    if (net->n_layers == 0 && !bp_net_is_graph(net)) {
        bp_err_set(e, "the network has no layers");
        return NULL;
    }
    bp_optim *o = bp_calloc(1, sizeof *o);
    if (!o) goto oom;
    o->c = *c;
    o->c.nesterov = c->nesterov != 0;
    o->c.centered = c->centered != 0;
    o->last_norm = NAN;
    o->n_layers = net->n_layers;
    o->shape = bp_malloc(sizeof(int) * 2 * (size_t)(net->n_layers ? net->n_layers : 1));
    if (!o->shape) goto oom;
    for (int l = 0; l < net->n_layers; l++) {
        o->shape[2 * l] = net->layers[l].I;
        o->shape[2 * l + 1] = net->layers[l].O;
    }
    int n;
    const bp_param *t = bp_net_param_list(net, &n);
    o->sizes = bp_malloc(sizeof(size_t) * (size_t)(n ? n : 1));
    if (!o->sizes) goto oom;
    for (int k = 0; k < n; k++)
        if (t[k].trainable) o->P += (o->sizes[o->n_tensors++] = t[k].count);

    /* The buffers each rule reads, in the order a saved state lists them. */
    switch (c->kind) {
        case BP_OPTIM_SGD:
            if (c->momentum != 0) add_buf(o, "momentum");
            break;
        case BP_OPTIM_ADAM:
        case BP_OPTIM_ADAMW:
            add_buf(o, "m");
            add_buf(o, "v");
            break;
        case BP_OPTIM_RMSPROP:
            add_buf(o, "v");
            if (c->momentum > 0) add_buf(o, "momentum");
            if (c->centered) add_buf(o, "grad_avg");
            break;
        default: break;
    }
    if (o->n_bufs) {
        o->state = bp_calloc((size_t)o->n_bufs * o->P, sizeof(double));
        if (!o->state) goto oom;
    }
    for (int i = 0; i < o->n_bufs; i++) {
        double *buf = o->state + (size_t)i * o->P;
        o->bufs[i] = buf;
        const char *n = o->names[i];
        if (strcmp(n, "m") == 0) o->m = buf;
        else if (strcmp(n, "v") == 0) o->v = buf;
        else if (strcmp(n, "momentum") == 0) o->momentum = buf;
        else o->grad_avg = buf;
    }
    return o;
oom:
    bp_optim_free(o);
    bp_err_set(e, "out of memory");
    return NULL;
}

void bp_optim_free(bp_optim *o) {
    if (!o) return;
    bp_free(o->shape);
    bp_free(o->sizes);
    bp_free(o->state);
    bp_free(o);
}

const bp_optim_config *bp_optim_get_config(const bp_optim *o) { return &o->c; }

int bp_optim_set_lr(bp_optim *o, double lr, bp_err *e) {
    if (check_lr(lr, e)) return -1;
    o->c.lr = lr;
    return 0;
}

int bp_optim_set_schedule(bp_optim *o, const bp_schedule *s, bp_err *e) {
    if (!s) {
        o->scheduled = 0;
        return 0;
    }
    if (bp_schedule_check(s, e)) return -1;
    o->s = *s;
    o->scheduled = 1;
    return 0;
}

double bp_optim_lr(const bp_optim *o) {
    return bp_schedule_lr(o->scheduled ? &o->s : NULL, o->c.lr, o->steps);
}
int64_t bp_optim_steps(const bp_optim *o) { return o->steps; }
double bp_optim_last_norm(const bp_optim *o) { return o->last_norm; }

void bp_optim_reset(bp_optim *o) {
    if (o->state) memset(o->state, 0, sizeof(double) * (size_t)o->n_bufs * o->P);
    o->steps = 0;
    o->last_norm = NAN;
}

const double *bp_optim_state(const bp_optim *o, const char *which, size_t *n) {
    for (int i = 0; i < o->n_bufs; i++)
        if (strcmp(which, o->names[i]) == 0) {
            if (n) *n = o->P;
            return o->bufs[i];
        }
    if (n) *n = 0;
    return NULL;
}

const char *bp_optim_state_name(const bp_optim *o, int i) {
    return i >= 0 && i < o->n_bufs ? o->names[i] : NULL;
}

size_t bp_optim_state_size(const bp_optim *o) { return 1 + (size_t)o->n_bufs * o->P; }

void bp_optim_state_save(const bp_optim *o, double *out) {
    out[0] = (double)o->steps;
    if (o->n_bufs) memcpy(out + 1, o->state, sizeof(double) * (size_t)o->n_bufs * o->P);
}

int bp_optim_state_load(bp_optim *o, const double *in, size_t n, bp_err *e) {
    size_t want = bp_optim_state_size(o);
    if (n != want)
        return bp_err_set(e, "the state of this %s optimiser has %zu values, not %zu",
                          optim_names[o->c.kind], want, n);
    /* 2^53: the last step count a double holds exactly. */
    if (!(in[0] >= 0 && in[0] <= 9007199254740992.0 && in[0] == floor(in[0])))
        return bp_err_set(e,
                          "the state's step count must be a whole number "
                          ">= 0 (got %g)",
                          in[0]);
    for (int i = 0; i < o->n_bufs; i++) {
        const double *buf = in + 1 + (size_t)i * o->P;
        int mean_square = strcmp(o->names[i], "v") == 0;
        for (size_t k = 0; k < o->P; k++) {
            if (!isfinite(buf[k]))
                return bp_err_set(e, "state %s[%zu] is not finite (%g)", o->names[i],
                                  k + 1, buf[k]);
            if (mean_square && buf[k] < 0)
                return bp_err_set(e,
                                  "state v[%zu] is a mean square and cannot "
                                  "be negative (%g)",
                                  k + 1, buf[k]);
        }
    }
    o->steps = (int64_t)in[0];
    if (o->n_bufs) memcpy(o->state, in + 1, sizeof(double) * (size_t)o->n_bufs * o->P);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Gradient clipping: torch.nn.utils.clip_grad_norm_ with the 2-norm.        */
/* The norm is that of all gradients as one vector of P entries,             */
/* sqrt(sum of dw^2). Every gradient is then scaled by                       */
/* c = max_norm / (norm + 1e-6) if c < 1: the 1e-6 keeps c finite for a zero */
/* gradient and makes the clipped norm land just under max_norm.             */

/* ss plus the squares of N numbers of type t at p, added in order. */
static double add_squares(double ss, const void *p, bp_dtype t, size_t N) {
    if (t == BP_F32) {
        const float *v = p;
        for (size_t k = 0; k < N; k++) ss += (double)v[k] * v[k];
    } else {
        const double *v = p;
        for (size_t k = 0; k < N; k++) ss += v[k] * v[k];
    }
    return ss;
}

double bp_optim_grad_norm(const bp_net *net) {
    double ss = 0;
    int n;
    const bp_param *t = bp_net_param_list(net, &n);
    for (int k = 0; k < n; k++)
        if (t[k].trainable) ss = add_squares(ss, t[k].grad, net->dtype, t[k].count);
    return sqrt(ss);
}

static void scale(void *p, bp_dtype t, size_t N, double c) {
    if (t == BP_F32) {
        float *v = p;
        for (size_t k = 0; k < N; k++) v[k] = (float)(v[k] * c);
    } else {
        double *v = p;
        for (size_t k = 0; k < N; k++) v[k] *= c;
    }
}

static void scale_grads(bp_net *net, double c) {
    int n;
    const bp_param *t = bp_net_param_list(net, &n);
    for (int k = 0; k < n; k++)
        if (t[k].trainable) scale(t[k].grad, net->dtype, t[k].count, c);
}

double bp_optim_clip(bp_net *net, double max_norm) {
    double norm = bp_optim_grad_norm(net);
    if (max_norm > 0 && isfinite(norm)) {
        double c = max_norm / (norm + 1e-6);
        if (c < 1) scale_grads(net, c);
    }
    return norm;
}

/* ------------------------------------------------------------------------ */
/* The update rules. Each updates N parameters w from their gradients g;     */
/* its state starts at entry off of each buffer. t is PyTorch's step number, */
/* 1 on the first step. Weight decay enters through a local g, so the net's  */
/* dW and db are left as backward made them.                                 */

/* SGD (torch.optim.SGD), with lr, momentum mu, dampening tau, L2 wd:
 *   g = g + wd * w                        (if wd != 0)
 *   b = g on the first step,
 *       mu * b + (1 - tau) * g after      (if mu != 0)
 *   g = g + mu * b  (Nesterov)  or  b     (if mu != 0)
 *   w = w - lr * g
 * PyTorch's velocity is the sum of gradients, not of lr-scaled steps, so a
 * change of lr takes effect at once. The last line is bp_sgd_step, so with
 * wd = mu = 0 this is exactly bp_net_update's w -= lr * dw, bit for bit. */
static void sgd(bp_optim *o, double *w, const double *g, size_t N, size_t off,
                double lr) {
    const double wd = o->c.weight_decay, mu = o->c.momentum;
    const double tau = o->c.dampening;
    double *b = o->momentum ? o->momentum + off : NULL;
    for (size_t k = 0; k < N; k++) {
        double gk = g[k];
        if (wd != 0) gk = gk + wd * w[k];
        if (mu != 0) {
            b[k] = o->steps == 0 ? gk : mu * b[k] + (1 - tau) * gk;
            gk = o->c.nesterov ? gk + mu * b[k] : b[k];
        }
        w[k] = bp_sgd_step(w[k], gk, lr);
    }
}

/* Adam (torch.optim.Adam) and AdamW (torch.optim.AdamW), with lr, betas
 * b1, b2, eps and weight decay wd:
 *   Adam:  g = g + wd * w                 (L2, if wd != 0)
 *   AdamW: w = w - lr * wd * w            (decoupled: not in the moments)
 *   m = b1 * m + (1 - b1) * g             (first moment)
 *   v = b2 * v + (1 - b2) * g^2           (second moment)
 *   w = w - lr * m_hat / (sqrt(v_hat) + eps),
 *       m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t)
 * The bias corrections undo the moments' start at zero. PyTorch's code
 * computes the last line as w - (lr / (1 - b1^t)) * m /
 * (sqrt(v) / sqrt(1 - b2^t) + eps), and AdamW's decay as w * (1 - lr * wd);
 * so does this loop. */
static void adam(bp_optim *o, double *w, const double *g, size_t N, size_t off, double lr,
                 int64_t t) {
    const double wd = o->c.weight_decay, b1 = o->c.beta1, b2 = o->c.beta2;
    const double eps = o->c.eps;
    const int decoupled = o->c.kind == BP_OPTIM_ADAMW;
    const double step_size = lr / (1 - pow(b1, (double)t));
    const double bc2_sqrt = sqrt(1 - pow(b2, (double)t));
    const double shrink = 1 - lr * wd;
    double *m = o->m + off, *v = o->v + off;
    for (size_t k = 0; k < N; k++) {
        double gk = g[k];
        if (wd != 0) {
            if (decoupled) w[k] *= shrink;
            else gk = gk + wd * w[k];
        }
        m[k] = b1 * m[k] + (1 - b1) * gk;
        v[k] = b2 * v[k] + (1 - b2) * gk * gk;
        double denom = sqrt(v[k]) / bc2_sqrt + eps;
        w[k] -= step_size * (m[k] / denom);
    }
}

/* RMSprop (torch.optim.RMSprop), with lr, alpha, eps, momentum mu and L2 wd:
 *   g = g + wd * w                        (if wd != 0)
 *   v = alpha * v + (1 - alpha) * g^2     (mean square)
 *   centered: a = alpha * a + (1 - alpha) * g,  d = sqrt(v - a^2) + eps
 *   else:     d = sqrt(v) + eps
 *   mu > 0:   b = mu * b + g / d,  w = w - lr * b
 *   else:     w = w - lr * g / d
 * eps is added outside the square root, as PyTorch does (TensorFlow adds it
 * inside). No bias correction: v starts at zero and the first steps are
 * large, as in PyTorch. */
static void rmsprop(bp_optim *o, double *w, const double *g, size_t N, size_t off,
                    double lr) {
    const double wd = o->c.weight_decay, alpha = o->c.alpha, eps = o->c.eps;
    const double mu = o->c.momentum;
    double *v = o->v + off;
    double *a = o->grad_avg ? o->grad_avg + off : NULL;
    double *b = o->momentum ? o->momentum + off : NULL;
    for (size_t k = 0; k < N; k++) {
        double gk = g[k];
        if (wd != 0) gk = gk + wd * w[k];
        v[k] = alpha * v[k] + (1 - alpha) * gk * gk;
        double d;
        if (a) {
            a[k] = alpha * a[k] + (1 - alpha) * gk;
            d = sqrt(v[k] - a[k] * a[k]) + eps;
        } else {
            d = sqrt(v[k]) + eps;
        }
        if (mu > 0) {
            b[k] = mu * b[k] + gk / d;
            w[k] -= lr * b[k];
        } else {
            w[k] -= lr * (gk / d);
        }
    }
}

static void update(bp_optim *o, double *w, const double *g, size_t N, size_t off,
                   double lr) {
    switch (o->c.kind) {
        case BP_OPTIM_SGD: sgd(o, w, g, N, off, lr); break;
        case BP_OPTIM_ADAM:
        case BP_OPTIM_ADAMW: adam(o, w, g, N, off, lr, o->steps + 1); break;
        case BP_OPTIM_RMSPROP: rmsprop(o, w, g, N, off, lr); break;
        default: break;
    }
}

/* A float32 array through the double rule, BLOCK entries at a time. */
#define BLOCK 256

static void update_f32(bp_optim *o, float *w, const float *g, size_t N, size_t off,
                       double lr) {
    double wb[BLOCK], gb[BLOCK];
    for (size_t k0 = 0; k0 < N; k0 += BLOCK) {
        size_t n = N - k0 < BLOCK ? N - k0 : BLOCK;
        for (size_t k = 0; k < n; k++) {
            wb[k] = w[k0 + k];
            gb[k] = g[k0 + k];
        }
        update(o, wb, gb, n, off + k0, lr);
        for (size_t k = 0; k < n; k++) w[k0 + k] = (float)wb[k];
    }
}

/* A graph's trainable tensors against the counts the optimiser was made
 * for (a stack made a graph has the same). */
static int check_tensors(const bp_optim *o, const bp_net *net, bp_err *e) {
    int n, j = 0;
    const bp_param *t = bp_net_param_list(net, &n);
    for (int k = 0; k < n; k++) {
        if (!t[k].trainable) continue;
        if (j < o->n_tensors && t[k].count != o->sizes[j])
            return bp_err_set(e,
                              "parameter %s has %zu values but the optimiser was made "
                              "for %zu",
                              t[k].name, t[k].count, o->sizes[j]);
        j++;
    }
    if (j != o->n_tensors)
        return bp_err_set(e,
                          "the network has %d trainable tensors but the optimiser was "
                          "made for %d",
                          j, o->n_tensors);
    return 0;
}

static int check_shape(const bp_optim *o, const bp_net *net, bp_err *e) {
    if (bp_net_is_graph(net) || o->n_layers == 0) return check_tensors(o, net, e);
    if (net->n_layers != o->n_layers)
        return bp_err_set(e,
                          "the network has %d layers but the optimiser was "
                          "made for %d",
                          net->n_layers, o->n_layers);
    for (int l = 0; l < o->n_layers; l++) {
        const bp_layer *L = &net->layers[l];
        int I = o->shape[2 * l], O = o->shape[2 * l + 1];
        if (L->I != I || L->O != O)
            return bp_err_set(e,
                              "layer %d has %d outputs x %d inputs but the "
                              "optimiser was made for %d x %d",
                              l + 1, L->O, L->I, O, I);
    }
    return 0;
}

int bp_optim_step(bp_optim *o, bp_net *net, bp_err *e) {
    if (check_shape(o, net, e)) return -1;
    double norm = NAN;
    if (o->c.clip_norm > 0) {
        norm = bp_optim_grad_norm(net);
        /* clip_grad_norm_ would scale by NaN or 0 and quietly spoil every
         * weight; refusing is its error_if_nonfinite=True. */
        if (!isfinite(norm))
            return bp_err_set(e,
                              "the gradient norm is %g: not stepping "
                              "(clip_norm is set)",
                              norm);
        double c = o->c.clip_norm / (norm + 1e-6);
        if (c < 1) scale_grads(net, c);
    }
    o->last_norm = norm;
    double lr = bp_optim_lr(o);
    size_t off = 0;
    int n;
    const bp_param *t = bp_net_param_list(net, &n);
    for (int k = 0; k < n; k++) {
        if (!t[k].trainable) continue;
        if (net->dtype == BP_F32)
            update_f32(o, t[k].data, t[k].grad, t[k].count, off, lr);
        else update(o, t[k].data, t[k].grad, t[k].count, off, lr);
        off += t[k].count;
    }
    o->steps++;
    return 0;
}
