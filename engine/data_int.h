/* data_int.h: what data.c and the loaders (data_csv.c, data_idx.c) share;
 * nothing else includes it. */
#ifndef DATA_INT_H
#define DATA_INT_H

#include "bp_data.h"

/* A copy of s from bp_malloc, or NULL when out of memory. */
char *dt_dup_str(const char *s);

/* A data set of n rows; its inputs are x when given (n x d values of dtype,
 * from bp_malloc: taken on success, still the caller's on failure), else
 * zeros. NULL with the reason in e. */
bp_data *dt_make(int n, int d, int k, int n_classes, bp_dtype dtype, void *x, bp_err *e);

/* dt_make's byte-backed data set: its inputs codes (n x d bytes from
 * bp_malloc, taken on success), each standing for its own value (the
 * table's v is v) until a scaler or a dtype changes the table. */
bp_data *dt_make_codes(int n, int d, int k, int n_classes, bp_dtype dtype,
                       unsigned char *codes, bp_err *e);

/* Asks the kernel to back the inputs' buffer x of the given bytes with
 * huge pages where it can (a hint: nothing changes but speed). A shuffled
 * batch reads its rows from anywhere in the set, and with 4 KiB pages
 * nearly every row costs a miss in the translation buffer. */
void dt_advise_rows(void *x, size_t bytes);

#endif
