/* bp_repl.h: the interactive prompt, `backprop repl` (or `backprop` alone on
 * a terminal), as Torch7's th was: the module is loaded as `bp`, each line
 * is run as soon as it is complete, and every value it returns is printed
 * readably (a network as its layers and shapes, a small matrix as rows). */
#ifndef BP_REPL_H
#define BP_REPL_H

#include <lua.h>

/* Reads, runs and prints until end of input. Errors in a line are printed
 * and the prompt goes on. signals(L, 1) is called before a line runs and
 * signals(L, 0) after it and while reading: the host arms its SIGINT
 * handling for the one and not the other, so that Ctrl-C stops a line and
 * not the prompt. Prompts and line editing (libedit) only when standard
 * input is a terminal, so that piped input gives plain, testable output.
 * Returns 0. */
int bp_repl(lua_State *L, void (*signals)(lua_State *L, int running));

#endif
