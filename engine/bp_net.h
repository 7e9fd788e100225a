/* bp_net.h: a feed-forward network: a stack of fully connected layers, or a
 * graph of modules.
 *
 * One object, two forms inside. A stack (bp_net_add) is the lecture's
 * network, with every fast path below; a graph (bp_graph.h: linear,
 * activations, dropout, batch norm, sums, concatenations, reshapes) runs
 * the general executor. Every function here works for both; where the text
 * below speaks of layers, a graph's layer l is its l-th linear module.
 *
 * The lecture's four stages are four calls: bp_net_forward (forward
 * propagation), bp_loss_forward (the loss, in bp_ops.h), bp_net_backward (the
 * chain rule back through every layer) and bp_net_update (gradient descent,
 * w_new = w_old - lr * dLoss/dw). bp_net_train_step does all four.
 *
 * Layers are numbered from 1 as in the lecture: layer l's weight from input i
 * to neuron n is w_{l,n,i}, stored at layers[l-1].W[(n-1)*I + (i-1)].
 * Everything a student may want to look at (h, o, their gradients, dW, db) is
 * kept in the layer after each call, so the structs are public; treat them as
 * read-only and change weights through the functions below.
 *
 * A network computes in double (float64, the default: Lua's numbers, and the
 * lecture exactly) or in float (float32: half the memory and twice the SIMD
 * width), chosen once by bp_net_new_dtype. The functions that take or return
 * numbers use doubles for both and convert at the boundary; inside, a layer's
 * arrays are double (W, b, ...) or float (W32, b32, ...), the other set NULL.
 *
 * Memory: every buffer a training step needs lives in the network, made on
 * the first step and grown only when a batch is larger than any before, so
 * that steps after the first never allocate; bp_set_allocator (bp_alloc.h)
 * lets a test count that.
 *
 * Threads: with bp_set_threads(T >= 2), a mini-batch step of at least 2^20
 * multiply-adds (bp_net_train_step, bp_net_compute_grads, bp_net_step_rows)
 * is split between the network's own team of T threads (bp_team.h), made on
 * the first such step and freed with the network: each takes B/T rows of the
 * batch through the forward pass and the row-wise half of each layer's
 * backward, and O/T neurons of each layer's dW, db and step, with OpenBLAS
 * single-threaded inside. Splitting the work, not each product, keeps both
 * cores busy through the activations, the loss and the update too, which a
 * split of each product leaves to one thread while the other waits. The
 * same T gives the same bits every time; another T may differ in the last
 * bits, as a thread's products have fewer rows. A graph's step (and its
 * forward and backward alone) of at least 2^20 multiply-adds in its linears
 * and convolutions, with 2 rows a member, is split between the same team
 * (bp_graph_set_team: each member's rows of the batch, a linear's neurons
 * for dW, a convolution's per-member partial sums), under the same rule;
 * a graph with a host op or a recurrent one runs on the calling thread.
 *
 * Every fallible function returns 0 on success and -1 on failure with a
 * sentence in *e (e may be NULL). Nothing here exits or aborts. */
#ifndef BP_NET_H
#define BP_NET_H

#include <signal.h>
#include <stddef.h>

#include "bp_alloc.h"
#include "bp_err.h"
#include "bp_graph.h"
#include "bp_ops.h"
#include "bp_rng.h"

/* The arrays of a layer, for the functions that reach any of them by name. */
typedef enum bp_field {
    BP_FIELD_W,    /* O x I weights */
    BP_FIELD_B,    /* O biases */
    BP_FIELD_DW,   /* O x I, dLoss/dW of the last backward */
    BP_FIELD_DB,   /* O, dLoss/db */
    BP_FIELD_H,    /* B x O pre-activations of the last forward */
    BP_FIELD_O,    /* B x O activations */
    BP_FIELD_DH,   /* B x O, dLoss/dh of the last backward */
    BP_FIELD_DOUT, /* B x O, dLoss/do */
    BP_FIELD_COUNT
} bp_field;

typedef struct bp_layer {
    int I, O;       /* inputs, outputs (neurons) */
    bp_act act;     /* activation after the dense product */
    double alpha;   /* leaky_relu's slope below zero, elu's scale */
    bp_dtype dtype; /* the network's: which of the two sets below is used */
    /* A float64 network's numbers (all NULL in a float32 network): */
    double *W, *b;   /* O x I weights, O biases */
    double *dW, *db; /* dLoss/dW and dLoss/db of the last backward */
    /* Kept by forward for backward, B x O each: */
    double *h; /* pre-activation h = x W^T + b */
    double *o; /* activation o = f(h), the next layer's input */
    /* Filled by backward, B x O each: */
    double *dh;   /* dLoss/dh */
    double *dout; /* dLoss/do */
    /* A float32 network's, the same arrays as floats (NULL in a float64 one): */
    float *W32, *b32, *dW32, *db32, *h32, *o32, *dh32, *dout32;
    /* The memory behind whichever set is used, by bp_field (net.c's). */
    void *mem[BP_FIELD_COUNT];
    /* > 0: the last step's plain SGD update went into W straight from its
     * product (bp_net_set_fused_sgd) and dW is not written yet; it is made
     * from x and dh, in this many neuron parts as the step split them,
     * when the fused steps end. 0: dW is the last backward's. */
    int dw_lazy;
} bp_layer;

typedef struct bp_net {
    int inputs; /* width of a sample */
    int n_layers;
    bp_layer *layers; /* n_layers of them, layers[0] is the lecture's layer 1 */
    int B;            /* rows of the last forward; 0 if none since the last add */
    int cap;          /* rows the buffers hold; they grow, never shrink */
    bp_dtype dtype;   /* chosen by bp_net_new_dtype, for every layer */
    /* B x inputs: the last forward's input, kept for dW (x in a float64
     * network, x32 in a float32 one, where it is converted on the way in). */
    double *x;
    float *x32;
    /* float32 only: the targets converted for the loss (B x outputs), and the
     * output converted back for bp_net_forward's caller (B x outputs). */
    float *y32;
    double *out;
    /* The single-sample path (bp_net_set_fast): fast_off is the caller's
     * switch, fast whether the path applies to this net's layers. */
    int fast, fast_off;
    /* The threads a large mini-batch step is split between (see
     * bp_net_train_step), made on the first such step; NULL until then.
     * row_loss: each row's loss of the last such step (B of them). */
    struct bp_team *team;
    double *row_loss;
    /* A thread count whose team could not be made (no thread or memory to
     * be had): its steps run on the calling thread, without trying again
     * at every step. 0: none. */
    int team_failed;
    /* A flag a host may point at, its signal handler's (NULL: none). The
     * engine has no signals of its own and never exits; a long fill (a
     * layer's initialisation, 2^31 values at most) reads the flag every
     * 2^16 values and gives up with "interrupted" once it is non-zero, as
     * net:fit gives up between steps. */
    const volatile sig_atomic_t *stop;
    /* The graph form (bp_graph.h): NULL for a stack. A graph has no
     * layers[] (n_layers is 0); its nodes, parameters and buffers are the
     * graph's, which the net owns. */
    bp_graph *graph;
    /* A stack's parameter list (bp_net_param_list): 2 * n_layers tensors,
     * l.weight and l.bias of each layer, pointing into its W, dW, b, db. */
    bp_param *params;
    /* Training (1, the default, as a new torch.nn module) or evaluation
     * mode (0), for dropout and batch norm: bp_net_set_training. */
    int training;
    /* The generator dropout draws its masks from in training. The net does
     * not own it: a host points it at its own (the Lua module at bp.seed's
     * stream, which checkpoints carry), as it sets stop. NULL: a forward
     * in training through a dropout of 0 < p < 1 is refused. */
    bp_rng *rng;
    /* A host's description of the network, which the engine keeps and
     * saves (a graph's file holds it, bp_save.h) but never reads: the Lua
     * module's tree of modules, for printing a loaded network as it was
     * built. NULL (note_len 0): none. Set with bp_net_set_note. */
    unsigned char *note;
    size_t note_len;
    /* Non-zero between bp_net_set_fused_sgd(net, 1) and (net, 0). */
    int fuse_sgd;
    /* During bp_net_step_codes: the 256 values its codes stand for, in the
     * net's dtype. NULL otherwise. */
    const void *codes;
    /* During bp_net_step_codes of a float32 net, non-zero when every code v
     * stands for code_c * v + code_a (float arithmetic, the table's bits:
     * W2's v / 256), which a row then decodes by arithmetic in vectors
     * (bp_codes_affine_vec) instead of a table look-up a byte. */
    int codes_affine;
    float code_c, code_a;
} bp_net;

/* Initialisation schemes, for weights and biases separately.
 * a and b are their parameters: constant a; uniform on [a, b); normal with
 * mean a and standard deviation b; Xavier/Glorot uniform on +-sqrt(6/(I+O))
 * and normal with std sqrt(2/(I+O)); He normal with std sqrt(2/I) and uniform
 * on +-sqrt(6/I). */
typedef enum bp_init {
    BP_INIT_CONSTANT,
    BP_INIT_UNIFORM,
    BP_INIT_NORMAL,
    BP_INIT_XAVIER,
    BP_INIT_XAVIER_NORMAL,
    BP_INIT_HE,
    BP_INIT_HE_UNIFORM,
    BP_INIT_COUNT
} bp_init;

const char *bp_init_name(bp_init k);
int bp_init_parse(const char *name); /* -1 for an unknown name */

/* A float64 network taking samples of `inputs` values, with no layers yet.
 * Returns NULL (and says why) if inputs < 1 or memory runs out.
 * Free with bp_net_free. */
bp_net *bp_net_new(int inputs, bp_err *e);

/* The same, computing in dtype (BP_F64 or BP_F32); NULL also for an unknown
 * dtype. */
bp_net *bp_net_new_dtype(int inputs, bp_dtype dtype, bp_err *e);

/* A network of the graph g (finished, bp_graph_finish), in g's dtype,
 * taking g's input; the net owns g from then on, also when this fails
 * (NULL: g unfinished, or no memory). Free with bp_net_free. */
bp_net *bp_net_from_graph(bp_graph *g, bp_err *e);

/* Frees everything (the graph too); accepts NULL. */
void bp_net_free(bp_net *net);

/* Sets net's note (a copy of n bytes at p, at most BP_NET_MAX_NOTE; n = 0:
 * none). -1, the note unchanged, when it is longer or memory runs out. */
#define BP_NET_MAX_NOTE ((size_t)1 << 20)
int bp_net_set_note(bp_net *net, const void *p, size_t n, bp_err *e);

/* Whether the net is a graph (1) or a stack (0). */
int bp_net_is_graph(const bp_net *net);

/* Turns a stack into a graph computing the same thing: layer l becomes a
 * linear module named "l" (its parameters l.weight and l.bias, the same
 * values) and an act module named "l.act". A graph already: nothing to do.
 * The flat order of the parameters, so optimisers' states, stays the
 * same. -1 (net unchanged) only when memory runs out. */
int bp_net_to_graph(bp_net *net, bp_err *e);

/* Appends a module of op (any but input) taking the net's output as its
 * input, with options o (NULL: the defaults), first turning a stack into a
 * graph. -1, the net unchanged, when the module does not fit (the messages
 * of bp_graph_add and bp_graph_finish). */
int bp_net_add_module(bp_net *net, bp_op op, const bp_node_opts *o, bp_err *e);

/* Appends a dense layer of `outputs` neurons with activation act (alpha is the
 * leaky_relu slope or the elu scale, ignored otherwise). Weights start at
 * zero, biases at zero: call bp_net_init. Returns -1 if outputs < 1 or memory
 * runs out; the network is unchanged then. On a graph: a linear and an act
 * module after the output (default names). */
int bp_net_add(bp_net *net, int outputs, bp_act act, double alpha, bp_err *e);

/* Number of outputs of the last layer (inputs if there are no layers). */
int bp_net_outputs(const bp_net *net);

/* Class labels a sample takes: T when the network's output is a sequence
 * of T steps of C scores (a graph's output of shape T x C, C >= 2), one
 * label a step, the loss then the mean over the batch's B T steps (as
 * PyTorch's cross_entropy(logits.view(-1, C), labels.view(-1))); else 1.
 * With lengths set (bp_graph_set_lengths), a step's loss (train_step,
 * compute_grads, step_rows) is the mean over the steps that count, each
 * sequence's first len[b] (cross_entropy's ignore_index on the others),
 * and a loss over whole samples is refused; bp_fit's fit and evaluate
 * refuse lengths. */
int bp_net_label_steps(const bp_net *net);

/* Layer l, in this function and the next ones, is in a graph its l-th
 * linear module in the order the graph runs (a stack made a graph keeps
 * its numbers). */

/* Fills layer l's weights (what = 'w') or biases ('b') by scheme k with
 * parameters a, b, drawing from r (which may be NULL for BP_INIT_CONSTANT).
 * Returns -1 for a bad layer, scheme or parameter (uniform needs a <= b,
 * normal needs b >= 0), or with "interrupted" when net->stop was set on the
 * way (the values are then partly filled). */
int bp_net_init(bp_net *net, int l, char what, bp_init k, double a, double b, bp_rng *r,
                bp_err *e);

/* Pointers to w_{l,n,i} and b_{l,n} (1-based), or NULL with a message when
 * an index is out of range. Gradients likewise (dLoss/dw, dLoss/db).
 * float64 networks only: in a float32 network they return NULL and say to
 * use bp_net_param_index with bp_layer_get and bp_layer_set. */
double *bp_net_weight(bp_net *net, int l, int n, int i, bp_err *e);
double *bp_net_bias(bp_net *net, int l, int n, bp_err *e);
double *bp_net_grad_weight(bp_net *net, int l, int n, int i, bp_err *e);
double *bp_net_grad_bias(bp_net *net, int l, int n, bp_err *e);

/* Where w_{l,n,i} sits in layer l's W and dW, (n-1)*I + (i-1); with i = 0,
 * where b_{l,n} sits in b and db, n-1. -1 with the same messages as
 * bp_net_weight when l, n or i (i >= 1) is out of range. Any dtype. */
long bp_net_param_index(const bp_net *net, int l, int n, int i, bp_err *e);

/* (A stack's layers only.) Entry k of layer L's array f, as a double whatever the dtype; and set from
 * a double (rounded to the nearest float in a float32 network). k is not
 * checked: W and dW have O*I entries, b and db O, the others B*O of the last
 * forward. */
double bp_layer_get(const bp_layer *L, bp_field f, size_t k);
void bp_layer_set(bp_layer *L, bp_field f, size_t k, double v);

/* Forward propagation of B samples x (B x inputs, row-major). Keeps x, and
 * every layer's h and o, for backward. Returns a pointer to the output
 * (B x outputs, owned by the net, valid until the next forward; in a float32
 * network a copy converted to double), or NULL if B < 1, the net has no
 * layers, or memory runs out; a graph in training mode also refuses batch
 * norm with B = 1 and dropout without net->rng (bp_graph_forward). */
const double *bp_net_forward(bp_net *net, const double *x, int B, bp_err *e);

/* The same with x of type xt: doubles (bp_net_forward) or floats, as a
 * float32 data set keeps its rows. */
const double *bp_net_forward_as(bp_net *net, const void *x, bp_dtype xt, int B,
                                bp_err *e);

/* bp_net_forward_as of the rows rows[0..B-1] of x (x's first B rows when
 * rows is NULL), x of type xt, or with table set, rows of byte codes each
 * standing for table[code] (256 values, as bp_net_step_codes takes them):
 * the rows go from x into the net's input buffer, converted on the way, as
 * in bp_net_step_rows_crit and bp_net_step_codes, without a gather into a
 * batch of the caller's and a copy of it (a host's loss in bp_fit). The
 * same bits as bp_net_forward_as on those rows gathered (decoded). */
const double *bp_net_forward_rows(bp_net *net, const void *x, bp_dtype xt,
                                  const double *table, const int *rows, int B, bp_err *e);

/* Sets every dW and db to zero. */
void bp_net_zero_grad(bp_net *net);

/* Backpropagation of dout = dLoss/d(output) (B x outputs, B as in the last
 * forward) through every layer: fills each layer's dout and dh, and ADDS
 * into dW and db. Returns -1 if there was no forward. A graph: ADDS into
 * every trainable tensor's grad, in the mode of the last forward. */
int bp_net_backward(bp_net *net, const double *dout, bp_err *e);

/* bp_net_backward, and dLoss/d(input) into dx (B x inputs, the caller's),
 * for a caller chaining networks: the gradient the first layer would pass
 * to a layer below it. */
int bp_net_backward_input(bp_net *net, const double *dout, double *dx, bp_err *e);

/* Sets training (non-zero) or evaluation (0) mode and returns the mode
 * before, so a caller can put it back (bp_fit_epoch trains in training mode,
 * bp_fit_evaluate evaluates in evaluation mode, each restoring it). Only
 * dropout and batch norm read it; a stack computes the same in both. */
int bp_net_set_training(bp_net *net, int on);

/* Gradient descent: w -= lr * dLoss/dw for every weight and bias (in a
 * float32 network computed in double and rounded to float once, as
 * bp_optim_step does). Returns -1, changing nothing, if lr is NaN, infinite
 * or negative. */
int bp_net_update(bp_net *net, double lr, bp_err *e);

/* One training step on B samples: zero the gradients, forward, loss,
 * backward, update. Stores the loss (before the update) in *loss_out when it
 * is not NULL. Refuses softmax_ce after a softmax layer (softmax_ce takes
 * logits: the last layer must be identity), and nll after one (nll takes
 * log-probabilities: log_softmax). The result is bp_net_compute_grads
 * then bp_net_update to the last bit; each layer is updated as soon as its
 * gradients are known, which saves a pass over the weights. */
int bp_net_train_step(bp_net *net, const double *x, const double *y, int B, bp_loss loss,
                      double lr, double *loss_out, bp_err *e);

/* The first three stages: forward, loss, backward, with the gradients
 * overwritten rather than added to (as if zeroed first). Stores
 * the loss in *loss_out when it is not NULL; the caller then applies any
 * update rule (bp_net_update, or an optimiser from bp_optim.h). */
int bp_net_compute_grads(bp_net *net, const double *x, const double *y, int B,
                         bp_loss loss, double *loss_out, bp_err *e);

/* A step on rows of a data set, for a training loop that shuffles: the
 * inputs are rows[0..B-1] of x (a matrix of rows of `inputs` values, of
 * type xt: doubles, or floats as a float32 data set keeps them),
 * gathered straight into the network's input buffer in its dtype, without a
 * staging copy; rows NULL: the first B rows. y is the B x outputs targets,
 * already in batch order. lr >= 0: bp_net_train_step, except that a step
 * whose loss is not finite updates nothing (a training loop that stops on
 * divergence keeps the last good weights); lr < 0: no update, as
 * bp_net_compute_grads. The same bits as those calls on the gathered rows. */
int bp_net_step_rows(bp_net *net, const void *x, bp_dtype xt, const int *rows,
                     const double *y, int B, bp_loss loss, double lr, double *loss_out,
                     bp_err *e);

/* bp_net_step_rows_crit on byte-backed rows (bp_data.h's x8): input i of
 * row r is table[codes[r * inputs + i]] (256 values, as the data's dtype
 * holds them), taken in as that value in the data's dtype would be; rows
 * and the rest as there. The same bits as bp_net_step_rows_crit on the
 * same rows as float or double values (bp_data_materialize's). */
int bp_net_step_codes(bp_net *net, const unsigned char *codes, const double *table,
                      const int *rows, const double *y, int B, bp_crit crit, double lr,
                      double *loss_out, bp_err *e);

/* Plain SGD fused into the product of dW, for a training loop that reads
 * no gradient between its steps (bp_fit_epoch). On (on != 0): the steps
 * bp_net_step_rows takes with lr >= 0 in a float32 stack update each
 * BLAS-sized layer (B I O >= BP_BLAS_MIN_WORK; on a team, every member's
 * part that size) by W += (-lr) dh^T x, one product into W, and leave its
 * dW unwritten, which saves writing dW and a pass reading W and dW. W then
 * rounds otherwise than bp_sgd_update's (test_fit.c test_fused_sgd states
 * the bound); the same bits for the same thread count. Nothing may read
 * dW while it is on. Off (on = 0): every dW left unwritten is made from
 * the last step's inputs and dh, which no one has touched since, by the
 * product the unfused step would have made: the bits dW would have had.
 * Float64 networks, graphs and every other step are not affected. */
void bp_net_set_fused_sgd(bp_net *net, int on);

/* The single-sample path. With B = 1, bp_net_train_step and
 * bp_net_compute_grads run the whole step (forward, loss, backward, update)
 * in one function specialised for one sample, without the batch kernels'
 * generality, which at the lecture's size costs more than the arithmetic
 * of the step itself. Its arithmetic is the general path's operation for
 * operation, so the results are the same to the last bit. It applies when every layer
 * has fewer than BP_BLAS_MIN_WORK weights (where the general path runs
 * plain loops) and none is softmax. bp_net_fast says whether it applies
 * now; bp_net_set_fast(net, 0) turns it off (the general path always runs)
 * and (net, 1) back on, for layers added later too. */
int bp_net_fast(const bp_net *net);
void bp_net_set_fast(bp_net *net, int on);

/* Checks that `loss` can follow this network's last layer; -1 if not
 * (softmax_ce or nll after softmax). */
int bp_net_check_loss(const bp_net *net, bp_loss loss, bp_err *e);

/* The three steps and the check for a criterion (bp_ops.h's bp_crit): a
 * loss with its parameter (huber's delta), and y as B x 1 class labels
 * 1..outputs when c.labels is set. The functions above are these with
 * bp_crit_of(loss), to the bit. Each step checks the criterion
 * (bp_net_check_crit) and each label first: "label 4 in row 2 is not a
 * class in 1..3", rows of the batch from 1. Labels take every path a
 * target row takes (the single-sample path, the team), and give the bits
 * of their one-hot rows. */
int bp_net_train_step_crit(bp_net *net, const double *x, const double *y, int B,
                           bp_crit c, double lr, double *loss_out, bp_err *e);
int bp_net_compute_grads_crit(bp_net *net, const double *x, const double *y, int B,
                              bp_crit c, double *loss_out, bp_err *e);
int bp_net_step_rows_crit(bp_net *net, const void *x, bp_dtype xt, const int *rows,
                          const double *y, int B, bp_crit c, double lr, double *loss_out,
                          bp_err *e);
/* bp_net_check_loss with bp_crit_check's checks of c (without its targets):
 * its parameter, and labels only for a loss that takes them and a net of 2
 * or more outputs. */
int bp_net_check_crit(const bp_net *net, bp_crit c, bp_err *e);

/* The parameters as a list of named tensors (bp_param, bp_graph.h): a
 * stack's l.weight (O x I) and l.bias (O) of each layer in turn; a graph's
 * tensors (buffers too) in the order of its modules' adds. *n is their
 * number; the array is the net's, valid until a layer or module is added.
 * find: the tensor of that name, or NULL with "no parameter named 'x'". */
const bp_param *bp_net_param_list(const bp_net *net, int *n);
const bp_param *bp_net_param_find(const bp_net *net, const char *name, bp_err *e);

/* Freezes (frozen 1) or unfreezes (0) every trainable tensor whose name
 * pattern picks (bp_name_matches: a name, a module's name, a glob):
 * torch's requires_grad_(False). No optimiser (bp_optim_step) or gradient
 * descent updates a frozen tensor. In a graph see bp_graph_set_frozen for
 * the gradients it is spared; a stack stays a stack (saved as one), its
 * steps take the general path, whose backward stops below the first layer
 * with a tensor to train (their gradients zeroed) and whose update leaves
 * frozen tensors alone. Returns how many tensors it picked; -1 when none
 * ("no parameter or module matches 'fc9'"), nothing changed. */
int bp_net_freeze(bp_net *net, const char *pattern, int frozen, bp_err *e);

/* All values of the list in one flat order (tensor after tensor, each
 * row-major: for a stack layer by layer, W row by row, then b; buffers
 * included): their count, and copies out of and into a caller's buffer
 * (converted, in a float32 network). */
size_t bp_net_param_count(const bp_net *net);
void bp_net_params_get(const bp_net *net, double *out);
void bp_net_params_set(bp_net *net, const double *in);

#endif
