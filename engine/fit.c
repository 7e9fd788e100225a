/* fit.c: the training loop over whole epochs, and evaluation (bp_fit.h).
 *
 * A loop in C so that a script pays no Lua call per step: on Fashion-MNIST an
 * epoch is ~940 steps, and a step of a small network is far cheaper than the
 * tables a Lua loop would build for it. Everything a step needs (the row
 * order, the gathered batch) is allocated by bp_fit_new, so that an epoch
 * allocates nothing; the network's own buffers grow on its first batch.
 *
 * Each step is bp_net_step_rows: with plain SGD, bp_net_train_step's fused
 * step (each layer updated as soon as its gradients are known, which saves
 * a pass over the weights); with an optimiser, the gradients and then
 * bp_optim_step. Either way a fit and the same steps done by hand give the
 * same bits (tests/test_fit.c holds them to that), except a float32
 * network's plain SGD, whose step goes into W straight from dW's product
 * (bp_net_set_fused_sgd: within a stated bound of the steps by hand, or
 * their bits with the config's unfused). A shuffled batch's inputs
 * go from the data's rows straight into the network's input buffer
 * (converted there in a float32 network): a gather into doubles here would
 * be a second copy of every input, a pass over all of the batch's memory
 * for nothing. Only the targets, a few values a row, are gathered.
 *
 * Dimensions: n = rows, d = inputs, k = targets; B = batch, O = outputs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bp_fit.h"

struct bp_fit {
    bp_fit_config c;
    int n, d, k;
    int *order; /* n row indexes: this epoch's order */
    double *yb; /* B x k: the targets of a shuffled batch */
    /* A host loss's step only (host_step): the outputs (a copy: the host
     * may run the net) and their gradient, B x O, grown on the first
     * epoch. */
    double *ob, *gb;
    size_t ob_size;
    int64_t steps;
    int epochs;
    double last_loss;
    int diverged;
};

bp_fit *bp_fit_new(const bp_data *data, const bp_fit_config *c, bp_err *e) {
    if (c->batch < 1) {
        bp_err_set(e, "a batch needs at least 1 row (got %d)", c->batch);
        return NULL;
    }
    if (!c->host_loss &&
        bp_crit_check(&(bp_crit){.loss = c->loss, .param = c->loss_param}, NULL, 0, 0, e))
        return NULL;
    if (!c->opt && !c->host_update && !(isfinite(c->lr) && c->lr >= 0)) {
        bp_err_set(e, "learning rate must be a finite number >= 0 (got %g)", c->lr);
        return NULL;
    }
    if (c->shuffle && !c->rng) {
        bp_err_set(e, "shuffling needs a random generator");
        return NULL;
    }
    if (data->n < 1) {
        bp_err_set(e, "cannot fit on a data set of 0 rows");
        return NULL;
    }
    if (c->drop_last && data->n < c->batch) {
        bp_err_set(e, "drop_last with %d rows and batches of %d leaves no batch", data->n,
                   c->batch);
        return NULL;
    }
    int B = c->batch < data->n ? c->batch : data->n;
    bp_fit *f = bp_calloc(1, sizeof *f);
    if (f) {
        f->order = bp_malloc(sizeof(int) * (size_t)data->n);
        f->yb = bp_malloc(sizeof(double) * (size_t)B * data->k);
    }
    if (!f || !f->order || !f->yb) {
        bp_fit_free(f);
        bp_err_set(e, "out of memory for a training loop over %d rows", data->n);
        return NULL;
    }
    f->c = *c;
    f->n = data->n;
    f->d = data->d;
    f->k = data->k;
    for (int i = 0; i < f->n; i++) f->order[i] = i;
    f->last_loss = NAN;
    return f;
}

void bp_fit_free(bp_fit *f) {
    if (!f) return;
    bp_free(f->order);
    bp_free(f->yb);
    bp_free(f->ob);
    bp_free(f->gb);
    bp_free(f);
}

int64_t bp_fit_steps(const bp_fit *f) { return f->steps; }
int bp_fit_epochs(const bp_fit *f) { return f->epochs; }
double bp_fit_last_loss(const bp_fit *f) { return f->last_loss; }
int bp_fit_diverged(const bp_fit *f) { return f->diverged; }
const int *bp_fit_order(const bp_fit *f) { return f->order; }

/* The criterion of loss (its parameter param, 0: the default) for net on
 * data: with class labels when the data has one target per row (a net of
 * sequences, T x C: T, one a step, bp_net_label_steps) and the net 2 or
 * more outputs, for a loss that takes labels (the only reading of such
 * targets: they cannot be the outputs' values). */
static bp_crit data_crit(const bp_net *net, const bp_data *data, bp_loss loss,
                         double param) {
    bp_crit c = {.loss = loss, .param = param};
    c.labels = data->k == bp_net_label_steps(net) && bp_net_outputs(net) >= 2 &&
               bp_loss_takes_labels(loss);
    return c;
}

/* The network must take the data's rows (check_inputs, all a host's loss
 * needs) and give its targets' width (or take them as labels, c), and c
 * must follow the net; with labels, each
 * row's is a class of the net's: "label 4 in row 7 is not a class in 1..3"
 * (rows of the data, from 1). */
static int check_inputs(const bp_net *net, const bp_data *data, bp_err *e) {
    if (net->n_layers == 0 && !bp_net_is_graph(net))
        return bp_err_set(e, "the network has no layers");
    if (net->inputs != data->d)
        return bp_err_set(e, "the network takes %d inputs, the data has %d", net->inputs,
                          data->d);
    int nl; /* a data set's batches are its rows, which lengths set for one batch are not */
    if (net->graph && bp_graph_lengths(net->graph, &nl))
        return bp_err_set(e, "lengths are set for %d sequences: fit and evaluate take whole "
                             "sequences (set none first)",
                          nl);
    return 0;
}

static int check_shapes(const bp_net *net, const bp_data *data, const bp_crit *c,
                        bp_err *e) {
    if (check_inputs(net, data, e)) return -1;
    if (bp_net_outputs(net) != data->k && !(c && c->labels))
        return bp_err_set(e, "the network gives %d outputs, the data has %d targets",
                          bp_net_outputs(net), data->k);
    if (!c) return 0;
    if (bp_net_check_crit(net, *c, e)) return -1;
    int T = c->labels ? data->k : 1;
    return c->labels ? bp_crit_check(c, data->y, data->n * T, bp_net_outputs(net) / T, e)
                     : 0;
}

/* The targets of rows order[s .. s+B-1] of data, copied into yb. */
static void gather_targets(bp_fit *f, const bp_data *data, int s, int B) {
    int k = f->k;
    for (int b = 0; b < B; b++)
        memcpy(f->yb + (size_t)b * k, data->y + (size_t)f->order[s + b] * k,
               sizeof(double) * k);
}

static int epoch(bp_fit *f, bp_net *net, const bp_data *data, double *mean_loss,
                 bp_err *e);

/* A step with the host's loss on the B rows order[s..] (shuffled) or s..
 * (in order): forward, host_loss, backward; the step's loss into *loss.
 * The update is the caller's. */
static int host_step(bp_fit *f, bp_net *net, const bp_data *data, int s, int B,
                     double *loss, bp_err *e) {
    /* the batch's rows straight from the data into the net (decoded there
     * when byte-backed): no gather into a batch of ours and copy of it */
    const int *rows = f->c.shuffle ? f->order + s : NULL;
    const int r0 = rows ? 0 : s;
    const void *x =
        data->x8 ? (const void *)(data->x8 + (size_t)r0 * f->d) : bp_data_row(data, r0);
    const double *y = data->y + (size_t)s * f->k;
    if (rows) {
        gather_targets(f, data, s, B);
        y = f->yb;
    }
    const int O = bp_net_outputs(net);
    const size_t size = (size_t)B * O;
    if (size > f->ob_size) {
        bp_free(f->ob);
        bp_free(f->gb);
        f->ob = bp_malloc(sizeof(double) * size);
        f->gb = bp_malloc(sizeof(double) * size);
        f->ob_size = f->ob && f->gb ? size : 0;
        if (!f->ob_size) return bp_err_set(e, "out of memory for a batch's outputs");
    }
    const double *out = bp_net_forward_rows(net, x, data->dtype, data->x8 ? data->table : NULL,
                                            rows, B, e);
    if (!out) return -1;
    memcpy(f->ob, out, sizeof(double) * size);
    if (f->c.host_loss(f->c.host_ud, f->ob, O, y, f->k, B, loss, f->gb, e)) return -1;
    if (!isfinite(*loss)) return 0; /* the caller stops before the backward's use */
    bp_net_zero_grad(net);
    return bp_net_backward(net, f->gb, e);
}

/* The engine's step on the batch (the update fused in, with plain SGD). */
static int engine_step(bp_fit *f, bp_net *net, const bp_data *data, bp_crit crit, int s,
                       int B, double *loss, bp_err *e) {
    const void *x = bp_data_row(data, 0);
    const double *y = f->yb;
    const int *rows = NULL;
    if (f->c.shuffle) {
        gather_targets(f, data, s, B);
        rows = f->order + s;
    } else {
        x = bp_data_row(data, s);
        y = data->y + (size_t)s * f->k;
    }
    double lr = f->c.opt || f->c.host_update ? -1 : f->c.lr;
    if (data->x8)
        return bp_net_step_codes(net, data->x8 + (size_t)(rows ? 0 : s) * f->d, data->table,
                                 rows, y, B, crit, lr, loss, e);
    return bp_net_step_rows_crit(net, x, data->dtype, rows, y, B, crit, lr, loss, e);
}

/* An epoch in training mode, which is put back after it as evaluate puts
 * back its own: the caller's mode is the caller's. */
int bp_fit_epoch(bp_fit *f, bp_net *net, const bp_data *data, double *mean_loss,
                 bp_err *e) {
    int was = bp_net_set_training(net, 1);
    /* Plain SGD by the engine's step: nothing reads dW between the steps
     * (on_step gets the loss only), so the step may go into W straight
     * from dW's product; dW is made when the epoch ends, however it ends. */
    int fuse = !f->c.opt && !f->c.host_update && !f->c.host_loss && !f->c.unfused;
    if (fuse) bp_net_set_fused_sgd(net, 1);
    int rc = epoch(f, net, data, mean_loss, e);
    if (fuse) bp_net_set_fused_sgd(net, 0);
    bp_net_set_training(net, was);
    return rc;
}

static int epoch(bp_fit *f, bp_net *net, const bp_data *data, double *mean_loss,
                 bp_err *e) {
    if (mean_loss) *mean_loss = NAN;
    if (data->n != f->n || data->d != f->d || data->k != f->k)
        return bp_err_set(e,
                          "the data is %d x %d with %d targets, the training loop "
                          "was made for %d x %d with %d",
                          data->n, data->d, data->k, f->n, f->d, f->k);
    const bp_crit crit = data_crit(net, data, f->c.loss, f->c.loss_param);
    if (f->c.host_loss ? check_inputs(net, data, e) : check_shapes(net, data, &crit, e))
        return -1;
    f->epochs++;
    if (f->c.shuffle) {
        for (int i = 0; i < f->n; i++) f->order[i] = i;
        for (int i = f->n - 1; i > 0; i--) {
            int j = (int)bp_rng_below(f->c.rng, (uint64_t)i + 1);
            int t = f->order[i];
            f->order[i] = f->order[j];
            f->order[j] = t;
        }
    }
    int n = f->n, stop = 0, seen = 0;
    double sum = 0;
    for (int s = 0; s < n && !stop; s += f->c.batch) {
        int B = n - s < f->c.batch ? n - s : f->c.batch;
        if (B < f->c.batch && f->c.drop_last) break;
        double loss;
        if (f->c.host_loss ? host_step(f, net, data, s, B, &loss, e)
                           : engine_step(f, net, data, crit, s, B, &loss, e))
            return -1;
        f->last_loss = loss;
        if (!isfinite(loss)) {
            f->diverged = 1;
            return bp_err_set(e, "loss is %s at step %lld (epoch %d): the run diverged",
                              isnan(loss) ? "nan"
                              : loss > 0  ? "inf"
                                          : "-inf",
                              (long long)f->steps + 1, f->epochs);
        }
        if (f->c.host_update ? f->c.host_update(f->c.host_ud, net, e)
            : f->c.opt       ? bp_optim_step(f->c.opt, net, e)
            : f->c.host_loss ? bp_net_update(net, f->c.lr, e)
                             : 0)
            return -1;
        f->steps++;
        sum += loss * B;
        seen += B;
        if (mean_loss) *mean_loss = sum / seen;
        if (f->c.on_step) stop = f->c.on_step(f->c.ud, f->steps, loss) != 0;
    }
    return stop;
}

/* A host's loss for evaluate (NULL there: crit's). */
typedef struct host_loss {
    bp_fit_loss_fn fn;
    void *ud;
} host_loss;

static int evaluate(bp_net *net, const bp_data *data, int batch, bp_crit crit,
                    const host_loss *host, double *loss_out, double *accuracy,
                    int *confusion, bp_err *e);

int bp_fit_evaluate_crit(bp_net *net, const bp_data *data, int batch, bp_loss loss,
                         double param, double *loss_out, double *accuracy, int *confusion,
                         bp_err *e) {
    int was = bp_net_set_training(net, 0);
    int rc = evaluate(net, data, batch, data_crit(net, data, loss, param), NULL, loss_out,
                      accuracy, confusion, e);
    bp_net_set_training(net, was);
    return rc;
}

int bp_fit_evaluate(bp_net *net, const bp_data *data, int batch, bp_loss loss,
                    double *loss_out, double *accuracy, int *confusion, bp_err *e) {
    return bp_fit_evaluate_crit(net, data, batch, loss, 0, loss_out, accuracy, confusion,
                                e);
}

int bp_fit_evaluate_host(bp_net *net, const bp_data *data, int batch, bp_fit_loss_fn loss,
                         void *ud, double *loss_out, double *accuracy, int *confusion,
                         bp_err *e) {
    const host_loss host = {loss, ud};
    int was = bp_net_set_training(net, 0);
    int rc = evaluate(net, data, batch, bp_crit_of(0), &host, loss_out, accuracy, confusion,
                      e);
    bp_net_set_training(net, was);
    return rc;
}

/* With host, its loss (the targets as the data holds them; only the
 * inputs' width checked), else crit's. */
static int evaluate(bp_net *net, const bp_data *data, int batch, bp_crit crit,
                    const host_loss *host, double *loss_out, double *accuracy,
                    int *confusion, bp_err *e) {
    if (batch < 1) return bp_err_set(e, "a batch needs at least 1 row (got %d)", batch);
    if (data->n < 1) return bp_err_set(e, "cannot evaluate on a data set of 0 rows");
    if (host ? check_inputs(net, data, e) : check_shapes(net, data, loss_out ? &crit : NULL, e))
        return -1;
    if ((accuracy || confusion) && !data->label)
        return bp_err_set(e, "accuracy needs class labels, and the data has none");
    /* byte-backed rows are converted a batch at a time */
    int nb = batch < data->n ? batch : data->n;
    void *xb = data->x8 ? bp_malloc(bp_dtype_size(data->dtype) * (size_t)nb * data->d) : NULL;
    if (data->x8 && !xb) return bp_err_set(e, "out of memory for a batch of %d rows", nb);
    int rc = -1, O = bp_net_outputs(net), K = data->k, right = 0;
    int T = crit.labels ? K : 1; /* a sequence's labels: B T rows of O / T */
    double sum = 0;
    if (confusion) memset(confusion, 0, sizeof(int) * (size_t)O * O);
    for (int s = 0; s < data->n; s += batch) {
        int B = data->n - s < batch ? data->n - s : batch;
        if (xb) bp_data_take_rows(data, xb, NULL, s, B);
        const double *out =
            bp_net_forward_as(net, xb ? xb : bp_data_row(data, s), data->dtype, B, e);
        if (!out) goto end;
        const double *y = data->y + (size_t)s * K;
        double l = 0;
        if (loss_out && !host) l = bp_loss_forward_crit(out, y, B * T, O / T, crit);
        else if (loss_out && host->fn(host->ud, out, O, y, K, B, &l, NULL, e)) goto end;
        sum += l * B;
        if (accuracy)
            for (int b = 0; b < B; b++)
                right += bp_argmax(out + (size_t)b * O, O) == data->label[s + b];
        if (confusion) bp_confusion(confusion, out, data->label + s, B, O);
    }
    if (loss_out) *loss_out = sum / data->n;
    if (accuracy) *accuracy = (double)right / data->n;
    rc = 0;
end:
    bp_free(xb);
    return rc;
}
