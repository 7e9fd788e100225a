/* util.c: the small shared helpers of bp_util.h.
 *
 * Written once here because every room needs them; none of them touches the
 * mathematics. A file read whole comes from the engine's allocator, so that
 * --max-memory and the default limit hold for a corpus or a script as for a
 * network. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bp_alloc.h"
#include "bp_util.h"

double bp_clock(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

uint64_t bp_fnv1a(uint64_t h, const void *data, size_t n) {
    const unsigned char *s = data;
    for (size_t k = 0; k < n; k++) h = (h ^ s[k]) * 1099511628211ull;
    return h;
}

char *bp_read_file(const char *path, size_t *len, bp_err *e) {
    size_t size;
    const char *kind;
    char *buf = NULL;
    int fd = bp_open_regular(path, &size, &kind);
    if (fd < 0 && kind) {
        bp_err_set(e, "%s: not a regular file (%s)", path, kind);
        return NULL;
    }
    if (fd < 0) {
        bp_err_set(e, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    if (size == SIZE_MAX || !(buf = bp_malloc(size + 1))) {
        bp_err_set(e, "%s: out of memory for its %zu bytes", path, size);
        goto end;
    }
    size_t used = 0; /* a file that shrank meanwhile ends early; one that grew is cut */
    for (ssize_t got; used < size && (got = read(fd, buf + used, size - used)) != 0;) {
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            bp_err_set(e, "%s: read error: %s", path, strerror(errno));
            bp_free(buf);
            buf = NULL;
            goto end;
        }
        used += (size_t)got;
    }
    buf[used] = '\0';
    if (len) *len = used;
end:
    close(fd);
    return buf;
}

int bp_open_regular(const char *path, size_t *size, const char **kind) {
    *kind = NULL;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    if (S_ISREG(st.st_mode)) {
        *size = (size_t)st.st_size;
        return fd;
    }
    *kind = S_ISDIR(st.st_mode)    ? "a directory"
            : S_ISFIFO(st.st_mode) ? "a FIFO"
            : S_ISCHR(st.st_mode)  ? "a character device"
            : S_ISBLK(st.st_mode)  ? "a block device"
            : S_ISSOCK(st.st_mode) ? "a socket"
                                   : "not a file";
    close(fd);
    return -1;
}

const char *bp_numeral_range(const char *s) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    int err = errno;
    if (end == s || end[strspn(end, " \t")] != '\0' || err != ERANGE) return NULL;
    if (isinf(v)) return "out of range: beyond the largest number, about 1.8e308";
    return v == 0 ? "out of range: too small, it would become 0" : NULL;
}

int bp_parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int bp_size_mul(size_t *out, size_t a, size_t b) {
    size_t r;
    if (__builtin_mul_overflow(a, b, &r)) return -1;
    *out = r;
    return 0;
}

int bp_size_mul3(size_t *out, size_t a, size_t b, size_t c) {
    size_t ab;
    if (bp_size_mul(&ab, a, b)) return -1;
    return bp_size_mul(out, ab, c);
}

void bp_format_duration(char *buf, size_t cap, double s) {
    if (s < 1) snprintf(buf, cap, "%dms", (int)(s * 1000 + 0.5));
    else if (s < 60) snprintf(buf, cap, "%.1fs", s);
    else if (s < 3600) snprintf(buf, cap, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else snprintf(buf, cap, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}

const char *bp_name_of(const char *const *names, int n, int k) {
    return k >= 0 && k < n ? names[k] : "?";
}

int bp_name_find(const char *const *names, int n, const char *name) {
    for (int k = 0; k < n; k++)
        if (strcmp(name, names[k]) == 0) return k;
    return -1;
}

int bp_name_matches(const char *pattern, const char *name) {
    if (fnmatch(pattern, name, 0) == 0) return 1;
    char prefix[256];
    size_t n = strlen(name);
    if (n >= sizeof prefix) return 0;
    for (size_t k = 1; k < n; k++) {
        if (name[k] != '.') continue;
        memcpy(prefix, name, k);
        prefix[k] = '\0';
        if (fnmatch(pattern, prefix, 0) == 0) return 1;
    }
    return 0;
}

void bp_names_join(char *buf, size_t cap, const char *const *names, int n) {
    size_t len = 0;
    if (cap) buf[0] = '\0';
    for (int k = 0; k < n && len < cap; k++) {
        const char *sep = k == 0 ? "" : k == n - 1 ? " or " : ", ";
        int w = snprintf(buf + len, cap - len, "%s%s", sep, names[k]);
        if (w < 0) break;
        len += (size_t)w;
    }
}
