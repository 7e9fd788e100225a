/* bp_progress.h: the live progress line of a long run on a terminal.
 *
 * The training code only stores numbers (relaxed atomic stores, the cost of
 * a plain store on the machines backprop runs on); a thread of the host
 * reads them five times a second and redraws one line on stderr: the step
 * (and epoch), the loss, steps per second and, when the total is known,
 * the time left. Nothing is drawn when stderr is not a terminal. */
#ifndef BP_PROGRESS_H
#define BP_PROGRESS_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include <lua.h>

typedef struct bp_progress {
    _Atomic int64_t step;  /* training steps taken */
    _Atomic int64_t total; /* steps expected in all; 0 when unknown */
    _Atomic double loss;   /* the last step's loss; NaN before the first */
    _Atomic int epoch;     /* the epoch under way (net:fit), 0 if none */
    _Atomic int epochs;    /* the run's last epoch, as net:fit knows it; 0 unknown */
} bp_progress;

/* Sets p to "nothing yet". */
void bp_progress_init(bp_progress *p);

/* Starts the thread that draws p on f (every 0.2 s) and returns 0; -1 if
 * the thread cannot start (then there is no progress line, nothing else
 * changes). */
int bp_progress_start(bp_progress *p, FILE *f);

/* Stops the thread and erases the line; safe when it never started. */
void bp_progress_stop(void);

/* The line as the thread draws it, into line (size bytes, cut short if
 * need be): "epoch 4/6  step 350/600  loss 0.0123  120 steps/s  2s left".
 * The epoch's "/N" and the steps' total show only when known (net:fit with
 * total_epochs, or from its first epoch; bp.progress{total =}); "left" when
 * the total is known and rate, the steps per second measured, is above 0. */
void bp_progress_format(char *line, size_t size, bp_progress *p, double rate);

/* Gives the module p to fill (train_step, update, net:fit, bp.progress). */
void bp_lua_set_progress(lua_State *L, bp_progress *p);

/* Called by the module after each training step. */
static inline void bp_progress_step(bp_progress *p, int64_t step, double loss) {
    if (!p) return;
    atomic_store_explicit(&p->step, step, memory_order_relaxed);
    atomic_store_explicit(&p->loss, loss, memory_order_relaxed);
}

#endif
