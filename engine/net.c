/* net.c: a stack of dense layers and the four stages of training.
 *
 * The network owns every buffer a step needs (inputs, h, o and their
 * gradients), sized for the largest batch seen so far, so that a training
 * loop allocates only on its first step or when the batch grows. Everything
 * that can fail is checked here, before the kernels in ops.c run: they
 * assume their sizes are right. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bp_net.h"

static const char *init_names[BP_INIT_COUNT] = {
    "constant", "uniform", "normal", "xavier", "xavier_normal", "he",
    "he_uniform"};

const char *bp_init_name(bp_init k) {
    return (unsigned)k < BP_INIT_COUNT ? init_names[k] : "?";
}
int bp_init_parse(const char *name) {
    for (int k = 0; k < BP_INIT_COUNT; k++)
        if (strcmp(name, init_names[k]) == 0) return k;
    return -1;
}

bp_net *bp_net_new(int inputs, bp_err *e) {
    if (inputs < 1) {
        bp_err_set(e, "a network needs at least 1 input (got %d)", inputs);
        return NULL;
    }
    bp_net *net = calloc(1, sizeof *net);
    if (!net) {
        bp_err_set(e, "out of memory");
        return NULL;
    }
    net->inputs = inputs;
    return net;
}

static void free_batch_buffers(bp_layer *L) {
    free(L->h);
    free(L->o);
    free(L->dh);
    free(L->dout);
    L->h = L->o = L->dh = L->dout = NULL;
}

void bp_net_free(bp_net *net) {
    if (!net) return;
    for (int l = 0; l < net->n_layers; l++) {
        bp_layer *L = &net->layers[l];
        free(L->W);
        free(L->b);
        free(L->dW);
        free(L->db);
        free_batch_buffers(L);
    }
    free(net->layers);
    free(net->x);
    free(net);
}

int bp_net_outputs(const bp_net *net) {
    return net->n_layers ? net->layers[net->n_layers - 1].O : net->inputs;
}

int bp_net_add(bp_net *net, int outputs, bp_act act, double alpha, bp_err *e) {
    if (outputs < 1)
        return bp_err_set(e, "a layer needs at least 1 neuron (got %d)", outputs);
    if ((unsigned)act >= BP_ACT_COUNT)
        return bp_err_set(e, "unknown activation %d", (int)act);
    int I = bp_net_outputs(net), O = outputs;
    if ((size_t)I * O > (size_t)1 << 31)
        return bp_err_set(e, "layer of %d x %d weights is too large", O, I);
    bp_layer *grown = realloc(net->layers, sizeof *grown * (net->n_layers + 1));
    if (!grown) return bp_err_set(e, "out of memory");
    net->layers = grown;
    bp_layer L = {.I = I, .O = O, .act = act, .alpha = alpha};
    L.W = calloc((size_t)O * I, sizeof(double));
    L.dW = calloc((size_t)O * I, sizeof(double));
    L.b = calloc((size_t)O, sizeof(double));
    L.db = calloc((size_t)O, sizeof(double));
    if (!L.W || !L.dW || !L.b || !L.db) {
        free(L.W);
        free(L.dW);
        free(L.b);
        free(L.db);
        return bp_err_set(e, "out of memory");
    }
    net->layers[net->n_layers++] = L;
    /* Batch buffers of the earlier layers stay; the new layer's are made by
     * the next forward, which sees cap smaller than needed. */
    net->cap = 0;
    return 0;
}

int bp_net_init(bp_net *net, int l, char what, bp_init k, double a, double b,
                bp_rng *r, bp_err *e) {
    if (l < 1 || l > net->n_layers)
        return bp_err_set(e, "layer %d out of range 1..%d", l, net->n_layers);
    if (what != 'w' && what != 'b')
        return bp_err_set(e, "can initialise 'w' or 'b', not '%c'", what);
    if ((unsigned)k >= BP_INIT_COUNT)
        return bp_err_set(e, "unknown initialisation %d", (int)k);
    if (!isfinite(a) || !isfinite(b))
        return bp_err_set(e, "%s initialisation needs finite parameters",
                          init_names[k]);
    if (k == BP_INIT_UNIFORM && a > b)
        return bp_err_set(e, "uniform initialisation needs low <= high (got %g > %g)",
                          a, b);
    if (k == BP_INIT_NORMAL && b < 0)
        return bp_err_set(e, "normal initialisation needs std >= 0 (got %g)", b);
    if (k != BP_INIT_CONSTANT && !r)
        return bp_err_set(e, "%s initialisation needs a random generator",
                          init_names[k]);
    bp_layer *L = &net->layers[l - 1];
    double *v = what == 'w' ? L->W : L->b;
    size_t count = what == 'w' ? (size_t)L->O * L->I : (size_t)L->O;
    double fan = L->I + L->O;
    for (size_t j = 0; j < count; j++) {
        switch (k) {
        case BP_INIT_CONSTANT: v[j] = a; break;
        case BP_INIT_UNIFORM: v[j] = a + (b - a) * bp_rng_uniform(r); break;
        case BP_INIT_NORMAL: v[j] = bp_rng_normal(r, a, b); break;
        case BP_INIT_XAVIER: {
            double lim = sqrt(6.0 / fan);
            v[j] = -lim + 2.0 * lim * bp_rng_uniform(r);
            break;
        }
        case BP_INIT_XAVIER_NORMAL: v[j] = bp_rng_normal(r, 0.0, sqrt(2.0 / fan)); break;
        case BP_INIT_HE: v[j] = bp_rng_normal(r, 0.0, sqrt(2.0 / L->I)); break;
        case BP_INIT_HE_UNIFORM: {
            double lim = sqrt(6.0 / L->I);
            v[j] = -lim + 2.0 * lim * bp_rng_uniform(r);
            break;
        }
        default: break;
        }
    }
    return 0;
}

static bp_layer *layer_at(bp_net *net, int l, int n, bp_err *e) {
    if (l < 1 || l > net->n_layers) {
        bp_err_set(e, "layer %d out of range 1..%d", l, net->n_layers);
        return NULL;
    }
    bp_layer *L = &net->layers[l - 1];
    if (n < 1 || n > L->O) {
        bp_err_set(e, "neuron %d out of range 1..%d in layer %d", n, L->O, l);
        return NULL;
    }
    return L;
}

static double *weight_in(bp_net *net, int l, int n, int i, int grad, bp_err *e) {
    bp_layer *L = layer_at(net, l, n, e);
    if (!L) return NULL;
    if (i < 1 || i > L->I) {
        bp_err_set(e, "input %d out of range 1..%d in layer %d", i, L->I, l);
        return NULL;
    }
    return (grad ? L->dW : L->W) + (size_t)(n - 1) * L->I + (i - 1);
}

double *bp_net_weight(bp_net *net, int l, int n, int i, bp_err *e) {
    return weight_in(net, l, n, i, 0, e);
}
double *bp_net_grad_weight(bp_net *net, int l, int n, int i, bp_err *e) {
    return weight_in(net, l, n, i, 1, e);
}
double *bp_net_bias(bp_net *net, int l, int n, bp_err *e) {
    bp_layer *L = layer_at(net, l, n, e);
    return L ? L->b + (n - 1) : NULL;
}
double *bp_net_grad_bias(bp_net *net, int l, int n, bp_err *e) {
    bp_layer *L = layer_at(net, l, n, e);
    return L ? L->db + (n - 1) : NULL;
}

/* Makes every per-batch buffer hold B rows. Only grows; on failure the old
 * buffers are kept (and cap is unchanged) so the net stays usable. */
static int reserve(bp_net *net, int B, bp_err *e) {
    if (B <= net->cap) return 0;
    double *x = malloc(sizeof(double) * (size_t)B * net->inputs);
    if (!x) goto oom;
    for (int l = 0; l < net->n_layers; l++) {
        bp_layer *L = &net->layers[l];
        size_t N = (size_t)B * L->O;
        double *h = malloc(sizeof(double) * N), *o = malloc(sizeof(double) * N);
        double *dh = malloc(sizeof(double) * N), *d = malloc(sizeof(double) * N);
        if (!h || !o || !dh || !d) {
            free(h);
            free(o);
            free(dh);
            free(d);
            goto oom;
        }
        free_batch_buffers(L);
        L->h = h;
        L->o = o;
        L->dh = dh;
        L->dout = d;
    }
    free(net->x);
    net->x = x;
    net->cap = B;
    return 0;
oom:
    free(x);
    /* Some layers may already hold B rows and others not: force a retry. */
    net->cap = 0;
    net->B = 0;
    return bp_err_set(e, "out of memory for a batch of %d", B);
}

const double *bp_net_forward(bp_net *net, const double *x, int B, bp_err *e) {
    if (net->n_layers == 0) {
        bp_err_set(e, "the network has no layers");
        return NULL;
    }
    if (B < 1) {
        bp_err_set(e, "a batch needs at least 1 sample (got %d)", B);
        return NULL;
    }
    if (reserve(net, B, e)) return NULL;
    net->B = B;
    memcpy(net->x, x, sizeof(double) * (size_t)B * net->inputs);
    const double *in = net->x;
    for (int l = 0; l < net->n_layers; l++) {
        bp_layer *L = &net->layers[l];
        bp_dense_forward(L->h, in, L->W, L->b, B, L->I, L->O);
        bp_act_forward(L->o, L->h, B, L->O, L->act, L->alpha);
        in = L->o;
    }
    return in;
}

void bp_net_zero_grad(bp_net *net) {
    for (int l = 0; l < net->n_layers; l++) {
        bp_layer *L = &net->layers[l];
        memset(L->dW, 0, sizeof(double) * (size_t)L->O * L->I);
        memset(L->db, 0, sizeof(double) * (size_t)L->O);
    }
}

int bp_net_backward(bp_net *net, const double *dout, bp_err *e) {
    if (net->n_layers == 0 || net->B == 0)
        return bp_err_set(e, "backward needs a forward first");
    int B = net->B;
    bp_layer *top = &net->layers[net->n_layers - 1];
    if (dout != top->dout) /* train_step writes it in place */
        memcpy(top->dout, dout, sizeof(double) * (size_t)B * top->O);
    for (int l = net->n_layers - 1; l >= 0; l--) {
        bp_layer *L = &net->layers[l];
        const double *in = l > 0 ? net->layers[l - 1].o : net->x;
        double *din = l > 0 ? net->layers[l - 1].dout : NULL;
        memset(L->dh, 0, sizeof(double) * (size_t)B * L->O);
        bp_act_backward(L->dh, L->dout, L->h, L->o, B, L->O, L->act, L->alpha);
        if (din) memset(din, 0, sizeof(double) * (size_t)B * L->I);
        bp_dense_backward(din, L->dW, L->db, L->dh, in, L->W, B, L->I, L->O);
    }
    return 0;
}

static int check_lr(double lr, bp_err *e) {
    if (isnan(lr) || isinf(lr) || lr < 0)
        return bp_err_set(e, "learning rate must be a finite number >= 0 (got %g)", lr);
    return 0;
}

int bp_net_update(bp_net *net, double lr, bp_err *e) {
    if (check_lr(lr, e)) return -1;
    for (int l = 0; l < net->n_layers; l++) {
        bp_layer *L = &net->layers[l];
        size_t N = (size_t)L->O * L->I;
        for (size_t k = 0; k < N; k++) L->W[k] -= lr * L->dW[k];
        for (int n = 0; n < L->O; n++) L->b[n] -= lr * L->db[n];
    }
    return 0;
}

int bp_net_check_loss(const bp_net *net, bp_loss loss, bp_err *e) {
    if ((unsigned)loss >= BP_LOSS_COUNT)
        return bp_err_set(e, "unknown loss %d", (int)loss);
    if (loss == BP_LOSS_SOFTMAX_CE && net->n_layers &&
        net->layers[net->n_layers - 1].act == BP_ACT_SOFTMAX)
        return bp_err_set(e, "softmax_ce takes logits: make the last layer "
                             "'identity' (softmax_ce applies the softmax itself)");
    return 0;
}

int bp_net_compute_grads(bp_net *net, const double *x, const double *y, int B,
                         bp_loss loss, double *loss_out, bp_err *e) {
    if (bp_net_check_loss(net, loss, e)) return -1;
    const double *out = bp_net_forward(net, x, B, e);
    if (!out) return -1;
    bp_layer *top = &net->layers[net->n_layers - 1];
    /* The loss gradient goes straight into the top layer's dout, where
     * backward would have copied it. */
    double *dout = top->dout;
    size_t N = (size_t)B * top->O;
    if (loss_out) *loss_out = bp_loss_forward(out, y, B, top->O, loss);
    memset(dout, 0, sizeof(double) * N);
    bp_loss_backward(dout, out, y, B, top->O, loss);
    bp_net_zero_grad(net);
    return bp_net_backward(net, dout, e);
}

int bp_net_train_step(bp_net *net, const double *x, const double *y, int B,
                      bp_loss loss, double lr, double *loss_out, bp_err *e) {
    if (check_lr(lr, e) || bp_net_compute_grads(net, x, y, B, loss, loss_out, e))
        return -1;
    return bp_net_update(net, lr, e);
}

size_t bp_net_param_count(const bp_net *net) {
    size_t n = 0;
    for (int l = 0; l < net->n_layers; l++)
        n += (size_t)net->layers[l].O * (net->layers[l].I + 1);
    return n;
}

void bp_net_params_get(const bp_net *net, double *out) {
    for (int l = 0; l < net->n_layers; l++) {
        const bp_layer *L = &net->layers[l];
        size_t N = (size_t)L->O * L->I;
        memcpy(out, L->W, sizeof(double) * N);
        out += N;
        memcpy(out, L->b, sizeof(double) * (size_t)L->O);
        out += L->O;
    }
}

void bp_net_params_set(bp_net *net, const double *in) {
    for (int l = 0; l < net->n_layers; l++) {
        bp_layer *L = &net->layers[l];
        size_t N = (size_t)L->O * L->I;
        memcpy(L->W, in, sizeof(double) * N);
        in += N;
        memcpy(L->b, in, sizeof(double) * (size_t)L->O);
        in += L->O;
    }
}
