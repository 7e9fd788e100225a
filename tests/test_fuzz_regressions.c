/* test_fuzz_regressions.c: the bugs the fuzzers (fuzz/) found, each as the
 * smallest program that shows it.
 *
 * The fuzzer's own input for each is kept in fuzz/regressions/<target>/ and
 * replayed by the fuzz_replay_<target> tests; this file says in plain C
 * what was wrong, so that the failure of a check names the bug. */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "bp_lua.h"
#include "bp_net.h"
#include "bp_sweep.h"
#include "check.h"

/* Runs a Lua chunk with the module as `bp`; returns its error message, or
 * "ok". The state is closed after the message is copied. */
static const char *run_lua(const char *code) {
    static char msg[256];
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    luaL_requiref(L, "bp", luaopen_backprop, 1);
    lua_pop(L, 1);
    int rc = luaL_dostring(L, code);
    snprintf(msg, sizeof msg, "%s", rc ? lua_tostring(L, -1) : "ok");
    lua_close(L);
    return msg;
}

/* fuzz/regressions/lua/add_after_forward: net:add after a forward left the
 * net's row count B from that forward, so backward (and net:h, net:o of the
 * new layer) went ahead on a layer whose batch buffers did not exist yet:
 * a memcpy to NULL in bp_net_backward, a read of NULL in net:h. */
static void test_add_after_forward(void) {
    bp_err e;
    for (int dt = 0; dt < 2; dt++) {
        bp_net *net = bp_net_new_dtype(2, dt ? BP_F32 : BP_F64, &e);
        CHECK(net && bp_net_add(net, 3, BP_ACT_SIGMOID, 0, &e) == 0);
        const double x[4] = {1, 2, 3, 4}, dout[6] = {1, 1, 1, 1, 1, 1};
        CHECK(bp_net_forward(net, x, 2, &e) != NULL && net->B == 2);
        CHECK(bp_net_add(net, 1, BP_ACT_IDENTITY, 0, &e) == 0);
        CHECK(net->B == 0);
        CHECK(bp_net_backward(net, dout, &e) == -1);
        CHECK_STR(e.msg, "backward needs a forward first");
        const double *out = bp_net_forward(net, x, 2, &e);
        CHECK(out != NULL && net->B == 2);
        CHECK(bp_net_backward(net, dout, &e) == 0);
        bp_net_free(net);
    }
    const char *prefix = "local net = bp.net(2):add(3, 'sigmoid'); net:forward({1, 2}); "
                         "net:add(1); ";
    char code[256];
    snprintf(code, sizeof code, "%snet:backward({1})", prefix);
    CHECK(strstr(run_lua(code), "backward needs a forward first") != NULL);
    snprintf(code, sizeof code, "%snet:h(2)", prefix);
    CHECK(strstr(run_lua(code), "nothing to show: run net:forward first") != NULL);
    snprintf(code, sizeof code,
             "%snet:forward({1, 2}); net:backward({1}); "
             "assert(#net:h(2) == 1)",
             prefix);
    CHECK_STR(run_lua(code), "ok");
}

/* fuzz/regressions/lua/batches_iterator_overflow: the iterator of
 * d:batches, called by hand with a control value far outside the rows,
 * computed control + size and n - first in lua_Integer, overflowing (UB);
 * such a value now ends the loop, as one past the end always did. */
static void test_batches_iterator_overflow(void) {
    CHECK_STR(
        run_lua(
            "local d = bp.data({{1}, {2}, {3}, {4}, {5}}, {1, 2, 3, 4, 5}) "
            "local f, s, c = d:batches(2) "
            "assert(select('#', f(s, math.mininteger)) == 0) "
            "assert(select('#', f(s, math.maxinteger)) == 0) "
            "assert(select('#', f(s, 5)) == 0) "
            "local seen = {} "
            "for first, count in d:batches(2) do seen[#seen + 1] = first .. ':' .. count end "
            "assert(table.concat(seen, ' ') == '1:2 3:2 5:1', table.concat(seen, ' '))"),
        "ok");
}

/* A Lua allocator with a budget, to make the module's own calls run out. */
static size_t lua_budget;

static void *budget_alloc(void *ud, void *p, size_t osize, size_t nsize) {
    (void)ud;
    if (!p) osize = 0;
    if (nsize == 0) {
        free(p);
        lua_budget += osize;
        return NULL;
    }
    if (nsize > osize && nsize - osize > lua_budget) return NULL;
    void *q = realloc(p, nsize);
    if (q) lua_budget -= nsize - osize; /* wraps back on a shrink: fine */
    return q;
}

/* fuzz/regressions/lua/params_leak_on_lua_oom: net:params() and
 * opt:save() copied the numbers into a malloc'd buffer, then built the Lua
 * table; when Lua ran out of memory there, the error skipped the free. The
 * buffers are now userdata. The leak itself is what LeakSanitizer reports
 * at exit (-DBP_SANITIZE=ON); without it this checks the error. */
static void test_params_out_of_lua_memory(void) {
    lua_budget = (size_t)64 << 20;
    lua_State *L = lua_newstate(budget_alloc, NULL);
    luaL_openlibs(L);
    luaL_requiref(L, "bp", luaopen_backprop, 1);
    lua_pop(L, 1);
    CHECK(luaL_dostring(L, "net = bp.net(100):add(100) opt = bp.optimizer(net, 'adam') "
                           "net:forward({}) ") != LUA_OK); /* a wrong call, to warm up */
    lua_settop(L, 0);
    lua_gc(L, LUA_GCCOLLECT);
    lua_gc(L, LUA_GCSTOP);
    for (int j = 0; j < 2; j++) {
        lua_getglobal(L, j ? "opt" : "net");
        lua_getfield(L, -1, j ? "save" : "params");
        lua_insert(L, -2);
        lua_budget = 16 << 10; /* far less than a table of 10,100 numbers */
        CHECK(lua_pcall(L, 1, 1, 0) == LUA_ERRMEM);
        lua_budget = (size_t)64 << 20;
        lua_settop(L, 0);
    }
    lua_gc(L, LUA_GCRESTART);
    lua_close(L);
}

/* fuzz/regressions/sweep/random_trial_long_list_value: a random search
 * drew list and choice values through a 64-byte buffer, so a value of 64
 * characters or more reached the trial cut to 63 (a grid gave it whole). */
static void test_sweep_random_long_value(void) {
    char arg[5 + 100 + 1] = "path=";
    memset(arg + 5, 'x', 100);
    arg[105] = 0;
    const char *choice =
        "opt=choice:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    bp_err e;
    bp_sweep_spec *s = bp_sweep_spec_new();
    CHECK(s != NULL);
    CHECK(bp_sweep_spec_add(s, arg, &e) == 0);
    CHECK(bp_sweep_spec_add(s, choice, &e) == 0);
    s->trials = 3;
    s->seed = 7;
    CHECK(bp_sweep_spec_check(s, &e) == 0);
    for (int64_t i = 0; i < 3; i++) {
        char *kv[2] = {NULL, NULL};
        CHECK(bp_sweep_trial(s, i, kv, &e) == 0);
        CHECK_STR(kv[0], arg);
        CHECK_STR(
            kv[1],
            "opt=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        free(kv[0]);
        free(kv[1]);
    }
    bp_sweep_spec_free(s);
}

int main(void) {
    test_add_after_forward();
    test_batches_iterator_overflow();
    test_params_out_of_lua_memory();
    test_sweep_random_long_value();
    return check_report("fuzz_regressions");
}
