/* bp_team.h: a fixed team of threads that runs one function on every member.
 *
 * What a network's threads are (bp_net.h, bp_set_threads): the member that
 * calls bp_team_run is member 0 and does its share, the others are threads
 * made once by bp_team_new. A mini-batch step hands each member its rows and
 * its neurons; the members meet at bp_team_sync where one's results become
 * another's inputs. Members wait by spinning a while, then sleeping: a step
 * lasts a fraction of a millisecond and waking a sleeping thread costs
 * several microseconds, but a member whose core another program took must
 * not be kept from it by members spinning for it.
 *
 * Dimensions: T = members, t = a member's index, 0 .. T-1. */
#ifndef BP_TEAM_H
#define BP_TEAM_H

#include "bp_err.h"

typedef struct bp_team bp_team;

/* The work of member t of T, given the arg of bp_team_run. */
typedef void (*bp_team_fn)(void *arg, int t, int T);

/* A team of T >= 2 members: starts T - 1 threads. NULL (and a message) when
 * T < 2 or a thread or memory cannot be had. Free with bp_team_free. */
bp_team *bp_team_new(int T, bp_err *e);

/* Stops and joins the threads; accepts NULL. Not while a run is going. */
void bp_team_free(bp_team *team);

/* The team's size, T. */
int bp_team_size(const bp_team *team);

/* Runs fn(arg, t, T) on every member, member 0 in the caller, and returns
 * when all have returned. One run at a time, from one thread. */
void bp_team_run(bp_team *team, bp_team_fn fn, void *arg);

/* Inside fn: returns once every member has called it, so that what each
 * wrote before is there for all to read after. Every member must call it
 * the same number of times in a run. */
void bp_team_sync(bp_team *team);

#endif
