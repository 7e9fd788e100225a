/* bp_alloc.h: the allocator every engine object is made with.
 *
 * Networks, optimisers, data sets, fits and teams allocate through these
 * calls rather than malloc, so that a host can put its own allocator in
 * (a counting wrapper, in test_alloc.c, proves that a training step after
 * the first allocates nothing) and so that code which only needs memory
 * does not have to include the network's header to get it. */
#ifndef BP_ALLOC_H
#define BP_ALLOC_H

#include <stddef.h>

/* The allocator of networks and optimisers: malloc, calloc, realloc and
 * free until changed. Call it before making any, or with functions that can
 * free what the ones in force gave out (a counting wrapper around malloc
 * can). NULL for any of the four puts back the C library's four.
 *
 * calloc_fn is its own function, not malloc_fn and a memset, because the C
 * library's calloc gives a large block as fresh pages of zeros without
 * touching them: a layer of 2^31 weights then costs nothing until it is
 * written, and nothing fills gigabytes of zeros where no signal can stop
 * it. A calloc_fn must return zeroed memory (and NULL when n * size
 * overflows). */
void bp_set_allocator(void *(*malloc_fn)(size_t), void *(*calloc_fn)(size_t, size_t),
                      void *(*realloc_fn)(void *, size_t), void (*free_fn)(void *));

/* Allocation through that allocator, as malloc, calloc (zeroed; NULL when
 * n * size overflows), realloc and free do. */
void *bp_malloc(size_t size);
void *bp_calloc(size_t n, size_t size);
void *bp_realloc(void *p, size_t size);
void bp_free(void *p);

#endif
