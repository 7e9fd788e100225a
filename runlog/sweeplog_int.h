/* sweeplog_int.h: what the sweep files of runlog/ (prune.c, trials.c)
 * share, and nothing outside runlog/ includes. */
#ifndef SWEEPLOG_INT_H
#define SWEEPLOG_INT_H

#include "bp_err.h"
#include "bp_runlog.h"

/* "PATH: what (SQLite's message)"; returns -1. Called with the connection
 * held (bp_runlog_lock), right after the call that failed. */
int sl_fail(bp_runlog *log, bp_err *e, const char *what);

#endif
