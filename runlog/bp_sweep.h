/* bp_sweep.h: what a sweep is made of: its specification and its trials.
 *
 * A specification is a list of parameters, each swept over a list of values
 * (a grid: every combination) or drawn from a distribution (random search:
 * a number of trials). Trial i is a pure function of the specification, the
 * sweep's seed and i, never of the trials run before it, so a sweep can be
 * resumed, run in parallel, or split across machines (--plan, --trial) and
 * give the same trials with the same seeds. Values are carried as the
 * strings a user would type (`lr=0.01`), which is exactly what the trial's
 * script receives through bp.param. No SQLite and no processes here: the
 * runner is in cli/sweep_runner.c. It lives in runlog/ so that a trial's
 * own bp.suggest (bindings/) reads the specifications the command line
 * does.
 *
 * Define-by-run: with --trials N a sweep may be given no parameters at all,
 * its script declaring them as it reads them (bp.suggest(name, SPEC,
 * default)); the supervisor learns them from the trials (the sweep's space
 * in the run log) and adds them to the specification it proposes from, as
 * parameters marked suggested. */
#ifndef BP_SWEEP_H
#define BP_SWEEP_H

#include <stddef.h>
#include <stdint.h>

#include "bp_err.h"

typedef enum bp_sweep_kind {
    BP_SWEEP_LIST,       /* a,b,c: grid values (a choice in random search) */
    BP_SWEEP_UNIFORM,    /* uniform:LO:HI, a real in [LO, HI) */
    BP_SWEEP_LOGUNIFORM, /* loguniform:LO:HI, log-uniform in [LO, HI), 0 < LO */
    BP_SWEEP_INT,        /* int:LO:HI, an integer in LO..HI inclusive */
    BP_SWEEP_CHOICE,     /* choice:a,b,c, one of the values */
} bp_sweep_kind;

typedef struct bp_sweep_param {
    char *key;
    bp_sweep_kind kind;
    int n;         /* LIST and CHOICE: the number of values */
    char **values; /* LIST and CHOICE */
    double lo, hi; /* UNIFORM, LOGUNIFORM, INT */
    /* key?=SPEC on the command line: some trials never read key (a
     * conditional parameter), which is then no typo; written back so. */
    int conditional;
    /* Learned from the script's bp.suggest (the sweep's space, not its
     * command line): drawn from a stream of its own (bp_sweep_suggested_value)
     * and left out of the canonical text. */
    int suggested;
} bp_sweep_param;

/* How a search with --trials N picks its settings. Random trials are pure
 * functions of the seed and the index; TPE's (cli/bp_tpe.h, wired in
 * cli/sweep_tpe.c) also depend on the trials finished before, which the
 * runner reads from the run log: no --plan or --trial shards then. */
typedef enum bp_sweep_sampler {
    BP_SAMPLER_RANDOM, /* the default */
    BP_SAMPLER_TPE,    /* "tpe": one estimator per parameter */
    BP_SAMPLER_TPE_MV, /* "tpe:multivariate": one joint estimator */
} bp_sweep_sampler;

typedef struct bp_sweep_spec {
    int n;                    /* parameters */
    bp_sweep_param *params;   /* in the order given */
    int64_t trials;           /* random search: how many; 0 for a grid */
    uint64_t seed;            /* the sweep's seed */
    bp_sweep_sampler sampler; /* with trials > 0 */
    int64_t repeats;          /* runs of each setting, 0 or 1: one (--repeats K) */
} bp_sweep_spec;

/* An empty specification (a grid of one trial, seed 0). NULL if out of
 * memory. Free with bp_sweep_spec_free, which accepts NULL. */
bp_sweep_spec *bp_sweep_spec_new(void);
void bp_sweep_spec_free(bp_sweep_spec *s);

/* Adds one parameter from its command-line form, "key=SPEC" where SPEC is
 * one of the forms of bp_sweep_kind ("key?=SPEC": a conditional one). Returns -1, adding nothing, with a
 * message naming the argument: an empty list or value, an unknown
 * distribution, a bound that is not a number, LO > HI, LO <= 0 for
 * loguniform, non-integer bounds for int, a key given twice, or a space
 * anywhere (so that the canonical line below splits back into arguments). */
int bp_sweep_spec_add(bp_sweep_spec *s, const char *arg, bp_err *e);

/* The sampler named `text` ("random", "tpe" or "tpe:multivariate") into
 * *out; -1 with a message naming it and the choices otherwise. */
int bp_sweep_sampler_parse(const char *text, bp_sweep_sampler *out, bp_err *e);

/* The sampler's name, as bp_sweep_sampler_parse reads it. */
const char *bp_sweep_sampler_name(bp_sweep_sampler s);

/* Whether the specification is complete: a random search (trials > 0)
 * or a grid (trials == 0, every parameter a list). A distribution without
 * --trials, a sampler other than random without --trials, a grid of
 * more than 10^6 trials, or no parameter without --trials (a random or TPE
 * search may have none: its script suggests them), is an error. */
int bp_sweep_spec_check(const bp_sweep_spec *s, bp_err *e);

/* The number of trials: the settings (the grid's product of list
 * lengths, or trials) times the repeats. Trial i runs setting i / repeats
 * for the (i % repeats)-th time. */
int64_t bp_sweep_count(const bp_sweep_spec *s);

/* The runs of each setting, at least 1. */
int64_t bp_sweep_repeats(const bp_sweep_spec *s);

/* "grid", or the sampler's name ("random", "tpe", "tpe:multivariate"). */
const char *bp_sweep_strategy(const bp_sweep_spec *s);

/* Trial i (0-based, below bp_sweep_count) as s->n strings "key=value" in
 * the order of the parameters, written into kv[0..n-1], each malloc'd for
 * the caller to free: the setting i / repeats, the same for each repeat. A
 * grid varies the last parameter fastest. A random setting draws from a
 * generator seeded by (s->seed, the setting's index) alone. Returns -1 if i
 * is out of range or memory runs out (nothing to free then). */
int bp_sweep_trial(const bp_sweep_spec *s, int64_t i, char **kv, bp_err *e);

/* A random value of the suggested parameter p in setting `setting` of a
 * sweep seeded `seed`, as the string a user would type: drawn from a
 * generator of p's own (the seed, the setting and p's key), so the
 * supervisor that proposes it and a trial that draws it itself (a name it
 * suggests that the sweep did not know yet) agree. Written into out, or
 * one of p's own values returned. */
const char *bp_sweep_suggested_value(char *out, size_t size, const bp_sweep_param *p,
                                     uint64_t seed, int64_t setting);

/* p's SPEC as the command line writes it ("loguniform:0.0001:1",
 * "choice:sgd,adam", "0.1,0.2"), numbers in their shortest exact form;
 * malloc'd, NULL if out of memory. */
char *bp_sweep_param_text(const bp_sweep_param *p);

/* Whether the value v (a string, as typed) lies in p's space: one of its
 * values (the same number counts: 0.10 for 0.1), or a number within
 * [LO, HI], an integer for int. -1 with "parameter KEY: 'V' is out of
 * range (SPEC)", "... is not a number (SPEC)", "... is not an integer
 * (SPEC)" or "... is not one of SPEC" otherwise. */
int bp_sweep_param_check(const bp_sweep_param *p, const char *v, bp_err *e);

/* The seed of a grid's trial: a hash of the sweep's seed and the trial's
 * "key=value" strings (in any order: they are sorted first), in [0, 2^63).
 * The same parameters in the same sweep always get the same seed. */
uint64_t bp_sweep_trial_seed(uint64_t sweep_seed, int n, char *const *kv);

/* The seed of setting `setting` of a sweep with --trials N (random search
 * or TPE): a hash of the sweep's seed and the index, in [0, 2^63). Not of
 * the parameters, as a grid's is: a sampled setting's parameters may not
 * all be known when it starts (names its script suggests, which it may
 * draw itself), and two settings never share a seed. */
uint64_t bp_sweep_setting_seed(uint64_t sweep_seed, int64_t setting);

/* The seed of a setting's repeat r (0-based): r = 0 keeps the trial's seed
 * (so a sweep without repeats is unchanged), each other r a hash of it and
 * r, in [0, 2^63). */
uint64_t bp_sweep_repeat_seed(uint64_t trial_seed, int64_t repeat);

/* The specification as one canonical line ("lr=0.1,0.2 hidden=int:2:8
 * --trials 30 --seed 7", then " --sampler tpe" unless random and
 * " --repeats K" when K > 1), to store and show; numbers in the shortest
 * form that reads back as the same double; malloc'd, NULL if out of
 * memory. */
char *bp_sweep_spec_text(const bp_sweep_spec *s);

/* The specification a canonical line describes (a sweep's stored spec, for
 * --resume), checked by bp_sweep_spec_check. NULL, with a message, when the
 * line is not one. Free with bp_sweep_spec_free. */
bp_sweep_spec *bp_sweep_spec_parse(const char *text, bp_err *e);

#endif
