"""tpe_search.py: Optuna's side of scripts/bench/tpe_search.sh, and the table.

  python3 tpe_search.py optuna TRIALS SEEDS OUT.csv   Optuna's RandomSampler,
      TPESampler and TPESampler(multivariate=True) on Branin and Hartmann6,
      TRIALS trials, seeds 1..SEEDS: one line "function,sampler,seed,best".
  python3 tpe_search.py table IN.csv...               median and quartiles
      of the best value per function and sampler, and each's ratio of
      medians of the distance to the minimum against Optuna's TPE's.

The functions are those of branin.lua and hartmann6.lua, term for term."""
import csv
import math
import statistics
import sys

MINIMUM = {"branin": 0.397887, "hartmann6": -3.32237}


def branin(x1, x2):
    b, c, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1 ** 2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


ALPHA = [1.0, 1.2, 3.0, 3.2]
A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
     [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
P = [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
     [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]]


def hartmann6(x):
    return -sum(ALPHA[i] * math.exp(-sum(A[i][j] * (x[j] - P[i][j] * 1e-4) ** 2
                                         for j in range(6))) for i in range(4))


def objective(name):
    if name == "branin":
        return lambda t: branin(t.suggest_float("x1", -5, 10), t.suggest_float("x2", 0, 15))
    return lambda t: hartmann6([t.suggest_float("x%d" % (j + 1), 0, 1) for j in range(6)])


def optuna_side(trials, seeds, out):
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    samplers = {
        "optuna-random": lambda s: optuna.samplers.RandomSampler(seed=s),
        "optuna-tpe": lambda s: optuna.samplers.TPESampler(seed=s),
        "optuna-tpe:multivariate": lambda s: optuna.samplers.TPESampler(seed=s, multivariate=True),
    }
    with open(out, "w") as f:
        for fn in ("branin", "hartmann6"):
            for name, make in samplers.items():
                for seed in range(1, seeds + 1):
                    study = optuna.create_study(sampler=make(seed))
                    study.optimize(objective(fn), n_trials=trials)
                    f.write("%s,%s,%d,%.17g\n" % (fn, name, seed, study.best_value))


def quartiles(v):
    q = statistics.quantiles(v, n=4, method="inclusive")
    return q[0], statistics.median(v), q[2]


def table(paths):
    best = {}
    for p in paths:
        with open(p) as f:
            for fn, sampler, _seed, value in csv.reader(f):
                best.setdefault((fn, sampler), []).append(float(value))
    for fn in ("branin", "hartmann6"):
        ref = best.get((fn, "optuna-tpe"))
        ref_gap = statistics.median(v - MINIMUM[fn] for v in ref) if ref else None
        print("%s (minimum %g): best value after the trials, over %d seeds"
              % (fn, MINIMUM[fn], len(next(v for k, v in best.items() if k[0] == fn))))
        print("  %-24s %10s %10s %10s %14s" % ("sampler", "q1", "median", "q3", "gap/optuna-tpe"))
        for (f2, sampler), v in sorted(best.items()):
            if f2 != fn:
                continue
            q1, med, q3 = quartiles(v)
            gap = statistics.median(x - MINIMUM[fn] for x in v)
            ratio = "%.2f" % (gap / ref_gap) if ref_gap else "-"
            print("  %-24s %10.4f %10.4f %10.4f %14s" % (sampler, q1, med, q3, ratio))


if __name__ == "__main__":
    if sys.argv[1] == "optuna":
        optuna_side(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    else:
        table(sys.argv[2:])
