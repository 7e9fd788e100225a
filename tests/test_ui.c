/* test_ui.c: `backprop ui` over HTTP, as a browser asks it: the program
 * started on a free port (--port 0) against a database made by the example
 * scripts and one run written here with what a page must survive (a name,
 * tag and note holding <script>, NaN, a long series with a spike and a
 * dip, an error and its traceback); each JSON endpoint's answer checked
 * against what was written, the refusals (a path with "..", a write
 * through the SQL box, another method, another Host, an unknown run), and
 * the database's bytes the same after as before. */
#define _XOPEN_SOURCE 700
#define _DEFAULT_SOURCE /* syscall(SYS_tgkill): a signal to one thread */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bp_runlog.h"
#include "check.h"
#include "ui_int.h"

static char dir[] = "/tmp/bp_test_ui_XXXXXX";
static char db[256], exe[512];
static int port;

/* Runs a shell command; its exit status. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...) {
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

/* The run written here: its id. Step 12345 holds the least value, 77777
 * the greatest, 500 a NaN, among 100,000 steps of a gentle curve. */
static int64_t write_odd_run(void) {
    bp_err e;
    bp_runlog *log = bp_runlog_open(db, 0, &e);
    if (!log) return fprintf(stderr, "%s\n", e.msg), -1;
    bp_run_info info = {.name = "<script>alert(1)</script>", .script_path = "odd.lua"};
    int64_t run = bp_runlog_begin(log, &info, &e);
    bp_runlog_param_real(log, run, "lr", 0.01, &e);
    bp_runlog_param_bool(log, run, "wide", 1, &e);
    bp_runlog_tag(log, run, "<b>tag</b>", "<i>value</i>", &e);
    bp_runlog_note(log, run, "<script>note</script>", &e);
    for (int64_t s = 1; s <= 100000; s++) {
        double v = s == 12345   ? -3.5
                   : s == 77777 ? 1000.25
                   : s == 500   ? NAN
                                : 1.0 / (double)s;
        bp_runlog_metric(log, run, "spiky", s, v, &e);
    }
    bp_runlog_metric(log, run, "loss", 1, NAN, &e);
    bp_runlog_metric_unit(log, run, "val_loss", BP_UNIT_EPOCH, 1, 0.5, &e);
    bp_runlog_metric_unit(log, run, "val_loss", BP_UNIT_EPOCH, 2, 0.25, &e);
    /* A 1-2-1 network at steps 10 and 20: W1 (2), b1 (2), W2 (2), b2 (1). */
    int sizes[] = {1, 2, 1};
    double p10[] = {-1, 1, 0.5, 0.5, 2, 3, 7}, p20[] = {-1, 0.9, 0.5, 0.25, 4, 3, 9};
    bp_runlog_snapshot(log, run, 10, NULL, 2, sizes, p10, 7, 0, &e);
    bp_runlog_snapshot(log, run, 20, NULL, 2, sizes, p20, 7, 0, &e);
    bp_runlog_end(log, run, "failed", "bad <thing>", "line 1\nline 2", &e);
    bp_runlog_close(log);
    return run;
}

/* A file's bytes compared with a copy made earlier: 0 when the same. */
static int same_file(const char *a, const char *b) {
    return sh("cmp -s '%s' '%s'", a, b);
}

/* GET (or another method) path with a Host header; the status, and the
 * body into *body (malloc'd). */
static int http(const char *method, const char *path, const char *host, char **body) {
    *body = NULL;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a)) {
        if (fd >= 0) close(fd);
        return -1;
    }
    char req[4096], h[64];
    snprintf(h, sizeof h, "127.0.0.1:%d", port);
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", method,
                     path, host ? host : h);
    if (write(fd, req, (size_t)n) != n) return close(fd), -1;
    size_t len = 0, cap = 1 << 16;
    char *buf = malloc(cap);
    ssize_t k;
    while (buf && (k = read(fd, buf + len, cap - len - 1)) > 0) {
        len += (size_t)k;
        if (len + 1 == cap) buf = realloc(buf, cap *= 2);
    }
    close(fd);
    if (!buf) return -1;
    buf[len] = '\0';
    int status = 0;
    sscanf(buf, "HTTP/1.%*d %d", &status);
    char *start = strstr(buf, "\r\n\r\n");
    *body = strdup(start ? start + 4 : "");
    free(buf);
    return status;
}

/* GET /api/run/RUN followed by tail. */
static int get_run(int64_t run, const char *tail, char **body) {
    char path[256];
    snprintf(path, sizeof path, "/api/run/%lld%s", (long long)run, tail);
    return http("GET", path, NULL, body);
}

/* That GET /api/run/RUN+tail answers status with exactly want. */
#define CHECK_RUN(run, tail, status, want)           \
    do {                                             \
        char *body_;                                 \
        CHECK(get_run(run, tail, &body_) == status); \
        CHECK_STR(body_, want);                      \
        free(body_);                                 \
    } while (0)

/* The number of elements of the JSON array of numbers that follows key. */
static int array_len(const char *json, const char *key) {
    const char *p = strstr(json, key);
    if (!p || !(p = strchr(p, '['))) return -1;
    int n = p[1] != ']';
    for (p++; *p && *p != ']'; p++) n += *p == ',';
    return n;
}

/* Starts `backprop ui --db DB --port 0` with two more arguments (or
 * NULL), its stderr into errpath (NULL: the test's); its pid, port set
 * from the address it prints (ADDR:PORT). */
static pid_t start_ui(FILE **out, const char *opt, const char *val, const char *errpath) {
    int fds[2];
    if (pipe(fds)) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        if (errpath && !freopen(errpath, "w", stderr)) _exit(126);
        execl(exe, exe, "ui", "--db", db, "--port", "0", opt, val, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    *out = fdopen(fds[0], "r");
    char line[512] = "";
    if (!*out || !fgets(line, sizeof line, *out)) return pid;
    const char *p = strstr(line, "http://");
    if (p && (p = strchr(p + strlen("http://"), ':'))) port = atoi(p + 1);
    return pid;
}

/* Stops a server started by start_ui: whether it exited 0. */
static int stop_ui(pid_t pid, FILE *out) {
    int status = -1;
    if (pid > 0) kill(pid, SIGTERM), waitpid(pid, &status, 0);
    if (out) fclose(out);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* The ids of the runs of a /api/runs answer, in order, as "3,4". */
static void page_ids(char *ids, size_t cap, const char *json) {
    ids[0] = '\0';
    const char *p = json ? strstr(json, "\"runs\":[") : NULL;
    for (size_t n = 0; p && (p = strstr(p, "{\"id\":")); p++) {
        n += (size_t)snprintf(ids + n, n < cap ? cap - n : 0, "%s%d", n ? "," : "",
                              atoi(p + strlen("{\"id\":")));
    }
}

static void check_runs(int64_t odd) {
    char *b;
    CHECK(http("GET", "/api/runs", NULL, &b) == 200);
    CHECK(b && strstr(b, "\"total\":7,"));
    CHECK(b && strstr(b, "\"keys\":[\"every\",\"hidden\",\"lr\",\"steps\",\"target\","
                         "\"wide\"]"));
    /* Newest first: the odd run, its name as JSON text, NaN loss as null. */
    CHECK(b && strstr(b, "\"runs\":[{\"id\":7,\"name\":\"<script>alert(1)</script>\""));
    CHECK(b && strstr(b, "\"final_loss\":null,\"final_nan\":true,\"best_loss\":null"));
    CHECK(b && strstr(b, "\"params\":{\"lr\":0.01,\"wide\":true}"));
    free(b);
    CHECK(http("GET", "/api/runs?filter=lr%3C0.2,hidden=2&sort=param:lr&desc=0", NULL,
               &b) == 200);
    CHECK(b && strstr(b, "\"total\":1,")); /* the sweep's trial of lr 0.1, hidden 2 */
    CHECK(b &&
          strstr(b, "\"params\":{\"every\":25,\"hidden\":2,\"lr\":0.1,\"steps\":40}"));
    free(b);
    /* Pages of the 5 completed runs, 2, 3, 4, 5 and 6. */
    char ids[64];
    CHECK(http("GET", "/api/runs?sort=id&desc=0&limit=2&offset=1&status=completed", NULL,
               &b) == 200);
    CHECK(b && strstr(b, "\"total\":5,"));
    page_ids(ids, sizeof ids, b);
    CHECK_STR(ids, "3,4");
    free(b);
    CHECK(http("GET", "/api/runs?sort=id&limit=2&offset=4&status=completed", NULL, &b) ==
          200);
    page_ids(ids, sizeof ids, b);
    CHECK_STR(ids, "2");
    free(b);
    /* By final loss, least first, against the same order in SQL. */
    CHECK(http("GET", "/api/runs?sort=final_loss&desc=0&limit=2&offset=1&status=completed",
               NULL, &b) == 200);
    page_ids(ids, sizeof ids, b);
    free(b);
    CHECK(http("GET",
               "/api/sql?q=SELECT%20group_concat(id)%20FROM%20(SELECT%20id%20FROM"
               "%20run_summary%20WHERE%20status%3D'completed'%20ORDER%20BY%20final_loss"
               "%20IS%20NULL,%20final_loss,%20id%20DESC%20LIMIT%202%20OFFSET%201)",
               NULL, &b) == 200);
    char want[96];
    snprintf(want, sizeof want, "\"rows\":[[\"%s\"]]", ids);
    CHECK(b && strlen(ids) == 3 && strstr(b, want));
    free(b);
    CHECK(http("GET", "/api/runs?name=SCRIPT", NULL, &b) == 200);
    CHECK(b && strstr(b, "\"total\":1,"));
    free(b);
    CHECK(http("GET", "/api/runs?sort=nope", NULL, &b) == 400);
    CHECK_STR(b, "{\"error\":\"unknown sort column 'nope'\"}");
    free(b);
    CHECK(http("GET", "/api/runs?filter=lr", NULL, &b) == 400);
    CHECK(b && strstr(b, "filter: 'lr' is not KEY OP VALUE"));
    free(b);
    (void)odd;
}

static void check_run(int64_t odd) {
    char *b;
    CHECK(get_run(odd, "", &b) == 200);
    CHECK(b && strstr(b, "\"tags\":{\"<b>tag</b>\":\"<i>value</i>\"}"));
    CHECK(b && strstr(b, "\"text\":\"<script>note</script>\""));
    CHECK(b &&
          strstr(b, "\"message\":\"bad <thing>\",\"traceback\":\"line 1\\nline 2\""));
    CHECK(b &&
          strstr(b,
                 "{\"name\":\"spiky\",\"count\":100000,\"nan_count\":1,\"first_step\":1,"
                 "\"last_step\":100000,\"last\":1.0e-05,\"min\":-3.5,\"max\":1000.25,"
                 "\"unit\":\"step\"}"));
    free(b);
    /* 100,000 values cut to at most 1000 points that keep both extremes
     * at their steps, and the NaN's stretch as null. */
    CHECK(get_run(odd, "/metric?name=spiky&points=1000", &b) == 200);
    int nx = array_len(b ? b : "", "\"x\""), ny = array_len(b ? b : "", "\"y\"");
    CHECK(nx == ny && nx > 100 && nx <= 1000);
    CHECK(b && strstr(b, "\"count\":100000,\"reduced\":true"));
    CHECK(b && strstr(b, ",12345,") && strstr(b, ",77777,"));
    CHECK(b && strstr(b, ",-3.5,") && strstr(b, ",1000.25,"));
    free(b);
    CHECK_RUN(odd, "/metric?name=loss", 200,
              "{\"name\":\"loss\",\"unit\":\"step\",\"count\":1,\"reduced\":false,\"x\":[1],"
              "\"y\":[null]}");
    /* A metric logged per epoch says so, for the page to label its axis. */
    CHECK_RUN(odd, "/metric?name=val_loss", 200,
              "{\"name\":\"val_loss\",\"unit\":\"epoch\",\"count\":2,\"reduced\":false,"
              "\"x\":[1,2],\"y\":[0.5,0.25]}");
    /* Layer 1's weights over both snapshots span [-1, 1]: in 4 bins of
     * 0.5, step 10's -1 and 1 fall in the first and last, step 20's 0.9
     * in the last too. */
    CHECK_RUN(
        odd, "/weights?bins=4", 200,
        "{\"name\":\"net\",\"steps\":[10,20],\"layers\":["
        "{\"label\":\"layer 1 weights\",\"lo\":-1,\"hi\":1,\"counts\":[[1,0,0,1],[1,0,0,1]]},"
        "{\"label\":\"layer 1 biases\",\"lo\":0.25,\"hi\":0.5,\"counts\":[[0,0,0,2],[1,0,0,1]]},"
        "{\"label\":\"layer 2 weights\",\"lo\":2,\"hi\":4,\"counts\":[[1,0,1,0],[0,0,1,1]]},"
        "{\"label\":\"layer 2 biases\",\"lo\":7,\"hi\":9,\"counts\":[[1,0,0,0],[0,0,0,1]]}]}");
    CHECK_RUN(odd, "/weight?index=6", 200,
              "{\"index\":6,\"steps\":[10,20],\"values\":[7,9]}");
    CHECK_RUN(
        odd, "/weight?index=7", 500,
        "{\"error\":\"snapshot 'net' of run 7 has 7 values, numbered 0 to 6: no value 7\"}");
    /* x=time: each point's time, recorded or (loss) estimated. */
    CHECK_RUN(odd, "/metric?name=val_loss&x=time", 200,
              "{\"name\":\"val_loss\",\"unit\":\"epoch\",\"count\":2,\"reduced\":false,"
              "\"x\":[1,2],\"y\":[0.5,0.25],\"t\":[10.000,30.000],\"t_estimated\":false}");
    CHECK_RUN(odd, "/metric?name=loss&x=time", 200,
              "{\"name\":\"loss\",\"unit\":\"step\",\"count\":1,\"reduced\":false,"
              "\"x\":[1],\"y\":[null],\"t\":[100.000],\"t_estimated\":true}");
    CHECK_RUN(odd, "/metric?name=loss&x=wall", 400, "{\"error\":\"x wants step or time\"}");
    CHECK(get_run(odd, "/metric?name=spiky&points=1000&x=time", &b) == 200);
    CHECK(array_len(b ? b : "", "\"t\"") == array_len(b ? b : "", "\"x\""));
    CHECK(b && strstr(b, "\"t_estimated\":false}"));
    free(b);
    CHECK(http("GET", "/api/run/1/metric?name=loss&points=5000", NULL, &b) == 200);
    CHECK(b && strstr(b, "\"count\":60,\"reduced\":false"));
    CHECK(array_len(b ? b : "", "\"x\"") == 60);
    free(b);
}

static void check_refusals(void) {
    char *b;
    CHECK(http("GET", "/api/run/999", NULL, &b) == 404);
    CHECK_STR(b, "{\"error\":\"no run 999\"}");
    free(b);
    CHECK(http("GET", "/run/999", NULL, &b) == 404); /* the page, saying so */
    CHECK(b && strstr(b, "<script src=\"/app.js\">"));
    free(b);
    CHECK(http("GET", "/api/run/abc", NULL, &b) == 404);
    free(b);
    CHECK(http("GET", "/../../etc/passwd", NULL, &b) == 400);
    CHECK_STR(b, "{\"error\":\"a path with '..' is refused\"}");
    free(b);
    CHECK(http("GET", "/nothing", NULL, &b) == 404);
    free(b);
    CHECK(http("POST", "/api/runs", NULL, &b) == 405);
    free(b);
    CHECK(http("GET", "/api/runs", "evil.example:80", &b) == 403);
    free(b);
    CHECK(http("GET", "/api/sql?q=DELETE%20FROM%20runs", NULL, &b) == 200);
    CHECK(b &&
          strstr(b, "\"error\":\"DELETE FROM runs is not allowed: a query only reads\""));
    free(b);
    CHECK(http("GET", "/api/sql?q=SELECT%20id%20FROM%20runs%20ORDER%20BY%20id", NULL,
               &b) == 200);
    CHECK_STR(b,
              "{\"columns\":[\"id\"],\"rows\":[[1],[2],[3],[4],[5],[6],[7]],\"count\":7,"
              "\"capped\":false,\"timeout\":false,\"error\":null}");
    free(b);
    CHECK(http("GET",
               "/api/sql?q=WITH%20RECURSIVE%20c(i)%20AS%20(SELECT%201%20UNION%20ALL"
               "%20SELECT%20i%2B1%20FROM%20c%20LIMIT%202500)%20SELECT%20i%20FROM%20c",
               NULL, &b) == 200);
    CHECK(b && strstr(b, "\"count\":2500,\"capped\":true"));
    int rows = 1;
    for (const char *p = b ? b : ""; (p = strstr(p, "],[")); p++) rows++;
    CHECK(rows == 1000);
    free(b);
}

/* A file's text (malloc'd), NULL when it cannot be read. */
static char *slurp_all(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t n = 0, cap = 1 << 16, k;
    char *s = malloc(cap);
    while (s && (k = fread(s + n, 1, cap - n - 1, f)) > 0) {
        char *more = (n += k) + 1 == cap ? realloc(s, cap *= 2) : s;
        if (!more) free(s);
        s = more;
    }
    fclose(f);
    if (s) s[n] = '\0';
    return s;
}

/* A file's text (malloc'd), "" when it cannot be read. */
static char *slurp(const char *path) {
    char *s = slurp_all(path);
    return s ? s : calloc(1, 1);
}

static void check_assets_and_sweeps(void) {
    char *b;
    CHECK(http("GET", "/", NULL, &b) == 200);
    CHECK(b && strstr(b, "<script src=\"/chart.min.js\"></script>"));
    free(b);
    /* README.md as built in, for the SQL page's query buttons. */
    char readme[600];
    snprintf(readme, sizeof readme, "%s/README.md", getenv("BP_SOURCE_DIR"));
    char *want = slurp_all(readme);
    CHECK(http("GET", "/readme.md", NULL, &b) == 200);
    CHECK(want && b && strlen(want) > 1000 && !strcmp(b, want));
    CHECK(b && strstr(b, "```sql\n-- name: loss_curve\n"));
    free(b), free(want);
    CHECK(http("GET", "/chart.min.js", NULL, &b) == 200);
    CHECK(b && strstr(b, "Chart.js v"));
    free(b);
    CHECK(http("GET", "/api/sweeps", NULL, &b) == 200);
    CHECK(b && strstr(b, "[{\"id\":1,\"name\":\"sweep_xor\",\"status\":\"completed\""));
    free(b);
    CHECK(http("GET", "/api/sweep/1", NULL, &b) == 200);
    CHECK(b &&
          strstr(b, "\"keys\":[\"lr\",\"hidden\",\"steps\"],\"trials\":[{\"trial\":3,"));
    CHECK(b && strstr(b, "\"params\":{\"lr\":0.1,\"hidden\":2,\"steps\":40}"));
    free(b);
    CHECK(http("GET", "/api/sweep/9", NULL, &b) == 404);
    free(b);
}


/* --sql-timeout 1: a recursive query with no end is stopped after a
 * second and its answer says so (the default would say 5s); an hour
 * limit of 0 is refused. */
static void check_sql_timeout(void) {
    FILE *out = NULL;
    pid_t pid = start_ui(&out, "--sql-timeout", "1", NULL);
    CHECK(pid > 0 && port > 0);
    char *b = NULL;
    CHECK(http("GET",
               "/api/sql?q=WITH%20RECURSIVE%20c(i)%20AS%20(SELECT%201%20UNION%20ALL"
               "%20SELECT%20i%2B1%20FROM%20c)%20SELECT%20count(*)%20FROM%20c",
               NULL, &b) == 200);
    CHECK_STR(b, "{\"columns\":[\"count(*)\"],\"rows\":[],\"count\":0,\"capped\":false,"
                 "\"timeout\":true,\"error\":\"time limit of 1s reached\"}");
    free(b);
    CHECK(stop_ui(pid, out));
    char path[300];
    snprintf(path, sizeof path, "%s/ui.err", dir);
    CHECK(sh("'%s' ui --db '%s' --sql-timeout 0 2>'%s'; [ $? = 1 ]", exe, db, path) == 0);
    char *err = slurp(path);
    CHECK_STR(err, "backprop: ui: --sql-timeout wants whole seconds, at least 1, not '0'\n");
    free(err);
}

/* A thread of pid other than its main one that does not block SIGTERM
 * (/proc's SigBlk), or 0. OpenBLAS's pool is such a thread: made when the
 * library loads, before `ui` blocks anything. */
static pid_t open_thread(pid_t pid) {
    char path[128];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    pid_t found = 0;
    for (struct dirent *ent; d && !found && (ent = readdir(d));) {
        pid_t tid = (pid_t)atoi(ent->d_name);
        if (tid <= 0 || tid == pid) continue;
        snprintf(path, sizeof path, "/proc/%d/task/%d/status", (int)pid, (int)tid);
        FILE *f = fopen(path, "r");
        char line[256];
        unsigned long long blk = ~0ULL;
        while (f && fgets(line, sizeof line, f))
            if (!strncmp(line, "SigBlk:", 7)) blk = strtoull(line + 7, NULL, 16);
        if (f) fclose(f);
        if (!(blk & (1ULL << (SIGTERM - 1)))) found = tid;
    }
    if (d) closedir(d);
    return found;
}

/* SIGTERM taken by a thread other than the main one (as the kernel may
 * hand a process's signal to any thread that does not block it) still
 * stops the server cleanly: exit 0, "stopped", not death by the signal. */
static void check_stop_any_thread(void) {
    FILE *out = NULL;
    port = 0;
    pid_t pid = start_ui(&out, NULL, NULL, NULL);
    CHECK(pid > 0 && port > 0);
    pid_t tid = pid > 0 ? open_thread(pid) : 0;
    if (!tid) {
        fprintf(stderr, "test_ui: no thread of ui leaves SIGTERM open; not checked\n");
        CHECK(stop_ui(pid, out));
        return;
    }
    CHECK(syscall(SYS_tgkill, pid, tid, SIGTERM) == 0);
    int status = -1;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char line[256] = "";
    CHECK(out && fgets(line, sizeof line, out));
    CHECK_STR(line, "backprop ui: stopped\n");
    if (out) fclose(out);
}

/* --host 0.0.0.0: served on every address (any Host header goes), with
 * the warning on stderr naming the port taken, not the 0 asked. */
static void check_host_warning(void) {
    char path[300], want[1024];
    snprintf(path, sizeof path, "%s/host.err", dir);
    FILE *out = NULL;
    port = 0;
    pid_t pid = start_ui(&out, "--host", "0.0.0.0", path);
    CHECK(pid > 0 && port > 0);
    char *b = NULL;
    CHECK(http("GET", "/api/runs?limit=1", "example.org", &b) == 200);
    free(b);
    CHECK(stop_ui(pid, out));
    char *err = slurp(path);
    snprintf(want, sizeof want,
             "backprop ui: WARNING: serving on 0.0.0.0, not loopback: anyone who can reach"
             " this machine's port %d reads the whole run log (scripts, parameters,"
             " metrics, notes) and may run read-only SQL on it, without a password,"
             " over plain HTTP\n",
             port);
    CHECK_STR(err, want);
    free(err);
}

/* The answers kept for a second (cli/ui_cache.c): the same request gets a
 * copy, another none, and the 33rd kept pushes out the oldest. */
static void check_cache(void) {
    ui_server s = {0};
    pthread_mutex_init(&s.lock, NULL);
    char body[] = "{\"a\":1}";
    ui_reply r = {200, "application/json", body, sizeof body - 1}, got = {0};
    ui_cache_put(&s, "/api/runs?&sort=id", &r);
    CHECK(ui_cache_get(&s, "/api/runs?&sort=id", &got) == 1);
    CHECK(got.status == 200 && got.len == r.len && got.body != body &&
          !memcmp(got.body, body, r.len));
    free(got.body);
    CHECK(ui_cache_get(&s, "/api/runs?&sort=name", &got) == 0);
    for (int k = 0; k < UI_CACHE; k++) {
        char key[32];
        snprintf(key, sizeof key, "/api/run/%d?", k + 1);
        ui_cache_put(&s, key, &r);
    }
    CHECK(ui_cache_get(&s, "/api/runs?&sort=id", &got) == 0);
    CHECK(ui_cache_get(&s, "/api/run/32?", &got) == 1);
    free(got.body);
    ui_cache_free(&s);
    pthread_mutex_destroy(&s.lock);
}

int main(void) {
    check_cache();
    const char *bin = getenv("BP_BINARY_DIR"), *src = getenv("BP_SOURCE_DIR");
    if (!bin || !src || !mkdtemp(dir))
        return fprintf(stderr, "test_ui: no BP_BINARY_DIR\n"), 1;
    snprintf(exe, sizeof exe, "%s/backprop", bin);
    snprintf(db, sizeof db, "%s/runs.db", dir);
    /* Run 1: xor stopped before it converges, which fails it (60 steps);
     * 2: xor converged; 3-6: a sweep of 4 trials; 7: the odd run. */
    CHECK(sh("cd '%s' && { '%s' run --quiet --db '%s' scripts/xor.lua steps=60 >/dev/null"
             " 2>&1; [ $? = 1 ]; } &&"
             " '%s' run --quiet --db '%s' scripts/xor.lua lr=1 hidden=3 >/dev/null &&"
             " '%s' sweep --db '%s' scripts/sweep_xor.lua lr=0.1,2 hidden=2,4 steps=40"
             " >/dev/null 2>&1",
             src, exe, db, exe, db, exe, db) == 0);
    int64_t odd = write_odd_run();
    CHECK(odd == 7);
    /* Its times made known: it ran from 1000 to 1100, val_loss reached
     * epoch 1 at 10 s and 2 at 30 s; loss has none recorded (as a run from
     * before schema 12). */
    CHECK(sh("sqlite3 '%s' \"UPDATE runs SET started = 1000, ended = 1100 WHERE id = 7;"
             " DELETE FROM step_times WHERE run_id = 7 AND name_id IN (SELECT id FROM"
             " metric_names WHERE name IN ('loss', 'val_loss')); INSERT INTO step_times"
             " SELECT 7, id, 1, 1010 FROM metric_names WHERE name = 'val_loss' UNION ALL"
             " SELECT 7, id, 2, 1030 FROM metric_names WHERE name = 'val_loss'\"",
             db) == 0);
    CHECK(
        sh("cp '%s' '%s/before.db' && { [ ! -e '%s-wal' ] || cp '%s-wal' '%s/before.db-wal'; }",
           db, dir, db, db, dir) == 0);
    FILE *out = NULL;
    pid_t pid = start_ui(&out, NULL, NULL, NULL);
    CHECK(pid > 0 && port > 0);
    if (pid > 0 && port > 0) {
        check_runs(odd);
        check_run(odd);
        check_refusals();
        check_assets_and_sweeps();
    }
    CHECK(stop_ui(pid, out));
    check_sql_timeout();
    check_host_warning();
    check_stop_any_thread();
    char a[300], b[300];
    snprintf(b, sizeof b, "%s/before.db", dir);
    CHECK(same_file(db, b) == 0);
    snprintf(a, sizeof a, "%s-wal", db);
    snprintf(b, sizeof b, "%s/before.db-wal", dir);
    /* SQLite's reader may make an empty -wal where there was none (with
     * its -shm, to share the WAL index); it writes nothing in it. */
    struct stat st;
    CHECK(access(b, F_OK) == 0 ? same_file(a, b) == 0
                               : stat(a, &st) != 0 || st.st_size == 0);
    if (!check_failures) sh("rm -rf '%s'", dir);
    return check_report("test_ui");
}
