/* bp_sweeplog.h: what the run log knows of sweeps, for the supervisor that
 * runs them (cli/sweeprun.c) and for `backprop merge`.
 *
 * A sweep is a row of the sweeps table; its trials are runs (runs.sweep_id
 * and runs.trial), and the view sweep_trials keeps one run per trial, its
 * latest finished one if it has one. The supervisor reads everything it
 * knows about its trials back from here, so that its progress, its summary,
 * a resume and `sweep show` agree with what is recorded. bp_prune.h holds
 * what a trial's own process needs: the objective and the pruning rules.
 *
 * Every fallible function returns 0 (or a count, or 1 for "found") on
 * success and -1 with one sentence in *e naming the database. */
#ifndef BP_SWEEPLOG_H
#define BP_SWEEPLOG_H

#include <stddef.h>
#include <stdint.h>

#include "bp_err.h"
#include "bp_prune.h"
#include "bp_runlog.h"

/* ------------------------------------------------------------------------ */
/* Merging the databases that shards of a sweep wrote                        */

/* How many rows bp_runlog_merge copied (and skipped, being there already). */
typedef struct bp_merge_counts {
    int64_t sweeps, runs, skipped, running;
} bp_merge_counts;

/* Copies into the run log at out_path (created if missing) every sweep and
 * run of the database in_path that it does not hold yet, known by their
 * uids, with everything they logged; ids are renumbered, references follow.
 * Runs still running in in_path are left out (counted in c->running): merge
 * again once they end. All of one input or nothing; merging the same input
 * twice adds nothing. in_path is only read, and must be at this backprop's
 * schema version. */
int bp_runlog_merge(const char *out_path, const char *in_path, bp_merge_counts *c,
                    bp_err *e);

#endif
