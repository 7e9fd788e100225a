/* bp_util.h: the few small helpers every room of backprop needs, written once.
 *
 * A clock for measuring intervals, a hash for naming things by their
 * content, a file read whole, a duration as people read it, and the lookups
 * of the engine's lists of names (activations, losses, number types,
 * optimisers, ...), each of which is one array of strings. They live in
 * the engine because every other room depends on it; none of them touches
 * the mathematics. */
#ifndef BP_UTIL_H
#define BP_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "bp_err.h"

/* BP_STEP_PATH: a function of the single-sample step (the lecture's loop:
 * net:train_step's binding down to the step's arithmetic), placed in a
 * section of its own that the linker gathers in one place (GNU ld and gold
 * put the input sections .text.hot.* together, in link order), so that the
 * path's code keeps its layout when code elsewhere in the program grows or
 * shrinks. BP_STEP_PATH_FIRST, on the first of them in link order (the
 * bindings' step_args, bindings/ltrain.c), starts the group on a page
 * (4096 bytes): the step's code then lies the same way against the caches'
 * sets and lines, and against the Lua library's code, whatever comes
 * before it. At ~140 ns a step, where that code lay moved W1 (a) by up to
 * 5% with no instruction changed (scripts/bench/NOTES.md, issue 24). */
#if defined(__GNUC__) && defined(__ELF__)
#define BP_STEP_PATH __attribute__((section(".text.hot.bp_step")))
#define BP_STEP_PATH_FIRST __attribute__((section(".text.hot.bp_step"), aligned(4096)))
#else
#define BP_STEP_PATH
#define BP_STEP_PATH_FIRST
#endif

/* Seconds on the monotonic clock (CLOCK_MONOTONIC): for intervals only, it
 * has no relation to the time of day and never goes back. */
double bp_clock(void);

/* FNV-1a 64 of n bytes, continuing from hash h: start with BP_FNV1A_INIT.
 * Not for security: a content hash for indexes and identities, where the
 * content itself is compared too or a collision is harmless. */
#define BP_FNV1A_INIT 14695981039346656037ull
uint64_t bp_fnv1a(uint64_t h, const void *data, size_t n);

/* The whole file at path, NUL-terminated (its length, without the NUL, in
 * *len when len is not NULL), in one block of its size from bp_malloc; the
 * caller frees it with bp_free. A regular file only (/dev/zero never ends,
 * a FIFO has no size). NULL with "PATH: cannot open: reason", "PATH: not a
 * regular file (a FIFO)", "PATH: out of memory for its N bytes" or "PATH:
 * read error: reason" in *e. */
char *bp_read_file(const char *path, size_t *len, bp_err *e);

/* Opens path for reading without waiting (open would block on a FIFO with
 * no writer) and says what it is. A regular file: returns the descriptor,
 * its size in *size, *kind NULL. Anything else: closes it, returns -1 and
 * names it in *kind ("a directory", "a FIFO", "a character device", "a
 * block device", "a socket"). -1 with errno set and *kind NULL when it
 * cannot be opened. Loaders that read a file whole, or check the sizes a
 * header declares against the file's, take regular files only: /dev/zero
 * never ends, and a FIFO has no size. */
int bp_open_regular(const char *path, size_t *size, const char **kind);

/* Whether the numeral s (strtod's syntax, blanks after it allowed) is out
 * of the range of a double: "out of range: beyond the largest number, about
 * 1.8e308" for one that would become infinite (1e309), "out of range: too
 * small, it would become 0" for one that would become 0 (1e-400), NULL for
 * any other string, numeral or not ("inf" is not out of range: it is not a
 * numeral Lua reads). A parameter and a sweep's value say the same. */
const char *bp_numeral_range(const char *s);

/* A whole decimal number in [lo, hi] (strtoll's form: leading spaces and a
 * sign allowed, nothing after it): 0 and *out set, or -1 with *out
 * untouched. */
int bp_parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out);

/* *out = a * b, or -1 (*out untouched) when the product does not fit in a
 * size_t. Every size computed from what a file, a blob, a database or a
 * script says goes through these before anything is allocated or copied. */
int bp_size_mul(size_t *out, size_t a, size_t b);
/* *out = a * b * c, likewise. */
int bp_size_mul3(size_t *out, size_t a, size_t b, size_t c);

/* A duration for a table or a summary: "250ms", "12.5s", "3m05s", "2h07m". */
void bp_format_duration(char *buf, size_t cap, double seconds);

/* Lists of names, names[0 .. n-1], indexed by an enum:
 *   bp_name_of: names[k], or "?" when k is out of range;
 *   bp_name_find: the index of name in the list, or -1;
 *   bp_names_join: the list as an error message gives it, "a, b, c or d"
 *     ("a" for one name), into buf (cut to cap - 1 characters). */
const char *bp_name_of(const char *const *names, int n, int k);
int bp_name_find(const char *const *names, int n, const char *name);
void bp_names_join(char *buf, size_t cap, const char *const *names, int n);

/* Whether a parameter's name ("block1.fc.weight") is picked by pattern: a
 * shell glob (fnmatch(3) without flags: * and ? match dots too, [..]
 * classes) matching the whole name or a module's, a prefix of it ending
 * before a dot ("block1", "block1.fc"), as PyTorch's named_modules nest.
 * So "fc1" picks fc1.weight and fc1.bias, "*.bias" every bias. */
int bp_name_matches(const char *pattern, const char *name);

#endif
