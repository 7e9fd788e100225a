/* bp_sample.h: text from a trained network: a categorical draw from a
 * vector of scores, and a sequence generated one id at a time.
 *
 * The draw is torch.multinomial(softmax(scores / temperature), 1) with
 * an optional top-k filter, written so that a test can compute its answer
 * by hand: it takes exactly one uniform u from the generator, keeps the
 * top_k largest scores (a tie at the boundary goes to the lower index, so
 * the kept set never depends on anything but the scores), weighs each
 * kept index i by w_i = exp((s_i - max s) / temperature), and returns the
 * first kept index, in index order, whose running sum of weights exceeds
 * u * (sum of all kept weights). top_k = 1 is therefore the argmax (the
 * lowest index among equal maxima) whatever u is; the same generator
 * state gives the same index.
 *
 * The sequence: a network that takes T ids and gives T x V scores (a
 * score per id at each step, as char-rnn's LSTM and a GPT have) is run on
 * a window of the ids so far (the start, then what was drawn) and the
 * next id is drawn from the scores of the window's last step. The window
 * is the last `block` ids (block <= T); while fewer ids than that exist,
 * the window is all of them. A window shorter than T fills the first
 * steps of the input (the rest repeat its last id) and the scores are
 * read at its last step, which is right for a causal network, whose
 * step t sees steps 1..t only (rnn, lstm, gru, causal attention,
 * everything per step); a network that looks ahead would read the
 * filler. Each draw is one forward of T steps from zero recurrent states:
 * the network is used as it was trained on windows (a state carried
 * across batches is not carried across draws), one design for every
 * causal network, recurrent or not, at the price of T steps per id. */
#ifndef BP_SAMPLE_H
#define BP_SAMPLE_H

#include "bp_err.h"
#include "bp_net.h"
#include "bp_rng.h"

/* The index (0..V-1) drawn from scores[0..V-1] as above, or -1 with a
 * message: V < 1; temperature not a finite number > 0 ("temperature must
 * be a finite number > 0 (got 0)"); top_k outside 1..V ("top_k must be
 * in 1..5 (got 6)"; V keeps every index); a score that is not finite
 * ("score 3 is nan: the scores must be finite", indices from 1); work
 * NULL when top_k < V. work: room for top_k ints (the caller's, for the
 * selection of the top k; NULL allowed when top_k = V). Takes one
 * uniform from r when it succeeds, none when it fails. */
int bp_sample_draw(int *work, const double *scores, int V, double temperature, int top_k,
                   bp_rng *r, bp_err *e);

/* The steps T and the vocabulary V of a network that sample can run: a
 * graph taking T values (the ids) and giving an output of shape T x V,
 * V >= 2, not ending in softmax (the draw takes scores: logits or
 * log-probabilities). -1 with a message naming what the network gives. */
int bp_net_sample_shape(const bp_net *net, int *T, int *V, bp_err *e);

/* What bp_net_sample draws with: temperature as bp_sample_draw's; top_k
 * in 1..V (V: no filter); block, the window, in 1..T (T: the network's
 * whole input). */
typedef struct bp_sample_opts {
    double temperature;
    int top_k, block;
} bp_sample_opts;

/* length ids (1..V) into out, each drawn (bp_sample_draw, from r) from the
 * scores of the network after the window of the ids before it: start's
 * n_start ids (1..V) then out's. The network runs in evaluation mode
 * (dropout off) from zero recurrent states and without lengths; its
 * mode, every recurrent module's initial state and the lengths
 * (bp_graph_set_lengths) are put back as they were afterwards,
 * and its last forward is the last window's. 0, or -1 with a message:
 * the network's shape (bp_net_sample_shape), the options ("block must be
 * in 1..50 (got 0)", and bp_sample_draw's), "start is empty: sampling
 * needs at least one id", "start id 7 at position 2 is not in 1..5",
 * "length must be >= 0 (got -1)", a forward's failure, "interrupted"
 * when net->stop is set between draws, no memory. out keeps the ids
 * drawn before a failure. */
int bp_net_sample(bp_net *net, int *out, const int *start, int n_start, int length,
                  const bp_sample_opts *o, bp_rng *r, bp_err *e);

#endif
