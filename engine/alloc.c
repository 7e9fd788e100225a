/* alloc.c: the engine's allocator (bp_alloc.h).
 *
 * Four function pointers, the C library's until a host sets its own. A
 * request for 0 bytes asks for 1, so that NULL always means out of memory. */
#include <stdint.h>
#include <stdlib.h>

#include "bp_alloc.h"

static void *(*alloc_fn)(size_t) = malloc;
static void *(*calloc_fn_)(size_t, size_t) = calloc;
static void *(*realloc_fn_)(void *, size_t) = realloc;
static void (*free_fn_)(void *) = free;

void bp_set_allocator(void *(*malloc_fn)(size_t), void *(*calloc_fn)(size_t, size_t),
                      void *(*realloc_fn)(void *, size_t), void (*free_fn)(void *)) {
    int dflt = !malloc_fn || !calloc_fn || !realloc_fn || !free_fn;
    alloc_fn = dflt ? malloc : malloc_fn;
    calloc_fn_ = dflt ? calloc : calloc_fn;
    realloc_fn_ = dflt ? realloc : realloc_fn;
    free_fn_ = dflt ? free : free_fn;
}

void *bp_malloc(size_t size) { return alloc_fn(size ? size : 1); }
void *bp_realloc(void *p, size_t size) { return realloc_fn_(p, size ? size : 1); }
void bp_free(void *p) {
    if (p) free_fn_(p);
}
void *bp_calloc(size_t n, size_t size) {
    if (size && n > SIZE_MAX / size) return NULL;
    return n && size ? calloc_fn_(n, size) : calloc_fn_(1, 1);
}
