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
    BP_PRUNE_HALVING
} bp_prune_rule;

typedef struct bp_prune {
    bp_prune_rule rule;
    int min_trials;   /* median: completed trials needed at a step, >= 1 */
    int64_t min_step; /* halving: the first rung, >= 1 */
    int eta;          /* halving: 1/eta go on at each rung, >= 2 */
} bp_prune;

/* "median[:K]", "halving[:MIN_STEP[:ETA]]", or NULL, "" or "none" (off).
 * -1 with a message naming the text for anything else. */
int bp_prune_parse(const char *text, bp_prune *p, bp_err *e);

/* The canonical text ("median:3", "halving:1:3"; "" when off) into buf. */
void bp_prune_text(const bp_prune *p, char *buf, size_t size);

/* A sweep as a trial's process needs it (bp.report). */
typedef struct bp_sweep_info {
    int64_t id;
    bp_objective objective;
    bp_prune prune;
} bp_sweep_info;

/* Reads sweep id from the log. -1 when there is no such sweep. */
int bp_sweep_info_load(bp_runlog *log, int64_t id, bp_sweep_info *out, bp_err *e);

/* The pruning decision for trial `trial` of sweep s, which has just
 * reported `value` at `step` (its previous report was at prev_step, -1 if
 * none; `best` is its best value so far, this one included). Returns 1 to
 * prune, with the reason in why ("pruned at step 10: ..."), 0 to go on,
 * -1 on a database error. Never prunes when the rule is off. */
int bp_sweep_prune_check(bp_runlog *log, const bp_sweep_info *s, int64_t trial,
                         int64_t prev_step, int64_t step, double value, double best,
                         char *why, size_t size, bp_err *e);

#endif
