/* types.c: the number types' names and sizes (bp_types.h). */
#include <string.h>

#include "bp_types.h"

static const char *dtype_names[BP_DTYPE_COUNT] = {"float64", "float32"};

const char *bp_dtype_name(bp_dtype d) {
    return (unsigned)d < BP_DTYPE_COUNT ? dtype_names[d] : "?";
}
int bp_dtype_parse(const char *name) {
    for (int d = 0; d < BP_DTYPE_COUNT; d++)
        if (strcmp(name, dtype_names[d]) == 0) return d;
    return -1;
}
size_t bp_dtype_size(bp_dtype d) { return d == BP_F32 ? sizeof(float) : sizeof(double); }
