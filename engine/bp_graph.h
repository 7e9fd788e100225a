/* bp_graph.h: a network as a graph of modules, the general form of bp_net.
 *
 * A stack of dense layers (bp_net_add) covers the lecture's networks; the
 * rest of what torch.nn writes (activations as modules of their own,
 * dropout, batch norm, residual sums, concatenated branches) is a graph:
 * nodes, each an op of the table below applied to the outputs of other
 * nodes. This header is the specification of the graph's C API, the one
 * the Lua modules bind to: make a graph for a dtype, add nodes (an op, its
 * inputs as node ids, its options), finish it (checks and shapes), then
 * hand it to bp_net_from_graph, after which it is driven through bp_net.h
 * like any network (forward, backward, train_step, optimisers, fit).
 *
 * Shapes. A node's output is B samples of one shape of up to
 * BP_GRAPH_MAX_DIMS dimensions (the features; the batch is not part of
 * it), stored row-major, a sample after another: a node of shape 2x3 holds
 * B x 6 values. Ops that work on features (linear, softmax, batchnorm1d,
 * concat) read the dimensions as PyTorch does: linear and softmax act on
 * the last dimension (the others are more rows), concat joins along the
 * first, batchnorm1d takes a shape of one dimension.
 *
 * Names. Each module has a name: the one given in its options (the Lua
 * module's {name = "fc1"}, or the path a container gives it, "3.1"), or by
 * default its place among the graph's modules, 1-based, inputs not counted
 * (which is its path in a plain sequence). Names are unique in a graph;
 * error messages and parameter names use them: "fc1.weight", "2.bias",
 * "bn1.running_mean", as PyTorch's named_parameters and state_dict.
 *
 * Ownership. A graph owns its nodes, parameters and buffers; once given to
 * bp_net_from_graph the net owns the graph. Every fallible function returns
 * -1 (or NULL) with a sentence in *e (e may be NULL); nothing here exits. */
#ifndef BP_GRAPH_H
#define BP_GRAPH_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "bp_err.h"
#include "bp_ops.h"
#include "bp_rng.h"
#include "bp_team.h"
#include "bp_types.h"

#define BP_GRAPH_MAX_DIMS 4
/* Longest module name, in bytes (a parameter's name adds ".running_mean"). */
#define BP_GRAPH_MAX_NAME 48
#define BP_PARAM_MAX_NAME (BP_GRAPH_MAX_NAME + 16)

/* The ops, one row each:  OP(NAME, "name", min_inputs, max_inputs)
 *   input        the network's input: B samples of options.shape; no inputs.
 *   linear       y = x W^T + b over the last dimension (nn.Linear(in, out)):
 *                W is out x in, b has out (none with options.no_bias).
 *   act          an activation of BP_ACT_TABLE (options.act, its alpha):
 *                elementwise, softmax over the last dimension. identity is
 *                act with BP_ACT_IDENTITY (nn.Identity).
 *   dropout      inverted dropout with probability options.p (nn.Dropout):
 *                in training each value is kept with probability 1 - p and
 *                scaled by 1 / (1 - p); in evaluation the identity.
 *   batchnorm1d  nn.BatchNorm1d(F) on a shape of F features: in training the
 *                batch's mean and biased variance normalise, the running
 *                mean and unbiased variance follow with options.momentum; in
 *                evaluation the running statistics normalise; then the
 *                learned scale (weight, 1 at start) and shift (bias, 0).
 *   flatten      the shape as one dimension (nn.Flatten()).
 *   reshape      the shape options.shape, of as many values (x.view(B, ...)).
 *   add          the elementwise sum of 2 or more inputs of one shape.
 *   concat       the inputs joined along their first dimension, the others
 *                equal (torch.cat(xs, dim=1)).
 *   conv2d       nn.Conv2d(in, out, (kh, kw), (sh, sw), (ph, pw), bias =
 *                !no_bias) on samples of shape C x H x W (C = in), giving
 *                out x P x Q with PyTorch's sizes (bp_conv.h); weight
 *                out x in x kh x kw, bias out.
 *   maxpool2d    nn.MaxPool2d((kh, kw), (sh, sw), (ph, pw)) on C x H x W:
 *                each window's largest value, its gradient to the first
 *                largest (PyTorch's choice among equals).
 *   avgpool2d    nn.AvgPool2d((kh, kw), (sh, sw), (ph, pw)): each window's
 *                mean over kh kw values, the padding's zeros counted.
 *   batchnorm2d  nn.BatchNorm2d(C) on C x H x W: batchnorm1d with each
 *                channel's statistics over its B H W values.
 *   host         a module whose math is outside the engine: options.host's
 *                callbacks compute it (a Lua module, bindings/lhost.c), over
 *                the node's buffers and its parameters (bp_host below).
 *   embedding    nn.Embedding(V, D), V = in, D = out, on the network's
 *                input itself, a sequence of T ids 1..V (whole numbers in
 *                the dtype): T x D, each id's row of weight (V x D).
 *   lstm         nn.LSTM(in, out, num_layers = layers, batch_first = True)
 *                on samples of T x in, giving every step's output T x out
 *                (the last layer's h), from a zero state; per layer k
 *                (from 0) weight_ih_lk (4 out x in, then 4 out x out),
 *                weight_hh_lk (4 out x out), bias_ih_lk, bias_hh_lk (4
 *                out), the gates in PyTorch's order i, f, g, o (bp_seq.h).
 *   rnn, gru     nn.RNN, nn.GRU likewise (bp_seq.h).
 *   layernorm    nn.LayerNorm(in) over the last dimension.
 *   attention    multi-head self-attention (bp_seq.h) on samples of T x C,
 *                C = in, giving T x C: nanoGPT's CausalSelfAttention
 *                (without dropout), tensors c_attn.weight (3C x C),
 *                c_attn.bias (3C), c_proj.weight (C x C), c_proj.bias (C),
 *                the layout of nn.MultiheadAttention's in_proj_weight,
 *                in_proj_bias, out_proj.weight, out_proj.bias; a causal
 *                mask with options.causal; a sequence longer than
 *                options.block (when set) is refused by the finish.
 *   position     a learned position embedding added to samples of T x C:
 *                y[t] = x[t] + weight[t], weight options.in x options.out
 *                (block x C; T <= block), GPT's x + wpe(arange(T)) with
 *                wpe = nn.Embedding(block, C).
 * Appended only: the numbers may be stored. Names, bp_op_parse and
 * bp_op_expected come from this table. */
#define BP_OP_TABLE(OP)                    \
    OP(INPUT, "input", 0, 0)               \
    OP(LINEAR, "linear", 1, 1)             \
    OP(ACT, "act", 1, 1)                   \
    OP(DROPOUT, "dropout", 1, 1)           \
    OP(BATCHNORM1D, "batchnorm1d", 1, 1)   \
    OP(FLATTEN, "flatten", 1, 1)           \
    OP(RESHAPE, "reshape", 1, 1)           \
    OP(ADD, "add", 2, BP_GRAPH_MAX_INPUTS) \
    OP(CONCAT, "concat", 2, BP_GRAPH_MAX_INPUTS) \
    OP(CONV2D, "conv2d", 1, 1)             \
    OP(MAXPOOL2D, "maxpool2d", 1, 1)       \
    OP(AVGPOOL2D, "avgpool2d", 1, 1)       \
    OP(BATCHNORM2D, "batchnorm2d", 1, 1)   \
    OP(HOST, "host", 1, 1)                 \
    OP(EMBEDDING, "embedding", 1, 1)       \
    OP(LSTM, "lstm", 1, 1)                 \
    OP(RNN, "rnn", 1, 1)                   \
    OP(GRU, "gru", 1, 1)                   \
    OP(LAYERNORM, "layernorm", 1, 1)       \
    OP(ATTENTION, "attention", 1, 1)       \
    OP(POSITION, "position", 1, 1)

/* Most inputs of one node (add, concat). */
#define BP_GRAPH_MAX_INPUTS 64
/* Most layers of an lstm, rnn or gru node. */
#define BP_GRAPH_MAX_LAYERS 8

#define BP_OP_ENUM_(N, name, lo, hi) BP_OP_##N,
typedef enum bp_op { BP_OP_TABLE(BP_OP_ENUM_) BP_OP_COUNT } bp_op;
#undef BP_OP_ENUM_

/* "linear", ...; -1 for an unknown name; "input, linear, ... or concat". */
const char *bp_op_name(bp_op op);
int bp_op_parse(const char *name);
const char *bp_op_expected(void);

/* A host op: the callbacks that compute it, and its parameters.
 *
 * The engine knows a callback, not Lua: ctx is the caller's, handed back
 * at every call. forward fills c->y (B x the node's count values) from c->x;
 * backward ADDS dLoss/dx into c->dx (NULL when nobody needs it) and into
 * the parameters' grad, from c->dy, c->x and c->y. Both run on the calling
 * thread (a graph with a host op never runs on a team) and return 0, or -1 with a
 * sentence in *e, which the forward or backward that called them returns
 * (the walk stops there). release, when not NULL, frees ctx when the node
 * is freed (the graph's free, a truncate); a failed bp_graph_add leaves
 * ctx to the caller.
 *
 * params: the node's tensors, made by the add as a linear's are, each
 * named "NODE.name" (name: 1 to 15 characters), of ndim (1 to
 * BP_GRAPH_MAX_DIMS) dimensions, from init's values (copied; NULL: zeros),
 * all trainable.
 *
 * def: the name of the definition the callbacks come from (1 to
 * BP_GRAPH_MAX_NAME bytes, copied), a label the engine keeps and never
 * interprets: a network file stores it so that its loader can ask its
 * host for the same callbacks again (bp_save.h). NULL: a node that cannot
 * be saved. */
#define BP_HOST_MAX_PARAMS 8

typedef struct bp_host_call {
    int B, training;                 /* rows; the forward's mode */
    int in_ndim, in_shape[BP_GRAPH_MAX_DIMS], out_ndim, out_shape[BP_GRAPH_MAX_DIMS];
    const void *x, *y, *dy;          /* input, output, dLoss/d(output) */
    void *out, *dx;                  /* forward's y to fill; backward's dx */
    const struct bp_param *params;   /* the node's tensors (n_params) */
    int n_params;
} bp_host_call;

typedef struct bp_host {
    void *ctx;
    const char *def;
    int (*forward)(void *ctx, const bp_host_call *c, bp_err *e);
    int (*backward)(void *ctx, const bp_host_call *c, bp_err *e);
    void (*release)(void *ctx);
    int n_params;
    struct {
        const char *name;
        int ndim, shape[BP_GRAPH_MAX_DIMS];
        const double *init;
    } params[BP_HOST_MAX_PARAMS];
} bp_host;

/* A node's options. Start from bp_node_opts_default(op) and set what the
 * op reads; the others are ignored.
 *   every op      name: NULL for the default (see above); copied.
 *   input         ndim, shape: a sample's shape (each >= 1).
 *   linear        in, out (>= 1); no_bias; weight (out x in, row-major) and
 *                 bias (out) as initial values, copied (NULL: drawn from
 *                 rng as nn.Linear's default, U(-1/sqrt(in), 1/sqrt(in))
 *                 for both, weight first; without rng, zeros). Explicit
 *                 values draw nothing. stop: when not NULL and set while
 *                 a large layer is drawn (SIGINT), the add fails with
 *                 "interrupted".
 *   act           act, alpha (leaky_relu's slope, elu's alpha).
 *   dropout       p in [0, 1] (default 0.5).
 *   batchnorm1d   in = F (>= 1); eps > 0 (1e-5); momentum in [0, 1] (0.1).
 *   batchnorm2d   in = C (>= 1); eps, momentum as batchnorm1d's.
 *   reshape       ndim, shape: the target shape.
 *   conv2d        in, out: channels (>= 1); kh, kw: the kernel (>= 1); sh,
 *                 sw: strides (>= 1, default 1); ph, pw: padding (>= 0,
 *                 default 0); no_bias; weight (out x in x kh x kw) and
 *                 bias (out) as linear's, the default drawn as nn.Conv2d's,
 *                 U(-1/sqrt(K), 1/sqrt(K)) with K = in kh kw (Kaiming
 *                 uniform with a = sqrt(5)), weight first.
 *   maxpool2d,    kh, kw, sh, sw, ph, pw as conv2d's (PyTorch's stride
 *   avgpool2d     default, the kernel, is the caller's to set), with
 *                 ph <= kh / 2 and pw <= kw / 2 as PyTorch requires.
 *   host          host: the callbacks and parameters (copied; the node owns
 *                 ctx once added); ndim, shape: a sample's output shape
 *                 (ndim 0: the input's).
 *   embedding     in = V, out = D (>= 1); weight (V x D) as initial values,
 *                 else drawn as nn.Embedding's, N(0, 1), else zeros.
 *   lstm          in, out = H (>= 1), layers (1 to BP_GRAPH_MAX_LAYERS,
 *                 default 1); every tensor drawn as nn.LSTM's,
 *                 U(-1/sqrt(H), 1/sqrt(H)), in the order of the list
 *                 (layer 0's weight_ih, weight_hh, bias_ih, bias_hh, then
 *                 layer 1's), else zeros.
 *   rnn, gru      as lstm; an rnn's act is BP_ACT_TANH (its default) or
 *                 BP_ACT_RELU.
 *   layernorm     in = F (>= 1); eps > 0 (1e-5).
 *   attention     in = C (>= 1); heads (>= 1, dividing C; default 1);
 *                 causal (non-zero: each step attends to itself and the
 *                 steps before it only; default 1); block (>= 1: the
 *                 longest sequence taken; 0, the default: any). Every
 *                 tensor drawn as nn.Linear's, U(-1/sqrt(C), 1/sqrt(C)),
 *                 in the order of the list, else zeros.
 *   position      in = block, out = C (>= 1 each); weight drawn as
 *                 nn.Embedding's, N(0, 1), else zeros. */
typedef struct bp_node_opts {
    const char *name;
    int ndim, shape[BP_GRAPH_MAX_DIMS];
    int in, out, no_bias;
    const double *weight, *bias;
    bp_rng *rng;
    const volatile sig_atomic_t *stop;
    bp_act act;
    double alpha, p, eps, momentum;
    int kh, kw, sh, sw, ph, pw;
    const bp_host *host;
    int layers;
    int heads, causal, block;
} bp_node_opts;

bp_node_opts bp_node_opts_default(bp_op op);

typedef struct bp_graph bp_graph;

/* An empty graph computing in dtype; NULL for an unknown dtype or no
 * memory. Free with bp_graph_free (accepts NULL) unless a net owns it. */
bp_graph *bp_graph_new(bp_dtype dtype, bp_err *e);
void bp_graph_free(bp_graph *g);

/* Adds a node of op reading the nodes inputs[0 .. n_inputs-1] (ids from
 * earlier or later calls: they are checked by bp_graph_finish) and returns
 * its id (0, 1, ... in the order of the calls), or -1 when the options are
 * bad in themselves, naming the module: "dropout (module '3'): p must be
 * in [0, 1] (got 1.5)", "add (module 'res'): needs at least 2 inputs (got
 * 1)". A linear's or batchnorm1d's parameters are made and initialised
 * here, so a graph draws its initial weights in the order of its adds.
 * The graph is unfinished until the next bp_graph_finish. */
int bp_graph_add(bp_graph *g, bp_op op, const int *inputs, int n_inputs,
                 const bp_node_opts *o, bp_err *e);

/* Checks the graph and infers every node's shape, with output as the
 * network's output: exactly one input node; every id an input refers to
 * exists; no cycle; every node is used on the way to output; unique names;
 * each op's inputs of the shapes it needs. Errors name the module and the
 * shapes: "add (module 'res1'): its inputs have shapes 8 and 4". On
 * failure the graph stays unfinished (fix it with more adds, or
 * bp_graph_truncate). Runs again after any add. */
int bp_graph_finish(bp_graph *g, int output, bp_err *e);

/* Forgets the nodes of ids n and above (as if never added) and finishes
 * the graph with output again; for a caller undoing a failed append. */
int bp_graph_truncate(bp_graph *g, int n, int output, bp_err *e);

/* Facts of a graph: its dtype; node count; the output's id (-1 before the
 * first finish); whether it is finished; the values of a sample at the
 * input and at the output (0 before a finish). */
bp_dtype bp_graph_dtype(const bp_graph *g);
int bp_graph_nodes(const bp_graph *g);

/* Rows of a recurrent op's weights per hidden value: an lstm's 4 gates, a
 * gru's 3, an rnn's 1; 0 for an op that is not recurrent. */
int bp_op_gates(bp_op op);
int bp_graph_output(const bp_graph *g);
int bp_graph_finished(const bp_graph *g);
int bp_graph_inputs(const bp_graph *g);
int bp_graph_outputs(const bp_graph *g);

/* Node id's op, name (the default one filled in), inputs (*n of them; the
 * array is the graph's), options (a copy whose name, weight, bias, rng, host
 * and stop are NULL) and output shape (*ndim dimensions into shape,
 * which has room for BP_GRAPH_MAX_DIMS; after a finish). For printing a
 * network as a tree. */
bp_op bp_graph_node_op(const bp_graph *g, int id);
const char *bp_graph_node_name(const bp_graph *g, int id);
const int *bp_graph_node_inputs(const bp_graph *g, int id, int *n);
const bp_node_opts *bp_graph_node_opts(const bp_graph *g, int id);
void bp_graph_node_shape(const bp_graph *g, int id, int *ndim, int *shape);

/* A host node's definition name (bp_host's def), or NULL: another op, or a
 * host added without one. */
const char *bp_graph_node_host_def(const bp_graph *g, int id);

/* A tensor of a network's parameters (bp_net_param_list). data and grad are
 * in the network's dtype (double or float), count values each, row-major in
 * shape; grad is NULL for a buffer. trainable: 1 for what an optimiser
 * updates (weights and biases), 0 for a buffer (batch norm's running_mean,
 * running_var and num_batches_tracked): saved, snapshotted, checkpointed,
 * never optimised. num_batches_tracked is a count kept in the dtype (a
 * float32 network's counts past 2^24 are rounded). frozen: a trainable
 * tensor set aside by bp_graph_set_frozen (requires_grad = False): no
 * optimiser or gradient descent updates it, and backward skips its
 * gradient where that saves work (see bp_graph_backward). */
typedef struct bp_param {
    char name[BP_PARAM_MAX_NAME];
    int ndim, shape[BP_GRAPH_MAX_DIMS];
    size_t count;
    void *data, *grad;
    int trainable;
    int frozen;
} bp_param;

/* The tensors of the graph (after a finish): every node's, in the order of
 * the adds; a linear's or conv2d's weight then bias, a batchnorm1d's or
 * batchnorm2d's weight, bias, running_mean, running_var,
 * num_batches_tracked; an embedding's weight; an lstm's four a layer; an
 * attention's c_attn.weight, c_attn.bias, c_proj.weight, c_proj.bias; a
 * position's weight. *n is their number. The
 * array is the graph's, valid until the next finish. */
const bp_param *bp_graph_params(const bp_graph *g, int *n);
const bp_param *bp_graph_node_params(const bp_graph *g, int id, int *n);

/* Freezes (frozen 1) or unfreezes (0) tensor k of bp_graph_params' list
 * (a buffer stays as it is: it is never trained). The flag lives with the
 * node, so a later finish keeps it. A batch norm whose weight and bias are
 * both frozen is frozen whole: in training too it normalises by its
 * running statistics and leaves them unchanged (torchvision's
 * FrozenBatchNorm2d), so fine-tuning around it does not drift them. */
void bp_graph_set_frozen(bp_graph *g, int k, int frozen);

/* Parameter tensors whose gradient backward has computed since the graph
 * was made, all backwards together: what freezing saves, counted. */
int64_t bp_graph_grads_computed(const bp_graph *g);

/* The id of the l-th linear node in the order the graph runs (l from 1; a
 * stack made a graph keeps its layer l as the l-th), or -1; and how many
 * there are. For bp_net's w_{l,n,i}. */
int bp_graph_linear(const bp_graph *g, int l);
int bp_graph_count_linear(const bp_graph *g);

/* The activation of the output node when it is an act, else -1. */
int bp_graph_output_act(const bp_graph *g);

/* ------------------------------------------------------------------------
 * The executor. bp_net calls these; a user of a network never needs them.
 * Arrays are in the graph's dtype, B x (a node's count), row-major.
 *
 * reserve makes the batch buffers hold B rows (grown only; a failure keeps
 * the old ones). forward runs every node on B rows of x (the caller's
 * buffer, B x inputs, read until the next forward) in training (non-zero:
 * dropout draws its masks from r, one uniform per value in order, and
 * batch norm uses and updates the batch's statistics) or evaluation mode;
 * -1, with nothing run, for batch norm in training with fewer than 2
 * values a feature (B < 2, or B H W < 2), dropout in training without r,
 * or an embedding's id that is not a whole number in 1..V, named with its
 * place: "embedding (module 'emb'): id 7 in sample 2 at step 5 is not in
 * 1..6" (samples and steps from 1). output_value is the output (B x outputs) and
 * output_grad where the caller puts dLoss/d(output) before backward, which
 * ADDS into every parameter's gradient, in the forward's mode; with
 * want_dx, input_grad is then dLoss/d(input) (B x inputs). Backward skips
 * what nobody needs: a node with no unfrozen tensor at or before it (and
 * not the input with want_dx) is not run at all, the gradient of a frozen
 * linear's or conv2d's weight or bias is not computed, and a frozen
 * tensor of another op gets its gradient computed but never used. forget makes
 * backward refuse until the next forward. */
int bp_graph_reserve(bp_graph *g, int B, bp_err *e);
int bp_graph_forward(bp_graph *g, const void *x, int B, int training, bp_rng *r,
                     bp_err *e);
void *bp_graph_output_value(bp_graph *g);
/* Node id's output of the last forward: B (bp_graph_batch) rows of its
 * count values in the graph's dtype; NULL before the first reserve. The
 * buffers move when a reserve grows them. NULL too for a conv2d or ReLU
 * that the last forward ran inside a chain conv2d -> ReLU -> max pool
 * (float32 with oneDNN: their values stay in oneDNN's layout, unwritten);
 * asking takes the node out of chains from the next forward on. */
const void *bp_graph_node_value(bp_graph *g, int id);
void *bp_graph_output_grad(bp_graph *g);
int bp_graph_backward(bp_graph *g, int want_dx, bp_err *e);
/* backward into gradients set to zero first (every trainable tensor's,
 * frozen ones too): the same as zeroing them and calling backward, with
 * the zeroing shared by the team, where it is one pass fewer on the
 * calling thread between the team's runs. */
int bp_graph_backward_fresh(bp_graph *g, int want_dx, bp_err *e);
const void *bp_graph_input_grad(const bp_graph *g);
int bp_graph_batch(const bp_graph *g);
void bp_graph_forget(bp_graph *g);

/* A team of threads (bp_team.h) for forward and backward: with team set,
 * a walk over B >= 2 T rows is split between its T members, each taking
 * its B / T samples through linear, act, conv2d, both pools, embedding,
 * and lstm, rnn and gru (each member its sequences through every step and
 * layer; and dropout's backward), a linear's, an embedding's and a
 * recurrent op's weight gradients by their rows (a linear's neurons, an
 * embedding's ids, a recurrent op's gates) and a conv2d's as per-member
 * partial sums added in member order; the other ops run whole on the calling thread, member
 * 0, between two meetings of the team. The same T gives the same bits
 * every time (batch norm's statistics are summed in the single thread's
 * order); against one thread, the products' rounding of fewer rows and
 * the partial sums' order. The caller keeps the team alive while it is
 * set and makes the GEMM library single-threaded inside (bp_net does
 * both). NULL: the calling thread alone, as before. -1 (and no team set)
 * for a graph with a host op, whose callbacks run on the calling thread,
 * or without memory for the members' workspaces (each conv2d's columns
 * and partial sums for T - 1 members, allocated when the team grows, not
 * per walk).
 *
 * work: the multiply-adds of a forward of B rows through the linears,
 * convolutions and recurrent layers, what a step must have to pay for the
 * team's meetings; 0 for a graph bp_graph_set_team refuses, so that no
 * team is made for it. */
int bp_graph_set_team(bp_graph *g, bp_team *team, bp_err *e);
int64_t bp_graph_work(const bp_graph *g, int B);

/* ------------------------------------------------------------------------
 * Recurrent state (lstm, rnn, gru), for truncated backpropagation through time.
 *
 * A recurrent node runs each forward from its initial state: zeros, or
 * values given by bp_graph_state_set or bp_graph_state_carry, kept across
 * forwards until changed. A state is parts x layers x B x H values, as
 * PyTorch's h_0 then c_0 (each num_layers x B x H): parts is 2 for an
 * lstm (h, c), 1 for an rnn or gru (h). An initial state of B rows takes batches of B rows only
 * (a forward of another size is refused, naming the module). The state is
 * a value: no gradient flows back past it into the forward that made it,
 * which is where truncated backpropagation cuts; dLoss/d(initial state)
 * is kept by each backward from a state that is not zeros. Setting or
 * carrying a state makes the next backward wait for a forward (it would
 * read the new state). Values are doubles, converted in a float32 graph.
 *
 * state_info: the node's parts, layers and H; returns the rows of its
 * initial state (0: zeros), or -1 when id is not recurrent ("linear
 * (module '3'): has no state (only lstm, rnn and gru have)"). state_get: into out
 * (room for parts x layers x B x H) the initial state (B its rows), the
 * final one (the state after the last step of the last forward, B its
 * rows) or the gradient of the initial state from the last backward;
 * returns B, or -1 (not recurrent; no forward yet; a zero state has no
 * gradient). state_set: the initial state of B rows from v (copied),
 * or zeros when v is NULL. state_carry: every recurrent node's initial
 * state becomes its final state of the last forward (-1 before a
 * forward). state_reset: every initial state zeros. */
typedef enum bp_state { BP_STATE_INITIAL, BP_STATE_FINAL, BP_STATE_GRAD } bp_state;

int bp_graph_state_info(const bp_graph *g, int id, int *parts, int *layers, int *H,
                        bp_err *e);
int bp_graph_state_get(const bp_graph *g, int id, bp_state which, double *out, bp_err *e);
int bp_graph_state_set(bp_graph *g, int id, const double *v, int B, bp_err *e);
int bp_graph_state_carry(bp_graph *g, bp_err *e);
void bp_graph_state_reset(bp_graph *g);

/* ------------------------------------------------------------------------
 * Sequences of different lengths in one batch (PyTorch's packed
 * sequences, batch-first, as nn.utils.rnn.pack_padded_sequence gives).
 *
 * set_lengths: the next forwards take batches of B sequences (another B
 * is refused: "lengths are set for 3 sequences, the batch has 4 (set 4
 * lengths, or none)"), sequence b being len[b] steps long (copied; each
 * in 1..T of every recurrent node, else "length 7 of sequence 2 is not in
 * 1..5, the steps of lstm (module 'rnn')"; a graph without a recurrent
 * node refuses lengths); len NULL or B 0: every sequence whole again.
 * Every recurrent node's outputs past a sequence's length are zeros, its
 * final state is the one after the sequence's last step, and nothing
 * flows back from the steps past it (their output gradients are
 * dropped). The steps past a length still hold inputs, and ids there
 * must be valid (any id: they change nothing). The step loss of a
 * network of T x C outputs (bp_net_label_steps) is then the mean over
 * the steps that count (bp_net.h). Like a state, setting lengths makes the
 * next backward wait for a forward. lengths: the array (B into *B), or
 * NULL (*B 0) when none are set. */
int bp_graph_set_lengths(bp_graph *g, const int *len, int B, bp_err *e);
const int *bp_graph_lengths(const bp_graph *g, int *B);

#endif
