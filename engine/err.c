/* err.c: the one formatting helper behind bp_err (see bp_err.h). */
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
