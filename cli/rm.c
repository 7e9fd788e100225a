/* rm.c: `backprop rm [--force] [--yes] ID|FIRST-LAST[,...]...` (bp_cli.h).
 *
 * The runs are named by ids, ranges (3-5) and lists of both (3,7-9). A
 * range names the runs that exist in it (ids of runs deleted before leave
 * gaps), so a range with none is an error; a single id must exist. Every
 * run is looked up before anything is asked or deleted, so that a mistake
 * (an unknown id, a running run without --force) is said first.
 *
 * On a terminal the runs are listed and a "y" asked for on stdin, unless
 * --yes. When stdin is not a terminal nothing can be asked, and a careful
 * tool does not guess: without --yes it deletes nothing and says to add it
 * (a script states that it means to delete). bp_runlog_rm then deletes all
 * the runs or none, in one transaction. */
#define _XOPEN_SOURCE 700
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bp_cli.h"
#include "cli_int.h"

/* The runs listed before the question; more are counted. */
#define LISTED 10

static const char ranges_hint[] = "an id, a range or a list: 3, 3-5, 3,7-9";

/* One piece of an argument, "N" or "A-B", into *first and *last. 0, or 1
 * after saying what is wrong with it on err. */
static int parse_piece(const char *arg, const char *p, size_t len, int64_t *first,
                       int64_t *last, FILE *err) {
    char buf[64];
    if (len == 0 || len >= sizeof buf)
        return bp_cli_fail(err, "rm: '%s' is not %s", arg, ranges_hint);
    memcpy(buf, p, len);
    buf[len] = '\0';
    char *dash = strchr(buf, '-');
    if (!dash) {
        if (bp_cli_parse_id(buf, first))
            return bp_cli_fail(err, "rm: '%s' is not a run id (%s)", buf, ranges_hint);
        *last = *first;
        return 0;
    }
    *dash = '\0';
    const char *a = buf, *b = dash + 1;
    if (!*a) return bp_cli_fail(err, "rm: range '%.*s' wants its first id: N-%s", (int)len, p, b);
    if (!*b) return bp_cli_fail(err, "rm: range '%.*s' wants its last id: %s-N", (int)len, p, a);
    if (bp_cli_parse_id(a, first) || bp_cli_parse_id(b, last))
        return bp_cli_fail(err, "rm: '%.*s' is not %s", (int)len, p, ranges_hint);
    if (*first > *last)
        return bp_cli_fail(err, "rm: range '%.*s' runs backwards: write %s-%s", (int)len, p,
                           b, a);
    return 0;
}

static int cmp_id(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Appends to *ids (*n of them, room for *cap) the runs one argument names.
 * 0, or 1 after saying what is wrong on err. */
static int add_arg(bp_runlog *log, const char *arg, int64_t **ids, size_t *n, size_t *cap,
                   FILE *err) {
    for (const char *p = arg;;) {
        size_t len = strcspn(p, ",");
        int64_t first, last, *got;
        size_t ngot;
        bp_err e;
        if (parse_piece(arg, p, len, &first, &last, err)) return 1;
        if (bp_runlog_run_ids_between(log, first, last, &got, &ngot, &e))
            return bp_cli_fail(err, "%s", e.msg);
        if (!ngot) {
            free(got);
            if (first == last)
                return bp_cli_fail(err, "%s: no run %lld; nothing deleted",
                                   bp_runlog_path(log), (long long)first);
            return bp_cli_fail(err, "%s: no run in %lld-%lld; nothing deleted",
                               bp_runlog_path(log), (long long)first, (long long)last);
        }
        if (*n + ngot > *cap) {
            size_t more = 2 * (*n + ngot);
            int64_t *grown = realloc(*ids, more * sizeof *grown);
            if (!grown) {
                free(got);
                return bp_cli_fail(err, "out of memory");
            }
            *ids = grown, *cap = more;
        }
        memcpy(*ids + *n, got, ngot * sizeof *got);
        *n += ngot;
        free(got);
        if (!p[len]) return 0;
        p += len + 1;
    }
}

/* Lists the runs (the first LISTED) on err and asks; 1 when the answer on
 * stdin is y or yes. Refuses what the deletion would refuse first: a
 * running run without force. */
static int confirm(bp_runlog *log, const int64_t *ids, size_t n, int force, int ask,
                   FILE *err, int *rc) {
    for (size_t k = 0; k < n; k++) {
        bp_run_label l;
        bp_err e;
        if (bp_runlog_run_label(log, ids[k], &l, &e)) {
            *rc = bp_cli_fail(err, "%s", e.msg);
            return 0;
        }
        int running = !strcmp(l.status, "running");
        if (ask && k == 0)
            fprintf(err, "delete %zu run%s and everything logged with %s:\n", n,
                    n == 1 ? "" : "s", n == 1 ? "it" : "them");
        if (ask && k < LISTED)
            fprintf(err, "  %lld  %s  %s\n", (long long)ids[k], l.name ? l.name : "",
                    l.status);
        bp_run_label_free(&l);
        if (running && !force) {
            *rc = bp_cli_fail(err,
                              "run %lld is still running (rm --force deletes it anyway);"
                              " nothing deleted",
                              (long long)ids[k]);
            return 0;
        }
    }
    if (!ask) return 1;
    if (n > LISTED) fprintf(err, "  ... and %zu more\n", n - LISTED);
    fputs("delete? [y/N] ", err);
    fflush(err);
    char line[32] = "";
    int yes = fgets(line, sizeof line, stdin) != NULL;
    line[strcspn(line, "\r\n")] = '\0';
    yes = yes && (!strcasecmp(line, "y") || !strcasecmp(line, "yes"));
    if (!yes) *rc = bp_cli_fail(err, "rm: not confirmed; nothing deleted");
    return yes;
}

/* The ids the arguments name, sorted, each once. */
static int gather(bp_runlog *log, int argc, char **argv, int64_t **ids, size_t *n,
                  FILE *err) {
    size_t cap = 0;
    for (int k = 0; k < argc; k++)
        if (argv[k][0] != '-' || (argv[k][1] >= '0' && argv[k][1] <= '9'))
            if (add_arg(log, argv[k], ids, n, &cap, err)) return 1;
    if (*n) qsort(*ids, *n, sizeof **ids, cmp_id);
    size_t j = 0;
    for (size_t k = 0; k < *n; k++)
        if (!j || (*ids)[j - 1] != (*ids)[k]) (*ids)[j++] = (*ids)[k];
    *n = j;
    return 0;
}

int bp_cli_rm(const char *db, int argc, char **argv, FILE *out, FILE *err) {
    int bad = 0;
    const char *path = cli_take_db(db, &argc, argv, err, &bad);
    if (bad) return 1;
    int force = 0, yes = 0, named = 0;
    for (int k = 0; k < argc; k++) {
        const char *a = argv[k];
        if (strcmp(a, "--force") == 0) force = 1;
        else if (strcmp(a, "--yes") == 0 || strcmp(a, "-y") == 0) yes = 1;
        else if (a[0] == '-' && !(a[1] >= '0' && a[1] <= '9'))
            return bp_cli_fail(err, "rm: unknown option '%s' (--force, --yes, --db PATH)",
                               a);
        else named = 1;
    }
    if (!named) return bp_cli_fail(err, "rm wants the ids of the runs to delete (%s)",
                                   ranges_hint);
    int tty = isatty(STDIN_FILENO);
    bp_runlog *log = cli_open_log(path, BP_RUNLOG_MUSTEXIST, err);
    if (!log) return 1;
    int64_t *ids = NULL;
    size_t n = 0;
    int rc = gather(log, argc, argv, &ids, &n, err);
    if (!rc && !yes && !tty) {
        rc = bp_cli_fail(err,
                         "rm: stdin is not a terminal, so nothing can be asked: add --yes"
                         " to delete %zu run%s; nothing deleted",
                         n, n == 1 ? "" : "s");
    }
    if (!rc && confirm(log, ids, n, force, !yes, err, &rc)) {
        bp_err e;
        if (bp_runlog_rm(log, ids, n, force, &e)) rc = bp_cli_fail(err, "%s", e.msg);
        else
            for (size_t k = 0; k < n; k++)
                fprintf(out, "deleted run %lld\n", (long long)ids[k]);
    }
    bp_runlog_close(log);
    free(ids);
    return rc;
}
