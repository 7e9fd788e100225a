/* input.h: what every fuzz target shares: reading the fuzzer's bytes as
 * choices, handing bytes to a loader that only takes a path, and the
 * sanitizer settings that make an allocation failure a failure and not a
 * crash.
 *
 * Each target is one translation unit that includes this header once, so
 * the non-static __asan_default_options below is defined once per program.
 * The same targets build without libFuzzer (fuzz/replay.c supplies main) in
 * the ordinary build, where they replay the seed corpora and the inputs of
 * crashes already found; that is why nothing here needs clang. */
#ifndef FUZZ_INPUT_H
#define FUZZ_INPUT_H

#define _GNU_SOURCE /* memfd_create */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The fuzzer's bytes, consumed from the front. Reading past the end gives
 * zeros, so every input, however short, decodes to something. */
typedef struct fz {
    const uint8_t *p;
    size_t n;
} fz;

static inline unsigned fz_byte(fz *f) {
    if (!f->n) return 0;
    f->n--;
    return *f->p++;
}

static inline unsigned fz_u16(fz *f) { return fz_byte(f) | fz_byte(f) << 8; }

static inline uint64_t fz_u64(fz *f) {
    uint64_t v = 0;
    for (int k = 0; k < 8; k++) v |= (uint64_t)fz_byte(f) << (8 * k);
    return v;
}

/* A choice among n (n >= 1). */
static inline unsigned fz_pick(fz *f, unsigned n) { return fz_byte(f) % n; }

/* Up to max bytes (a length byte first) as a NUL-terminated string in buf
 * (max + 1 bytes); may contain any byte but NUL. */
static inline char *fz_str(fz *f, char *buf, size_t max) {
    size_t len = fz_byte(f) % (max + 1), k = 0;
    while (k < len && f->n) {
        unsigned c = fz_byte(f);
        if (c) buf[k++] = (char)c;
    }
    buf[k] = 0;
    return buf;
}

/* The loaders take paths: an anonymous in-memory file per process (memfd),
 * rewritten for each input and named by /proc/self/fd/N, so that nothing is
 * left in /tmp and two fuzzers never share a file. Returns the path, or NULL
 * if the file cannot be made (the input is then skipped). */
static inline const char *fz_file(int slot, const void *bytes, size_t len) {
    static int fd[4] = {-1, -1, -1, -1};
    static char path[4][32];
    if (fd[slot] < 0) {
        fd[slot] = memfd_create("fuzz", 0);
        if (fd[slot] < 0) return NULL;
        snprintf(path[slot], sizeof path[slot], "/proc/self/fd/%d", fd[slot]);
    }
    if (ftruncate(fd[slot], 0) || pwrite(fd[slot], bytes, len, 0) != (ssize_t)len)
        return NULL;
    return path[slot];
}

/* Allocations above 64 MB fail (return NULL) instead of succeeding, or
 * stopping the fuzzer as libFuzzer's malloc limit would: a header that
 * claims 2^31 images must end in the loader's "out of memory", which is
 * the behaviour under test, not in a machine out of memory. Overflowed
 * sizes that wrap to small numbers still reach ASan as overflows. */
const char *__asan_default_options(void) {
    return "allocator_may_return_null=1:max_allocation_size_mb=64";
}

#endif
