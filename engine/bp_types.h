/* bp_types.h: the number types a network and a data set compute and store in.
 *
 * Its own header because data sets need it as much as networks do, and a
 * data set has no business with the kernels or the network: bp_data.h and
 * bp_ops.h both include this. */
#ifndef BP_TYPES_H
#define BP_TYPES_H

#include <stddef.h>

/* The number type a network computes in. */
typedef enum bp_dtype {
    BP_F64, /* double: the default, and the lecture's exact figures */
    BP_F32, /* float: half the memory traffic, twice the SIMD width */
    BP_DTYPE_COUNT
} bp_dtype;

/* Names as scripts write them ("float64", "float32"), and back: the parse
 * function returns -1 for an unknown name. bp_dtype_size is sizeof(double)
 * or sizeof(float). */
const char *bp_dtype_name(bp_dtype d);
int bp_dtype_parse(const char *name);
size_t bp_dtype_size(bp_dtype d);

#endif
