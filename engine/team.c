/* team.c: the threads of bp_team.h.
 *
 * A run is announced by bumping a generation counter, which the members
 * watch; a member that has watched long enough without news goes to sleep
 * on a condition variable, and the run that follows wakes it. The meeting
 * point inside a run (bp_team_sync) is a counting barrier with a phase
 * number, never a sleep: a step of a mid-sized network meets three times in
 * a few hundred microseconds, and a futex wake-up would cost as much as the
 * work between two meetings. Spinning uses the CPU's pause hint first and
 * sched_yield after, so a member sharing its core with another program (or
 * with more members than cores) gives the core up. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "bp_net.h" /* bp_calloc, bp_free */
#include "bp_team.h"

/* Pauses before a waiting member starts yielding, and yields before one
 * between runs goes to sleep (about a millisecond here): a fit's steps
 * follow each other within microseconds, so its members never sleep. */
#define SPINS 2000
#define YIELDS 1000

struct bp_team {
    int T;
    pthread_t *threads; /* T - 1 of them */
    bp_team_fn fn;
    void *arg;
    atomic_uint gen;  /* runs announced */
    atomic_int done;  /* members 1.. that have finished this run */
    atomic_int quit;
    atomic_int sleepers;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    atomic_int arrived;  /* at the barrier, this phase */
    atomic_uint phase;   /* barriers passed */
};

typedef struct member {
    bp_team *team;
    int t;
} member;

static void relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Waits, spinning then yielding, until *v differs from old; returns it. */
static unsigned wait_change(atomic_uint *v, unsigned old) {
    unsigned now;
    for (int k = 0; (now = atomic_load_explicit(v, memory_order_acquire)) == old; k++) {
        if (k < SPINS) relax();
        else sched_yield();
    }
    return now;
}

static void *member_main(void *p) {
    member *m = p;
    bp_team *team = m->team;
    unsigned seen = 0;
    for (;;) {
        unsigned g;
        for (int k = 0; (g = atomic_load(&team->gen)) == seen; k++) {
            if (k < SPINS) {
                relax();
            } else if (k < SPINS + YIELDS) {
                sched_yield();
            } else {
                /* Dekker's handshake with bp_team_run: it bumps gen and
                 * then reads sleepers; this raises sleepers and then reads
                 * gen, so one of the two sees the other. */
                pthread_mutex_lock(&team->mu);
                atomic_fetch_add(&team->sleepers, 1);
                while (atomic_load(&team->gen) == seen)
                    pthread_cond_wait(&team->wake, &team->mu);
                atomic_fetch_sub(&team->sleepers, 1);
                pthread_mutex_unlock(&team->mu);
                k = 0;
            }
        }
        seen = g;
        if (atomic_load(&team->quit)) break;
        team->fn(team->arg, m->t, team->T);
        atomic_fetch_add_explicit(&team->done, 1, memory_order_release);
    }
    free(m);
    return NULL;
}

/* Announces a run (or the end) to the members, waking any asleep. */
static void announce(bp_team *team) {
    atomic_fetch_add(&team->gen, 1);
    if (atomic_load(&team->sleepers)) {
        pthread_mutex_lock(&team->mu);
        pthread_cond_broadcast(&team->wake);
        pthread_mutex_unlock(&team->mu);
    }
}

bp_team *bp_team_new(int T, bp_err *e) {
    if (T < 2) {
        bp_err_set(e, "a team needs at least 2 members (got %d)", T);
        return NULL;
    }
    bp_team *team = bp_calloc(1, sizeof *team);
    if (!team || !(team->threads = bp_calloc((size_t)T - 1, sizeof(pthread_t)))) {
        bp_free(team);
        bp_err_set(e, "out of memory for a team of %d threads", T);
        return NULL;
    }
    team->T = 1; /* members started so far, with the caller */
    pthread_mutex_init(&team->mu, NULL);
    pthread_cond_init(&team->wake, NULL);
    /* The members block every signal (they inherit the mask they are made
     * with), so that SIGINT or a time limit's alarm reaches the thread that
     * runs the script, whose handlers expect to be there. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (int t = 1; t < T; t++) {
        /* malloc, not bp_malloc: freed by the member's own thread, which
         * an allocator hook counting a step's allocations would miss. */
        member *m = malloc(sizeof *m);
        int rc = m ? 0 : -1;
        if (m) {
            m->team = team;
            m->t = t;
            rc = pthread_create(&team->threads[t - 1], NULL, member_main, m);
        }
        if (rc) {
            free(m);
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            bp_team_free(team);
            bp_err_set(e, "cannot start thread %d of %d: %s", t + 1, T,
                       rc > 0 ? strerror(rc) : "out of memory");
            return NULL;
        }
        team->T++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return team;
}

void bp_team_free(bp_team *team) {
    if (!team) return;
    atomic_store(&team->quit, 1);
    announce(team);
    for (int t = 1; t < team->T; t++) pthread_join(team->threads[t - 1], NULL);
    pthread_mutex_destroy(&team->mu);
    pthread_cond_destroy(&team->wake);
    bp_free(team->threads);
    bp_free(team);
}

int bp_team_size(const bp_team *team) { return team->T; }

void bp_team_run(bp_team *team, bp_team_fn fn, void *arg) {
    team->fn = fn;
    team->arg = arg;
    atomic_store_explicit(&team->done, 0, memory_order_relaxed);
    announce(team);
    fn(arg, 0, team->T);
    for (int k = 0; atomic_load_explicit(&team->done, memory_order_acquire) < team->T - 1;
         k++) {
        if (k < SPINS) relax();
        else sched_yield();
    }
}

void bp_team_sync(bp_team *team) {
    unsigned ph = atomic_load_explicit(&team->phase, memory_order_acquire);
    if (atomic_fetch_add_explicit(&team->arrived, 1, memory_order_acq_rel) ==
        team->T - 1) {
        atomic_store_explicit(&team->arrived, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&team->phase, 1, memory_order_release);
        return;
    }
    wait_change(&team->phase, ph);
}
