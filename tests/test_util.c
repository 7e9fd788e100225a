/* test_util.c: the shared helpers of engine/bp_util.h that sizes from
 * outside depend on: bp_size_mul and bp_size_mul3, at the edges of size_t
 * where a product wraps (issue 19: 8 x a count wrapping to a blob's length
 * once passed a length check). */
#include <stdint.h>

#include "bp_util.h"
#include "check.h"

_Static_assert(SIZE_MAX == UINT64_MAX, "the edges below are those of a 64-bit size_t");

static void test_size_mul(void) {
    size_t out = 7;
    CHECK(bp_size_mul(&out, 0, SIZE_MAX) == 0 && out == 0);
    CHECK(bp_size_mul(&out, 6, 7) == 0 && out == 42);
    CHECK(bp_size_mul(&out, SIZE_MAX, 1) == 0 && out == SIZE_MAX);
    CHECK(bp_size_mul(&out, SIZE_MAX / 8, 8) == 0 && out == SIZE_MAX / 8 * 8);
    /* One past the edge, and the case of issue 19: untouched on failure. */
    out = 7;
    CHECK(bp_size_mul(&out, SIZE_MAX / 8 + 1, 8) == -1 && out == 7);
    CHECK(bp_size_mul(&out, (size_t)1 << 32, (size_t)1 << 32) == -1 && out == 7);
    CHECK(bp_size_mul(&out, 8, ((size_t)1 << 61) + 99) == -1 && out == 7);
    CHECK(bp_size_mul(&out, SIZE_MAX, SIZE_MAX) == -1 && out == 7);
}

static void test_size_mul3(void) {
    size_t out = 7;
    CHECK(bp_size_mul3(&out, 2, 3, 4) == 0 && out == 24);
    CHECK(bp_size_mul3(&out, SIZE_MAX, 1, 1) == 0 && out == SIZE_MAX);
    CHECK(bp_size_mul3(&out, 0, SIZE_MAX, SIZE_MAX) == 0 && out == 0);
    CHECK(bp_size_mul3(&out, (size_t)1 << 31, (size_t)1 << 31, 2) == 0 &&
          out == (size_t)1 << 63);
    /* a x b fits but the product with c does not, and a x b does not. */
    out = 7;
    CHECK(bp_size_mul3(&out, (size_t)1 << 31, (size_t)1 << 31, 4) == -1 && out == 7);
    CHECK(bp_size_mul3(&out, 2, (size_t)1 << 32, (size_t)1 << 31) == -1 && out == 7);
    CHECK(bp_size_mul3(&out, (size_t)1 << 40, (size_t)1 << 40, 1) == -1 && out == 7);
    CHECK(bp_size_mul3(&out, 8, 8, ((size_t)1 << 58) + 13) == -1 && out == 7);
}

int main(void) {
    test_size_mul();
    test_size_mul3();
    return check_report("test_util");
}
