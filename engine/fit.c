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
 * same bits (tests/test_fit.c holds them to that). A shuffled batch's inputs
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
    if ((unsigned)c->loss >= BP_LOSS_COUNT) {
        bp_err_set(e, "unknown loss %d", (int)c->loss);
        return NULL;
    }
    if (!c->opt && !(isfinite(c->lr) && c->lr >= 0)) {
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
    bp_free(f);
}

int64_t bp_fit_steps(const bp_fit *f) { return f->steps; }
int bp_fit_epochs(const bp_fit *f) { return f->epochs; }
double bp_fit_last_loss(const bp_fit *f) { return f->last_loss; }
int bp_fit_diverged(const bp_fit *f) { return f->diverged; }
const int *bp_fit_order(const bp_fit *f) { return f->order; }

/* The network must take the data's rows and give its targets' width. */
static int check_shapes(const bp_net *net, const bp_data *data, bp_err *e) {
    if (net->n_layers == 0 && !bp_net_is_graph(net))
        return bp_err_set(e, "the network has no layers");
    if (net->inputs != data->d)
        return bp_err_set(e, "the network takes %d inputs, the data has %d", net->inputs,
                          data->d);
    if (bp_net_outputs(net) != data->k)
        return bp_err_set(e, "the network gives %d outputs, the data has %d targets",
                          bp_net_outputs(net), data->k);
    return 0;
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

/* An epoch in training mode, which is put back after it as evaluate puts
 * back its own: the caller's mode is the caller's. */
int bp_fit_epoch(bp_fit *f, bp_net *net, const bp_data *data, double *mean_loss,
                 bp_err *e) {
    int was = bp_net_set_training(net, 1);
    int rc = epoch(f, net, data, mean_loss, e);
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
    if (check_shapes(net, data, e) || bp_net_check_loss(net, f->c.loss, e)) return -1;
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
        double loss;
        if (bp_net_step_rows(net, x, data->dtype, rows, y, B, f->c.loss,
                             f->c.opt ? -1 : f->c.lr, &loss, e))
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
        if (f->c.opt && bp_optim_step(f->c.opt, net, e)) return -1;
        f->steps++;
        sum += loss * B;
        seen += B;
        if (mean_loss) *mean_loss = sum / seen;
        if (f->c.on_step) stop = f->c.on_step(f->c.ud, f->steps, loss) != 0;
    }
    return stop;
}

static int evaluate(bp_net *net, const bp_data *data, int batch, bp_loss loss,
                    double *loss_out, double *accuracy, int *confusion, bp_err *e);

int bp_fit_evaluate(bp_net *net, const bp_data *data, int batch, bp_loss loss,
                    double *loss_out, double *accuracy, int *confusion, bp_err *e) {
    int was = bp_net_set_training(net, 0);
    int rc = evaluate(net, data, batch, loss, loss_out, accuracy, confusion, e);
    bp_net_set_training(net, was);
    return rc;
}

static int evaluate(bp_net *net, const bp_data *data, int batch, bp_loss loss,
                    double *loss_out, double *accuracy, int *confusion, bp_err *e) {
    if (batch < 1) return bp_err_set(e, "a batch needs at least 1 row (got %d)", batch);
    if (data->n < 1) return bp_err_set(e, "cannot evaluate on a data set of 0 rows");
    if (check_shapes(net, data, e)) return -1;
    if (loss_out && bp_net_check_loss(net, loss, e)) return -1;
    if ((accuracy || confusion) && !data->label)
        return bp_err_set(e, "accuracy needs class labels, and the data has none");
    int O = data->k, right = 0;
    double sum = 0;
    if (confusion) memset(confusion, 0, sizeof(int) * (size_t)O * O);
    for (int s = 0; s < data->n; s += batch) {
        int B = data->n - s < batch ? data->n - s : batch;
        const double *out =
            bp_net_forward_as(net, bp_data_row(data, s), data->dtype, B, e);
        if (!out) return -1;
        if (loss_out)
            sum += bp_loss_forward(out, data->y + (size_t)s * O, B, O, loss) * B;
        if (accuracy)
            for (int b = 0; b < B; b++)
                right += bp_argmax(out + (size_t)b * O, O) == data->label[s + b];
        if (confusion) bp_confusion(confusion, out, data->label + s, B, O);
    }
    if (loss_out) *loss_out = sum / data->n;
    if (accuracy) *accuracy = (double)right / data->n;
    return 0;
}
