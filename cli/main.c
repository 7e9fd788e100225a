/* main.c: the `backprop` program: one table of commands, from which the
 * dispatch, `backprop --help` and every command's `--help` come.
 *
 * A row gives a command's name, whether it runs Lua (run, lua, repl, sweep:
 * those run inside the Lua host, bp_host.h; the others only read or write
 * the run log and start no Lua state), the function, its usage lines and
 * its help. Nothing else in the program lists the commands, so a new
 * command is one row and one function (docs/ARCHITECTURE.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lua.h>

#include "bp_cli.h"
#include "bp_gemm.h"
#include "bp_host.h"
#include "bp_plot.h"
#include "bp_repl.h"
#include "bp_sweeprun.h"

/* A command's function: argv[1] is its name, argv[2..] its arguments; L is
 * the host's state for a command that needs Lua, NULL otherwise. Returns the
 * exit status. */
typedef int (*command_fn)(lua_State *L, int argc, char **argv);

typedef struct command {
    const char *name; /* "sweep show": a subcommand, run by its command's function */
    int group;        /* its heading in `backprop --help`: groups[] */
    int needs_lua;    /* run inside bp_host_main */
    int script_args;  /* the arguments after its first operand are a script's own,
                         --help among them included (lua FILE --verbose) */
    command_fn run;
    const char *usage;   /* synopsis lines, each without "backprop " */
    const char *summary; /* what `backprop --help` says under the usage */
    const char *help;    /* what `backprop NAME --help` adds */
} command;

static const char *const groups[] = {
    "experiments",
    "sweeps (each trial a run of its own; README.md has the details)",
    "the run log (--db PATH, else $BACKPROP_DB, else results/runs.db)",
    "plots (PNG or SVG, by the file's extension)",
};

/* The commands that take the run log's path and print their own errors. */
static int status_of(int rc) { return rc ? EXIT_FAILURE : EXIT_SUCCESS; }
#define LOG_COMMAND(fn, cli)                                             \
    static int fn(lua_State *L, int argc, char **argv) {                 \
        (void)L;                                                         \
        return status_of(cli(NULL, argc - 2, argv + 2, stdout, stderr)); \
    }
LOG_COMMAND(c_runs, bp_cli_runs)
LOG_COMMAND(c_show, bp_cli_show)
LOG_COMMAND(c_query, bp_cli_query)
LOG_COMMAND(c_rm, bp_cli_rm)
LOG_COMMAND(c_export, bp_cli_export)
LOG_COMMAND(c_check, bp_cli_check)
LOG_COMMAND(c_ui, bp_cli_ui)

static int c_merge(lua_State *L, int argc, char **argv) {
    (void)L;
    return status_of(bp_merge_main(argc - 2, argv + 2, stdout, stderr));
}

static int c_plot(lua_State *L, int argc, char **argv) {
    (void)L;
    return status_of(bp_plot_main(argc - 2, argv + 2, stdout, stderr));
}

static int c_repl(lua_State *L, int argc, char **argv) {
    (void)argc, (void)argv;
    return bp_repl(L, bp_host_repl_signals);
}

static const command commands[] = {
    {"run", 0, 1, 0, bp_cmd_run,
     "run [--seed N] [--name NAME] [--db PATH] [--quiet] SCRIPT [key=value ...]\n"
     "run --resume ID [--db PATH]",
     "run an experiment and record it; each key=value reaches the script\n"
     "through bp.param(key, default); on a terminal a progress line shows\n"
     "on stderr (--quiet: none). Limits: --max-memory SIZE (512M, 2G) and\n"
     "--time-limit T (90, 30s, 5m, 2h) stop the script with a clear error.\n"
     "--resume ID goes on with a killed or interrupted run from its latest\n"
     "bp.checkpoint",
     "Runs SCRIPT, a Lua experiment, and records it in the run log: its\n"
     "parameters, every metric it logs, its snapshots and how it ended\n"
     "(completed, failed, diverged, interrupted). A key the script never reads\n"
     "with bp.param fails the run: \"parameter given but never read\".\n"
     "\n"
     "options:\n"
     "  --seed N           the seed of the run's generator (default 1)\n"
     "  --name NAME        the run's name (default: the script's file name)\n"
     "  --db PATH          the run log (default $BACKPROP_DB, else results/runs.db)\n"
     "  --quiet            no progress line\n"
     "  --max-memory SIZE  stop the script when what it allocates passes SIZE\n"
     "                     (default: 3/4 of the machine's memory; none: no limit)\n"
     "  --time-limit T     stop the script after T\n"
     "  --resume ID        run ID again as the same run, with its own script text,\n"
     "                     parameters and seed; bp.resume{...} puts back its latest\n"
     "                     checkpoint\n"
     "  --sweep ID --trial I   how `backprop sweep` starts its trials\n"
     "\n"
     "exit status: 0 when the script completed, 128 + the signal when SIGINT or\n"
     "SIGTERM stopped it, 1 otherwise.\n"},
    {"lua", 0, 1, 1, bp_cmd_lua, "lua FILE [args ...]",
     "run a plain Lua file with the backprop module (nothing is recorded)",
     "Runs FILE with the backprop module loaded, as the stock lua5.4 would run\n"
     "it with the module on its path: nothing is recorded, bp.param returns its\n"
     "defaults. The global `arg` holds FILE at 0 and the arguments after it.\n"},
    {"repl", 0, 1, 0, c_repl, "repl   (or backprop alone, on a terminal)",
     "an interactive Lua prompt with the module loaded as bp",
     "Each line runs as soon as it is complete, and every value it returns is\n"
     "printed readably (bp.show): a network as its layers and shapes, a small\n"
     "matrix as rows. Ctrl-C stops a line, not the prompt; Ctrl-D ends it.\n"},
    {"sweep", 1, 1, 0, bp_cmd_sweep,
     "sweep [--db PATH] [--name NAME] [-j N] [--trials N] [--repeats K] [--seed S]\n"
     "      [--sampler random|tpe|tpe:multivariate]\n"
     "      [--objective [min:|max:]METRIC] [--prune RULE[:startup=N][:warmup=STEP]]\n"
     "      [--spec FILE.lua] [-v] SCRIPT key=SPEC ...\n"
     "sweep --resume ID [--db PATH] [-j N]\n"
     "sweep --plan [--shard-db PATTERN] [--shards N] [options] SCRIPT key=SPEC ...\n"
     "sweep --trial I [options] SCRIPT key=SPEC ...\n"
     "sweep --slurm FILE [--partition P] [--time T] [--cpus-per-task N] [--mem M]\n"
     "      [--account A] [--sbatch LINE]... [--throttle N] [--retry failed]\n"
     "      [--shard-dir DIR] [--rounds R --per-round K] [--submit] [options]\n"
     "      SCRIPT key=SPEC ...\n"
     "sweep --parallel FILE [--retry failed] [--shard-dir DIR] [options] SCRIPT key=SPEC ...\n"
     "sweep --task I [--setting 'k=v ...'] [--shard-dir DIR] [options] SCRIPT key=SPEC ...",
     "SPEC: a,b,c (grid), uniform:LO:HI, loguniform:LO:HI, int:LO:HI or choice:a,b,c\n"
     "(random search, with --trials N)",
     "Runs SCRIPT over many settings of its parameters, each setting (a trial)\n"
     "a recorded run in a process of its own. A grid takes every combination of\n"
     "the lists; --trials N draws N settings instead. Each trial's seed is a\n"
     "hash of the sweep's seed and its parameters, so a trial gives the same\n"
     "bits alone, in parallel, resumed or on another machine.\n"
     "\n"
     "options:\n"
     "  --db PATH          the run log (default $BACKPROP_DB, else results/runs.db)\n"
     "  --name NAME        the sweep's name (default: the script's)\n"
     "  -j N, --jobs N     trials at once (default: the number of cores)\n"
     "  --trials N         random search with N trials\n"
     "  --repeats K        run each setting K times with K seeds (the same data\n"
     "                     seed), judged by the mean (default 1)\n"
     "  --seed S           the sweep's seed (default 1)\n"
     "  --sampler NAME     how --trials draws settings: random (default), tpe or\n"
     "                     tpe:multivariate (from the trials finished so far)\n"
     "  --objective [min:|max:]METRIC   what is judged: the metric's value at its\n"
     "                     last step (default min:loss)\n"
     "  --prune RULE       median[:K], halving[:S[:ETA]] or hyperband[:S[:R|auto[:ETA]]]:\n"
     "                     stop trials early on what the script reports with\n"
     "                     bp.report (off by default); :startup=N waits for N\n"
     "                     completed trials (default 5), :warmup=STEP for that step\n"
     "                     (default: never at a trial's first report)\n"
     "  --spec FILE.lua    the sweep written in Lua; the command line's options win\n"
     "  -v                 show the trials' own output\n"
     "  --resume ID        run the trials of sweep ID that did not complete\n"
     "  --plan             print one command per trial (for GNU parallel, Slurm),\n"
     "                     each into --shard-db PATTERN (%d: the shard) of --shards N\n"
     "  --trial I          run trial I alone into --db\n"
     "  --slurm FILE       write FILE, a Slurm job array of the trials not done in\n"
     "                     --db nor in the shard folder, and FILE-merge.sh, which\n"
     "                     merges them (afterany) and reports what did not finish;\n"
     "                     with --partition, --time, --cpus-per-task (default 1),\n"
     "                     --mem, --account, --sbatch LINE (an #SBATCH line of\n"
     "                     your own), --throttle N (N tasks at once)\n"
     "  --submit           with --slurm: sbatch both, print the job ids\n"
     "  --rounds R --per-round K   with --slurm and a model-based --sampler: R\n"
     "                     arrays of K trials, each proposed from what is merged,\n"
     "                     its merge job proposing and submitting the next\n"
     "                     (--after-round I: the merge job's own, after round I)\n"
     "  --parallel FILE    the same as a script for GNU parallel: bash FILE [JOBS]\n"
     "  --retry failed     run the trials that failed or diverged again too\n"
     "  --task I           trial I as a cluster task: into $TMPDIR, copied into the\n"
     "                     shard folder when it ends; a trial completed already\n"
     "                     runs nothing (exit 0); --setting: its round's proposal\n"
     "  --shard-dir DIR    the shard folder (default: shards beside --db)\n"
     "  show [ID]          the sweeps; with ID its trials ranked, and per\n"
     "                     parameter value the best and mean objective (--csv)\n"
     "  status             the sweeps of --db and the shard folder: done, running,\n"
     "                     failed, stopped, pending, best\n"
     "\n"
     "exit status: 0 when the sweep ran to the end with at least one completed\n"
     "trial (--trial: once the trial's outcome is recorded; --task: when the\n"
     "trial completed or was pruned, now or before), 128 + the signal when\n"
     "SIGINT or SIGTERM stopped it, 1 otherwise.\n"},
    {"sweep status", 1, 0, 0, NULL, "sweep status [--db PATH] [--shard-dir DIR] [UID]",
     "a cluster sweep's progress, read from --db and the shard folder",
     "For each sweep of the run log and the shard folder (default: shards beside\n"
     "--db), or the one whose uid is UID: its trials done, running, failed,\n"
     "stopped (cancelled or crashed) and pending, which they are, and the best\n"
     "so far, without merging. Every database is only read, and no -wal or\n"
     "-shm file is left beside it. Exit status 0 when every trial is done, 2\n"
     "when some are not, 1 on an error.\n"},
    {"sweep show", 1, 0, 0, NULL, "sweep show [ID] [--csv] [--db PATH]",
     "the sweeps; with ID, its trials ranked and the objective per parameter value",
     "Without ID, every sweep, newest first: id, name, status, strategy, trials\n"
     "done, objective, best, start. With ID, the sweep's record, its trials\n"
     "ranked by the objective (best first; trials not completed come last), and\n"
     "for each swept parameter and value the number of completed trials and the\n"
     "best and mean objective. --csv prints the trials table alone, numbers\n"
     "exact.\n"},
    {"merge", 1, 0, 0, c_merge, "merge OUT.db IN.db|DIR ...",
     "put the databases of a sweep's shards (or any run logs) together",
     "Copies into OUT.db (created if missing) every sweep and run of each IN.db\n"
     "that it does not hold yet, known by their uids, with everything they\n"
     "logged; ids are renumbered. Runs still running in an input are left out:\n"
     "merge again once they end. Each input is merged whole or not at all, and\n"
     "merging the same input twice adds nothing. A folder stands for its .db\n"
     "files (a sweep's shard folder). A trial completed in OUT.db already is\n"
     "not merged again: a note on its run records the duplicate attempt. The\n"
     "inputs are only read, and no -wal or -shm file is left beside them.\n"},
    {"runs", 2, 0, 0, c_runs,
     "runs [--status S] [--name GLOB] [--param 'KEY<OP>VALUE'] [--limit N | --all]",
     "the latest runs, one line each",
     "Recent runs, newest first (20 unless --limit N or --all), one line each:\n"
     "id, name, status, parameters, final and best loss, steps, duration.\n"
     "--status S (repeatable) keeps runs of that status, --name GLOB runs whose\n"
     "name matches, --param KEY<OP>VALUE (repeatable; OP one of = != < <= > >=)\n"
     "runs whose parameter compares so, as a number when VALUE is one:\n"
     "  backprop runs --param 'lr<0.05' --param hidden=4\n"},
    {"show", 2, 0, 0, c_show, "show ID", "one run whole",
     "One run whole: its record, parameters, tags, notes, error and traceback,\n"
     "every metric summarised, the loss curve at about ten steps, and its\n"
     "snapshots.\n"},
    {"query", 2, 0, 0, c_query, "query [--csv | --json] [--timeout S] \"SQL\"",
     "SQL on the run log, read only",
     "Runs SQL (the arguments joined by spaces) on a read-only connection with\n"
     "bp_weights loaded, and prints an aligned table (--table, the default, in\n"
     "blocks of 1000 rows, each aligned to the widest cells so far), CSV with a\n"
     "header line (--csv), or a JSON array of objects (--json; NaN, Inf and\n"
     "NULL are null, BLOBs hex strings), as the rows come. Anything but reading\n"
     "is refused (writes, ATTACH, VACUUM, PRAGMAs that set something,\n"
     "load_extension, fts3_tokenizer), and the SQL stops after S seconds in\n"
     "SQLite (--timeout, default 60; 0 for no limit). README.md documents the\n"
     "schema and its views, with example queries.\n"},
    {"rm", 2, 0, 0, c_rm, "rm [--force] [--yes] ID|FIRST-LAST[,...]...", "delete runs",
     "Deletes runs with everything they logged, all or none. Runs are named\n"
     "by ids, ranges (3-5: the runs that exist from 3 to 5) and lists of both\n"
     "(3,7-9). On a terminal the runs are listed and a y asked for, unless\n"
     "--yes (-y); when stdin is not a terminal nothing is deleted without\n"
     "--yes. A run still running needs --force.\n"},
    {"check", 2, 0, 0, c_check, "check [--summaries] [ID...]",
     "the metric summaries against their rows",
     "Rebuilds from the metric rows the summaries the writer keeps with them\n"
     "(a row per run and metric, which runs, show and sweep show read, and a\n"
     "row per 256 steps of a series, which a reduced series reads), for every\n"
     "run or the runs named, and compares. Exit 1, naming the first\n"
     "difference, when any differs.\n"},
    {"ui", 2, 0, 0, c_ui, "ui [--port N] [--host ADDRESS] [--sql-timeout S]",
     "the run log in a browser, read only, live",
     "Serves the run log as a web page, read only, and prints its address:\n"
     "the runs (sorted, filtered by status, name and parameters such as\n"
     "lr < 0.05, paged), a run with every metric charted, runs compared,\n"
     "sweeps, a snapshot's weights, and a box for read-only SQL (stopped\n"
     "after --sql-timeout seconds, default 5; 1000 rows shown). Running runs\n"
     "update every 2 seconds.\n"
     "The database is opened read-only and never changed. --port (default\n"
     "8080; 0: any free port) and --host (default 127.0.0.1, loopback only;\n"
     "another address is warned about: anyone reaching it reads everything).\n"
     "Ctrl-C stops it.\n"},
    {"export", 2, 0, 0, c_export, "export ID [--csv | --json] [-o FILE]",
     "a run's metrics and parameters as CSV or JSON",
     "A run's metrics as CSV (--csv, the default): first the run's record and\n"
     "parameters as comment lines (# name: xor, # param lr = 0.1), which\n"
     "pandas.read_csv(comment=\"#\") skips, then a column `step` and one column\n"
     "per metric (sorted by name); an empty cell where a metric was not\n"
     "logged; NaN and infinities as nan, inf, -inf. --json: one object with\n"
     "the run's record (\"run\"), its parameters typed (\"params\") and each\n"
     "metric's steps and values (\"metrics\"); NaN is null, infinities\n"
     "\"Infinity\" and \"-Infinity\". -o FILE writes to FILE instead of stdout.\n"},
    {"plot", 3, 0, 0, c_plot,
     "plot RUN... [--metric NAME]... [--smooth W] [--x step|epoch|time] [--log-x] [--log-y]\n"
     "            -o FILE.png|FILE.svg\n"
     "plot --sweep ID --param KEY [--log-x] [--log-y] -o FILE.png|FILE.svg",
     "(both: [--title TEXT] [--size WxH])",
     "The first form draws metric NAME (default loss; --metric again for more,\n"
     "train_loss and val_loss on one chart) against the step, a curve per run\n"
     "and metric, overlaid, with a legend below the plot of the parameters\n"
     "that differ between the runs. --smooth W smooths each curve as\n"
     "TensorBoard does (a debiased exponential moving average of weight W, 0\n"
     "to below 1), the raw points faint behind. --x time puts the time since\n"
     "the run began on the x axis, interpolated between the times the writer\n"
     "recorded (a run from before schema 12: estimated from its start and\n"
     "end, and the axis says so). The second draws the objective of each\n"
     "trial of sweep ID against its parameter KEY, the best trial starred.\n"
     "--size defaults to 800x500. What cannot be drawn (NaN, infinities,\n"
     "values <= 0 on a log axis) is left out and counted in the legend. FILE\n"
     "is written only once the picture is complete.\n"},
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

/* The command called name, or its subcommand sub (may be NULL) when it
 * has one of that name. */
static const command *find(const char *name, const char *sub) {
    const command *c = NULL;
    for (size_t k = 0; k < N_COMMANDS && !c; k++)
        if (commands[k].run && !strcmp(commands[k].name, name)) c = &commands[k];
    size_t n = strlen(name);
    for (size_t k = 0; c && sub && k < N_COMMANDS; k++)
        if (!commands[k].run && !strncmp(commands[k].name, name, n) &&
            commands[k].name[n] == ' ' && !strcmp(commands[k].name + n + 1, sub))
            return &commands[k];
    return c;
}

/* Each line of text after `indent`; with `usage`, "backprop " before each
 * line, or as many spaces before a line that goes on the one above (one
 * that starts with a space). */
static void lines(FILE *f, const char *text, const char *indent, int usage) {
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, "\n");
        const char *lead = !usage ? "" : *p == ' ' ? "         " : "backprop ";
        fprintf(f, "%s%s%.*s\n", indent, lead, (int)n, p);
        p += n + (p[n] == '\n');
    }
}

static void usage(FILE *f) {
    fputs("usage: backprop COMMAND [options] [arguments]\n", f);
    for (int g = 0; g < (int)(sizeof groups / sizeof groups[0]); g++) {
        fprintf(f, "\n%s:\n", groups[g]);
        for (size_t k = 0; k < N_COMMANDS; k++) {
            if (commands[k].group != g) continue;
            lines(f, commands[k].usage, "  ", 1);
            lines(f, commands[k].summary, "      ", 0);
        }
    }
    fputs("\n  backprop --help | --version | COMMAND --help\n"
          "\n"
          "The Lua API, the database schema and example queries are in README.md.\n",
          f);
}

static void command_help(FILE *f, const command *c) {
    fputs("usage:\n", f);
    lines(f, c->usage, "  ", 1);
    fprintf(f, "\n%s", c->help);
}

static int wants_help(const char *arg) {
    return arg && (!strcmp(arg, "--help") || !strcmp(arg, "-h"));
}

/* Whether the arguments of command c (argv[from..]) ask for its help:
 * --help or -h anywhere before "--"; for a command whose arguments are a
 * script's own after the first (lua FILE), as that first one only. */
static int asks_help(const command *c, int argc, char **argv, int from) {
    for (int k = from; k < argc && !(c->script_args && k > from); k++) {
        if (!strcmp(argv[k], "--")) return 0;
        if (wants_help(argv[k])) return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    /* `backprop` alone: the prompt on a terminal, the usage elsewhere. */
    char *repl_argv[] = {argv[0], "repl", NULL};
    if (argc < 2 && isatty(STDIN_FILENO)) {
        argc = 2;
        argv = repl_argv;
    }
    if (argc < 2) {
        usage(stderr);
        return EXIT_FAILURE;
    }
    if (wants_help(argv[1]) || (!strcmp(argv[1], "help") && argc < 3)) {
        usage(stdout);
        return EXIT_SUCCESS;
    }
    if (!strcmp(argv[1], "--version")) {
        char f64[128], f32[128];
        bp_gemm_backend(f64, sizeof f64, BP_F64);
        bp_gemm_backend(f32, sizeof f32, BP_F32);
        printf("backprop %s (%s)\nfloat64 products: %s\nfloat32 products: %s\n",
               BP_VERSION, LUA_RELEASE, f64, f32);
        return EXIT_SUCCESS;
    }
    int help = !strcmp(argv[1], "help"); /* backprop help COMMAND [SUB] */
    const char *name = argv[1 + help];
    const command *c = find(name, NULL);
    if (!c) {
        fprintf(stderr, "backprop: unknown command '%s' (see backprop --help)\n", name);
        return EXIT_FAILURE;
    }
    if (help || asks_help(c, argc, argv, 2)) {
        command_help(stdout, find(name, argc > 2 + help ? argv[2 + help] : NULL));
        return EXIT_SUCCESS;
    }
    return c->needs_lua ? bp_host_main(argc, argv, c->run) : c->run(NULL, argc, argv);
}
