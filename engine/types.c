/* types.c: the number types' names and sizes (bp_types.h).
 *
 * One array of names serves both directions (bp_util.h's lookups), so that
 * a name and its parse cannot disagree. */

#include "bp_types.h"
#include "bp_util.h"

static const char *const dtype_names[BP_DTYPE_COUNT] = {"float64", "float32"};

const char *bp_dtype_name(bp_dtype d) {
    return bp_name_of(dtype_names, BP_DTYPE_COUNT, (int)d);
}
int bp_dtype_parse(const char *name) {
    return bp_name_find(dtype_names, BP_DTYPE_COUNT, name);
}
size_t bp_dtype_size(bp_dtype d) { return d == BP_F32 ? sizeof(float) : sizeof(double); }
