/* test_team.c: the threads of bp_team.h.
 *
 * Each member writes its slot, the team meets, and each reads every other
 * slot: a meeting that let a member through early would show a slot of the
 * run before. Teams of 2 (the cores here) and 5 (more members than cores,
 * where waiting must yield), runs back to back and after a pause long enough
 * for the members to fall asleep, and the errors. A hang is caught by
 * ctest's timeout. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <time.h>

#include "bp_team.h"
#include "check.h"

enum { MAXT = 8, MEETINGS = 3 };

typedef struct job {
    bp_team *team;
    int run;
    long slot[MAXT];
    int ran[MAXT];   /* runs each member took part in */
    int wrong[MAXT]; /* slots a member found stale */
} job;

static void member(void *arg, int t, int T) {
    job *j = arg;
    j->ran[t]++;
    for (int m = 0; m < MEETINGS; m++) {
        j->slot[t] = ((long)j->run * MEETINGS + m) * MAXT + t;
        bp_team_sync(j->team);
        for (int u = 0; u < T; u++)
            if (j->slot[u] != ((long)j->run * MEETINGS + m) * MAXT + u) j->wrong[t]++;
        /* Nobody writes the next value before everyone has read this one. */
        bp_team_sync(j->team);
    }
}

static void nap(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void team_case(int T, int runs) {
    bp_err e;
    job j = {0};
    j.team = bp_team_new(T, &e);
    CHECK(j.team != NULL);
    if (!j.team) return;
    CHECK(bp_team_size(j.team) == T);
    for (j.run = 0; j.run < runs; j.run++) {
        /* Twice, a pause long enough for the members to go to sleep. */
        if (j.run == runs / 3 || j.run == 2 * runs / 3) nap(50);
        bp_team_run(j.team, member, &j);
    }
    for (int t = 0; t < T; t++) {
        CHECK(j.ran[t] == runs);
        CHECK(j.wrong[t] == 0);
    }
    bp_team_free(j.team);
}

static void test_errors(void) {
    bp_err e;
    CHECK(bp_team_new(1, &e) == NULL);
    CHECK_STR(e.msg, "a team needs at least 2 members (got 1)");
    CHECK(bp_team_new(0, NULL) == NULL);
    bp_team_free(NULL);
    /* Made and freed without a run: the members must still stop. */
    bp_team_free(bp_team_new(3, NULL));
}

int main(void) {
    test_errors();
    team_case(2, 3000);
    team_case(5, 300);
    return check_report("test_team");
}
