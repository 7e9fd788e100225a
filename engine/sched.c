/* sched.c: learning-rate schedules as closed forms of the step number.
 *
 * PyTorch's schedulers mostly update the lr step by step (lr *= gamma); a
 * closed form of LinearLR, StepLR, ExponentialLR, CosineAnnealingLR and
 * OneCycleLR gives the same numbers without the rounding that accumulates,
 * and any step can be asked for directly, so that a checkpoint needs only
 * the step count to put a schedule back. ReduceLROnPlateau is the one that
 * has state (the metrics seen): its formula is here in bp_optim.h's words,
 * its counters live in the optimiser (optim.c), next to the lrs they cut.
 * Where PyTorch's code arranges a formula in a particular way (onecycle's
 * phases, its float end steps), this follows the code, which decides the
 * last bits. */
#include <inttypes.h>
#include <math.h>

#include "bp_optim.h"
#include "bp_util.h"

/* math.h's M_PI is POSIX, not C11; this is the double Python calls pi. */
static const double PI = 3.14159265358979323846;

static const char *const sched_names[BP_SCHED_COUNT] = {
    "none", "step", "exponential", "cosine", "plateau", "onecycle"};

const char *bp_sched_name(bp_sched_kind k) {
    return bp_name_of(sched_names, BP_SCHED_COUNT, (int)k);
}
int bp_sched_parse(const char *name) {
    return bp_name_find(sched_names, BP_SCHED_COUNT, name);
}

bp_schedule bp_schedule_default(bp_sched_kind k) {
    return (bp_schedule){.kind = k,
                         .gamma = 0.1,
                         .step_size = 1,
                         .t_max = 1,
                         .start_factor = 1.0 / 3,
                         .factor = 0.1,
                         .patience = 10,
                         .threshold = 1e-4,
                         .eps = 1e-8,
                         .pct_start = 0.3,
                         .div_factor = 25,
                         .final_div_factor = 1e4,
                         .cycle_momentum = 1,
                         .base_momentum = 0.85,
                         .max_momentum = 0.95};
}

static int finite_nonneg(double x) { return isfinite(x) && x >= 0; }

static int check_gamma(const bp_schedule *s, bp_err *e) {
    if (!(isfinite(s->gamma) && s->gamma > 0))
        return bp_err_set(e, "%s schedule needs a finite gamma > 0 (got %g)",
                          sched_names[s->kind], s->gamma);
    return 0;
}

/* A field that must be a finite number >= 0. */
static int check_nonneg(const char *kind, const char *what, double x, bp_err *e) {
    if (!finite_nonneg(x))
        return bp_err_set(e, "%s schedule needs a finite %s >= 0 (got %g)", kind, what, x);
    return 0;
}

static int check_plateau(const bp_schedule *s, bp_err *e) {
    /* PyTorch: "Factor should be < 1.0." (a factor of 1 would cut nothing). */
    if (!(s->factor >= 0 && s->factor < 1))
        return bp_err_set(e, "plateau schedule needs factor in [0, 1) (got %g)", s->factor);
    if (s->patience < 0 || s->cooldown < 0)
        return bp_err_set(e, "plateau schedule needs patience and cooldown >= 0 (got %" PRId64
                             " and %" PRId64 ")",
                          s->patience, s->cooldown);
    if (check_nonneg("plateau", "threshold", s->threshold, e) ||
        check_nonneg("plateau", "min_lr", s->min_lr, e) ||
        check_nonneg("plateau", "eps", s->eps, e))
        return -1;
    return 0;
}

static int check_onecycle(const bp_schedule *s, bp_err *e) {
    if (s->total_steps < 1)
        return bp_err_set(e, "onecycle schedule needs total_steps >= 1 (got %" PRId64 ")",
                          s->total_steps);
    if (!(s->pct_start >= 0 && s->pct_start <= 1))
        return bp_err_set(e, "onecycle schedule needs pct_start in [0, 1] (got %g)",
                          s->pct_start);
    /* PyTorch divides by this phase's length, 0 here (ZeroDivisionError). */
    if (s->pct_start * (double)s->total_steps - 1 == 0)
        return bp_err_set(e,
                          "onecycle schedule's first phase would end at its first step "
                          "(pct_start * total_steps = 1): choose another pct_start");
    if (check_nonneg("onecycle", "max_lr", s->max_lr, e)) return -1;
    if (!(isfinite(s->div_factor) && s->div_factor > 0 && isfinite(s->final_div_factor) &&
          s->final_div_factor > 0))
        return bp_err_set(e,
                          "onecycle schedule needs div_factor and final_div_factor > 0 "
                          "(got %g and %g)",
                          s->div_factor, s->final_div_factor);
    if (s->cycle_momentum && !(s->base_momentum >= 0 && s->base_momentum < 1 &&
                               s->max_momentum >= 0 && s->max_momentum < 1))
        return bp_err_set(e,
                          "onecycle schedule needs base_momentum and max_momentum in "
                          "[0, 1) (got %g and %g)",
                          s->base_momentum, s->max_momentum);
    return 0;
}

int bp_schedule_check(const bp_schedule *s, bp_err *e) {
    switch (s->kind) {
        case BP_SCHED_NONE: break;
        case BP_SCHED_STEP:
            if (s->step_size < 1)
                return bp_err_set(e,
                                  "step schedule needs step_size >= 1 (got %" PRId64 ")",
                                  s->step_size);
            if (check_gamma(s, e)) return -1;
            break;
        case BP_SCHED_EXP:
            if (check_gamma(s, e)) return -1;
            break;
        case BP_SCHED_COSINE:
            if (s->t_max < 1)
                return bp_err_set(e, "cosine schedule needs t_max >= 1 (got %" PRId64 ")",
                                  s->t_max);
            if (check_nonneg("cosine", "eta_min", s->eta_min, e)) return -1;
            break;
        case BP_SCHED_PLATEAU:
            if (check_plateau(s, e)) return -1;
            break;
        case BP_SCHED_ONECYCLE:
            if (check_onecycle(s, e)) return -1;
            break;
        default: return bp_err_set(e, "unknown schedule %d", (int)s->kind);
    }
    if (s->warmup_steps < 0)
        return bp_err_set(e, "warmup_steps must be >= 0 (got %" PRId64 ")",
                          s->warmup_steps);
    /* onecycle's first phase is its warm-up; a plateau's lr is no function
     * of the step to put one in front of. */
    if (s->warmup_steps > 0 &&
        (s->kind == BP_SCHED_ONECYCLE || s->kind == BP_SCHED_PLATEAU))
        return bp_err_set(e, "%s schedule takes no warmup_steps", sched_names[s->kind]);
    if (s->warmup_steps > 0 && !(s->start_factor > 0 && s->start_factor <= 1))
        return bp_err_set(e, "warm-up start_factor must be in (0, 1] (got %g)",
                          s->start_factor);
    return 0;
}

/* OneCycleLR's _annealing_cos and _annealing_linear, as written there. */
static double anneal(const bp_schedule *s, double start, double end, double pct) {
    if (s->anneal_linear) return (end - start) * pct + start;
    double cos_out = cos(PI * pct) + 1;
    return end + (start - end) / 2.0 * cos_out;
}

/* OneCycleLR's get_lr for one group (two phases): the phase holding step
 * t, from start_step (0, then the first phase's end) to its end_step (a
 * float: pct_start * total_steps - 1, then total_steps - 1), and how far
 * along; the last phase takes any t after the first. a, m, z are the
 * values at the phases' ends (lr: initial, max, min; momentum: max, base,
 * max). */
static double onecycle(const bp_schedule *s, double a, double m, double z, int64_t t) {
    double end1 = (double)(s->pct_start * (double)s->total_steps) - 1;
    double end2 = (double)s->total_steps - 1, step = (double)t;
    if (step <= end1) return anneal(s, a, m, (step - 0.0) / (end1 - 0.0));
    return anneal(s, m, z, (step - end1) / (end2 - end1));
}

double bp_schedule_lr(const bp_schedule *s, double lr0, int64_t t) {
    if (!s) return lr0;
    if (s->kind == BP_SCHED_ONECYCLE) {
        double max_lr = s->max_lr > 0 ? s->max_lr : lr0;
        double initial = max_lr / s->div_factor, min_lr = initial / s->final_div_factor;
        return onecycle(s, initial, max_lr, min_lr, t);
    }
    int64_t W = s->warmup_steps;
    /* LinearLR with end_factor 1: the factor climbs from start_factor by
     * (1 - start_factor) / W a step and reaches 1 at t = W. */
    if (t < W)
        return lr0 * (s->start_factor + (1 - s->start_factor) * (double)t / (double)W);
    int64_t u = t - W;
    switch (s->kind) {
        /* StepLR: gamma once every step_size steps. */
        case BP_SCHED_STEP: return lr0 * pow(s->gamma, (double)(u / s->step_size));
        /* ExponentialLR: gamma every step. */
        case BP_SCHED_EXP: return lr0 * pow(s->gamma, (double)u);
        /* CosineAnnealingLR: half a cosine from lr0 at u = 0 to eta_min at
         * u = t_max, written as PyTorch's closed form writes it. */
        case BP_SCHED_COSINE:
            return s->eta_min +
                   (lr0 - s->eta_min) * (1 + cos(PI * (double)u / (double)s->t_max)) / 2;
        default: return lr0;
    }
}

double bp_schedule_momentum(const bp_schedule *s, int64_t t) {
    if (!s || s->kind != BP_SCHED_ONECYCLE || !s->cycle_momentum) return NAN;
    return onecycle(s, s->max_momentum, s->base_momentum, s->max_momentum, t);
}
