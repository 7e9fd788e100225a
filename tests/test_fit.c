/* test_fit.c: the C training loop against the same steps done by hand.
 *
 * A fit must be nothing but bp_net_compute_grads and one update per batch,
 * in a known row order: so every test runs a fit on a tiny problem and the
 * same steps written out with bp_net_train_step (or compute_grads and
 * bp_optim_step), and demands the same bits in every weight and every loss.
 * With shuffling, the by-hand side shuffles a copy of the data with
 * bp_data_shuffle from the same generator state and takes its rows in order,
 * which is what bp_fit.h promises the fit's order equals. Evaluation is held
 * against outputs worked out by hand. Float32 inputs must give a float32
 * network the bits of the same rows in float64, on one thread and on the
 * team of threads. */
#define _DEFAULT_SOURCE /* mkstemp */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bp_fit.h"
#include "check.h"
#include "ops_vec.h"

/* n rows of d inputs in [-1, 1) and one-hot targets of C classes. */
static bp_data *make_data(int n, int d, int C, uint64_t seed) {
    bp_data *data = bp_data_new(n, d, C, C, NULL);
    bp_rng r;
    bp_rng_seed(&r, seed);
    for (int i = 0; i < n * d; i++) data->x[i] = 2 * bp_rng_uniform(&r) - 1;
    for (int i = 0; i < n; i++) data->label[i] = (int)bp_rng_below(&r, (uint64_t)C);
    bp_data_onehot(data, NULL);
    return data;
}

/* A d-4-C tanh network with weights from seed. */
static bp_net *make_net(int d, int C, uint64_t seed) {
    bp_rng r;
    bp_rng_seed(&r, seed);
    bp_net *net = bp_net_new(d, NULL);
    bp_net_add(net, 4, BP_ACT_TANH, 0, NULL);
    bp_net_add(net, C, BP_ACT_IDENTITY, 0, NULL);
    for (int l = 1; l <= 2; l++) {
        bp_net_init(net, l, 'w', BP_INIT_XAVIER, 0, 0, &r, NULL);
        bp_net_init(net, l, 'b', BP_INIT_UNIFORM, -0.1, 0.1, &r, NULL);
    }
    return net;
}

/* Every weight and bias of a and b, bit for bit. */
static int same_params(const bp_net *a, const bp_net *b) {
    size_t N = bp_net_param_count(a);
    if (N != bp_net_param_count(b)) return 0;
    double *pa = malloc(sizeof(double) * N), *pb = malloc(sizeof(double) * N);
    bp_net_params_get(a, pa);
    bp_net_params_get(b, pb);
    int same = memcmp(pa, pb, sizeof(double) * N) == 0;
    free(pa);
    free(pb);
    return same;
}

/* What the step callback saw, and when it asks to stop. */
typedef struct seen {
    int64_t steps[64];
    double loss[64];
    int count;
    int64_t stop_at; /* 0: never */
} seen;

static int record(void *ud, int64_t step, double loss) {
    seen *s = ud;
    if (s->count < 64) {
        s->steps[s->count] = step;
        s->loss[s->count] = loss;
    }
    s->count++;
    return s->stop_at && step == s->stop_at;
}

/* One epoch by hand on rows in their present order, batch B, plain gradient
 * descent (opt NULL) or an optimiser; losses appended to *loss from
 * index *count. Returns the epoch's mean loss, summed as bp_fit_epoch sums. */
static double epoch_by_hand(bp_net *net, const bp_data *data, int B, bp_loss kind,
                            double lr, bp_optim *opt, int drop_last, double *loss,
                            int *count) {
    double sum = 0;
    int seen_rows = 0;
    const double *x, *y;
    int b;
    for (int s = 0; (b = bp_data_batch(data, s, B, &x, &y, NULL)) > 0; s += b) {
        if (b < B && drop_last) break;
        double l;
        if (opt) {
            CHECK(bp_net_compute_grads(net, x, y, b, kind, &l, NULL) == 0);
            CHECK(bp_optim_step(opt, net, NULL) == 0);
        } else {
            CHECK(bp_net_train_step(net, x, y, b, kind, lr, &l, NULL) == 0);
        }
        loss[(*count)++] = l;
        sum += l * b;
        seen_rows += b;
    }
    return sum / seen_rows;
}

static void test_in_order_equals_by_hand(void) {
    /* 10 rows in batches of 4: 4, 4 and a last batch of 2, kept. */
    bp_data *data = make_data(10, 3, 2, 11);
    bp_net *a = make_net(3, 2, 5), *b = make_net(3, 2, 5);
    seen s = {0};
    bp_fit_config c = {
        .batch = 4, .loss = BP_LOSS_SOFTMAX_CE, .lr = 0.3, .on_step = record, .ud = &s};
    bp_err e;
    bp_fit *f = bp_fit_new(data, &c, &e);
    CHECK(f != NULL);
    double want[64];
    int count = 0;
    for (int epoch = 1; epoch <= 3; epoch++) {
        double mean, hand;
        CHECK(bp_fit_epoch(f, a, data, &mean, &e) == 0);
        hand = epoch_by_hand(b, data, 4, BP_LOSS_SOFTMAX_CE, 0.3, NULL, 0, want, &count);
        CHECK(mean == hand);
        CHECK(same_params(a, b));
    }
    CHECK(bp_fit_steps(f) == 9);
    CHECK(bp_fit_epochs(f) == 3);
    CHECK(s.count == 9 && count == 9);
    for (int j = 0; j < 9; j++) {
        CHECK(s.steps[j] == j + 1);
        CHECK(s.loss[j] == want[j]);
    }
    CHECK(bp_fit_last_loss(f) == want[8]);
    /* Without shuffling, rows are taken as they lie. */
    for (int i = 0; i < 10; i++) CHECK(bp_fit_order(f)[i] == i);
    /* The losses fell: the loop trains. */
    CHECK(want[8] < want[2]);
    bp_fit_free(f);
    bp_net_free(a);
    bp_net_free(b);
    bp_data_free(data);
}

static void test_shuffled_equals_by_hand(void) {
    bp_data *data = make_data(13, 3, 3, 12);
    bp_net *a = make_net(3, 3, 6), *b = make_net(3, 3, 6);
    bp_optim_config oc = bp_optim_config_default(BP_OPTIM_ADAM);
    oc.lr = 0.05;
    bp_optim *oa = bp_optim_new(a, &oc, NULL), *ob = bp_optim_new(b, &oc, NULL);
    bp_rng ra, rb;
    bp_rng_seed(&ra, 99);
    rb = ra;
    seen s = {0};
    bp_fit_config c = {.batch = 5,
                       .loss = BP_LOSS_SOFTMAX_CE,
                       .opt = oa,
                       .shuffle = 1,
                       .rng = &ra,
                       .on_step = record,
                       .ud = &s};
    bp_err e;
    bp_fit *f = bp_fit_new(data, &c, &e);
    CHECK(f != NULL);
    double want[64];
    int count = 0, moved = 0;
    for (int epoch = 1; epoch <= 3; epoch++) {
        double mean;
        CHECK(bp_fit_epoch(f, a, data, &mean, &e) == 0);
        /* By hand: a fresh copy in the original order, shuffled in place. */
        bp_data *copy = bp_data_slice(data, 0, data->n, NULL);
        CHECK(bp_data_shuffle(copy, &rb, NULL) == 0);
        const int *order = bp_fit_order(f);
        for (int i = 0; i < 13; i++) {
            CHECK(memcmp(copy->x + i * 3, data->x + order[i] * 3, 3 * sizeof(double)) ==
                  0);
            CHECK(copy->label[i] == data->label[order[i]]);
            moved += order[i] != i;
        }
        double hand =
            epoch_by_hand(b, copy, 5, BP_LOSS_SOFTMAX_CE, 0, ob, 0, want, &count);
        CHECK(mean == hand);
        CHECK(same_params(a, b));
        bp_data_free(copy);
    }
    CHECK(moved > 0);                        /* the order did change */
    CHECK(memcmp(&ra, &rb, sizeof ra) == 0); /* the same draws, no more */
    CHECK(s.count == 9 && count == 9);
    for (int j = 0; j < 9; j++) CHECK(s.loss[j] == want[j]);
    CHECK(bp_optim_steps(oa) == 9);
    /* The data itself never moved. */
    bp_data *again = make_data(13, 3, 3, 12);
    CHECK(memcmp(again->x, data->x, sizeof(double) * 13 * 3) == 0);
    bp_data_free(again);
    bp_fit_free(f);
    bp_optim_free(oa);
    bp_optim_free(ob);
    bp_net_free(a);
    bp_net_free(b);
    bp_data_free(data);
}

static void test_drop_last(void) {
    bp_data *data = make_data(10, 3, 2, 13);
    bp_net *a = make_net(3, 2, 7), *b = make_net(3, 2, 7);
    bp_fit_config c = {.batch = 4, .loss = BP_LOSS_MSE, .lr = 0.1, .drop_last = 1};
    bp_fit *f = bp_fit_new(data, &c, NULL);
    double mean, want[8];
    int count = 0;
    CHECK(bp_fit_epoch(f, a, data, &mean, NULL) == 0);
    double hand = epoch_by_hand(b, data, 4, BP_LOSS_MSE, 0.1, NULL, 1, want, &count);
    CHECK(count == 2 && bp_fit_steps(f) == 2); /* rows 8 and 9 left out */
    CHECK(mean == hand);
    CHECK(mean == (want[0] * 4 + want[1] * 4) / 8);
    CHECK(same_params(a, b));
    bp_fit_free(f);
    bp_net_free(a);
    bp_net_free(b);
    bp_data_free(data);
}

static void test_stop(void) {
    bp_data *data = make_data(10, 3, 2, 14);
    bp_net *a = make_net(3, 2, 8), *b = make_net(3, 2, 8);
    seen s = {.stop_at = 2};
    bp_fit_config c = {
        .batch = 3, .loss = BP_LOSS_SOFTMAX_CE, .lr = 0.2, .on_step = record, .ud = &s};
    bp_fit *f = bp_fit_new(data, &c, NULL);
    double mean;
    CHECK(bp_fit_epoch(f, a, data, &mean, NULL) == 1);
    CHECK(bp_fit_steps(f) == 2 && s.count == 2);
    /* The same two steps by hand, on the first 6 rows. */
    bp_data *head = bp_data_slice(data, 0, 6, NULL);
    double want[4];
    int count = 0;
    double hand =
        epoch_by_hand(b, head, 3, BP_LOSS_SOFTMAX_CE, 0.2, NULL, 0, want, &count);
    CHECK(mean == hand); /* the mean over the rows seen */
    CHECK(same_params(a, b));
    /* The next epoch starts afresh and runs to its end. */
    s.stop_at = 0;
    CHECK(bp_fit_epoch(f, a, data, &mean, NULL) == 0);
    CHECK(bp_fit_steps(f) == 6 && bp_fit_epochs(f) == 2);
    bp_data_free(head);
    bp_fit_free(f);
    bp_net_free(a);
    bp_net_free(b);
    bp_data_free(data);
}

static void test_divergence(void) {
    bp_err e;
    double mean;
    /* Row 5 is NaN: batch 2 (rows 4..7) of the first epoch fails. */
    bp_data *data = make_data(10, 3, 2, 15);
    data->x[5 * 3 + 1] = NAN;
    bp_net *a = make_net(3, 2, 9), *b = make_net(3, 2, 9);
    seen s = {0};
    bp_fit_config c = {
        .batch = 4, .loss = BP_LOSS_SOFTMAX_CE, .lr = 0.2, .on_step = record, .ud = &s};
    bp_fit *f = bp_fit_new(data, &c, NULL);
    CHECK(bp_fit_epoch(f, a, data, &mean, &e) == -1);
    CHECK_STR(e.msg, "loss is nan at step 2 (epoch 1): the run diverged");
    CHECK(isnan(bp_fit_last_loss(f)) && bp_fit_diverged(f));
    CHECK(bp_fit_steps(f) == 1 && s.count == 1); /* the NaN step was not applied */
    bp_data *head = bp_data_slice(data, 0, 4, NULL);
    double want[2];
    int count = 0;
    CHECK(mean ==
          epoch_by_hand(b, head, 4, BP_LOSS_SOFTMAX_CE, 0.2, NULL, 0, want, &count));
    CHECK(same_params(a, b));
    bp_data_free(head);
    bp_fit_free(f);
    bp_data_free(data);

    /* An infinite loss: a target no output can reach in double. */
    data = make_data(4, 3, 2, 16);
    data->y[0] = 1e300;
    c = (bp_fit_config){.batch = 4, .loss = BP_LOSS_HALF_SE, .lr = 0.2};
    f = bp_fit_new(data, &c, NULL);
    CHECK(bp_fit_epoch(f, a, data, &mean, &e) == -1);
    CHECK_STR(e.msg, "loss is inf at step 1 (epoch 1): the run diverged");
    CHECK(isinf(bp_fit_last_loss(f)));
    CHECK(same_params(a, b)); /* nothing applied */
    bp_fit_free(f);
    bp_net_free(a);
    bp_net_free(b);
    bp_data_free(data);
}

#define NEW_FAILS(data, cfg, message)            \
    do {                                         \
        bp_err e_;                               \
        bp_fit *f_ = bp_fit_new(data, cfg, &e_); \
        CHECK(f_ == NULL);                       \
        if (!f_) CHECK_STR(e_.msg, message);     \
        bp_fit_free(f_);                         \
    } while (0)

static void test_refusals(void) {
    bp_data *data = make_data(5, 3, 2, 17), *empty = bp_data_new(0, 3, 2, 2, NULL);
    bp_fit_config c = {.batch = 0, .loss = BP_LOSS_MSE, .lr = 0.1};
    NEW_FAILS(data, &c, "a batch needs at least 1 row (got 0)");
    c.batch = 2;
    c.loss = BP_LOSS_COUNT;
    NEW_FAILS(data, &c, "unknown loss 7");
    c.loss = BP_LOSS_MSE;
    c.lr = -1;
    NEW_FAILS(data, &c, "learning rate must be a finite number >= 0 (got -1)");
    c.lr = NAN;
    NEW_FAILS(data, &c, "learning rate must be a finite number >= 0 (got nan)");
    c.lr = 0.1;
    c.shuffle = 1;
    NEW_FAILS(data, &c, "shuffling needs a random generator");
    c.shuffle = 0;
    NEW_FAILS(empty, &c, "cannot fit on a data set of 0 rows");
    c.batch = 6;
    c.drop_last = 1;
    NEW_FAILS(data, &c, "drop_last with 5 rows and batches of 6 leaves no batch");

    /* Shapes checked at every epoch. */
    c = (bp_fit_config){.batch = 2, .loss = BP_LOSS_SOFTMAX_CE, .lr = 0.1};
    bp_fit *f = bp_fit_new(data, &c, NULL);
    bp_err e;
    bp_net *wide = make_net(4, 2, 1), *three = make_net(3, 3, 1),
           *bare = bp_net_new(3, NULL);
    CHECK(bp_fit_epoch(f, wide, data, NULL, &e) == -1);
    CHECK_STR(e.msg, "the network takes 4 inputs, the data has 3");
    CHECK(bp_fit_epoch(f, three, data, NULL, &e) == -1);
    CHECK_STR(e.msg, "the network gives 3 outputs, the data has 2 targets");
    CHECK(bp_fit_epoch(f, bare, data, NULL, &e) == -1);
    CHECK_STR(e.msg, "the network has no layers");
    bp_data *other = make_data(6, 3, 2, 18);
    bp_net *net = make_net(3, 2, 1);
    CHECK(bp_fit_epoch(f, net, other, NULL, &e) == -1);
    CHECK_STR(e.msg, "the data is 6 x 3 with 2 targets, the training loop was made "
                     "for 5 x 3 with 2");
    bp_net_add(net, 2, BP_ACT_SOFTMAX, 0, NULL);
    CHECK(bp_fit_epoch(f, net, data, NULL, &e) == -1);
    CHECK_STR(e.msg, "softmax_ce takes logits: make the last layer 'identity' "
                     "(softmax_ce applies the softmax itself)");
    CHECK(bp_fit_steps(f) == 0 && bp_fit_epochs(f) == 0);
    CHECK(!bp_fit_diverged(f) && isnan(bp_fit_last_loss(f)));
    bp_fit_free(NULL);
    bp_fit_free(f);
    bp_net_free(wide);
    bp_net_free(three);
    bp_net_free(bare);
    bp_net_free(net);
    bp_data_free(other);
    bp_data_free(empty);
    bp_data_free(data);
}

static void test_evaluate(void) {
    /* out = x (a 2-2 identity layer with weights I and no bias), so every
     * output is known: row 0 (2, 1) -> class 0, row 1 (0, 3) -> 1, row 2
     * (5, 4) -> 0. Labels 0, 0, 0: two right. */
    bp_data *data = bp_data_new(3, 2, 2, 2, NULL);
    double x[] = {2, 1, 0, 3, 5, 4};
    memcpy(data->x, x, sizeof x);
    bp_data_onehot(data, NULL);
    bp_net *net = bp_net_new(2, NULL);
    bp_net_add(net, 2, BP_ACT_IDENTITY, 0, NULL);
    bp_net_init(net, 1, 'w', BP_INIT_CONSTANT, 0, 0, NULL, NULL);
    *bp_net_weight(net, 1, 1, 1, NULL) = 1;
    *bp_net_weight(net, 1, 2, 2, NULL) = 1;
    double loss, acc;
    int m[4];
    bp_err e;
    /* batch 2: rows 0-1, then row 2 alone */
    CHECK(bp_fit_evaluate(net, data, 2, BP_LOSS_SOFTMAX_CE, &loss, &acc, m, &e) == 0);
    /* softmax_ce of row (a, b) against class 0: log(1 + e^(b - a)) */
    double want = (log1p(exp(-1.0)) + log1p(exp(3.0)) + log1p(exp(-1.0))) / 3;
    CHECK_NEAR(loss, want, 1e-15);
    CHECK(acc == 2.0 / 3);
    CHECK(m[0] == 2 && m[1] == 1 && m[2] == 0 && m[3] == 0);
    /* Any batch size gives the same answer. */
    double loss1, acc1;
    CHECK(bp_fit_evaluate(net, data, 1, BP_LOSS_SOFTMAX_CE, &loss1, &acc1, NULL, &e) ==
          0);
    CHECK_NEAR(loss1, want, 1e-15);
    CHECK(acc1 == acc);
    /* Half squared error summed over outputs, mean over rows, on targets
     * (1, 0): ((1)^2 + 1 + 1 + 9 + 16 + 16) / 2 / 3 */
    CHECK(bp_fit_evaluate(net, data, 3, BP_LOSS_HALF_SE, &loss, NULL, NULL, &e) == 0);
    CHECK_NEAR(loss, (1.0 + 1 + 1 + 9 + 16 + 16) / 2 / 3, 1e-15);

    CHECK(bp_fit_evaluate(net, data, 0, BP_LOSS_MSE, &loss, NULL, NULL, &e) == -1);
    CHECK_STR(e.msg, "a batch needs at least 1 row (got 0)");
    bp_free(data->label);
    data->label = NULL;
    CHECK(bp_fit_evaluate(net, data, 2, BP_LOSS_MSE, NULL, &acc, NULL, &e) == -1);
    CHECK_STR(e.msg, "accuracy needs class labels, and the data has none");
    CHECK(bp_fit_evaluate(net, data, 2, BP_LOSS_MSE, &loss, NULL, NULL, &e) == 0);
    bp_data *empty = bp_data_new(0, 2, 2, 0, NULL);
    CHECK(bp_fit_evaluate(net, empty, 2, BP_LOSS_MSE, &loss, NULL, NULL, &e) == -1);
    CHECK_STR(e.msg, "cannot evaluate on a data set of 0 rows");
    bp_data_free(empty);
    bp_net_free(net);
    bp_data_free(data);
}

/* A 200-100-50-C ReLU network of dtype t with weights from seed: at batch
 * 64, 1.6 M multiply-adds a step, enough for the team of threads. */
static bp_net *make_wide_net(bp_dtype t, int C, uint64_t seed) {
    bp_rng r;
    bp_rng_seed(&r, seed);
    bp_net *net = bp_net_new_dtype(200, t, NULL);
    bp_net_add(net, 100, BP_ACT_RELU, 0, NULL);
    bp_net_add(net, 50, BP_ACT_RELU, 0, NULL);
    bp_net_add(net, C, BP_ACT_IDENTITY, 0, NULL);
    for (int l = 1; l <= 3; l++) {
        bp_net_init(net, l, 'w', BP_INIT_HE, 0, 0, &r, NULL);
        bp_net_init(net, l, 'b', BP_INIT_UNIFORM, -0.1, 0.1, &r, NULL);
    }
    return net;
}

/* Two epochs of shuffled plain SGD from the generator seeded with 5; the
 * mean losses into loss[0..1]. */
static void fit_two(bp_net *net, const bp_data *data, double *loss) {
    bp_rng r;
    bp_rng_seed(&r, 5);
    bp_fit_config c = {
        .batch = 64, .loss = BP_LOSS_SOFTMAX_CE, .lr = 0.05, .shuffle = 1, .rng = &r};
    bp_err e;
    bp_fit *f = bp_fit_new(data, &c, &e);
    CHECK(f != NULL);
    for (int k = 0; f && k < 2; k++) CHECK(bp_fit_epoch(f, net, data, &loss[k], &e) == 0);
    bp_fit_free(f);
}

/* float32 inputs: a float32 network converts every input to float anyway,
 * so data kept in float32 must give it the bits of the same data in
 * float64; a float64 network on float32 data must see exactly the
 * float64 data rounded to float. On one thread and on the team (and its
 * last batch of 22 rows, on one thread again). */
static void test_float32_data(void) {
    bp_data *d64 = make_data(150, 200, 10, 8);
    bp_data *d32 = bp_data_slice(d64, 0, 150, NULL),
            *rounded = bp_data_slice(d64, 0, 150, NULL);
    bp_err e;
    CHECK(bp_data_set_dtype(d32, BP_F32, &e) == 0);
    for (int i = 0; i < 150 * 200; i++) rounded->x[i] = (float)rounded->x[i];
    int before = bp_threads();
    for (int T = 1; T <= 2; T++) {
        CHECK(bp_set_threads(T, &e) == 0);
        double la[2], lb[2];
        bp_net *a = make_wide_net(BP_F32, 10, 3), *b = make_wide_net(BP_F32, 10, 3);
        fit_two(a, d64, la);
        fit_two(b, d32, lb);
        CHECK(same_params(a, b));
        CHECK(la[0] == lb[0] && la[1] == lb[1]);
        CHECK(la[1] < la[0]); /* it learned */
        double l64, l32, acc64, acc32;
        CHECK(bp_fit_evaluate(a, d64, 64, BP_LOSS_SOFTMAX_CE, &l64, &acc64, NULL, &e) ==
              0);
        CHECK(bp_fit_evaluate(a, d32, 64, BP_LOSS_SOFTMAX_CE, &l32, &acc32, NULL, &e) ==
              0);
        CHECK(l64 == l32 && acc64 == acc32);
        bp_net_free(a);
        bp_net_free(b);
        a = make_wide_net(BP_F64, 10, 3);
        b = make_wide_net(BP_F64, 10, 3);
        fit_two(a, rounded, la);
        fit_two(b, d32, lb);
        CHECK(same_params(a, b));
        CHECK(la[0] == lb[0] && la[1] == lb[1]);
        CHECK(T == 1 || a->team != NULL);
        bp_net_free(a);
        bp_net_free(b);
    }
    CHECK(bp_set_threads(before, &e) == 0);
    bp_data_free(d64);
    bp_data_free(d32);
    bp_data_free(rounded);
}

/* One fit of epochs x (64-row batches, shuffled from seed 5) of plain SGD,
 * fused or not (bp_fit_config's unfused). */
static void fit_sgd(bp_net *net, const bp_data *data, int epochs, int unfused) {
    bp_rng r;
    bp_rng_seed(&r, 5);
    bp_fit_config c = {.batch = 64, .loss = BP_LOSS_SOFTMAX_CE, .lr = 0.05, .shuffle = 1,
                       .rng = &r, .unfused = unfused};
    bp_err e;
    bp_fit *f = bp_fit_new(data, &c, &e);
    CHECK(f != NULL);
    for (int k = 0; f && k < epochs; k++) CHECK(bp_fit_epoch(f, net, data, NULL, &e) == 0);
    bp_fit_free(f);
}

/* Whether tensors k of a and b (the net's parameter list) hold the same
 * bits: their values (grad 0) or gradients (grad 1). */
static int same_tensor(const bp_net *a, const bp_net *b, int k, int grad) {
    int n;
    const bp_param *ta = bp_net_param_list(a, &n), *tb = bp_net_param_list(b, &n);
    size_t z = bp_dtype_size(a->dtype) * ta[k].count;
    return memcmp(grad ? ta[k].grad : ta[k].data, grad ? tb[k].grad : tb[k].data, z) == 0;
}

/* Whether fits of epochs on da and on db (unfused or not, ua and ub) of
 * two equal networks of dtype t end with the same weights and gradients,
 * bit for bit, and evaluate the same, each on its own data. */
static int fits_agree(bp_dtype t, const bp_data *da, const bp_data *db, int epochs, int ua,
                      int ub) {
    bp_net *a = make_wide_net(t, 10, 3), *b = make_wide_net(t, 10, 3);
    fit_sgd(a, da, epochs, ua);
    fit_sgd(b, db, epochs, ub);
    int same = same_params(a, b);
    for (int k = 0; k < 6; k++) same &= same_tensor(a, b, k, 1);
    double la, lb, ca, cb;
    same &= !bp_fit_evaluate(a, da, 64, BP_LOSS_SOFTMAX_CE, &la, &ca, NULL, NULL) &&
            !bp_fit_evaluate(b, db, 64, BP_LOSS_SOFTMAX_CE, &lb, &cb, NULL, NULL) &&
            la == lb && ca == cb;
    bp_net_free(a);
    bp_net_free(b);
    return same;
}

/* The plain SGD step fused into dW's product (bp_net_set_fused_sgd), which
 * a float32 fit takes, against the reference, the same fit unfused (the
 * steps by hand, held to that above). One step (a batch of all 64 rows):
 * every dW and db the reference's bits (dW is made after the step by the
 * reference's own product), each bias too (its step is not fused), and each
 * weight within 2 float epsilons of |W| + lr |dW|: the reference rounds
 * W - lr dW once from double, the fused step rounds -lr, lr dW and the sum
 * to float, and oneDNN's product into W may sum otherwise than into dW.
 * Several epochs: the same bits twice for the same thread count, on one
 * thread and on the team of two. A float64 fit is not fused: unfused or
 * not, the same bits. */
static void test_fused_sgd(void) {
    bp_data *one = make_data(64, 200, 10, 9), *many = make_data(300, 200, 10, 10);
    bp_err e;
    int before = bp_threads();
    for (int T = 1; T <= 2; T++) {
        CHECK(bp_set_threads(T, &e) == 0);
        bp_net *a = make_wide_net(BP_F32, 10, 3), *b = make_wide_net(BP_F32, 10, 3);
        fit_sgd(a, one, 1, 0);
        fit_sgd(b, one, 1, 1);
        CHECK(T == 1 || a->team != NULL);
        double worst = 0;
        for (int l = 0; l < 3; l++) {
            const bp_layer *La = &a->layers[l], *Lb = &b->layers[l];
            CHECK(same_tensor(a, b, 2 * l, 1) && same_tensor(a, b, 2 * l + 1, 1));
            CHECK(same_tensor(a, b, 2 * l + 1, 0));
            CHECK(La->dw_lazy == 0);
            for (size_t k = 0; k < (size_t)La->O * La->I; k++) {
                double w = Lb->W32[k], dw = Lb->dW32[k];
                double bound = 2 * 0x1p-23 * (fabs(w) + 0.05 * fabs(dw));
                double off = fabs((double)La->W32[k] - w) / bound;
                worst = off > worst ? off : worst;
            }
        }
        CHECK(worst <= 1);
        CHECK(!same_params(a, b)); /* it was fused */
        bp_net_free(a);
        bp_net_free(b);
        CHECK(fits_agree(BP_F32, many, many, 3, 0, 0));
        CHECK(fits_agree(BP_F64, many, many, 2, 0, 1));
    }
    CHECK(bp_set_threads(before, &e) == 0);
    bp_data_free(one);
    bp_data_free(many);
}

/* A file of len bytes under /tmp, its path into path (32 bytes). */
static void temp_file(char *path, const unsigned char *bytes, size_t len) {
    snprintf(path, 32, "/tmp/test_fit_XXXXXX");
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    CHECK(write(fd, bytes, len) == (ssize_t)len);
    close(fd);
}

/* Whether inputs of a and b are the same bits, each read by bp_data_get
 * and by bp_data_take_rows (rows 5, 0, n - 1 and 5 again). */
static int same_inputs(const bp_data *a, const bp_data *b) {
    if (a->n != b->n || a->d != b->d || a->dtype != b->dtype) return 0;
    size_t N = (size_t)a->n * a->d, z = bp_dtype_size(a->dtype) * 4 * a->d;
    for (size_t k = 0; k < N; k++) {
        double va = bp_data_get(a, k), vb = bp_data_get(b, k);
        if (memcmp(&va, &vb, sizeof va)) return 0;
    }
    const int rows[4] = {5, 0, a->n - 1, 5};
    char *ra = malloc(z), *rb = malloc(z);
    bp_data_take_rows(a, ra, rows, 0, 4);
    bp_data_take_rows(b, rb, rows, 0, 4);
    int same = memcmp(ra, rb, z) == 0;
    free(ra);
    free(rb);
    return same && memcmp(a->y, b->y, sizeof(double) * a->n * a->k) == 0 &&
           memcmp(a->label, b->label, sizeof(int) * a->n) == 0;
}

/* A host's loss (bp_fit_loss_fn): half the mean squared error. */
static int host_mse(void *ud, const double *out, int O, const double *y, int k, int B,
                    double *loss, double *dout, bp_err *e) {
    (void)ud, (void)k, (void)e;
    double sum = 0;
    for (int j = 0; j < B * O; j++) {
        sum += (out[j] - y[j]) * (out[j] - y[j]) / 2;
        if (dout) dout[j] = (out[j] - y[j]) / B;
    }
    *loss = sum / B;
    return 0;
}

/* Whether an epoch of a host's loss (shuffled or not) on da and on db
 * leaves two equal float32 networks with the same weights. */
static int host_fits_agree(const bp_data *da, const bp_data *db, int shuffle) {
    bp_net *n[2] = {make_wide_net(BP_F32, 10, 3), make_wide_net(BP_F32, 10, 3)};
    const bp_data *d[2] = {da, db};
    for (int k = 0; k < 2; k++) {
        bp_rng r;
        bp_rng_seed(&r, 5);
        bp_fit_config c = {.batch = 64, .lr = 0.05, .shuffle = shuffle, .rng = &r,
                           .host_loss = host_mse};
        bp_fit *f = bp_fit_new(d[k], &c, NULL);
        CHECK(f && bp_fit_epoch(f, n[k], d[k], NULL, NULL) == 0);
        bp_fit_free(f);
    }
    int same = same_params(n[0], n[1]);
    bp_net_free(n[0]);
    bp_net_free(n[1]);
    return same;
}

/* Byte-backed data (an IDX file's bytes, bp_data.h's x8) against the
 * float-backed set it materializes to, in both dtypes: the same inputs to
 * the bit after a fixed scaler (which keeps the bytes), a shuffle, slices
 * and a split (which keep them), a dtype's change both ways; a standard
 * scaler makes the set float-backed first. Training: the same weights to
 * the bit after two shuffled epochs of plain SGD (so fused too) in a
 * float32 and a float64 network, on one thread and on the team, and the
 * same evaluation; with a host's loss too, shuffled and in order. */
/* An IDX pair of N random images of 10 x 20 bytes and labels 0..9 from
 * the seed, written to temporary files named into ip and lp (32 bytes
 * each); the images' bytes are returned (16 header bytes first; the
 * caller frees them). */
enum { IDX_N = 300, IDX_D = 200 };
static unsigned char *idx_pair(char *ip, char *lp, uint64_t seed) {
    enum { N = IDX_N, D = IDX_D };
    unsigned char *img = malloc(16 + N * D), lab[8 + N];
    const unsigned char head[16] = {0, 0, 8, 3, 0, 0, N >> 8, N & 255, 0, 0, 0, 10, 0, 0, 0, 20};
    const unsigned char lhead[8] = {0, 0, 8, 1, 0, 0, N >> 8, N & 255};
    memcpy(img, head, 16);
    memcpy(lab, lhead, 8);
    bp_rng r;
    bp_rng_seed(&r, seed);
    for (int k = 0; k < N * D; k++) img[16 + k] = (unsigned char)bp_rng_below(&r, 256);
    for (int k = 0; k < N; k++) lab[8 + k] = (unsigned char)bp_rng_below(&r, 10);
    temp_file(ip, img, 16 + N * D);
    temp_file(lp, lab, sizeof lab);
    return img;
}

static void test_byte_backed(void) {
    enum { N = IDX_N, D = IDX_D };
    char ip[32], lp[32];
    unsigned char *img = idx_pair(ip, lp, 11);
    bp_err e;
    int before = bp_threads();
    for (int dt = 0; dt < 2; dt++) {
        bp_dtype t = dt ? BP_F32 : BP_F64, other = dt ? BP_F64 : BP_F32;
        bp_data *a = bp_data_load_idx(ip, lp, 10, t, &e), *b = bp_data_load_idx(ip, lp, 10, t, &e);
        CHECK(a && b);
        if (!a || !b) break;
        CHECK(bp_data_materialize(b, &e) == 0);
        CHECK(a->x8 && !b->x8 && same_inputs(a, b));
        bp_scaler *fixed = bp_scaler_fixed(D, 3, 256, &e);
        CHECK(bp_scaler_apply(fixed, a, &e) == 0 && bp_scaler_apply(fixed, b, &e) == 0);
        CHECK(a->x8 && same_inputs(a, b));
        bp_rng ra, rb;
        bp_rng_seed(&ra, 4);
        rb = ra;
        CHECK(bp_data_shuffle(a, &ra, &e) == 0 && bp_data_shuffle(b, &rb, &e) == 0);
        CHECK(a->x8 && same_inputs(a, b));
        bp_data *pa[3], *pb[3];
        CHECK(bp_data_split(a, 0.5, 0.3, &pa[0], &pa[1], &pa[2], &e) == 0);
        CHECK(bp_data_split(b, 0.5, 0.3, &pb[0], &pb[1], &pb[2], &e) == 0);
        for (int k = 0; k < 3; k++) CHECK(pa[k]->x8 && same_inputs(pa[k], pb[k]));
        CHECK(bp_data_set_dtype(pa[0], other, &e) == 0 &&
              bp_data_set_dtype(pb[0], other, &e) == 0);
        CHECK(pa[0]->x8 && same_inputs(pa[0], pb[0]));
        CHECK(bp_data_set_dtype(pa[0], t, &e) == 0 && bp_data_set_dtype(pb[0], t, &e) == 0);
        CHECK(pa[0]->x8 && same_inputs(pa[0], pb[0]));
        bp_scaler *st = bp_scaler_fit(pa[1], BP_SCALE_STANDARD, &e);
        CHECK(bp_scaler_apply(st, pa[1], &e) == 0 && bp_scaler_apply(st, pb[1], &e) == 0);
        CHECK(!pa[1]->x8 && same_inputs(pa[1], pb[1]));
        for (int T = 1; T <= 2; T++) {
            CHECK(bp_set_threads(T, &e) == 0);
            CHECK(fits_agree(BP_F32, a, b, 2, 0, 0));
            CHECK(fits_agree(BP_F64, a, b, 2, 0, 0));
            CHECK(host_fits_agree(a, b, 1) && host_fits_agree(a, b, 0));
        }
        CHECK(a->x8 != NULL); /* all of it without floats */
        for (int k = 0; k < 3; k++) {
            bp_data_free(pa[k]);
            bp_data_free(pb[k]);
        }
        bp_scaler_free(fixed);
        bp_scaler_free(st);
        bp_data_free(a);
        bp_data_free(b);
    }
    CHECK(bp_set_threads(before, &e) == 0);
    remove(ip);
    remove(lp);
    free(img);
}

/* bp_net_forward_rows (what a host loss's step forwards by) against
 * bp_net_forward_as on the same rows gathered by hand: byte codes through
 * their table, and float and double rows; rows in order (NULL) and picked
 * out of order; a stack and a graph, in both dtypes, on one thread and on
 * the team; the same outputs to the bit. */
static void test_forward_rows(void) {
    enum { N = 90, D = 200, B = 70 };
    unsigned char *codes = malloc(N * D);
    double table[256], *x64 = malloc(sizeof(double) * N * D),
                       *g64 = malloc(sizeof(double) * B * D);
    float *x32 = malloc(sizeof(float) * N * D), *g32 = malloc(sizeof(float) * B * D);
    int rows[B];
    bp_rng r;
    bp_rng_seed(&r, 17);
    for (int v = 0; v < 256; v++) table[v] = (v - 128) / 97.0;
    for (int k = 0; k < N * D; k++) {
        codes[k] = (unsigned char)bp_rng_below(&r, 256);
        x64[k] = 2 * bp_rng_uniform(&r) - 1;
        x32[k] = (float)x64[k];
    }
    for (int b = 0; b < B; b++) rows[b] = (int)bp_rng_below(&r, N);
    bp_err e;
    int before = bp_threads(), checked = 0;
    for (int T = 1; T <= 2; T++) {
        CHECK(bp_set_threads(T, &e) == 0);
        for (int k = 0; k < 4; k++) {
            bp_dtype t = k & 1 ? BP_F32 : BP_F64;
            bp_net *net = make_wide_net(t, 10, 3);
            if (k & 2) CHECK(bp_net_to_graph(net, &e) == 0);
            bp_net_set_training(net, 1);
            for (int src = 0; src < 3; src++) /* codes, doubles, floats */
                for (int pick = 0; pick < 2; pick++) {
                    const int *rw = pick ? rows : NULL;
                    for (int b = 0; b < B; b++) {
                        int i = rw ? rw[b] : b;
                        for (int j = 0; j < D; j++) {
                            size_t at = (size_t)i * D + j;
                            double v = src == 0 ? table[codes[at]] : x64[at];
                            g64[(size_t)b * D + j] = v;
                            g32[(size_t)b * D + j] = src == 0 ? (float)table[codes[at]] : x32[at];
                        }
                    }
                    /* the reference: rows gathered in the type the net's
                     * own input conversion starts from */
                    const void *g = src == 2 || (src == 0 && t == BP_F32) ? (void *)g32
                                                                            : (void *)g64;
                    bp_dtype gt = g == g32 ? BP_F32 : BP_F64;
                    const double *ref = bp_net_forward_as(net, g, gt, B, &e);
                    CHECK(ref != NULL);
                    if (!ref) continue;
                    double *want = malloc(sizeof(double) * B * 10);
                    memcpy(want, ref, sizeof(double) * B * 10);
                    const void *x = src == 0 ? (void *)codes : src == 1 ? (void *)x64
                                                                        : (void *)x32;
                    const double *got = bp_net_forward_rows(
                        net, x, src == 2 ? BP_F32 : BP_F64, src == 0 ? table : NULL, rw, B,
                        &e);
                    CHECK(got && memcmp(got, want, sizeof(double) * B * 10) == 0);
                    checked++;
                    free(want);
                }
            bp_net_free(net);
        }
    }
    CHECK(checked == 2 * 4 * 3 * 2);
    CHECK(bp_set_threads(before, &e) == 0);
    free(codes);
    free(x64);
    free(g64);
    free(x32);
    free(g32);
}

/* Byte codes decoded by arithmetic where their float table is c v + a
 * (bp_codes_affine_of, bp_codes_affine_vec: W2's v / 256) against the
 * reference, the table looked up (the set's materialized floats, which
 * bp_data_materialize makes by the look-up). The check: true for the
 * tables of a line whose every value is the arithmetic's (v / 256, (v - 3)
 * / 256, -v / 8), false for a curve (v^2 / 65536) and a line whose products
 * round otherwise somewhere (v / 255: said by the arithmetic written out
 * here), and the arithmetic then gives every code's table bits. Training on
 * each table: two shuffled epochs of a float32 network, byte-backed or
 * materialized, the same weights, gradients and evaluation to the bit, on
 * one thread and on the team of two. */
static void test_codes_affine(void) {
    enum { N = IDX_N, D = IDX_D, TABLES = 5 };
    char ip[32], lp[32];
    unsigned char *img = idx_pair(ip, lp, 12);
    bp_err e;
    int before = bp_threads(), lines = 0;
    for (int tb = 0; tb < TABLES; tb++) {
        double table[256];
        float ft[256];
        for (int v = 0; v < 256; v++) {
            table[v] = tb == 0   ? v / 256.0
                       : tb == 1 ? (v - 3) / 256.0
                       : tb == 2 ? -v / 8.0
                       : tb == 3 ? (double)v * v / 65536
                                 : v / 255.0;
            ft[v] = (float)table[v];
            table[v] = ft[v]; /* a float set's table holds floats' values */
        }
        /* the arithmetic written out: c v, then + a, each rounded */
        const float c = ft[1] - ft[0], a = ft[0];
        int line = 1;
        for (int v = 0; v < 256; v++) {
            float p = (float)v * c;
            float q = p + a;
            line &= memcmp(&q, &ft[v], sizeof q) == 0;
        }
        CHECK(line == (tb <= 2 || (tb == 4 && line)));
        lines += line;
        float gc = 0, ga = 0;
        CHECK(bp_codes_affine_of(&gc, &ga, ft) == line);
        if (line) {
            unsigned char codes[256];
            float out[256];
            for (int v = 0; v < 256; v++) codes[255 - v] = (unsigned char)v;
            bp_codes_affine_vec(out, codes, 256, gc, ga);
            for (int v = 0; v < 256; v++) CHECK(memcmp(&out[v], &ft[255 - v], 4) == 0);
        }
        bp_data *x8 = bp_data_load_idx(ip, lp, 10, BP_F32, &e),
                *fl = bp_data_load_idx(ip, lp, 10, BP_F32, &e);
        CHECK(x8 && fl && x8->x8 && x8->table);
        if (!x8 || !fl || !x8->table) break;
        memcpy(x8->table, table, sizeof table);
        memcpy(fl->table, table, sizeof table);
        CHECK(bp_data_materialize(fl, &e) == 0 && same_inputs(x8, fl));
        for (int T = 1; T <= 2; T++) {
            CHECK(bp_set_threads(T, &e) == 0);
            CHECK(fits_agree(BP_F32, x8, fl, 2, 0, 0));
        }
        bp_data_free(x8);
        bp_data_free(fl);
    }
    CHECK(lines >= 3);
    CHECK(bp_set_threads(before, &e) == 0);
    remove(ip);
    remove(lp);
    free(img);
}

/* A copy of data whose targets are its labels 1..C, one per row (k = 1),
 * as a regression-shaped data set of class numbers holds them. */
static bp_data *labels_of(const bp_data *data) {
    bp_data *l = bp_data_new(data->n, data->d, 1, 0, NULL);
    memcpy(l->x, data->x, sizeof(double) * (size_t)data->n * data->d);
    for (int i = 0; i < data->n; i++) l->y[i] = data->label[i] + 1;
    return l;
}

/* A data set of class numbers (k = 1) trains a net of C outputs under
 * softmax_ce and nll as its one-hot twin does, to the bit, shuffled, and
 * evaluates to the same loss; a bad class names its row of the data; a
 * loss without labels is refused as before; the loss's parameter reaches
 * every step and the evaluation. */
static void test_labels_and_param(void) {
    bp_data *hot = make_data(23, 3, 4, 31), *lab = labels_of(hot);
    bp_err e;
    for (int l = 0; l < 2; l++) {
        bp_loss loss = l ? BP_LOSS_NLL : BP_LOSS_SOFTMAX_CE;
        bp_rng ra, rb;
        bp_rng_seed(&ra, 3), bp_rng_seed(&rb, 3);
        bp_fit_config c = {.batch = 5, .loss = loss, .lr = 0.2, .shuffle = 1, .rng = &ra};
        bp_net *a = make_net(3, 4, 9), *b = make_net(3, 4, 9);
        bp_fit *fa = bp_fit_new(hot, &c, &e);
        c.rng = &rb;
        bp_fit *fb = bp_fit_new(lab, &c, &e);
        double ma, mb;
        for (int ep = 0; ep < 2; ep++) {
            CHECK(bp_fit_epoch(fa, a, hot, &ma, &e) == 0);
            CHECK(bp_fit_epoch(fb, b, lab, &mb, &e) == 0);
            CHECK(memcmp(&ma, &mb, sizeof ma) == 0);
        }
        CHECK(same_params(a, b));
        double la, lb;
        CHECK(bp_fit_evaluate(a, hot, 7, loss, &la, NULL, NULL, &e) == 0);
        CHECK(bp_fit_evaluate(b, lab, 7, loss, &lb, NULL, NULL, &e) == 0);
        CHECK(la == lb && isfinite(la));
        /* a class out of range, named by its row of the data */
        lab->y[17] = 5;
        CHECK(bp_fit_epoch(fb, b, lab, &mb, &e) == -1);
        CHECK_STR(e.msg, "label 5 in row 18 is not a class in 1..4");
        CHECK(bp_fit_evaluate(b, lab, 7, loss, &lb, NULL, NULL, &e) == -1);
        CHECK_STR(e.msg, "label 5 in row 18 is not a class in 1..4");
        lab->y[17] = hot->label[17] + 1;
        bp_fit_free(fa);
        bp_fit_free(fb);
        bp_net_free(a);
        bp_net_free(b);
    }
    /* mse takes no labels: the targets' width must be the outputs' */
    bp_fit_config m = {.batch = 5, .loss = BP_LOSS_MSE, .lr = 0.1};
    bp_fit *f = bp_fit_new(lab, &m, &e);
    bp_net *net = make_net(3, 4, 9);
    CHECK(bp_fit_epoch(f, net, lab, NULL, &e) == -1);
    CHECK_STR(e.msg, "the network gives 4 outputs, the data has 1 targets");
    bp_fit_free(f);

    /* huber's delta: 0 is the default's bits, 0.25 another loss; a bad one
     * is refused by bp_fit_new. */
    bp_fit_config h = {.batch = 4, .loss = BP_LOSS_HUBER, .lr = 0.1};
    bp_net *n0 = make_net(3, 4, 2), *n1 = make_net(3, 4, 2), *n2 = make_net(3, 4, 2);
    double m0, m2, hand[8], v0, v2;
    int count = 0;
    bp_fit *f0 = bp_fit_new(hot, &h, &e);
    CHECK(bp_fit_epoch(f0, n0, hot, &m0, &e) == 0);
    CHECK(epoch_by_hand(n1, hot, 4, BP_LOSS_HUBER, 0.1, NULL, 0, hand, &count) == m0);
    CHECK(same_params(n0, n1));
    h.loss_param = 0.25;
    bp_fit *f2 = bp_fit_new(hot, &h, &e);
    CHECK(bp_fit_epoch(f2, n2, hot, &m2, &e) == 0);
    CHECK(m2 != m0 && !same_params(n0, n2));
    CHECK(bp_fit_evaluate_crit(n2, hot, 5, BP_LOSS_HUBER, 0.25, &v2, NULL, NULL, &e) ==
          0);
    CHECK(bp_fit_evaluate_crit(n2, hot, 5, BP_LOSS_HUBER, 0, &v0, NULL, NULL, &e) == 0);
    const double *out = bp_net_forward(n2, hot->x, hot->n, &e);
    bp_crit q = {.loss = BP_LOSS_HUBER, .param = 0.25};
    CHECK_NEAR(v2, bp_loss_forward_crit(out, hot->y, hot->n, 4, q), 1e-15);
    CHECK(v0 != v2);
    h.loss_param = -1;
    CHECK(bp_fit_new(hot, &h, &e) == NULL);
    CHECK_STR(e.msg, "huber's delta must be a finite number > 0 (got -1)");
    bp_fit_free(f0);
    bp_fit_free(f2);
    bp_net_free(n0);
    bp_net_free(n1);
    bp_net_free(n2);
    bp_net_free(net);
    bp_data_free(hot);
    bp_data_free(lab);
}

int main(void) {
    test_in_order_equals_by_hand();
    test_shuffled_equals_by_hand();
    test_drop_last();
    test_stop();
    test_divergence();
    test_refusals();
    test_evaluate();
    test_forward_rows();
    test_float32_data();
    test_fused_sgd();
    test_byte_backed();
    test_codes_affine();
    test_labels_and_param();
    return check_report("test_fit");
}
