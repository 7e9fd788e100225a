/* test_lengths.c: sequences of different lengths in one batch
 * (bp_graph_set_lengths), for lstm, gru and rnn of two layers, in both
 * dtypes.
 *
 * A padded batch against its sequences run one by one, each in a network
 * of its own length with the same weights: the outputs at the steps that
 * count equal, the ones past a length zeros, the final state the one
 * after each sequence's last step; the step loss the mean over the steps
 * that count, and the gradients the sequences' own weighted by their
 * share of those steps. Finite differences of that loss with lengths
 * set; ids past a length change nothing. Every error's exact text. */
#include <math.h>
#include <string.h>

#include "bp_graph.h"
#include "bp_net.h"
#include "check.h"
#include "graph_build.h"

enum { V = 5, D = 3, H = 4, B = 3, T = 5 };
static const int LEN[B] = {5, 2, 3};

static void expect(int rc, const char *msg) {
    CHECK(rc == -1);
    if (strcmp(E.msg, msg) != 0)
        fprintf(stderr, "got:      %s\nexpected: %s\n", E.msg, msg);
    CHECK(strcmp(E.msg, msg) == 0);
}

/* ids (Tn of them) -> embedding(V, D) -> op of 2 layers named "rnn" ->
 * (with head) linear(H, V); weights from seed 9 whatever Tn, so that
 * networks of other lengths hold the same ones. *rec: the op's id. */
static bp_net *seq_net(bp_op op, bp_dtype t, int Tn, int head, int *rec) {
    begin(t, 9);
    bp_node_opts o = bp_node_opts_default(BP_OP_INPUT);
    o.ndim = 1, o.shape[0] = Tn;
    int x = add(BP_OP_INPUT, 0, &o);
    o = bp_node_opts_default(BP_OP_EMBEDDING);
    o.in = V, o.out = D, o.rng = &R;
    x = add(BP_OP_EMBEDDING, x, &o);
    o = bp_node_opts_default(op);
    o.in = D, o.out = H, o.layers = 2, o.rng = &R, o.name = "rnn";
    x = *rec = add(op, x, &o);
    if (head) {
        o = bp_node_opts_default(BP_OP_LINEAR);
        o.in = H, o.out = V, o.rng = &R;
        x = add(BP_OP_LINEAR, x, &o);
    }
    return as_net(x);
}

static double value(const void *p, size_t k, bp_dtype t) {
    return t == BP_F32 ? ((const float *)p)[k] : ((const double *)p)[k];
}

static bp_crit labels(void) {
    bp_crit c = bp_crit_of(BP_LOSS_SOFTMAX_CE);
    c.labels = 1;
    return c;
}

/* B sequences of T ids and labels, from seed 3. */
static void batch(double *x, double *y) {
    bp_rng r;
    bp_rng_seed(&r, 3);
    for (int k = 0; k < B * T; k++) x[k] = 1 + (double)bp_rng_below(&r, V);
    for (int k = 0; k < B * T; k++) y[k] = 1 + (double)bp_rng_below(&r, V);
}

/* Outputs and final states: the padded batch against each sequence alone. */
static void outputs_one_by_one(bp_op op, bp_dtype t, double tol) {
    double x[B * T], y[B * T];
    batch(x, y);
    int rec;
    bp_net *pad = seq_net(op, t, T, 0, &rec);
    CHECK(bp_graph_set_lengths(pad->graph, LEN, B, &E) == 0);
    const double *out = bp_net_forward(pad, x, B, &E);
    CHECK(out != NULL);
    int parts, layers, h;
    bp_graph_state_info(pad->graph, rec, &parts, &layers, &h, &E);
    double fin[2 * 2 * B * H], one_fin[2 * 2 * H];
    CHECK(bp_graph_state_get(pad->graph, rec, BP_STATE_FINAL, fin, &E) == B);
    for (int b = 0; b < B; b++) {
        bp_net *one = seq_net(op, t, LEN[b], 0, &rec);
        const double *o1 = bp_net_forward(one, x + b * T, 1, &E);
        CHECK(o1 != NULL);
        for (int s = 0; s < T; s++)
            for (int j = 0; j < H; j++) {
                double got = out[((size_t)b * T + s) * H + j];
                if (s < LEN[b]) CHECK_NEAR(got, o1[s * H + j], tol);
                else CHECK(got == 0);
            }
        CHECK(bp_graph_state_get(one->graph, rec, BP_STATE_FINAL, one_fin, &E) == 1);
        for (int p = 0; p < parts; p++)
            for (int l = 0; l < layers; l++)
                for (int j = 0; j < H; j++)
                    CHECK_NEAR(fin[(((size_t)p * layers + l) * B + b) * H + j],
                               one_fin[((size_t)p * layers + l) * H + j], tol);
        bp_net_free(one);
    }
    bp_net_free(pad);
}

/* The step loss and every gradient: the padded batch's against the
 * sequences' own, weighted by len[b] / (sum of the lengths). */
static void grads_one_by_one(bp_op op, bp_dtype t, double tol) {
    double x[B * T], y[B * T], loss, want_loss = 0, n = 0;
    batch(x, y);
    int rec, np;
    for (int b = 0; b < B; b++) n += LEN[b];
    bp_net *pad = seq_net(op, t, T, 1, &rec);
    CHECK(bp_graph_set_lengths(pad->graph, LEN, B, &E) == 0);
    CHECK(bp_net_compute_grads_crit(pad, x, y, B, labels(), &loss, &E) == 0);
    const bp_param *p = bp_net_param_list(pad, &np);
    size_t total = bp_net_param_count(pad);
    double *want = calloc(total, sizeof(double));
    for (int b = 0; b < B; b++) {
        bp_net *one = seq_net(op, t, LEN[b], 1, &rec);
        double l;
        CHECK(bp_net_compute_grads_crit(one, x + b * T, y + b * T, 1, labels(), &l, &E) ==
              0);
        want_loss += l * LEN[b] / n;
        const bp_param *q = bp_net_param_list(one, &np);
        size_t at = 0;
        for (int k = 0; k < np; at += q[k].count, k++)
            for (size_t j = 0; q[k].grad && j < q[k].count; j++)
                want[at + j] += value(q[k].grad, j, t) * LEN[b] / n;
        bp_net_free(one);
    }
    CHECK_NEAR(loss, want_loss, tol);
    size_t at = 0;
    for (int k = 0; k < np; at += p[k].count, k++)
        for (size_t j = 0; p[k].grad && j < p[k].count; j++)
            CHECK_NEAR(value(p[k].grad, j, t), want[at + j], tol);
    free(want);
    bp_net_free(pad);
}

static void test_one_by_one(void) {
    const bp_op ops[] = {BP_OP_LSTM, BP_OP_GRU, BP_OP_RNN};
    for (int k = 0; k < 3; k++) {
        outputs_one_by_one(ops[k], BP_F64, 1e-13);
        outputs_one_by_one(ops[k], BP_F32, 1e-5);
        grads_one_by_one(ops[k], BP_F64, 1e-13);
        grads_one_by_one(ops[k], BP_F32, 1e-5);
    }
}

/* The step loss with lengths set, of the parameters' values now. */
static double loss_now(bp_net *net, const double *x, const double *y) {
    double l = NAN;
    CHECK(bp_net_compute_grads_crit(net, x, y, B, labels(), &l, &E) == 0);
    return l;
}

/* Every gradient against central differences, lengths set; then ids past
 * a length changed: the same loss and gradients. */
static void fd(bp_op op) {
    double x[B * T], y[B * T], l0;
    batch(x, y);
    int rec, np;
    bp_net *net = seq_net(op, BP_F64, T, 1, &rec);
    CHECK(bp_graph_set_lengths(net->graph, LEN, B, &E) == 0);
    CHECK(bp_net_compute_grads_crit(net, x, y, B, labels(), &l0, &E) == 0);
    const bp_param *p = bp_net_param_list(net, &np);
    size_t total = bp_net_param_count(net), at = 0;
    double *g = malloc(sizeof(double) * total), eps = 1e-6;
    for (int k = 0; k < np; at += p[k].count, k++)
        for (size_t j = 0; j < p[k].count; j++) g[at + j] = ((double *)p[k].grad)[j];
    at = 0;
    int bad = 0;
    for (int k = 0; k < np; at += p[k].count, k++)
        for (size_t j = 0; j < p[k].count; j++) {
            double *w = (double *)p[k].data + j, w0 = *w;
            *w = w0 + eps;
            double up = loss_now(net, x, y);
            *w = w0 - eps;
            double down = loss_now(net, x, y);
            *w = w0;
            double num = (up - down) / (2 * eps);
            if (fabs(num - g[at + j]) > 1e-7 + 1e-5 * fabs(num) && bad++ < 5)
                fprintf(stderr, "%s[%zu]: analytic %.9g, numeric %.9g\n", p[k].name, j,
                        g[at + j], num);
        }
    CHECK(bad == 0);
    /* ids and labels past each length: nothing changes */
    for (int b = 0; b < B; b++)
        for (int s = LEN[b]; s < T; s++) {
            x[b * T + s] = 1 + (int)(x[b * T + s]) % V;
            y[b * T + s] = 1 + (int)(y[b * T + s]) % V;
        }
    CHECK_NEAR(loss_now(net, x, y), l0, 1e-15);
    at = 0;
    for (int k = 0; k < np; at += p[k].count, k++)
        for (size_t j = 0; j < p[k].count; j++)
            CHECK_NEAR(((double *)p[k].grad)[j], g[at + j], 1e-15);
    free(g);
    bp_net_free(net);
}

/* A gradient given past a length (a loss written elsewhere, through
 * bp_net_backward) flows nowhere: the same gradients as with zeros there. */
static void dout_past_length(bp_op op) {
    double x[B * T], y[B * T], dout[B * T * H];
    batch(x, y);
    int rec, np;
    bp_net *net = seq_net(op, BP_F64, T, 0, &rec);
    CHECK(bp_graph_set_lengths(net->graph, LEN, B, &E) == 0);
    size_t total = bp_net_param_count(net);
    double *g[2] = {malloc(sizeof(double) * total), malloc(sizeof(double) * total)};
    for (int pass = 0; pass < 2; pass++) {
        for (int k = 0; k < B * T * H; k++) {
            int b = k / (T * H), s = k / H % T;
            dout[k] = pass && s >= LEN[b] ? 0 : 0.1 * (k % 7) - 0.3;
        }
        CHECK(bp_net_forward(net, x, B, &E) != NULL);
        bp_net_zero_grad(net);
        CHECK(bp_net_backward(net, dout, &E) == 0);
        const bp_param *p = bp_net_param_list(net, &np);
        size_t at = 0;
        for (int k = 0; k < np; at += p[k].count, k++)
            memcpy(g[pass] + at, p[k].grad, sizeof(double) * p[k].count);
    }
    int differ = 0;
    for (size_t j = 0; j < total; j++) differ += g[0][j] != g[1][j];
    CHECK(differ == 0);
    free(g[0]);
    free(g[1]);
    bp_net_free(net);
}

static void test_fd(void) {
    dout_past_length(BP_OP_LSTM);
    dout_past_length(BP_OP_GRU);
    dout_past_length(BP_OP_RNN);
    fd(BP_OP_LSTM);
    fd(BP_OP_GRU);
    fd(BP_OP_RNN);
}

static void test_errors(void) {
    double x[B * T], y[B * T];
    batch(x, y);
    int rec;
    bp_net *net = seq_net(BP_OP_LSTM, BP_F64, T, 1, &rec);
    const int zero[] = {5, 0, 2}, longer[] = {6}, neg[] = {-2};
    expect(bp_graph_set_lengths(net->graph, zero, 3, &E),
           "length 0 of sequence 2 is not in 1..5, the steps of lstm (module 'rnn')");
    expect(bp_graph_set_lengths(net->graph, longer, 1, &E),
           "length 6 of sequence 1 is not in 1..5, the steps of lstm (module 'rnn')");
    expect(bp_graph_set_lengths(net->graph, neg, 1, &E),
           "length -2 of sequence 1 is not in 1..5, the steps of lstm (module 'rnn')");
    int n;
    CHECK(bp_graph_lengths(net->graph, &n) == NULL && n == 0); /* refused: none set */
    CHECK(bp_graph_set_lengths(net->graph, LEN, B, &E) == 0);
    CHECK(bp_graph_lengths(net->graph, &n) != NULL && n == B);
    expect(bp_net_forward(net, x, 2, &E) ? 0 : -1,
           "lengths are set for 3 sequences, the batch has 2 (set 2 lengths, or none)");
    /* a loss over whole samples: refused */
    double full[B * T * V] = {0};
    expect(
        bp_net_compute_grads_crit(net, x, full, B, bp_crit_of(BP_LOSS_MSE), NULL, &E),
        "with lengths set, the loss must be over steps: class labels of a T x C output, "
        "a label a step");
    /* a step loss whose output has fewer steps than a length */
    bp_net *short_out = seq_net(BP_OP_LSTM, BP_F64, T, 1, &rec);
    bp_node_opts r = bp_node_opts_default(BP_OP_RESHAPE);
    r.ndim = 2, r.shape[0] = 1, r.shape[1] = T * V; /* T x V as 1 x T V */
    CHECK(bp_net_add_module(short_out, BP_OP_RESHAPE, &r, &E) == 0);
    CHECK(bp_graph_set_lengths(short_out->graph, LEN, B, &E) == 0);
    expect(bp_net_compute_grads_crit(short_out, x, y, B, labels(), NULL, &E),
           "length 5 of sequence 1 is longer than the output's 1 steps");
    bp_net_free(short_out);
    /* none again: a batch of any size */
    CHECK(bp_graph_set_lengths(net->graph, NULL, 0, &E) == 0);
    CHECK(bp_net_forward(net, x, 2, &E) != NULL);
    bp_net_free(net);
    /* no recurrent module */
    begin(BP_F64, 1);
    bp_node_opts o = bp_node_opts_default(BP_OP_INPUT);
    o.ndim = 1, o.shape[0] = 3;
    int in = add(BP_OP_INPUT, 0, &o);
    o = bp_node_opts_default(BP_OP_LINEAR);
    o.in = 3, o.out = 2;
    net = as_net(add(BP_OP_LINEAR, in, &o));
    expect(bp_graph_set_lengths(net->graph, LEN, B, &E),
           "lengths need a recurrent module (lstm, rnn or gru): this network has none");
    bp_net_free(net);
}

int main(void) {
    test_one_by_one();
    test_fd();
    test_errors();
    return check_report("test_lengths");
}
