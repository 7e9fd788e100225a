/* err.c: the one formatting helper behind bp_err (see bp_err.h).
 *
 * The message goes into the caller's bp_err, cut to its size rather than
 * failing: a report of an error must not be able to fail itself. */
#include <stdarg.h>
#include <stdio.h>

#include "bp_err.h"

int bp_err_set(bp_err *e, const char *fmt, ...) {
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}
