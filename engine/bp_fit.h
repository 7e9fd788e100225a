/* bp_fit.h: whole epochs of mini-batch training in C, and evaluation.
 *
 * A script that does not need control at every step hands the loop to C:
 * bp_fit_epoch visits every row of a bp_data once, in mini-batches, and for
 * each batch computes the gradients (bp_net_compute_grads) and applies one
 * update: gradient descent with a fixed lr (bp_net_update) or an optimiser
 * (bp_optim_step). A per-step callback sees each step's loss (a host logs it
 * from there) and may stop the loop. A host may also supply the loss or the
 * update rule itself (a Lua loss or optimiser: bp_fit_config's host_loss,
 * host_update), and the loop stays in C around them.
 *
 * The order of the rows. Without shuffling, an epoch takes rows 0..n-1 in
 * order and each batch is a pointer into the data (no copy). With shuffling,
 * each epoch draws a new order: starting from 0..n-1 it runs Fisher-Yates
 * exactly as bp_data_shuffle does (for i = n-1 down to 1, swap entries i and
 * bp_rng_below(r, i + 1)), so an epoch visits the rows in the order
 * bp_data_shuffle would put them in from the same generator state. The data
 * is never moved: a batch's rows are gathered into a buffer that the fit
 * owns, allocated once by bp_fit_new.
 *
 * The last batch. When the batch size does not divide n, the epoch ends with
 * a shorter batch of the n % batch rows left, as PyTorch's DataLoader does by
 * default (drop_last=False); drop_last leaves those rows out of the epoch.
 *
 * Class labels. A data set of one target per row (k = 1) trains a net of 2
 * or more outputs under a loss that takes labels (softmax_ce, nll): each
 * row's target is then its class 1..O (bp_crit's labels), as PyTorch's
 * cross_entropy takes class indexes. A data set with labels (bp_data's
 * label) keeps its one-hot rows, which give the same bits.
 *
 * Dimensions: n = rows of the data, d = inputs, k = targets; B = batch,
 * O = outputs of the network (O == k, or k = 1 with labels).
 *
 * Fallible functions return -1 (a constructor: NULL) with a sentence in *e
 * (e may be NULL). Nothing here exits, aborts, prints or reads the clock. */
#ifndef BP_FIT_H
#define BP_FIT_H

#include <stdint.h>

#include "bp_data.h"
#include "bp_err.h"
#include "bp_net.h"
#include "bp_optim.h"
#include "bp_rng.h"

/* Called after every step with the fit's step count (1, 2, ... across all
 * epochs of this fit) and the step's loss (computed before the update, as
 * bp_net_train_step reports it). Returning non-zero stops the epoch after
 * this step. */
typedef int (*bp_fit_step_fn)(void *ud, int64_t step, double loss);

/* A loss the host computes (a loss written in Lua): from the net's outputs
 * out (B x O) and the batch's targets y (B x k, as the data holds them),
 * the batch's mean loss into *loss and, when dout is not NULL, dLoss/dout
 * into dout (B x O). 0, or -1 with a message in *e. */
typedef int (*bp_fit_loss_fn)(void *ud, const double *out, int O, const double *y, int k,
                              int B, double *loss, double *dout, bp_err *e);

/* An update rule the host runs after the gradients (an optimiser written
 * in Lua). 0, or -1 with a message in *e. */
typedef int (*bp_fit_update_fn)(void *ud, bp_net *net, bp_err *e);

typedef struct bp_fit_config {
    int batch; /* rows per step, >= 1 */
    bp_loss loss;
    double loss_param;      /* the loss's parameter (bp_crit's param): 0, its default */
    double lr;              /* gradient descent's learning rate when opt is NULL */
    bp_optim *opt;          /* NULL: bp_net_update(lr); else bp_optim_step (borrowed) */
    int shuffle;            /* non-zero: a new row order every epoch, drawn from rng */
    int drop_last;          /* non-zero: leave out the last batch when it is short */
    bp_rng *rng;            /* needed when shuffle is set (borrowed) */
    bp_fit_step_fn on_step; /* NULL, or called after every step */
    void *ud;               /* on_step's first argument */
    /* The host's parts of a step, each NULL for the engine's own. With
     * host_loss, a step is forward, host_loss, backward (loss and
     * loss_param unused; the targets go to it as they are); with
     * host_update, the update after the gradients is host_update (lr and
     * opt unused). A step's loss that is not finite stops the epoch before
     * any update, as the engine's step does. */
    bp_fit_loss_fn host_loss;
    bp_fit_update_fn host_update;
    void *host_ud; /* their first argument */
    /* Non-zero: a float32 network's plain SGD steps as bp_net_step_rows
     * takes them by hand, bit for bit; 0: fused into dW's product
     * (bp_net_set_fused_sgd), which is faster and rounds W otherwise. */
    int unfused;
} bp_fit_config;

typedef struct bp_fit bp_fit;

/* A training loop for data shaped like `data` (its n, d and k), with c copied
 * in and the row order and the batch buffers allocated. Returns NULL if the
 * batch is < 1, the loss unknown or its parameter not a finite number >= 0
 * ("huber's delta must be a finite number > 0 (got -1)"; 0 is the
 * default), the lr not a finite number >= 0 (without
 * an optimiser), shuffle is set without a generator, the data has no rows,
 * drop_last leaves no batch at all, or memory runs out. Free with
 * bp_fit_free. */
bp_fit *bp_fit_new(const bp_data *data, const bp_fit_config *c, bp_err *e);

/* Frees the loop (never the data, net, optimiser or generator); accepts
 * NULL. */
void bp_fit_free(bp_fit *f);

/* One epoch of net on data. Writes the epoch's mean loss (the mean over the
 * rows it trained on of each row's loss: batch losses weighted by their
 * sizes) into *mean_loss when it is not NULL, also when stopped early.
 * The epoch runs in training mode (dropout drops, batch norm uses the
 * batch's statistics); the net's mode is put back after it.
 * Returns 0 after the whole epoch, 1 if on_step asked to stop, and -1 if
 * data is not shaped as at bp_fit_new, the net's inputs and outputs are not
 * the data's d and k (or labels: "label 4 in row 7 is not a class in 1..3",
 * the data's rows from 1), the loss or its parameter cannot follow the
 * net's last layer, an update
 * fails (an optimiser made for another shape), or a step's loss is NaN or
 * infinite: "loss is nan at step 7 (epoch 2): the run diverged". That step's
 * update is not applied, on_step is not called for it and the step count
 * stays at the steps taken; bp_fit_diverged then says so and
 * bp_fit_last_loss gives the loss. */
int bp_fit_epoch(bp_fit *f, bp_net *net, const bp_data *data, double *mean_loss,
                 bp_err *e);

/* Steps taken (updates applied) over every epoch so far; epochs started. */
int64_t bp_fit_steps(const bp_fit *f);
int bp_fit_epochs(const bp_fit *f);

/* The loss of the last step tried (NaN before the first), and whether an
 * epoch failed because a loss was NaN or infinite (1) or not (0). */
double bp_fit_last_loss(const bp_fit *f);
int bp_fit_diverged(const bp_fit *f);

/* The row order of the last epoch started (n entries, rows 0..n-1): the
 * identity until the first shuffled epoch. Owned by f. */
const int *bp_fit_order(const bp_fit *f);

/* Forward passes of net over all of data, batch rows at a time (the net's
 * buffers grow to batch rows once; nothing is allocated per batch):
 *   *loss_out  when not NULL: the mean over the rows of each row's loss;
 *   *accuracy  when not NULL: the fraction of rows whose output's argmax is
 *              the row's label;
 *   confusion  when not NULL: O x O counts, zeroed then filled, row = true
 *              class, column = predicted (bp_confusion).
 * The passes run in evaluation mode, the net's mode put back after them.
 * Returns -1 if batch < 1, data has no rows, the sizes disagree, the loss
 * cannot follow the net, or accuracy or confusion is asked of data without
 * labels. What the net's last forward kept is overwritten. */
int bp_fit_evaluate(bp_net *net, const bp_data *data, int batch, bp_loss loss,
                    double *loss_out, double *accuracy, int *confusion, bp_err *e);

/* The same with the loss's parameter (0: its default), and class labels as
 * bp_fit_epoch takes them. */
int bp_fit_evaluate_crit(bp_net *net, const bp_data *data, int batch, bp_loss loss,
                         double param, double *loss_out, double *accuracy, int *confusion,
                         bp_err *e);

/* bp_fit_evaluate with the host's loss (called with dout NULL: its forward
 * only) for *loss_out: the mean over the rows of each batch's loss weighted
 * by its rows; the targets go to it as the data holds them, and only the
 * inputs' width is checked. accuracy and confusion as there. */
int bp_fit_evaluate_host(bp_net *net, const bp_data *data, int batch, bp_fit_loss_fn loss,
                         void *ud, double *loss_out, double *accuracy, int *confusion,
                         bp_err *e);

#endif
