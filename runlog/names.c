/* names.c: metric names, interned.
 *
 * A metric row carries a number for its name. The logging call numbers a
 * new name in memory (a hash table, no database work), and the writer finds
 * or inserts the name's metric_names.id inside the transaction that commits
 * the name's first rows. A new name used to cost a transaction of its own
 * (an INSERT and a SELECT, each committed: about 70 us a name); now it costs
 * two statements inside a transaction that is committed anyway
 * (scripts/bench/NOTES.md, "Distinct metric names").
 *
 * The logging thread owns the hash table; the list of names by number is
 * shared, so it grows under buf_lock, and the writer copies the pointers it
 * needs (the strings never move) before it works without that lock. */
#define _XOPEN_SOURCE 700
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "bp_util.h"
#include "runlog_int.h"

static size_t slot_of(const rl_names *t, const char *name) {
    return bp_fnv1a(BP_FNV1A_INIT, name, strlen(name)) & (t->cap - 1);
}

/* Doubles the hash table (or makes its first); -1 when out of memory. */
static int grow_slots(rl_names *t) {
    size_t cap = t->cap ? 2 * t->cap : 16;
    rl_name_slot *v = calloc(cap, sizeof *v);
    if (!v) return -1;
    rl_names bigger = {.slots = v, .cap = cap};
    for (size_t k = 0; k < t->cap; k++) {
        if (!t->slots[k].name) continue;
        size_t j = slot_of(&bigger, t->slots[k].name);
        while (v[j].name) j = (j + 1) & (cap - 1);
        v[j] = t->slots[k];
    }
    free(t->slots);
    t->slots = v, t->cap = cap;
    return 0;
}

/* Appends name to the shared list, as number t->n, and counts it. */
static int list_append(bp_runlog *log, char *name) {
    rl_names *t = &log->names;
    int rc = 0;
    pthread_mutex_lock(&log->buf_lock);
    if (t->n == t->list_cap) {
        size_t cap = t->list_cap ? 2 * t->list_cap : 16;
        char **v = realloc(t->list, cap * sizeof *v);
        if (v) t->list = v, t->list_cap = cap;
        else rc = -1;
    }
    if (rc == 0) t->list[t->n++] = name;
    pthread_mutex_unlock(&log->buf_lock);
    return rc;
}

int rl_name_index(bp_runlog *log, const char *name, int64_t *idx, bp_err *e) {
    rl_names *t = &log->names;
    if (t->cap) {
        for (size_t k = slot_of(t, name);; k = (k + 1) & (t->cap - 1)) {
            if (!t->slots[k].name) break;
            if (strcmp(t->slots[k].name, name) == 0) {
                *idx = (int64_t)t->slots[k].idx;
                return 0;
            }
        }
    }
    /* Keep the table at most half full. */
    char *copy = NULL;
    if ((2 * (t->n + 1) > t->cap && grow_slots(t)) || !(copy = strdup(name)) ||
        list_append(log, copy)) {
        free(copy);
        return bp_err_set(e, "%s: out of memory for metric names", log->path);
    }
    size_t k = slot_of(t, name);
    while (t->slots[k].name) k = (k + 1) & (t->cap - 1);
    t->slots[k] = (rl_name_slot){copy, t->n - 1};
    *idx = (int64_t)(t->n - 1);
    return 0;
}

int rl_names_copy(bp_runlog *log, bp_err *e) {
    rl_names *t = &log->names;
    if (t->copied == t->n) return 0;
    if (t->n > t->wcap) {
        size_t cap = t->wcap ? t->wcap : 16;
        while (cap < t->n) cap *= 2;
        char **l = realloc(t->wlist, cap * sizeof *l);
        if (l) t->wlist = l;
        int64_t *ids = l ? realloc(t->ids, cap * sizeof *ids) : NULL;
        if (!ids) return bp_err_set(e, "%s: out of memory for metric names", log->path);
        t->ids = ids, t->wcap = cap;
    }
    memcpy(t->wlist + t->copied, t->list + t->copied,
           (t->n - t->copied) * sizeof *t->list);
    t->copied = t->n;
    return 0;
}

/* The id of name, inserted if it is new (most are: a name is looked up
 * here once per log). */
static int64_t name_id(bp_runlog *log, const char *name, bp_err *e) {
    sqlite3_bind_text(log->name_put, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(log->name_put);
    sqlite3_reset(log->name_put);
    if (rc != SQLITE_DONE) return rl_fail(log, e, "cannot record a metric name");
    if (sqlite3_changes(log->db) == 1) return sqlite3_last_insert_rowid(log->db);
    sqlite3_bind_text(log->name_get, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(log->name_get);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(log->name_get, 0) : 0;
    sqlite3_reset(log->name_get);
    if (rc != SQLITE_ROW) return rl_fail(log, e, "cannot read a metric name");
    return id;
}

int rl_names_resolve(bp_runlog *log, bp_err *e) {
    rl_names *t = &log->names;
    if (t->known == t->copied) return 0;
    if (rl_prepare_once(log, &log->name_get, "SELECT id FROM metric_names WHERE name = ?",
                     e) ||
        rl_prepare_once(log, &log->name_put,
                     "INSERT OR IGNORE INTO metric_names(name) VALUES (?)", e))
        return -1;
    for (size_t k = t->known; k < t->copied; k++)
        if ((t->ids[k] = name_id(log, t->wlist[k], e)) < 0) return -1;
    return 0;
}

void rl_names_free(rl_names *t) {
    for (size_t k = 0; k < t->n; k++) free(t->list[k]);
    free(t->list);
    free(t->slots);
    free(t->wlist);
    free(t->ids);
}
