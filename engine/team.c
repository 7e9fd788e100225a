/* team.c: the threads of bp_team.h.
 *
 * A run is announced by bumping a generation counter, which the members
 * watch; a run ends at a meeting of all members, as bp_team_sync is. Every
 * wait (for a run, at a meeting) spins a while on the CPU's pause hint and
 * then sleeps on a condition variable until the counter it watches moves.
 * The spin covers what a step of a mid-sized network waits between two
 * meetings when each member has a core (microseconds), where a sleep and a
 * wake-up would cost as much as the work. The sleep is for a member whose
 * core another program took: spinning or yielding would only burn the time
 * the others need. How long a wait spins adapts: halved after a wait whose
 * change came longer than a whole spin into its sleep (the member waited
 * for had no core, and a team whose members share one spent most of it
 * spinning at every meeting), doubled back up to the most after one that a
 * spin met or that came sooner (scripts/bench/NOTES.md, issue 24,
 * i24-w2d). No way of waiting makes a team fast without its cores, though
 * (two processes with a team of two each on two cores are slower than with
 * one thread each, however they wait), which is why a sweep gives each
 * trial its share of the cores (cli/sweeprun.c). */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bp_alloc.h"
#include "bp_team.h"

/* How long a wait spins before it sleeps, at most (ns): longer than a
 * member waits for the others at a meeting when each has a core, and than
 * the calling thread's own work between two runs of a fit's step (its
 * batch, loss and optimiser's set-up: tens of microseconds), so that a
 * member waiting for the next run is awake when it comes; waking one
 * takes about as long again on a virtual machine. Timed by the clock, not
 * counted in pauses, whose length differs tenfold between processors
 * (scripts/bench/NOTES.md, issue 25, i25-drop). The team spins less
 * after waits that ended in a long sleep anyway (wait_change). */
#define SPIN_NS 100000
/* The least a wait spins: a few hundred nanoseconds. */
#define MIN_SPIN_NS 250
/* Pauses between two readings of the clock in a spin. */
#define CLOCK_EVERY 32
/* A change that came longer than a wait's whole spin after its sleep
 * began: the member waited for was not running (wait_change). */
#define LONG_SLEEP_NS ((long long)SPIN_NS)

struct bp_team {
    int T;
    pthread_t *threads; /* T - 1 of them */
    bp_team_fn fn;
    void *arg;
    atomic_uint gen; /* runs announced */
    atomic_int quit;
    atomic_int arrived;  /* at the meeting, this phase */
    atomic_uint phase;   /* meetings passed */
    atomic_int sleepers; /* waits asleep on wake */
    atomic_int spin_ns;  /* how long a wait spins before it sleeps */
    long long bumped;    /* when a bump last woke sleepers (ns; under mu) */
    pthread_mutex_t mu;
    pthread_cond_t wake;
};

typedef struct member {
    bp_team *team;
    int t;
} member;

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* A spin of n ns doubled, at most SPIN_NS. */
static int longer(int n) { return n * 2 < SPIN_NS ? n * 2 : SPIN_NS; }

/* Waits until *v differs from old: spinning (team->spin_ns), then
 * asleep on the team's condition variable; and sets the next wait's spin.
 * Dekker's handshake with bump(): this raises sleepers and then reads *v,
 * bump raises *v and then reads sleepers (all sequentially consistent), so
 * one of the two sees the other. */
static void wait_change(bp_team *team, atomic_uint *v, unsigned old) {
    const int n = atomic_load_explicit(&team->spin_ns, memory_order_relaxed);
    long long end = 0; /* read once the first pauses did not end the wait */
    for (int k = 1;; k++) {
        if (atomic_load_explicit(v, memory_order_acquire) != old) {
            /* the spin paid: spin longer next time, up to SPIN_NS */
            if (n < SPIN_NS) atomic_store_explicit(&team->spin_ns, longer(n), memory_order_relaxed);
            return;
        }
        relax();
        if (k % CLOCK_EVERY) continue;
        long long t = now_ns();
        if (!end) end = t + n;
        else if (t >= end) break;
    }
    const long long t0 = now_ns();
    long long woken = t0; /* no sleep: the change came as the spin ended */
    pthread_mutex_lock(&team->mu);
    atomic_fetch_add(&team->sleepers, 1);
    while (atomic_load(v) == old) {
        pthread_cond_wait(&team->wake, &team->mu);
        woken = team->bumped;
    }
    atomic_fetch_sub(&team->sleepers, 1);
    pthread_mutex_unlock(&team->mu);
    /* The change came later than a whole spin after the sleep began: the
     * member waited for had no core (two members on one, or another
     * program on its own), and a spin of SPIN_NS would have been spent for
     * nothing too. Spin half as long next time, so that a team without
     * its cores does not burn the one it has at every meeting. It came
     * sooner: the other was running and a longer spin would have met it,
     * twice as long (not SPIN_NS at once: members sharing a core meet within
     * a spin now and then, and a team that went back to SPIN_NS each time
     * spun most of its one core away again). Timed to the bump, not to
     * this thread's waking, which on a virtual machine can take longer
     * than a spin by itself. */
    int next = woken - t0 > LONG_SLEEP_NS ? (n / 2 > MIN_SPIN_NS ? n / 2 : MIN_SPIN_NS) : longer(n);
    atomic_store_explicit(&team->spin_ns, next, memory_order_relaxed);
}

/* Moves *v on, waking whoever sleeps on the team's condition variable. */
static void bump(bp_team *team, atomic_uint *v) {
    atomic_fetch_add(v, 1);
    if (atomic_load(&team->sleepers)) {
        pthread_mutex_lock(&team->mu);
        team->bumped = now_ns();
        pthread_cond_broadcast(&team->wake);
        pthread_mutex_unlock(&team->mu);
    }
}

static void *member_main(void *p) {
    member *m = p;
    bp_team *team = m->team;
    unsigned seen = 0;
    for (;;) {
        wait_change(team, &team->gen, seen);
        seen = atomic_load(&team->gen);
        if (atomic_load(&team->quit)) break;
        team->fn(team->arg, m->t, team->T);
        bp_team_sync(team); /* the end of the run */
    }
    free(m);
    return NULL;
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
    atomic_init(&team->spin_ns, SPIN_NS);
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
    bump(team, &team->gen);
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
    bump(team, &team->gen);
    fn(arg, 0, team->T);
    bp_team_sync(team);
}

void bp_team_sync(bp_team *team) {
    unsigned ph = atomic_load_explicit(&team->phase, memory_order_acquire);
    if (atomic_fetch_add_explicit(&team->arrived, 1, memory_order_acq_rel) ==
        team->T - 1) {
        atomic_store_explicit(&team->arrived, 0, memory_order_relaxed);
        bump(team, &team->phase);
        return;
    }
    wait_change(team, &team->phase, ph);
}
