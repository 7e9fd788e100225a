/* ui.c: `backprop ui` (bp_cli.h), the run log served read-only as a web
 * page: the options, the pool of read-only connections, and waiting for
 * Ctrl-C. The server is ui_http.c, the endpoints ui_api.c, the page
 * cli/ui_assets/.
 *
 * It starts in a few milliseconds whatever the database holds: it opens
 * one connection, which checks that the file is a backprop database, and
 * reads nothing more until a page asks. It listens on loopback unless
 * --host says otherwise, and then says loudly on stderr that anyone who
 * reaches the port reads the whole run log. */
#define _XOPEN_SOURCE 700
#include <arpa/inet.h>
#include <errno.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "bp_cli.h"
#include "bp_util.h"
#include "cli_int.h"
#include "ui_int.h"

bp_runlog *ui_log_take(ui_server *s, bp_err *e) {
    pthread_mutex_lock(&s->lock);
    bp_runlog *log = NULL;
    for (;;) {
        int slot = -1;
        for (int k = 0; k < UI_THREADS && slot < 0; k++)
            if (!s->busy[k] && s->logs[k]) slot = k;
        for (int k = 0; k < UI_THREADS && slot < 0; k++)
            if (!s->logs[k]) slot = k;
        if (slot >= 0) {
            if (!s->logs[slot])
                s->logs[slot] = bp_runlog_open(s->db, BP_RUNLOG_READONLY, e);
            if (s->logs[slot]) s->busy[slot] = 1, log = s->logs[slot];
            break;
        }
        pthread_cond_wait(&s->freed, &s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return log;
}

void ui_log_give(ui_server *s, bp_runlog *log) {
    pthread_mutex_lock(&s->lock);
    for (int k = 0; k < UI_THREADS; k++)
        if (s->logs[k] == log) s->busy[k] = 0;
    pthread_cond_signal(&s->freed);
    pthread_mutex_unlock(&s->lock);
}

/* Whether addr (numeric) is a loopback address: 127.0.0.0/8 or ::1. */
static int is_loopback(const char *addr) {
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, addr, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
    return inet_pton(AF_INET6, addr, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

static int parse_args(ui_server *s, int argc, char **argv, FILE *err) {
    s->host = "127.0.0.1", s->port = 8080, s->sql_seconds = UI_SQL_SECONDS;
    for (int k = 0; k < argc; k++) {
        const char *a = argv[k];
        int has = k + 1 < argc;
        int64_t port, secs;
        if (strcmp(a, "--port") == 0 && has) {
            if (bp_parse_i64(argv[++k], 0, 65535, &port))
                return bp_cli_fail(err,
                                   "ui: --port wants a number from 0 to 65535"
                                   " (0: any free port), not '%s'",
                                   argv[k]);
            s->port = (int)port;
        } else if (strcmp(a, "--sql-timeout") == 0 && has) {
            if (bp_parse_i64(argv[++k], 1, 10000000, &secs))
                return bp_cli_fail(err,
                                   "ui: --sql-timeout wants whole seconds, at least 1,"
                                   " not '%s'",
                                   argv[k]);
            s->sql_seconds = (int)secs;
        } else if (strcmp(a, "--host") == 0 && has) {
            struct in6_addr any;
            s->host = argv[++k];
            if (inet_pton(AF_INET, s->host, &any) != 1 &&
                inet_pton(AF_INET6, s->host, &any) != 1)
                return bp_cli_fail(err,
                                   "ui: --host wants an IP address (127.0.0.1,"
                                   " 0.0.0.0, ::1), not '%s'",
                                   s->host);
        } else {
            return bp_cli_fail(err,
                               "ui: unknown argument '%s' (--db PATH, --port N,"
                               " --host ADDRESS, --sql-timeout S)",
                               a);
        }
    }
    s->any_host = !strcmp(s->host, "0.0.0.0") || !strcmp(s->host, "::");
    return 0;
}

/* Posted by the handler of SIGINT and SIGTERM (sem_post is
 * async-signal-safe). A handler, not sigwait: the signal goes to any
 * thread that does not block it, and threads made before serve() could
 * block nothing (OpenBLAS's pool starts when the library loads), so a
 * signal that found the main thread not yet in sigwait took the default
 * action there and killed the process instead of stopping it. */
static sem_t stop_sem;

static void on_stop(int sig) {
    (void)sig;
    sem_post(&stop_sem);
}

/* Serves until SIGINT or SIGTERM. The server's threads are made with both
 * blocked, so that they never take them; the main thread waits for the
 * handler's post. */
static int serve(ui_server *s, FILE *out, FILE *err) {
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    struct sigaction act, old_int, old_term;
    memset(&act, 0, sizeof act);
    act.sa_handler = on_stop;
    sigemptyset(&act.sa_mask);
    sem_init(&stop_sem, 0, 0);
    sigaction(SIGINT, &act, &old_int);
    sigaction(SIGTERM, &act, &old_term);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    bp_err e;
    int rc = ui_http_start(s, &e);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        rc = bp_cli_fail(err, "ui: %s", e.msg);
        goto end;
    }
    /* After listening, so that --port 0 names the port taken. */
    if (!is_loopback(s->host))
        fprintf(err,
                "backprop ui: WARNING: serving on %s, not loopback: anyone who can reach"
                " this machine's port %d reads the whole run log (scripts, parameters,"
                " metrics, notes) and may run read-only SQL on it, without a password,"
                " over plain HTTP\n",
                s->host, s->port);
    int v6 = strchr(s->host, ':') != NULL;
    fprintf(out, "backprop ui: %s, read-only, at http://%s%s%s:%d/ (Ctrl-C stops)\n",
            s->db, v6 ? "[" : "", s->host, v6 ? "]" : "", s->port);
    fflush(out);
    while (sem_wait(&stop_sem) != 0 && errno == EINTR) continue;
    ui_http_stop(s);
    fprintf(out, "backprop ui: stopped\n");
end:
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sem_destroy(&stop_sem);
    return rc;
}

int bp_cli_ui(const char *db, int argc, char **argv, FILE *out, FILE *err) {
    int bad = 0;
    ui_server s = {0};
    s.db = cli_take_db(db, &argc, argv, err, &bad);
    if (bad || parse_args(&s, argc, argv, err)) return 1;
    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.freed, NULL);
    bp_err e;
    bp_runlog *first = ui_log_take(&s, &e); /* the file is a backprop database */
    int rc = first ? 0 : bp_cli_fail(err, "%s", e.msg);
    if (first) ui_log_give(&s, first);
    if (rc == 0) rc = serve(&s, out, err);
    for (int k = 0; k < UI_THREADS; k++) bp_runlog_close(s.logs[k]);
    ui_cache_free(&s);
    pthread_cond_destroy(&s.freed);
    pthread_mutex_destroy(&s.lock);
    return rc;
}
