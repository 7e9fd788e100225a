/* bp_err.h: how the engine reports failure.
 *
 * Library code never exits or aborts: a function that can fail returns -1 (or
 * NULL for a constructor) and, when the caller passed a bp_err, writes one
 * sentence into it saying what was wrong. Callers that do not care pass NULL.
 * The message lives in the caller's storage so that no global state is needed
 * and two networks on two threads never share an error. */
#ifndef BP_ERR_H
#define BP_ERR_H

#define BP_ERR_MAX 256

typedef struct bp_err {
    char msg[BP_ERR_MAX];
} bp_err;

/* Formats a message into e (printf-style); does nothing when e is NULL.
 * Always returns -1 so that callers can write `return bp_err_set(e, ...);`. */
int bp_err_set(bp_err *e, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
