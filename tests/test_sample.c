/* test_sample.c: the categorical draw and the sequence generator
 * (bp_sample.h).
 *
 * The draw against probabilities computed by hand: scores chosen as
 * logarithms so that the weights at a temperature are small whole
 * numbers (1, 2, 3, 4: probabilities 0.1 .. 0.4, cumulative 0.1, 0.3,
 * 0.6, 1), the chosen index for each of many generator states equal to
 * the first cumulative sum above that state's uniform (read from a copy
 * of the generator), at temperatures 1, 2 and 0.5; top-k keeping the k
 * largest with ties to the lower index; top_k = 1 the argmax; exactly
 * one uniform taken per draw; every error's text. The generator against
 * the same loop written out here (windows, forwards, draws), the same
 * seed giving the same ids and another seed other ids, greedy sampling
 * as the argmax of each window, a recurrent module's initial state and
 * the training mode put back, and the errors. */
#include <math.h>
#include <string.h>

#include "bp_sample.h"
#include "check.h"
#include "graph_build.h"

static void expect(int rc, const char *msg) {
    CHECK(rc == -1);
    if (strcmp(E.msg, msg) != 0)
        fprintf(stderr, "got:      %s\nexpected: %s\n", E.msg, msg);
    CHECK(strcmp(E.msg, msg) == 0);
}

/* The index whose cumulative probability first exceeds u. */
static int by_hand(const double *cum, int n, double u) {
    for (int k = 0; k < n; k++)
        if (u < cum[k]) return k;
    return n - 1;
}

/* 400 draws of scores s at temperature t, each against the hand
 * cumulative sums cum over index order (kept indices only: a dropped
 * index has the cumulative sum of the one before). */
static void draws(const double *s, int V, double t, int top_k, const double *cum) {
    bp_rng r;
    bp_rng_seed(&r, 11);
    int work[8], seen[8] = {0};
    for (int n = 0; n < 400; n++) {
        bp_rng copy = r;
        double u = bp_rng_uniform(&copy);
        int got = bp_sample_draw(work, s, V, t, top_k, &r, &E);
        CHECK(got == by_hand(cum, V, u));
        CHECK(memcmp(&r, &copy, sizeof r) == 0); /* one uniform taken */
        if (got >= 0) seen[got]++;
    }
    for (int k = 0; k < V; k++) CHECK((seen[k] > 0) == (cum[k] > (k ? cum[k - 1] : 0)));
}

static void test_draw_by_hand(void) {
    const double cum[] = {0.1, 0.3, 0.6, 1.0};
    double s1[] = {0, log(2), log(3), log(4)};
    draws(s1, 4, 1.0, 4, cum);
    double s2[] = {log(1), log(4), log(9), log(16)}; /* at 2: weights sqrt: 1, 2, 3, 4 */
    draws(s2, 4, 2.0, 4, cum);
    double s3[] = {log(1), log(sqrt(2)), log(sqrt(3)), log(2)}; /* at 0.5: squared */
    draws(s3, 4, 0.5, 4, cum);
    /* shifting every score changes nothing */
    double s4[] = {100, 100 + log(2), 100 + log(3), 100 + log(4)};
    draws(s4, 4, 1.0, 4, cum);
}

static void test_top_k(void) {
    /* the two largest, 4 and 3: probabilities 4/7 and 3/7 */
    double s[] = {log(4), log(1), log(3), log(2)};
    const double cum2[] = {4.0 / 7, 4.0 / 7, 1, 1};
    draws(s, 4, 1.0, 2, cum2);
    const double cum3[] = {4.0 / 9, 4.0 / 9, 7.0 / 9, 1};
    draws(s, 4, 1.0, 3, cum3);
    /* ties at the boundary: the lower indices are kept */
    double t[] = {1, 3, 3, 3, 0};
    const double tie2[] = {0, 0.5, 1, 1, 1};
    draws(t, 5, 1.0, 2, tie2);
    /* top_k = 1: the argmax, the first of equals */
    const double tie1[] = {0, 1, 1, 1, 1};
    draws(t, 5, 1.0, 1, tie1);
    draws(t, 5, 0.01, 1, tie1);
    /* the largest last: the heap's root is replaced and sifted down */
    double u[] = {0, 1, 2, 3, 4, 5, 6, 7};
    int work[3];
    bp_rng r;
    bp_rng_seed(&r, 5);
    for (int n = 0; n < 200; n++) CHECK(bp_sample_draw(work, u, 8, 1.0, 3, &r, &E) >= 5);
    CHECK(bp_sample_draw(work, u, 8, 1.0, 1, &r, &E) == 7);
}

static void test_draw_errors(void) {
    double s[] = {1, 2, 3};
    int work[3];
    bp_rng r, before;
    bp_rng_seed(&r, 1);
    before = r;
    expect(bp_sample_draw(work, s, 3, 0, 3, &r, &E),
           "temperature must be a finite number > 0 (got 0)");
    expect(bp_sample_draw(work, s, 3, -1, 3, &r, &E),
           "temperature must be a finite number > 0 (got -1)");
    expect(bp_sample_draw(work, s, 3, NAN, 3, &r, &E),
           "temperature must be a finite number > 0 (got nan)");
    expect(bp_sample_draw(work, s, 3, INFINITY, 3, &r, &E),
           "temperature must be a finite number > 0 (got inf)");
    expect(bp_sample_draw(work, s, 3, 1, 0, &r, &E), "top_k must be in 1..3 (got 0)");
    expect(bp_sample_draw(work, s, 3, 1, 4, &r, &E), "top_k must be in 1..3 (got 4)");
    expect(bp_sample_draw(NULL, s, 3, 1, 2, &r, &E),
           "top_k < V needs a work array of top_k ints");
    expect(bp_sample_draw(work, s, 0, 1, 1, &r, &E), "no scores to draw from (V = 0)");
    s[1] = NAN;
    expect(bp_sample_draw(work, s, 3, 1, 3, &r, &E),
           "score 2 is nan: the scores must be finite");
    CHECK(memcmp(&r, &before, sizeof r) == 0); /* nothing drawn */
}

enum { V = 5, T = 4, H = 6 };

/* ids (T of them) -> embedding(V, 3) -> lstm(3, H) named "rnn" ->
 * linear(H, V), weights from seed 9, in dtype t. */
static bp_net *char_net(bp_dtype t) {
    begin(t, 9);
    bp_node_opts o = bp_node_opts_default(BP_OP_INPUT);
    o.ndim = 1, o.shape[0] = T;
    int x = add(BP_OP_INPUT, 0, &o);
    o = bp_node_opts_default(BP_OP_EMBEDDING);
    o.in = V, o.out = 3, o.rng = &R;
    x = add(BP_OP_EMBEDDING, x, &o);
    o = bp_node_opts_default(BP_OP_LSTM);
    o.in = 3, o.out = H, o.rng = &R, o.name = "rnn";
    x = add(BP_OP_LSTM, x, &o);
    /* a head of large weights: scores far from uniform, so that a draw
     * depends on the window (a wrong window gives other ids) */
    static double w[V * H];
    for (int k = 0; k < V * H; k++) w[k] = bp_rng_normal(&R, 0, 4);
    o = bp_node_opts_default(BP_OP_LINEAR);
    o.in = H, o.out = V, o.rng = &R, o.weight = w;
    return as_net(add(BP_OP_LINEAR, x, &o));
}

/* The generator written out: window of the last `block` ids (all of them
 * while fewer), left-aligned, the rest its last id; the scores of its
 * last step; greedy (the argmax) when greedy is set. */
static void by_loop(int *out, bp_net *net, const int *start, int n0, int n, double temp,
                    int top_k, int block, bp_rng *r, int greedy) {
    int seq[64], work[V];
    memcpy(seq, start, sizeof(int) * (size_t)n0);
    for (int j = 0; j < n; j++) {
        int L = n0 + j, W = L < block ? L : block;
        double x[T];
        for (int t = 0; t < T; t++) x[t] = seq[L - W + (t < W ? t : W - 1)];
        const double *s = bp_net_forward(net, x, 1, &E) + (W - 1) * V;
        int best = 0;
        for (int c = 1; c < V; c++) best = s[c] > s[best] ? c : best;
        seq[L] = 1 + (greedy ? best : bp_sample_draw(work, s, V, temp, top_k, r, &E));
        out[j] = seq[L];
    }
}

static void generate(bp_dtype t) {
    bp_net *net = char_net(t);
    bp_net_set_training(net, 0);
    const int start[] = {2, 5, 1};
    int got[30], want[30], other[30];
    bp_sample_opts o = {0.8, 4, 3};
    bp_rng r1, r2;
    bp_rng_seed(&r1, 4), bp_rng_seed(&r2, 4);
    CHECK(bp_net_sample(net, got, start, 3, 30, &o, &r1, &E) == 0);
    by_loop(want, net, start, 3, 30, 0.8, 4, 3, &r2, 0);
    CHECK(memcmp(got, want, sizeof got) == 0);
    CHECK(memcmp(&r1, &r2, sizeof r1) == 0);
    for (int j = 0; j < 30; j++) CHECK(got[j] >= 1 && got[j] <= V);
    /* the same seed again: the same ids; another seed: others */
    bp_rng_seed(&r1, 4);
    CHECK(bp_net_sample(net, other, start, 3, 30, &o, &r1, &E) == 0);
    CHECK(memcmp(got, other, sizeof got) == 0);
    bp_rng_seed(&r1, 5);
    CHECK(bp_net_sample(net, other, start, 3, 30, &o, &r1, &E) == 0);
    CHECK(memcmp(got, other, sizeof got) != 0);
    /* one start id, the whole input as window, no filter */
    o = (bp_sample_opts){1.0, V, T};
    bp_rng_seed(&r1, 6), bp_rng_seed(&r2, 6);
    CHECK(bp_net_sample(net, got, start + 1, 1, 12, &o, &r1, &E) == 0);
    by_loop(want, net, start + 1, 1, 12, 1.0, V, T, &r2, 0);
    CHECK(memcmp(got, want, sizeof(int) * 12) == 0);
    /* top_k = 1: greedy, each id the argmax of its window's scores */
    o.top_k = 1;
    CHECK(bp_net_sample(net, got, start, 3, 10, &o, &r1, &E) == 0);
    by_loop(want, net, start, 3, 10, 1.0, 1, T, &r2, 1);
    CHECK(memcmp(got, want, sizeof(int) * 10) == 0);
    bp_net_free(net);
}

static void test_generate(void) {
    generate(BP_F64);
    generate(BP_F32);
}

/* A recurrent module's initial state of 2 rows and the training mode are
 * what they were after sampling (a forward of one row could not run from
 * that state). */
static void test_state_kept(void) {
    bp_net *net = char_net(BP_F64);
    int id = -1, parts, layers, h, out[5];
    for (int k = 0; k < bp_graph_nodes(net->graph); k++)
        if (strcmp(bp_graph_node_name(net->graph, k), "rnn") == 0) id = k;
    double st[2 * 2 * H], back[2 * 2 * H];
    for (int k = 0; k < 2 * 2 * H; k++) st[k] = 0.1 * k - 1;
    CHECK(bp_graph_state_set(net->graph, id, st, 2, &E) == 0);
    const int start[] = {1};
    bp_sample_opts o = {1.0, V, T};
    CHECK(net->training == 1);
    CHECK(bp_net_sample(net, out, start, 1, 5, &o, &R, &E) == 0);
    CHECK(net->training == 1);
    CHECK(bp_graph_state_info(net->graph, id, &parts, &layers, &h, &E) == 2);
    CHECK(bp_graph_state_get(net->graph, id, BP_STATE_INITIAL, back, &E) == 2);
    CHECK(memcmp(st, back, sizeof st) == 0);
    /* a failing sample leaves them too */
    o.block = 9;
    CHECK(bp_net_sample(net, out, start, 1, 5, &o, &R, &E) == -1);
    CHECK(bp_graph_state_get(net->graph, id, BP_STATE_INITIAL, back, &E) == 2);
    CHECK(memcmp(st, back, sizeof st) == 0);
    bp_net_free(net);
}

static void test_sample_errors(void) {
    bp_net *net = char_net(BP_F64);
    int out[4];
    const int start[] = {1, 6};
    bp_sample_opts o = {1.0, V, T};
    expect(bp_net_sample(net, out, start, 0, 4, &o, &R, &E),
           "start is empty: sampling needs at least one id");
    expect(bp_net_sample(net, out, start, 2, 4, &o, &R, &E),
           "start id 6 at position 2 is not in 1..5");
    expect(bp_net_sample(net, out, start, 1, -1, &o, &R, &E),
           "length must be >= 0 (got -1)");
    CHECK(bp_net_sample(net, out, start, 1, 0, &o, &R, &E) == 0);
    o.block = 0;
    expect(bp_net_sample(net, out, start, 1, 4, &o, &R, &E),
           "block must be in 1..4 (got 0)");
    o.block = 5;
    expect(bp_net_sample(net, out, start, 1, 4, &o, &R, &E),
           "block must be in 1..4 (got 5)");
    o = (bp_sample_opts){0, V, T};
    expect(bp_net_sample(net, out, start, 1, 4, &o, &R, &E),
           "temperature must be a finite number > 0 (got 0)");
    o = (bp_sample_opts){1, 6, T};
    expect(bp_net_sample(net, out, start, 1, 4, &o, &R, &E),
           "top_k must be in 1..5 (got 6)");
    bp_net_free(net);
    /* not a sequence model: a stack, and a graph ending in softmax */
    net = bp_net_new(3, &E);
    bp_net_add(net, 4, BP_ACT_IDENTITY, 0, &E);
    o = (bp_sample_opts){1, 4, 3};
    expect(bp_net_sample(net, out, start, 1, 4, &o, &R, &E),
           "sample needs a network from T ids to T x V scores (V >= 2); this one takes 3 "
           "values and gives 4 a sample");
    bp_net_free(net);
    net = char_net(BP_F64);
    bp_node_opts a = bp_node_opts_default(BP_OP_ACT);
    a.act = BP_ACT_SOFTMAX;
    CHECK(bp_net_add_module(net, BP_OP_ACT, &a, &E) == 0);
    expect(
        bp_net_sample(net, out, start, 1, 4, &o, &R, &E),
        "sample draws from scores (logits or log-probabilities), but the network ends in "
        "softmax: remove it");
    bp_net_free(net);
}

int main(void) {
    test_draw_by_hand();
    test_top_k();
    test_draw_errors();
    test_generate();
    test_state_kept();
    test_sample_errors();
    return check_report("test_sample");
}
