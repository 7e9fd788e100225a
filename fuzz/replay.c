/* replay.c: main for a fuzz target in the ordinary build, without libFuzzer.
 *
 * `fuzz_replay_X DIR_OR_FILE...` runs LLVMFuzzerTestOneInput once on every
 * file named or found (one level deep) in the directories, in name order, so
 * that the seed corpora and the inputs of crashes already found
 * (fuzz/regressions/X) are replayed by every `ctest`, and under
 * -DBP_SANITIZE=ON with the same sanitizers as the fuzzer. A crash is the
 * failure; the exit status is 0 when every input ran. */
#define _DEFAULT_SOURCE /* DT_DIR, scandir */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return 1;
    }
    size_t cap = 1 << 12, len = 0, got;
    uint8_t *buf = malloc(cap);
    while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            uint8_t *grown = realloc(buf, cap *= 2);
            if (!grown) free(buf);
            buf = grown;
        }
    }
    fclose(f);
    if (!buf) {
        fprintf(stderr, "replay: out of memory reading %s\n", path);
        return 1;
    }
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
    /* A copy of exactly len bytes, so that ASan sees a read past the end. */
    uint8_t *exact = malloc(len ? len : 1);
    if (exact) memcpy(exact, buf, len);
    free(buf);
    if (!exact) return 1;
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    return 0;
}

static int skip_hidden(const struct dirent *d) { return d->d_name[0] != '.'; }

int main(int argc, char **argv) {
#ifndef UNDER_ASAN
    /* The fuzzer makes allocations above 64 MB fail (input.h); without ASan,
     * a cap on the address space does the same for the inputs it found. */
    struct rlimit lim = {(rlim_t)4 << 30, (rlim_t)4 << 30};
    setrlimit(RLIMIT_AS, &lim);
#endif
    int failed = 0, count = 0;
    for (int a = 1; a < argc; a++) {
        struct stat st;
        if (stat(argv[a], &st)) continue; /* a target with no regressions yet */
        if (!S_ISDIR(st.st_mode)) {
            failed |= run_file(argv[a]);
            count++;
            continue;
        }
        struct dirent **list;
        int n = scandir(argv[a], &list, skip_hidden, alphasort);
        for (int k = 0; k < n; k++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[a], list[k]->d_name);
            if (!stat(path, &st) && S_ISREG(st.st_mode)) {
                failed |= run_file(path);
                count++;
            }
            free(list[k]);
        }
        free(list);
    }
    printf("replay: %d inputs%s\n", count, failed ? ", some unreadable" : "");
    return failed;
}
