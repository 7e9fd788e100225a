/* bp_lua.h: the Lua module `backprop` and what a host tells it.
 *
 * luaopen_backprop is what `require "backprop"` calls, inside the backprop
 * host or from a stock lua5.4 through LUA_CPATH. A host that records runs
 * also hands the module its parameters and its run log, so that bp.param and
 * bp.log reach the database; without them (a stock lua) bp.param returns its
 * defaults and the logging functions do nothing. */
#ifndef BP_LUA_H
#define BP_LUA_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <lua.h>

#include "bp_err.h"

struct bp_runlog;

/* Opens the module: pushes its table. */
int luaopen_backprop(lua_State *L);

/* Gives the script the command line's key=value pairs (pairs[0..n-1], each
 * "key=value"). Returns 0, or -1 with a message pushed on the stack when a
 * pair is malformed or a key repeats. Call before the script runs. */
int bp_lua_set_params(lua_State *L, int n, char **pairs);

/* The keys given on the command line that the script never read with
 * bp.param, as one comma-separated string (sorted) pushed on the stack, or
 * nothing pushed (returns 0) when every key was read. Returns the count.
 * The module itself raises for them when the script first trains or logs
 * (or at bp.params{...}); the host asks again at the end, for a script
 * that did neither. */
int bp_lua_unread_params(lua_State *L);

/* The parameters came from the run's own record (`backprop run --resume`),
 * not from a user's typing: no typo to catch, so the module does not check
 * them when the script first trains or logs. Call after bp_lua_set_params. */
void bp_lua_trust_params(lua_State *L);

/* Attaches a run log and the id of the run being recorded: from then on
 * bp.param records parameters, bp.log metrics, and so on. log is borrowed:
 * the host closes it after the Lua state. seed is the run's seed: the
 * module's generator is seeded with it. */
void bp_lua_attach_run(lua_State *L, struct bp_runlog *log, int64_t run, uint64_t seed);

/* Whether a loss came out NaN or infinite (the script was stopped). */
int bp_lua_diverged(lua_State *L);

/* A flag the host's signal handler sets: loops that run in C (net:fit)
 * stop at the next step when it is non-zero, and raise "interrupted". */
void bp_lua_set_stop_flag(lua_State *L, const volatile sig_atomic_t *flag);

/* For `backprop run --resume`: the script's bp.resume{...} will restore the
 * attached run's latest checkpoint. Call after bp_lua_attach_run. */
void bp_lua_set_resuming(lua_State *L);

/* What bp.resume does with a checkpoint's bytes (data, len): puts them back
 * into the objects of the table at index `objects` (names to nets and
 * optimizers) and the module's generator, and pushes the checkpoint's step.
 * `what` names the checkpoint in messages ("the checkpoint of run 3"). A
 * checkpoint that is empty, of another format or version, cut short, or
 * that does not match the objects raises "bp.resume: ..." before anything
 * is changed; a network or an optimizer's state found corrupt raises too,
 * once the objects before it are restored. For bp.resume and
 * fuzz/fuzz_model.c. */
int bp_lua_restore_checkpoint(lua_State *L, int objects, const void *data, size_t len,
                              const char *what);

/* Seeds the module's generator (bp.seed does the same from Lua). */
void bp_lua_seed(lua_State *L, uint64_t seed);

/* ------------------------------------------------------------------------ */
/* Sweeps (lsweep.c)                                                         */

/* Makes the running script trial `trial` of sweep `sweep`: bp.report then
 * logs the sweep's objective and prunes by its rule, bp.sweep() tells the
 * script, and bp.seed("data") is the sweep's seed. Call after
 * bp_lua_attach_run; log is borrowed. -1 when the sweep is not in the log. */
int bp_lua_sweep_attach(lua_State *L, struct bp_runlog *log, int64_t sweep, int64_t trial,
                        bp_err *e);

/* Whether bp.report pruned the trial (its error then ends the script). */
int bp_lua_sweep_pruned(lua_State *L);

/* Runs a sweep written in Lua, a file returning {script = ..., params =
 * {lr = "loguniform:1e-4:1e-1", hidden = {2, 4, 8}}, trials =, seed =,
 * objective =, prune =, name =} (params may be left out when the script
 * suggests its own: bp.suggest), and pushes the same sweep as a list of
 * command-line arguments (options first, then the script, then key=SPEC in
 * the order of the keys). Raises a Lua error naming the file otherwise. */
int bp_lua_sweep_file(lua_State *L, const char *path);

#endif
