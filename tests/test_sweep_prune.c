/* test_sweep_prune.c: pruning rules as text and hyperband's schedule
 * (runlog/prune.c), with no run log: the decisions themselves are run as a
 * user runs them in test_sweeprun.c.
 *
 * Every text a user may write must come back in one canonical form (the
 * one stored, hashed into the sweep's uid and printed by --plan), every
 * wrong one must be refused naming it, and hyperband's brackets, budgets
 * and dealing of trials are checked against schedules worked out by hand
 * from Li et al.'s formulas as Optuna's HyperbandPruner applies them. */
#include <stdlib.h>
#include <string.h>

#include "bp_prune.h"
#include "check.h"

/* text parsed, then written back: want. */
static void check_canonical(const char *text, const char *want) {
    bp_prune p;
    bp_err e;
    char buf[96] = "?";
    int rc = bp_prune_parse(text, &p, &e);
    CHECK(rc == 0);
    if (rc) fprintf(stderr, "  %s: %s\n", text, e.msg);
    else bp_prune_text(&p, buf, sizeof buf);
    CHECK_STR(buf, want);
    /* The canonical text reads back as itself. */
    bp_prune q;
    CHECK(bp_prune_parse(buf, &q, &e) == 0 && q.rule == p.rule &&
          q.min_trials == p.min_trials && q.min_step == p.min_step &&
          q.max_step == p.max_step && q.eta == p.eta && q.startup == p.startup &&
          q.warmup == p.warmup);
}

static void test_canonical_texts(void) {
    check_canonical("median", "median:3:startup=5");
    check_canonical("median:2", "median:2:startup=5");
    check_canonical("median:startup=0:warmup=1", "median:3:startup=0:warmup=1");
    check_canonical("median:4:warmup=10:startup=2", "median:4:startup=2:warmup=10");
    check_canonical("halving", "halving:1:3:startup=5");
    check_canonical("halving:2:4:startup=1", "halving:2:4:startup=1");
    check_canonical("hyperband", "hyperband:1:auto:3:startup=5");
    check_canonical("hyperband:1:27", "hyperband:1:27:3:startup=5");
    check_canonical("hyperband:2:auto:4:warmup=0",
                    "hyperband:2:auto:4:startup=5:warmup=0");
    char buf[8] = "x";
    bp_prune p;
    bp_err e;
    CHECK(bp_prune_parse("none", &p, &e) == 0 && p.rule == BP_PRUNE_NONE);
    bp_prune_text(&p, buf, sizeof buf);
    CHECK_STR(buf, "");
    CHECK(bp_prune_parse(NULL, &p, &e) == 0 && p.rule == BP_PRUNE_NONE);
    /* The defaults: 5 completed trials, and never at the first report. */
    CHECK(bp_prune_parse("median", &p, &e) == 0 && p.startup == 5 &&
          p.warmup == BP_PRUNE_FIRST_REPORT);
}

/* A rule stored before startup and warmup existed prunes as it did: from
 * the first report, with no trial completed. */
static void test_stored_rules(void) {
    bp_prune p;
    bp_err e;
    CHECK(bp_prune_parse_stored("median:3", &p, &e) == 0);
    CHECK(p.rule == BP_PRUNE_MEDIAN && p.min_trials == 3 && p.startup == 0 &&
          p.warmup == 0);
    CHECK(bp_prune_parse_stored("halving:1:3", &p, &e) == 0 && p.startup == 0 &&
          p.warmup == 0);
    CHECK(bp_prune_parse_stored("median:3:startup=5", &p, &e) == 0 && p.startup == 5 &&
          p.warmup == BP_PRUNE_FIRST_REPORT);
    CHECK(bp_prune_parse_stored("", &p, &e) == 0 && p.rule == BP_PRUNE_NONE);
}

static void test_bad_rules(void) {
    static const struct {
        const char *text, *msg;
    } cases[] = {
        {"mean", "bad --prune 'mean': expected median[:K], halving[:MIN_STEP[:ETA]] or"
                 " hyperband[:MIN_STEP[:MAX_STEP|auto[:ETA]]], then any of :startup=N and"
                 " :warmup=STEP"},
        {"median:", "bad --prune 'median:': expected median[:K], halving[:MIN_STEP[:ETA]]"
                    " or hyperband[:MIN_STEP[:MAX_STEP|auto[:ETA]]], then any of"
                    " :startup=N and :warmup=STEP"},
        {"median:0", "bad --prune 'median:0': median:K wants K >= 1 completed trials"},
        {"median:3:4",
         "bad --prune 'median:3:4': median:K wants K >= 1 completed trials"},
        {"halving:1:1",
         "bad --prune 'halving:1:1': halving:MIN_STEP:ETA wants MIN_STEP >= 1 and ETA >= 2"},
        {"hyperband:9:3",
         "bad --prune 'hyperband:9:3': hyperband:MIN_STEP:MAX_STEP:ETA wants 1 <= MIN_STEP"
         " <= MAX_STEP <= 10^9 (or MAX_STEP auto) and ETA >= 2"},
        {"hyperband:auto",
         "bad --prune 'hyperband:auto': hyperband:MIN_STEP:MAX_STEP:ETA wants 1 <= MIN_STEP"
         " <= MAX_STEP <= 10^9 (or MAX_STEP auto) and ETA >= 2"},
        {"median:startup=-1",
         "bad --prune 'median:startup=-1': startup=N wants N >= 0 completed trials"},
        {"median:warmup=x",
         "bad --prune 'median:warmup=x': warmup=STEP wants a step >= 0"},
        {"median:startup=1:startup=2",
         "bad --prune 'median:startup=1:startup=2': startup given twice"},
        {"median:patience=3",
         "bad --prune 'median:patience=3': unknown setting 'patience'"
         " (expected startup=N or warmup=STEP)"},
        {"median:startup=1:3",
         "bad --prune 'median:startup=1:3': median:K wants K >= 1 completed trials"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        bp_prune p;
        bp_err e = {{0}};
        CHECK(bp_prune_parse(cases[k].text, &p, &e) == -1);
        CHECK_STR(e.msg, cases[k].msg);
    }
}

/* Li et al.'s example as Optuna's documentation gives it: min 1, max 27,
 * eta 3 make floor(log_3 27) + 1 = 4 brackets; bracket b (s = 3 - b) has
 * budget ceil(4 * 3^s / (s + 1)): 27, 12, 6, 4, and rungs from 3^b. */
static void test_hyperband_schedule(void) {
    bp_prune p;
    bp_err e;
    CHECK(bp_prune_parse("hyperband:1:27:3", &p, &e) == 0);
    CHECK(bp_hyperband_brackets(&p, 27) == 4);
    int64_t want[] = {27, 12, 6, 4};
    for (int b = 0; b < 4; b++) CHECK(bp_hyperband_budget(&p, 27, b) == want[b]);
    /* floor(log_3 R): 26 and 8 are a bracket short of 27 and 9; 10 is not.
     * 1000 with eta 10 is 4 brackets (Optuna's floating log says 3). */
    CHECK(bp_hyperband_brackets(&p, 26) == 3);
    CHECK(bp_hyperband_brackets(&p, 8) == 2);
    CHECK(bp_hyperband_brackets(&p, 10) == 3);
    CHECK(bp_hyperband_brackets(&p, 1) == 1 && bp_hyperband_budget(&p, 1, 0) == 1);
    CHECK(bp_prune_parse("hyperband:1:1000:10", &p, &e) == 0);
    CHECK(bp_hyperband_brackets(&p, 1000) == 4);
    /* min 2, eta 2, max 16: rungs 2, 4, 8, 16: 4 brackets; budgets
     * ceil(4 * 8 / 4) = 8, ceil(4 * 4 / 3) = 6, ceil(4 * 2 / 2) = 4, 4. */
    CHECK(bp_prune_parse("hyperband:2:16:2", &p, &e) == 0);
    CHECK(bp_hyperband_brackets(&p, 16) == 4);
    int64_t want2[] = {8, 6, 4, 4};
    for (int b = 0; b < 4; b++) CHECK(bp_hyperband_budget(&p, 16, b) == want2[b]);
}

/* min 1, max 9, eta 3: budgets 9, 5, 3 (sum 17). The deal by hand, credits
 * after adding the budgets -> the pick (most credit, first on a tie),
 * which then pays 17:
 *   t0: 9,5,3 -> 0     t1: 1,10,6 -> 1   t2: 10,-2,9 -> 0  t3: 2,3,12 -> 2
 *   t4: 11,8,-2 -> 0   t5: 3,13,1 -> 1   t6: 12,1,4 -> 0   t7: 4,6,7 -> 2
 *   t8: 13,11,-7 -> 0  t9: 5,16,-4 -> 1  t10: 14,4,-1 -> 0 t11: 6,9,2 -> 1
 *   t12: 15,-3,5 -> 0  t13: 7,2,8 -> 2   t14: 16,7,-6 -> 0 t15: 8,12,-3 -> 1
 *   t16: 17,0,0 -> 0, and the credits are 0 again: t17 deals as t0. */
static void test_hyperband_deal(void) {
    bp_prune p;
    bp_err e;
    CHECK(bp_prune_parse("hyperband:1:9:3", &p, &e) == 0);
    CHECK(bp_hyperband_brackets(&p, 9) == 3);
    CHECK(bp_hyperband_budget(&p, 9, 0) == 9 && bp_hyperband_budget(&p, 9, 1) == 5 &&
          bp_hyperband_budget(&p, 9, 2) == 3);
    static const int want[17] = {0, 1, 0, 2, 0, 1, 0, 2, 0, 1, 0, 1, 0, 2, 0, 1, 0};
    char got[64] = "", exp[64] = "";
    for (int t = 0; t < 34; t++) {
        char c[2] = {(char)('0' + bp_hyperband_bracket(&p, 9, t)), 0};
        char w[2] = {(char)('0' + want[t % 17]), 0};
        strcat(got, c);
        strcat(exp, w);
    }
    CHECK_STR(got, exp);
    CHECK(bp_hyperband_bracket(&p, 9, 17 * 1000 + 3) == 2);
}

int main(void) {
    test_canonical_texts();
    test_stored_rules();
    test_bad_rules();
    test_hyperband_schedule();
    test_hyperband_deal();
    return check_report("test_sweep_prune");
}
