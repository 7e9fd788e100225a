/* progress.c: the progress line (see bp_progress.h).
 *
 * One thread, started by the host only when stderr is a terminal, samples
 * the counters and redraws. The rate is measured over the last few seconds,
 * not since the start, so that it follows a run whose steps change speed
 * (a validation pass, another process on the machine). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>

#include "bp_progress.h"
#include "bp_util.h"
#include "lbackprop.h"

static pthread_t thread;
static int running;
static _Atomic int stopping;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static bp_progress *shown;
static FILE *out;

void bp_progress_init(bp_progress *p) {
    atomic_store(&p->step, 0);
    atomic_store(&p->total, 0);
    atomic_store(&p->loss, NAN);
    atomic_store(&p->epoch, 0);
    atomic_store(&p->epochs, 0);
}

/* "1h02m", "3m05s", "12s" */
static void duration(char *buf, size_t size, double s) {
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, size, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60) snprintf(buf, size, "%ldm%02lds", t / 60, t % 60);
    else snprintf(buf, size, "%lds", t);
}

void bp_progress_format(char *line, size_t size, bp_progress *p, double rate) {
    char left[32] = "";
    int64_t step = atomic_load_explicit(&p->step, memory_order_relaxed);
    int64_t total = atomic_load_explicit(&p->total, memory_order_relaxed);
    double loss = atomic_load_explicit(&p->loss, memory_order_relaxed);
    int epoch = atomic_load_explicit(&p->epoch, memory_order_relaxed);
    int epochs = atomic_load_explicit(&p->epochs, memory_order_relaxed);
    size_t n = 0;
    line[0] = '\0';
#define ADD(...) n += (size_t)snprintf(line + n, n < size ? size - n : 0, __VA_ARGS__)
    if (epoch > 0 && epochs >= epoch) ADD("epoch %d/%d  ", epoch, epochs);
    else if (epoch > 0) ADD("epoch %d  ", epoch);
    if (total > 0) ADD("step %lld/%lld", (long long)step, (long long)total);
    else ADD("step %lld", (long long)step);
    if (!isnan(loss)) ADD("  loss %.6g", loss);
    if (rate > 0) ADD("  %.0f steps/s", rate);
    if (rate > 0 && total > step) {
        duration(left, sizeof left, (double)(total - step) / rate);
        ADD("  %s left", left);
    }
#undef ADD
}

static void draw(double rate) {
    char line[160];
    bp_progress_format(line, sizeof line, shown, rate);
    /* \r, the line, then erase what a longer previous line left */
    fprintf(out, "\r%s\033[K", line);
    fflush(out);
}

static void *loop(void *arg) {
    (void)arg;
    /* A short window of samples: the rate over the last ~3 s. */
    enum { W = 16 };
    double t[W];
    int64_t s[W];
    int k = 0, filled = 0, drawn = 0;
    pthread_mutex_lock(&lock);
    while (!atomic_load(&stopping)) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 200000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&wake, &lock, &until);
        if (atomic_load(&stopping)) break;
        int64_t step = atomic_load_explicit(&shown->step, memory_order_relaxed);
        if (step == 0 && !drawn) continue; /* nothing trains: no line at all */
        t[k] = bp_clock();
        s[k] = step;
        int oldest = filled < W ? 0 : (k + 1) % W;
        k = (k + 1) % W;
        if (filled < W) filled++;
        int newest = (k + W - 1) % W;
        double dt = t[newest] - t[oldest];
        draw(filled > 1 && dt > 0 ? (double)(s[newest] - s[oldest]) / dt : 0);
        drawn = 1;
    }
    pthread_mutex_unlock(&lock);
    if (drawn) {
        fputs("\r\033[K", out);
        fflush(out);
    }
    return NULL;
}

int bp_progress_start(bp_progress *p, FILE *f) {
    shown = p;
    out = f;
    atomic_store(&stopping, 0);
    if (pthread_create(&thread, NULL, loop, NULL) != 0) return -1;
    running = 1;
    return 0;
}

void bp_progress_stop(void) {
    if (!running) return;
    pthread_mutex_lock(&lock);
    atomic_store(&stopping, 1);
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
    pthread_join(thread, NULL);
    running = 0;
}

void bp_lua_set_progress(lua_State *L, bp_progress *p) {
    state *st = bp_lua_state(L);
    if (st) st->progress = p;
}

static const char *const progress_options[] = {"total", NULL};

/* bp.progress{total = N}: the steps the run will take in all, so that the
 * progress line can say how long is left (net:fit says it by itself). */
static int l_progress(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    bp_lua_check_options(L, 1, progress_options, 0);
    lua_getfield(L, 1, "total");
    int isint;
    lua_Integer total = lua_tointegerx(L, -1, &isint);
    luaL_argcheck(L, isint && total >= 0, 1, "field 'total' must be an integer >= 0");
    state *st = STATE(L);
    if (st->progress)
        atomic_store_explicit(&st->progress->total, total, memory_order_relaxed);
    return 0;
}

static const luaL_Reg funcs[] = {{"progress", l_progress}, {NULL, NULL}};

void bp_lua_open_progress(lua_State *L) { bp_lua_add_funcs(L, funcs); }
