/* merge.c: bp_runlog_merge, the databases that shards of a sweep wrote
 * brought into one (bp_sweeplog.h).
 *
 * Why it is built this way:
 *  - Sweeps and runs are matched by their uids, which name what they are
 *    (a sweep's covers what decides its trials), not where they were
 *    recorded: shards run on other machines into other databases are the
 *    same sweep again here. Everything else is renumbered and follows the
 *    runs it belongs to.
 *  - The input is attached to a connection of its own on the output, and
 *    the whole merge is SQL in one transaction: all of an input or
 *    nothing, and no row passes through C. It is attached so as to leave
 *    no -wal or -shm file beside it (access.c): shards sit by the thousand
 *    in shared folders.
 *  - Every trial once: a trial run twice (resubmitted while its first run
 *    was still going, on another node) arrives twice. The run already here
 *    stays the trial's result; the other attempt is not copied, and a note
 *    on the kept run says which it was, so that `runs`, `sweep show` and
 *    every view count the trial once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "bp_sweeplog.h"
#include "runlog_int.h"

/* The statements of one merge, in order, on OUT (main) with IN attached as
 * src. Sweeps and runs are matched by uid; everything else follows the
 * runs it belongs to, through temporary maps from IN's ids to OUT's. */
static const char *const MERGE_SQL[] = {
    "CREATE TEMP TABLE new_sweeps AS SELECT id AS src FROM src.sweeps"
    " WHERE uid NOT IN (SELECT uid FROM main.sweeps)",
    /* A run still running may still log: it is merged once it has ended. */
    "CREATE TEMP TABLE arriving AS SELECT r.id AS src, r.trial AS trial, r.status AS"
    " status, (SELECT uid FROM src.sweeps WHERE id = r.sweep_id) AS sweep_uid"
    " FROM src.runs r WHERE r.status != 'running' AND r.uid NOT IN"
    " (SELECT uid FROM main.runs)",
    /* Every trial once: a run of a trial that is completed (or pruned) in
     * the output already, or a second completed run of one trial in the
     * input, is a duplicate attempt (the same trial run on two nodes). It
     * is not copied; a note on the trial's run records it (below). */
    "CREATE TEMP TABLE dup_runs AS SELECT a.src AS src FROM arriving a"
    " WHERE a.trial IS NOT NULL AND a.sweep_uid IS NOT NULL AND (EXISTS (SELECT 1 FROM"
    " main.runs m JOIN main.sweeps ms ON ms.id = m.sweep_id WHERE ms.uid = a.sweep_uid"
    " AND m.trial = a.trial AND m.status IN ('completed', 'pruned'))"
    " OR (a.status IN ('completed', 'pruned') AND EXISTS (SELECT 1 FROM arriving o"
    " WHERE o.sweep_uid = a.sweep_uid AND o.trial = a.trial AND o.src < a.src"
    " AND o.status IN ('completed', 'pruned'))))",
    "CREATE TEMP TABLE new_runs AS SELECT src FROM arriving"
    " WHERE src NOT IN (SELECT src FROM dup_runs)",
    "INSERT INTO main.scripts(hash, text) SELECT s.hash, s.text FROM src.scripts s"
    " WHERE (s.id IN (SELECT script_id FROM src.runs WHERE id IN (SELECT src FROM new_runs))"
    "   OR s.id IN (SELECT script_id FROM src.sweeps WHERE id IN (SELECT src FROM new_sweeps)))"
    " AND NOT EXISTS (SELECT 1 FROM main.scripts m WHERE m.hash = s.hash AND m.text = s.text)"
    " ORDER BY s.id",
    "CREATE TEMP TABLE map_scripts AS SELECT s.id AS src, (SELECT min(m.id) FROM main.scripts m"
    " WHERE m.hash = s.hash AND m.text = s.text) AS dst FROM src.scripts s",
    "INSERT INTO main.sweeps(uid, name, script_path, script_id, spec, keys, strategy, trials,"
    " seed, objective, direction, prune, status, message, started, ended, claimed, host, pid,"
    " command, repeats) SELECT s.uid, s.name, s.script_path,"
    " (SELECT dst FROM map_scripts WHERE src = s.script_id), s.spec, s.keys, s.strategy,"
    " s.trials, s.seed, s.objective, s.direction, s.prune,"
    " CASE WHEN s.status = 'running' THEN 'partial' ELSE s.status END, s.message, s.started,"
    " s.ended, s.claimed, s.host, s.pid, s.command, s.repeats"
    " FROM src.sweeps s WHERE s.id IN (SELECT src FROM new_sweeps) ORDER BY s.id",
    "CREATE TEMP TABLE map_sweeps AS SELECT s.id AS src, m.id AS dst FROM src.sweeps s"
    " JOIN main.sweeps m ON m.uid = s.uid",
    /* The space the shards' scripts suggested (schema 11): a name's first
     * spec stays; names new here join the sweep's keys, in order. */
    "INSERT OR IGNORE INTO main.sweep_space(sweep_id, key, spec, trial) SELECT m.dst, s.key,"
    " s.spec, s.trial FROM src.sweep_space s JOIN map_sweeps m ON m.src = s.sweep_id"
    " ORDER BY s.sweep_id, s.trial, s.rowid",
    "UPDATE main.sweeps SET keys = ltrim(keys || ' ' || (SELECT group_concat(key, ' ') FROM"
    " (SELECT sp.key FROM main.sweep_space sp WHERE sp.sweep_id = sweeps.id AND instr(' ' ||"
    " sweeps.keys || ' ', ' ' || sp.key || ' ') = 0 ORDER BY sp.trial, sp.rowid)))"
    " WHERE id IN (SELECT dst FROM map_sweeps) AND EXISTS (SELECT 1 FROM main.sweep_space sp"
    " WHERE sp.sweep_id = sweeps.id AND instr(' ' || sweeps.keys || ' ', ' ' || sp.key || ' ')"
    " = 0)",
    "INSERT OR IGNORE INTO main.metric_names(name) SELECT name FROM src.metric_names ORDER BY id",
    "CREATE TEMP TABLE map_names AS SELECT s.id AS src, m.id AS dst FROM src.metric_names s"
    " JOIN main.metric_names m ON m.name = s.name",
    "INSERT INTO main.runs(name, script_path, script_id, command, seed, started, ended, status,"
    " message, traceback, host, pid, version, sweep_id, trial, uid, attempts)"
    " SELECT r.name, r.script_path, (SELECT dst FROM map_scripts WHERE src = r.script_id),"
    " r.command, r.seed, r.started, r.ended, r.status, r.message, r.traceback, r.host, r.pid,"
    " r.version, (SELECT dst FROM map_sweeps WHERE src = r.sweep_id), r.trial, r.uid,"
    " r.attempts"
    " FROM src.runs r WHERE r.id IN (SELECT src FROM new_runs) ORDER BY r.id",
    "CREATE TEMP TABLE map_runs AS SELECT r.id AS src, m.id AS dst FROM src.runs r"
    " JOIN main.runs m ON m.uid = r.uid WHERE r.id IN (SELECT src FROM new_runs)",
    "INSERT INTO main.params(run_id, key, value, type) SELECT mr.dst, p.key, p.value, p.type"
    " FROM src.params p JOIN map_runs mr ON mr.src = p.run_id",
    "INSERT INTO main.metrics(run_id, name_id, step, value) SELECT mr.dst, mn.dst, m.step,"
    " m.value FROM src.metrics m JOIN map_runs mr ON mr.src = m.run_id"
    " JOIN map_names mn ON mn.src = m.name_id",
    /* The summaries come with their rows (the input's are whole: it is at
     * this build's schema, and its writer kept them with its rows). */
    "INSERT INTO main.metric_summary(run_id, name_id, count, nan_count, first_step,"
    " last_step, last_value, min_value, min_step, max_value, max_step) SELECT mr.dst, mn.dst, s.count, s.nan_count,"
    " s.first_step, s.last_step, s.last_value, s.min_value, s.min_step, s.max_value,"
    " s.max_step FROM src.metric_summary s JOIN map_runs mr ON mr.src = s.run_id"
    " JOIN map_names mn ON mn.src = s.name_id",
    "INSERT INTO main.metric_blocks(run_id, name_id, block, count, nan_count, first_step,"
    " last_step, min_value, min_step, max_value, max_step) SELECT mr.dst, mn.dst, b.block, b.count, b.nan_count,"
    " b.first_step, b.last_step, b.min_value, b.min_step, b.max_value, b.max_step"
    " FROM src.metric_blocks b JOIN map_runs mr ON mr.src = b.run_id"
    " JOIN map_names mn ON mn.src = b.name_id",
    /* Each series' unit, and where the runs' epochs ended (since 8). */
    "INSERT INTO main.metric_units(run_id, name_id, unit) SELECT mr.dst, mn.dst, u.unit"
    " FROM src.metric_units u JOIN map_runs mr ON mr.src = u.run_id"
    " JOIN map_names mn ON mn.src = u.name_id",
    "INSERT INTO main.epochs(run_id, epoch, step) SELECT mr.dst, x.epoch, x.step"
    " FROM src.epochs x JOIN map_runs mr ON mr.src = x.run_id",
    /* When the series' steps were reached (since 12). */
    "INSERT INTO main.step_times(run_id, name_id, step, time) SELECT mr.dst, mn.dst, t.step,"
    " t.time FROM src.step_times t JOIN map_runs mr ON mr.src = t.run_id"
    " JOIN map_names mn ON mn.src = t.name_id",
    "INSERT INTO main.snapshots(run_id, step, name, shape, dtype, data) SELECT mr.dst, s.step,"
    " s.name, s.shape, s.dtype, s.data FROM src.snapshots s JOIN map_runs mr"
    " ON mr.src = s.run_id ORDER BY s.id",
    "INSERT INTO main.networks(run_id, step, name, data) SELECT mr.dst, n.step, n.name,"
    " n.data FROM src.networks n JOIN map_runs mr ON mr.src = n.run_id ORDER BY n.id",
    "INSERT INTO main.checkpoints(run_id, step, time, data) SELECT mr.dst, c.step, c.time,"
    " c.data FROM src.checkpoints c JOIN map_runs mr ON mr.src = c.run_id",
    "INSERT INTO main.tags(run_id, key, value) SELECT mr.dst, t.key, t.value FROM src.tags t"
    " JOIN map_runs mr ON mr.src = t.run_id",
    "INSERT INTO main.notes(run_id, time, text) SELECT mr.dst, n.time, n.text FROM src.notes n"
    " JOIN map_runs mr ON mr.src = n.run_id ORDER BY n.id",
    "INSERT INTO main.texts(run_id, name, step, time, text) SELECT mr.dst, x.name, x.step,"
    " x.time, x.text FROM src.texts x JOIN map_runs mr ON mr.src = x.run_id ORDER BY x.id",
    /* Each duplicate attempt, once, as a note on the run the trial keeps. */
    "INSERT INTO main.notes(run_id, time, text) SELECT k.kept, k.time, k.text FROM (SELECT"
    " (SELECT min(m.id) FROM main.runs m JOIN main.sweeps ms ON ms.id = m.sweep_id"
    " JOIN src.sweeps ss ON ss.uid = ms.uid WHERE ss.id = r.sweep_id AND m.trial = r.trial"
    " AND m.status IN ('completed', 'pruned')) AS kept, coalesce(r.ended, r.started) AS time,"
    " printf('duplicate attempt of trial %d: run %s (%s, on %s, pid %d) was not merged:"
    " this run is the trial''s result', r.trial, r.uid, r.status, coalesce(r.host, '?'),"
    " coalesce(r.pid, 0)) AS text FROM dup_runs d JOIN src.runs r ON r.id = d.src"
    " ORDER BY r.id) k WHERE k.kept IS NOT NULL AND NOT EXISTS (SELECT 1 FROM main.notes n"
    " WHERE n.run_id = k.kept AND n.text = k.text)",
    /* A sweep whose shards are all here now is complete; its end is its
     * last trial's, so that merging again changes nothing. */
    "UPDATE main.sweeps SET status = 'completed', ended = (SELECT max(r.ended) FROM main.runs r"
    " WHERE r.sweep_id = sweeps.id) WHERE id IN (SELECT dst FROM map_sweeps)"
    " AND status IN ('partial', 'interrupted') AND trials = (SELECT count(*) FROM"
    " main.sweep_trials t WHERE t.sweep_id = sweeps.id AND t.status IN ('completed', 'failed',"
    " 'diverged', 'pruned'))",
};

static int64_t count_of(sqlite3 *s, const char *sql) {
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    if (sqlite3_prepare_v2(s, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* A connection of its own on out_path with in_path attached as src, read
 * only and leaving no -wal or -shm file beside it (*immutable says whether
 * it was attached immutable, *stamp is the file as it was then): NULL with
 * the reason. Both must be backprop databases first (the output is made or
 * migrated as any run log is), and not one file. */
static sqlite3 *open_attached(const char *out_path, const char *in_path, rl_stamp *stamp,
                              int *immutable, bp_err *e) {
    bp_runlog *log = bp_runlog_open(in_path, BP_RUNLOG_UNTOUCHED, e);
    if (!log) return NULL;
    bp_runlog_close(log);
    if (!(log = bp_runlog_open(out_path, 0, e))) return NULL;
    bp_runlog_close(log);
    sqlite3 *s = NULL;
    sqlite3_stmt *st = NULL;
    rl_stamp_take(in_path, stamp);
    char *uri = rl_read_uri(in_path, 1, immutable, e); /* leaving no file beside it */
    if (!uri) return NULL;
    if (sqlite3_open_v2(out_path, &s, SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI, NULL) !=
        SQLITE_OK) {
        bp_err_set(e, "%s: cannot open the database (%s)", out_path,
                   s ? sqlite3_errmsg(s) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(s, 10000);
    if (sqlite3_exec(s, "PRAGMA foreign_keys = ON", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s, "ATTACH ? AS src", -1, &st, NULL) != SQLITE_OK) {
        bp_err_set(e, "%s: %s", out_path, sqlite3_errmsg(s));
        goto fail;
    }
    sqlite3_bind_text(st, 1, uri, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    if (r != SQLITE_DONE) {
        bp_err_set(e, "%s: cannot attach it (%s)", in_path, sqlite3_errmsg(s));
        goto fail;
    }
    /* One file under two names would merge into itself. */
    if (count_of(s, "SELECT (SELECT file FROM pragma_database_list WHERE name = 'main') ="
                    " (SELECT file FROM pragma_database_list WHERE name = 'src')") == 1) {
        bp_err_set(e, "%s: cannot merge a database into itself", in_path);
        goto fail;
    }
    free(uri);
    return s;
fail:
    if (s) {
        sqlite3_exec(s, "DETACH src", NULL, NULL, NULL);
        sqlite3_close(s);
    }
    free(uri);
    return NULL;
}

/* MERGE_SQL and the counts, inside the transaction: -1 (to roll back)
 * with the reason. stamp: the input as it was when it was attached
 * immutable (NULL: attached with locks), which it must still be. */
static int copy_rows(sqlite3 *s, const char *out_path, const char *in_path,
                     const rl_stamp *stamp, bp_merge_counts *c, bp_err *e) {
    for (size_t k = 0; k < sizeof MERGE_SQL / sizeof *MERGE_SQL; k++) {
        if (sqlite3_exec(s, MERGE_SQL[k], NULL, NULL, NULL) != SQLITE_OK)
            return bp_err_set(e, "%s: cannot merge %s (%s); nothing merged", out_path,
                              in_path, sqlite3_errmsg(s));
        if (!strncmp(MERGE_SQL[k], "INSERT INTO main.sweeps", 23))
            c->sweeps = sqlite3_changes(s);
        if (!strncmp(MERGE_SQL[k], "INSERT INTO main.runs", 21))
            c->runs = sqlite3_changes(s);
        if (strstr(MERGE_SQL[k], "FROM dup_runs d")) c->duplicates = sqlite3_changes(s);
    }
    c->skipped =
        count_of(
            s, "SELECT count(*) FROM src.runs WHERE uid IN (SELECT uid FROM main.runs)") -
        c->runs;
    c->running = count_of(s, "SELECT count(*) FROM src.runs WHERE status = 'running'"
                             " AND uid NOT IN (SELECT uid FROM main.runs)");
    if (stamp && rl_stamp_changed(in_path, stamp))
        return bp_err_set(e,
                          "%s was written while it was merged (it was read without locks,"
                          " to leave no -wal or -shm file beside it); nothing merged:"
                          " merge it again",
                          in_path);
    if (count_of(s, "SELECT count(*) FROM pragma_foreign_key_check") != 0)
        return bp_err_set(
            e, "%s: merging %s would break a reference between tables; nothing merged",
            out_path, in_path);
    if (sqlite3_exec(s,
                     "DROP TABLE temp.new_sweeps; DROP TABLE temp.new_runs;"
                     " DROP TABLE temp.arriving; DROP TABLE temp.dup_runs;"
                     " DROP TABLE temp.map_scripts; DROP TABLE temp.map_sweeps;"
                     " DROP TABLE temp.map_names; DROP TABLE temp.map_runs; COMMIT",
                     NULL, NULL, NULL) != SQLITE_OK)
        return bp_err_set(e, "%s: cannot commit the merge (%s)", out_path,
                          sqlite3_errmsg(s));
    return 0;
}

int bp_runlog_merge(const char *out_path, const char *in_path, bp_merge_counts *c,
                    bp_err *e) {
    memset(c, 0, sizeof *c);
    rl_stamp stamp;
    int immutable = 0;
    sqlite3 *s = open_attached(out_path, in_path, &stamp, &immutable, e);
    if (!s) return -1;
    int rc = -1;
    if (sqlite3_exec(s, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        bp_err_set(e, "%s: cannot start a write (%s)", out_path, sqlite3_errmsg(s));
    else if (copy_rows(s, out_path, in_path, immutable ? &stamp : NULL, c, e))
        sqlite3_exec(s, "ROLLBACK", NULL, NULL, NULL);
    else rc = 0;
    sqlite3_exec(s, "DETACH src", NULL, NULL, NULL);
    sqlite3_close(s);
    return rc;
}
