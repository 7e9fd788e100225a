/* bp_prune.h: what a sweep judges, and when it stops a trial early.
 *
 * A sweep's objective is a metric (its value at the last step a run logged
 * it, smaller or larger being better), and its pruning rule decides, each
 * time a trial reports, whether the trial goes on. The rules read what the
 * sweep's other trials reported from the run log:
 *  - median:K       prune when the trial's best value so far is worse than
 *                   the median of the values that at least K completed
 *                   trials reported at the same step (default K = 3).
 *  - halving:S:ETA  successive halving, asynchronous (ASHA): rungs at steps
 *                   S, S*ETA, S*ETA^2...; a trial reaching a rung (its first
 *                   report at or past it) goes on only if its value there is
 *                   among the best 1/ETA of the values every trial of the
 *                   sweep had there (at least the best one goes on).
 *                   Defaults S = 1, ETA = 3.
 *  - hyperband:S:R:ETA  several halving brackets (Li et al. 2018, as
 *                   Optuna's HyperbandPruner): with n = floor(log_ETA(R/S))
 *                   + 1 brackets, bracket b has rungs S*ETA^b,
 *                   S*ETA^(b+1)... and a share of the trials proportional
 *                   to ceil(n ETA^(n-1-b) / (n - b)); a trial is judged
 *                   against its own bracket's trials alone. R is the
 *                   largest step a trial reaches; "auto" (the default)
 *                   takes the last report's step of the sweep's first
 *                   completed trial, and nothing is pruned before one has.
 * Each rule waits, as Optuna's n_startup_trials and n_warmup_steps do: no
 * trial is pruned before `startup` trials of the sweep have completed
 * (default 5), nor at a report before step `warmup` (default: none is
 * pruned at its first report, whatever its step). Written
 * "median:3:startup=5:warmup=10".
 * What the others reported depends on which trials ran first: with one
 * worker the decisions are reproducible, with more they may vary.
 *
 * Every fallible function returns 0 on success and -1 with one sentence in
 * *e. */
#ifndef BP_PRUNE_H
#define BP_PRUNE_H

#include <stddef.h>
#include <stdint.h>

#include "bp_err.h"
#include "bp_runlog.h"

typedef struct bp_objective {
    char metric[64]; /* its value at the last step a run logged it */
    int maximize;    /* 0: smaller is better */
} bp_objective;


/* "[min:|max:]METRIC" (default min). -1 for an empty or too long name. */
int bp_objective_parse(const char *text, bp_objective *o, bp_err *e);

typedef enum bp_prune_rule {
    BP_PRUNE_NONE,
    BP_PRUNE_MEDIAN,
    BP_PRUNE_HALVING,
    BP_PRUNE_HYPERBAND
} bp_prune_rule;

/* warmup's default: no pruning at a trial's first report, whatever its step */
#define BP_PRUNE_FIRST_REPORT (-1)

typedef struct bp_prune {
    bp_prune_rule rule;
    int min_trials;   /* median: completed trials needed at a step, >= 1 */
    int64_t min_step; /* halving, hyperband: the first rung, >= 1 */
    int64_t max_step; /* hyperband: the largest step, >= min_step; 0: auto */
    int eta;          /* halving, hyperband: 1/eta go on at each rung, >= 2 */
    int startup;      /* completed trials before any pruning, >= 0 */
    int64_t warmup;   /* the first step pruned at, or BP_PRUNE_FIRST_REPORT */
} bp_prune;

/* "median[:K]", "halving[:MIN_STEP[:ETA]]" or
 * "hyperband[:MIN_STEP[:MAX_STEP|auto[:ETA]]]", each followed by any of
 * ":startup=N" and ":warmup=STEP"; or NULL, "" or "none" (off). -1 with a
 * message naming the text for anything else. */
int bp_prune_parse(const char *text, bp_prune *p, bp_err *e);

/* As bp_prune_parse, for a rule read from a sweep's row: one stored by a
 * backprop from before startup and warmup (a text without "startup=")
 * pruned from the first report on, and goes on doing so (startup 0,
 * warmup 0). */
int bp_prune_parse_stored(const char *text, bp_prune *p, bp_err *e);

/* The canonical text ("median:3:startup=5", "halving:1:3:startup=0:warmup=4",
 * "hyperband:1:auto:3:startup=5"; "" when off) into buf; 96 bytes hold any. */
void bp_prune_text(const bp_prune *p, char *buf, size_t size);

/* Hyperband's schedule for a largest step R >= p->min_step: the number of
 * brackets, and bracket b's budget (its share of the trials, out of the
 * sum of the budgets). */
int bp_hyperband_brackets(const bp_prune *p, int64_t max_step);
int64_t bp_hyperband_budget(const bp_prune *p, int64_t max_step, int bracket);

/* The bracket of trial `trial` (0-based): trials are dealt to the brackets
 * by smooth weighted round robin on the budgets (each deal adds every
 * bracket's budget to its credit, gives the trial to the bracket with the
 * most credit, the first on a tie, and takes the sum of the budgets from
 * that one's credit), so that every run of sum-of-budgets trials holds
 * each bracket's budget exactly and each bracket's trials are spread
 * through the sweep. Deterministic: any process computes the same. */
int bp_hyperband_bracket(const bp_prune *p, int64_t max_step, int64_t trial);

/* A sweep as a trial's process needs it (bp.report). */
typedef struct bp_sweep_info {
    int64_t id;
    uint64_t seed; /* the sweep's: its trials' data seed (bp.seed("data")) */
    bp_objective objective;
    bp_prune prune;
} bp_sweep_info;

/* Reads sweep id from the log (its rule by bp_prune_parse_stored). -1 when
 * there is no such sweep. */
int bp_sweep_info_load(bp_runlog *log, int64_t id, bp_sweep_info *out, bp_err *e);

/* The pruning decision for trial `trial` of sweep s, which has just
 * reported `value` at `step` (its previous report was at prev_step, -1 if
 * none; `best` is its best value so far, this one included). Returns 1 to
 * prune, with the reason in why ("pruned at step 10: ..."), 0 to go on,
 * -1 on a database error. Never prunes when the rule is off, before
 * `startup` trials have completed, nor during the warm-up. */
int bp_sweep_prune_check(bp_runlog *log, const bp_sweep_info *s, int64_t trial,
                         int64_t prev_step, int64_t step, double value, double best,
                         char *why, size_t size, bp_err *e);

#endif
