/* bp_host.h: the Lua host inside the `backprop` program, in the manner of
 * lua.c.
 *
 * The commands that run Lua (run, lua, repl, sweep --spec) run inside one
 * protected call with a message handler that keeps the traceback, so any
 * error, a script's or the host's own, ends as "backprop: message" on
 * stderr and a non-zero exit status, never as a crash. A SIGINT or SIGTERM
 * only sets a hook (as lua.c does) that raises "interrupted" at the script's
 * next instruction, so that a run is closed from ordinary code. The limits
 * of `backprop run` (--max-memory, --time-limit) live here too: they are the
 * host's allocator and its alarm. */
#ifndef BP_HOST_H
#define BP_HOST_H

#include <lua.h>

/* A command run by the host: argv[1] is the command's name, argv[2..] its
 * arguments. Returns the process's exit status, or raises a Lua error (the
 * host reports it and exits 1). */
typedef int (*bp_host_fn)(lua_State *L, int argc, char **argv);

/* Creates a Lua state whose allocations count against --max-memory, opens
 * the standard libraries and the backprop module (also for `require`),
 * runs fn in a protected call and closes the state. Returns fn's status; on
 * an error, prints it (and the traceback when it came from a script) and
 * returns 1, or 128 + the signal when SIGINT or SIGTERM stopped it. */
int bp_host_main(int argc, char **argv, bp_host_fn fn);

/* lua_pcall of the function below its narg arguments, with the message
 * handler and with SIGINT and SIGTERM stopping it: the calls a script
 * makes. The traceback of an error is kept apart (bp_host_traceback). */
int bp_host_pcall(lua_State *L, int narg, int nres);

/* The traceback of the last error, or NULL. Valid until the next call. */
const char *bp_host_traceback(lua_State *L);

/* Drops the kept traceback: the error that follows is the host's, not the
 * script's, and prints alone. */
void bp_host_forget_traceback(lua_State *L);

/* --max-memory SIZE ("512M", "2G", bytes): from now on what Lua and the
 * engine allocate counts against SIZE; NULL for the default, three quarters
 * of the machine's memory; "none" or "0" for no limit. --time-limit T
 * ("90", "30s", "5m", "2h"): SIGALRM stops the script after T as SIGINT
 * would. Both raise "run: bad --max-memory ..." for a malformed value. */
void bp_host_limit_memory(lua_State *L, const char *size);
void bp_host_limit_time(lua_State *L, const char *duration);

/* Raises as the two above would for a malformed value (either may be
 * NULL), without applying either: a run refuses its bad options before it
 * is recorded. */
void bp_host_check_limits(lua_State *L, const char *size, const char *duration);

/* How a script's protected call ended, as a run's status: cancels the time
 * limit, and returns "completed" for LUA_OK. Otherwise, with the error at
 * the top of the stack, replaces the message with what a limit says when a
 * limit stopped it ("time limit of 30s reached (--time-limit)", "...: the
 * --max-memory limit of N MB was reached") and returns "failed",
 * "interrupted", "pruned" or "diverged". */
const char *bp_host_outcome(lua_State *L, int status);

/* The prompt's signals (bp_repl.h): while a line runs, SIGINT stops it;
 * while the prompt waits, it is ignored. */
void bp_host_repl_signals(lua_State *L, int running);

/* ------------------------------------------------------------------------ */
/* The commands that run Lua, each a bp_host_fn (argv[1] is its name)         */

/* backprop run [options] SCRIPT [key=value ...] and run --resume ID (run.c) */
int bp_cmd_run(lua_State *L, int argc, char **argv);

/* backprop lua FILE [args ...]: a plain Lua file with the module, nothing
 * recorded (run.c) */
int bp_cmd_lua(lua_State *L, int argc, char **argv);

/* backprop sweep ...: a sweep written in Lua (--spec FILE) becomes the
 * arguments it stands for, then bp_sweep_main runs it (run.c) */
int bp_cmd_sweep(lua_State *L, int argc, char **argv);

#endif
