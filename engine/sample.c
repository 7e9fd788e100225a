/* sample.c: the categorical draw and the sequence generator of
 * bp_sample.h.
 *
 * The top-k selection keeps a heap of the k best indices seen so far (its
 * root the worst of them), O(V log k) in the caller's k ints, then tests
 * each index against the root: no sort of the whole vocabulary and no
 * allocation per draw. The weights are computed twice (for their sum,
 * then for the walk) rather than stored, so the draw needs no V-sized
 * buffer; exp of the same argument is the same number both times.
 *
 * The generator saves every recurrent module's initial state, runs from
 * zeros (a window of one row could not use a state of the batch's rows
 * anyway) and puts the states back, so that sampling in the middle of
 * training with a carried state leaves the training as it was; lengths
 * set for the training's batches likewise. */
#include <math.h>
#include <string.h>

#include "bp_alloc.h"
#include "bp_sample.h"

/* Whether index a ranks above index b: a higher score, or the same score
 * and a lower index (the deterministic tie-break). */
static int above(const double *s, int a, int b) {
    return s[a] > s[b] || (s[a] == s[b] && a < b);
}

/* The k-th best index of s (k in 1..V), with h as a heap of k ints whose
 * root is the lowest-ranked of the best k seen so far. */
static int kth_best(int *h, const double *s, int V, int k) {
    int n = 0;
    for (int i = 0; i < V; i++) {
        int c;
        if (n < k) {
            c = n++;
            h[c] = i;
            while (c > 0 && above(s, h[(c - 1) / 2], h[c])) { /* sift the new one up */
                int p = (c - 1) / 2, t = h[p];
                h[p] = h[c], h[c] = t, c = p;
            }
        } else if (above(s, i, h[0])) {
            h[0] = i, c = 0;
            for (;;) { /* sift the root down to below its lower-ranked child */
                int l = 2 * c + 1, m = c;
                if (l < n && above(s, h[m], h[l])) m = l;
                if (l + 1 < n && above(s, h[m], h[l + 1])) m = l + 1;
                if (m == c) break;
                int t = h[m];
                h[m] = h[c], h[c] = t, c = m;
            }
        }
    }
    return h[0];
}

/* The options both the draw and the generator take. */
static int check_opts(double temperature, int top_k, int V, bp_err *e) {
    if (!(temperature > 0) || isinf(temperature))
        return bp_err_set(e, "temperature must be a finite number > 0 (got %g)",
                          temperature);
    if (top_k < 1 || top_k > V)
        return bp_err_set(e, "top_k must be in 1..%d (got %d)", V, top_k);
    return 0;
}

static int check_draw(const double *scores, int V, double temperature, int top_k,
                      bp_err *e) {
    if (V < 1) return bp_err_set(e, "no scores to draw from (V = %d)", V);
    if (check_opts(temperature, top_k, V, e)) return -1;
    for (int i = 0; i < V; i++)
        if (!isfinite(scores[i]))
            return bp_err_set(e, "score %d is %g: the scores must be finite", i + 1,
                              scores[i]);
    return 0;
}

int bp_sample_draw(int *work, const double *scores, int V, double temperature, int top_k,
                   bp_rng *r, bp_err *e) {
    if (check_draw(scores, V, temperature, top_k, e)) return -1;
    if (top_k < V && !work)
        return bp_err_set(e, "top_k < V needs a work array of top_k ints");
    int kth = top_k < V ? kth_best(work, scores, V, top_k) : -1;
    double m = scores[0];
    for (int i = 1; i < V; i++) m = scores[i] > m ? scores[i] : m;
    double sum = 0;
    for (int i = 0; i < V; i++)
        if (kth < 0 || !above(scores, kth, i)) sum += exp((scores[i] - m) / temperature);
    double u = bp_rng_uniform(r) * sum, acc = 0;
    int last = 0;
    for (int i = 0; i < V; i++) {
        if (kth >= 0 && above(scores, kth, i)) continue;
        acc += exp((scores[i] - m) / temperature);
        last = i;
        if (u < acc) return i;
    }
    return last; /* u rounded up to the sum: the last kept index */
}

int bp_net_sample_shape(const bp_net *net, int *T, int *V, bp_err *e) {
    int ndim = 0, shape[BP_GRAPH_MAX_DIMS] = {0};
    if (net->graph && bp_graph_finished(net->graph))
        bp_graph_node_shape(net->graph, bp_graph_output(net->graph), &ndim, shape);
    if (ndim != 2 || shape[1] < 2 || shape[0] != net->inputs)
        return bp_err_set(
            e,
            "sample needs a network from T ids to T x V scores (V >= 2); this "
            "one takes %d values and gives %d a sample",
            net->inputs, bp_net_outputs(net));
    if (bp_graph_output_act(net->graph) == BP_ACT_SOFTMAX)
        return bp_err_set(e,
                          "sample draws from scores (logits or log-probabilities), but "
                          "the network ends in softmax: remove it");
    *T = shape[0], *V = shape[1];
    return 0;
}

static int check_sample(const bp_sample_opts *o, const int *start, int n_start,
                        int length, int T, int V, bp_err *e) {
    if (check_opts(o->temperature, o->top_k, V, e)) return -1;
    if (o->block < 1 || o->block > T)
        return bp_err_set(e, "block must be in 1..%d (got %d)", T, o->block);
    if (n_start < 1)
        return bp_err_set(e, "start is empty: sampling needs at least one id");
    for (int k = 0; k < n_start; k++)
        if (start[k] < 1 || start[k] > V)
            return bp_err_set(e, "start id %d at position %d is not in 1..%d", start[k],
                              k + 1, V);
    if (length < 0) return bp_err_set(e, "length must be >= 0 (got %d)", length);
    return 0;
}

/* Every recurrent module's initial state, to put back after sampling. */
typedef struct saved {
    int id, rows;
    double *v;
} saved;

/* The states of g's recurrent nodes with a state of their own into
 * *out (NULL and 0 when none); -1 when memory runs out. */
static int save_states(saved **out, int *n, const bp_graph *g) {
    int nodes = bp_graph_nodes(g), parts, layers, H;
    *out = NULL, *n = 0;
    saved *s = bp_calloc((size_t)nodes, sizeof *s);
    if (!s) return -1;
    *out = s;
    for (int id = 0; id < nodes; id++) {
        int rows = bp_graph_state_info(g, id, &parts, &layers, &H, NULL);
        if (rows <= 0) continue;
        s[*n].v = bp_malloc(sizeof(double) * (size_t)parts * layers * rows * H);
        if (!s[*n].v) return -1;
        s[*n].id = id, s[*n].rows = rows;
        bp_graph_state_get(g, id, BP_STATE_INITIAL, s[(*n)++].v, NULL);
    }
    return 0;
}

/* Puts the n saved states back (zeros for the others). */
static void restore_states(const saved *s, int n, bp_graph *g) {
    bp_graph_state_reset(g);
    for (int k = 0; k < n; k++) bp_graph_state_set(g, s[k].id, s[k].v, s[k].rows, NULL);
}

/* Frees what save_states made: its n states (s may be NULL). */
static void free_states(saved *s, int n) {
    for (int k = 0; s && k < n; k++) bp_free(s[k].v);
    bp_free(s);
}

/* The draws, the network prepared: window j's ids into x, forward, draw. */
static int draw_all(bp_net *net, int *out, double *x, int *work, const int *start,
                    int n_start, int length, const bp_sample_opts *o, int T, int V,
                    bp_rng *r, bp_err *e) {
    for (int j = 0; j < length; j++) {
        if (net->stop && *net->stop) return bp_err_set(e, "interrupted");
        int L = n_start + j, W = L < o->block ? L : o->block;
        for (int t = 0; t < T; t++) {
            int k = L - W + (t < W ? t : W - 1); /* past the window: its last id */
            x[t] = k < n_start ? start[k] : out[k - n_start];
        }
        const double *scores = bp_net_forward(net, x, 1, e);
        if (!scores) return -1;
        int c = bp_sample_draw(work, scores + (size_t)(W - 1) * V, V, o->temperature,
                               o->top_k, r, e);
        if (c < 0) return -1;
        out[j] = c + 1;
    }
    return 0;
}

int bp_net_sample(bp_net *net, int *out, const int *start, int n_start, int length,
                  const bp_sample_opts *o, bp_rng *r, bp_err *e) {
    int T, V, rc = -1, n_saved = 0;
    if (bp_net_sample_shape(net, &T, &V, e) ||
        check_sample(o, start, n_start, length, T, V, e))
        return -1;
    if (length == 0) return 0;
    double *x = bp_malloc(sizeof(double) * (size_t)T);
    int *work = bp_malloc(sizeof(int) * (size_t)o->top_k);
    saved *s = NULL;
    int mode = net->training, nl;
    const int *len = bp_graph_lengths(net->graph, &nl);
    int *lens = len ? bp_malloc(sizeof(int) * (size_t)nl) : NULL;
    if (!x || !work || (len && !lens) || save_states(&s, &n_saved, net->graph)) {
        bp_err_set(e, "out of memory");
        goto done;
    }
    if (len) memcpy(lens, len, sizeof(int) * (size_t)nl);
    bp_graph_set_lengths(net->graph, NULL, 0, NULL); /* a window is one whole sequence */
    bp_graph_state_reset(net->graph);
    bp_net_set_training(net, 0);
    rc = draw_all(net, out, x, work, start, n_start, length, o, T, V, r, e);
    bp_net_set_training(net, mode);
    restore_states(s, n_saved, net->graph);
    bp_graph_set_lengths(net->graph, lens, nl, NULL);
done:
    free_states(s, n_saved);
    bp_free(lens);
    bp_free(work);
    bp_free(x);
    return rc;
}
