/* test_progress.c: the text of the progress line (bindings/bp_progress.h)
 * after net:fit has filled it, for the ways a script calls fit: one call of
 * all the epochs, README's resumable loop of one-epoch fits with and
 * without total_epochs (issue 18: it said "epoch 4/4 ... 0s left" in a
 * 6-epoch run), and a hand-written loop with bp.progress. The rate is given,
 * not measured, so the line is exact. */
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "bp_lua.h"
#include "bp_progress.h"
#include "check.h"

/* 20 rows, batch 2: 10 steps an epoch. The chunk sees `bp`, `net` and
 * `data`. */
static const char *SETUP = "bp = require 'backprop'\n"
                           "local x, y = {}, {}\n"
                           "for i = 1, 20 do x[i] = {i / 20, 1 - i / 20}; y[i] = {i / 40} end\n"
                           "data = bp.data(x, y)\n"
                           "net = bp.net(2):add(3, 'tanh'):add(1)\n"
                           "fit = {data = data, loss = 'mse', lr = 0.1, batch = 2}\n";

/* Runs SETUP then chunk in a fresh state whose progress is p; returns the
 * line drawn at 10 steps/s with the loss taken out ("loss *"). */
static void line_after(const char *chunk, char *line, size_t size) {
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    luaL_requiref(L, "backprop", luaopen_backprop, 0);
    lua_pop(L, 1);
    bp_progress p;
    bp_progress_init(&p);
    bp_lua_set_progress(L, &p);
    if (luaL_dostring(L, SETUP) || luaL_dostring(L, chunk)) {
        fprintf(stderr, "%s\n", lua_tostring(L, -1));
        CHECK(0);
    }
    char raw[200];
    bp_progress_format(raw, sizeof raw, &p, 10);
    /* "loss 0.0123" -> "loss *": the figure is not what is tested here */
    char *loss = strstr(raw, "loss ");
    if (loss) {
        char *end = strchr(loss + 5, ' ');
        snprintf(line, size, "%.*sloss *%s", (int)(loss - raw), raw, end ? end : "");
    } else {
        snprintf(line, size, "%s", raw);
    }
    lua_close(L);
}

static void test_one_fit_of_all_epochs(void) {
    char line[200];
    /* stopped by its callback after epoch 4 of 6 */
    line_after("fit.epochs = 6; fit.callback = function(e) return e < 4 end\n"
               "net:fit(fit)",
               line, sizeof line);
    CHECK_STR(line, "epoch 4/6  step 40/60  loss *  10 steps/s  2s left");
}

/* README's resumable loop: the fit is told the run's last epoch. */
static void test_loop_of_one_epoch_fits(void) {
    char line[200];
    line_after("fit.epochs = 1; fit.total_epochs = 6\n"
               "for e = 1, 4 do fit.first_epoch = e; net:fit(fit) end",
               line, sizeof line);
    CHECK_STR(line, "epoch 4/6  step 40/60  loss *  10 steps/s  2s left");
    /* not told: the epoch alone, and no time left that would be this
     * call's end shown as the run's */
    line_after("fit.epochs = 1\n"
               "for e = 1, 4 do fit.first_epoch = e; net:fit(fit) end",
               line, sizeof line);
    CHECK_STR(line, "epoch 4  step 40  loss *  10 steps/s");
    /* a resumed run: this process's steps, from where it started */
    line_after("fit.epochs = 1; fit.total_epochs = 6\n"
               "for e = 4, 5 do fit.first_epoch = e; net:fit(fit) end",
               line, sizeof line);
    CHECK_STR(line, "epoch 5/6  step 20/30  loss *  10 steps/s  1s left");
}

static void test_hand_written_loop(void) {
    char line[200];
    line_after("bp.progress{total = 100}\n"
               "for i = 1, 25 do net:train_step({0.5, 0.5}, {0.25}, 'mse', 0.1) end",
               line, sizeof line);
    CHECK_STR(line, "step 25/100  loss *  10 steps/s  8s left");
}

static void test_total_epochs_checked(void) {
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    luaL_requiref(L, "backprop", luaopen_backprop, 0);
    lua_pop(L, 1);
    CHECK(luaL_dostring(L, SETUP) == LUA_OK);
    CHECK(luaL_dostring(L, "fit.first_epoch = 5; fit.epochs = 3; fit.total_epochs = 6\n"
                           "net:fit(fit)") != LUA_OK);
    CHECK(strstr(lua_tostring(L, -1),
                 ":2: bad argument #1 to 'fit' (field 'total_epochs': 6 is before this "
                 "fit's last epoch, 7)") != NULL);
    lua_close(L);
}

int main(void) {
    test_one_fit_of_all_epochs();
    test_loop_of_one_epoch_fits();
    test_hand_written_loop();
    test_total_epochs_checked();
    return check_report("test_progress");
}
