-- views.sql: the views, made again whenever the schema changes (after the
-- last step that ran). They use only SQLite's built-in functions, so the
-- stock shell reads them without any extension. Times show as
-- 'YYYY-MM-DD HH:MM:SS' UTC.

DROP VIEW IF EXISTS metrics_view;
DROP VIEW IF EXISTS loss_curve;
DROP VIEW IF EXISTS run_summary;
DROP VIEW IF EXISTS run_params;
DROP VIEW IF EXISTS sweep_trials;
DROP VIEW IF EXISTS sweep_param_stats;
DROP VIEW IF EXISTS sweep_settings;

-- (run_id, name, step, value, value_text, unit): metrics with their names;
-- value_text spells NaN, Inf and -Inf; unit says what step counts, 'step'
-- (training steps) or 'epoch' (since 8).
CREATE VIEW metrics_view AS
  SELECT m.run_id AS run_id, n.name AS name, m.step AS step,
    m.value AS value,
    CASE WHEN m.value IS NULL THEN 'NaN'
      WHEN m.value > 1.7976931348623157e308 THEN 'Inf'
      WHEN m.value < -1.7976931348623157e308 THEN '-Inf'
      ELSE CAST(m.value AS TEXT) END AS value_text,
    coalesce((SELECT u.unit FROM metric_units u WHERE u.run_id = m.run_id
      AND u.name_id = m.name_id), 'step') AS unit
  FROM metrics m JOIN metric_names n ON n.id = m.name_id;

-- (run_id, step, value, value_text): the metric 'loss'.
CREATE VIEW loss_curve AS
  SELECT run_id, step, value, value_text FROM metrics_view
  WHERE name = 'loss';

-- One row per run: id, name, status, script, started, ended, duration_s,
-- steps (the last training step at which anything was logged, or at which
-- an epoch ended; per-epoch series do not count, since 8), final_loss (the last
-- 'loss'; NULL if it was NaN), best_loss (the least 'loss'), params
-- ('hidden=4 lr=0.1', sorted by key), seed, host, pid, sweep_id and trial
-- (the last two since 3). The figures of the metrics come from
-- metric_summary (since 6), a row per run and metric, not from the rows;
-- params from runs.params_text (since 7), which triggers keep.
CREATE VIEW run_summary AS
  SELECT r.id AS id, r.name AS name, r.status AS status,
    r.script_path AS script,
    datetime(r.started, 'unixepoch') AS started,
    datetime(r.ended, 'unixepoch') AS ended,
    round(coalesce(r.ended, CASE WHEN r.status = 'running'
      THEN (julianday('now') - 2440587.5) * 86400.0 END) - r.started, 3)
      AS duration_s,
    (SELECT max(s) FROM (SELECT ms.last_step AS s FROM metric_summary ms
       WHERE ms.run_id = r.id AND NOT EXISTS (SELECT 1 FROM metric_units u
         WHERE u.run_id = r.id AND u.name_id = ms.name_id AND u.unit = 'epoch')
       UNION ALL SELECT max(x.step) FROM epochs x WHERE x.run_id = r.id))
      AS steps,
    (SELECT ms.last_value FROM metric_summary ms WHERE ms.run_id = r.id
     AND ms.name_id = (SELECT id FROM metric_names WHERE name = 'loss'))
      AS final_loss,
    (SELECT ms.min_value FROM metric_summary ms WHERE ms.run_id = r.id
     AND ms.name_id = (SELECT id FROM metric_names WHERE name = 'loss'))
      AS best_loss,
    r.params_text AS params,
    r.seed AS seed, r.host AS host, r.pid AS pid,
    r.sweep_id AS sweep_id, r.trial AS trial
  FROM runs r;

-- (run_id, name, status, key, value, type): every parameter with its run's
-- name and status.
CREATE VIEW run_params AS
  SELECT p.run_id AS run_id, r.name AS name, r.status AS status,
    p.key AS key, p.value AS value, p.type AS type
  FROM params p JOIN runs r ON r.id = p.run_id;

-- One row per trial of every sweep: sweep_id, trial, run_id, status, params
-- (the swept ones, 'lr=0.1 hidden=4'), objective (NULL if NaN or never
-- logged), seed, duration_s, attempts (how many times the trial was
-- started: its runs, each counted as often as it was started, which a
-- resumed run was more than once, since 11), and (since 9)
-- setting and repeat: trial i is setting i / K's repeat i % K, K the
-- sweep's repeats (1: setting = trial, repeat 0). Of a trial's attempts
-- (runs), the latest that ended with an outcome a resume keeps (completed,
-- failed, diverged, pruned), else the latest. The objective is the metric's
-- value at its last step.
CREATE VIEW sweep_trials AS
  SELECT sweep_id, trial, run_id, status, params, objective, seed,
    duration_s, attempts, setting, repeat FROM (
  SELECT r.sweep_id AS sweep_id, r.trial AS trial, r.id AS run_id,
    r.status AS status,
    (SELECT group_concat(kv, ' ') FROM (SELECT p.key || '=' ||
       CASE WHEN p.type = 'bool' THEN CASE WHEN p.value THEN 'true'
         ELSE 'false' END ELSE coalesce(p.value, 'nan') END AS kv,
       instr(' ' || s.keys || ' ', ' ' || p.key || ' ') AS pos
       FROM params p WHERE p.run_id = r.id AND pos > 0
       ORDER BY pos)) AS params,
    (SELECT ms.last_value FROM metric_summary ms WHERE ms.run_id = r.id
     AND ms.name_id = (SELECT id FROM metric_names n WHERE n.name = s.objective))
      AS objective,
    r.seed AS seed, round(r.ended - r.started, 3) AS duration_s,
    sum(r.attempts) OVER (PARTITION BY r.sweep_id, r.trial) AS attempts,
    r.trial / s.repeats AS setting, r.trial % s.repeats AS repeat,
    row_number() OVER (PARTITION BY r.sweep_id, r.trial ORDER BY
      r.status IN ('completed', 'failed', 'diverged', 'pruned') DESC,
      r.started DESC, r.id DESC) AS k
  FROM runs r JOIN sweeps s ON s.id = r.sweep_id
  WHERE r.trial IS NOT NULL) WHERE k = 1;

-- One row per setting of every sweep with a completed trial (since 9):
-- sweep_id, setting, trial (its first completed one), run_id (that trial's
-- run), params, repeats (its completed trials with an objective),
-- objective (their mean: what the setting is judged by) and objective_sd
-- (their sample standard deviation; NULL for one). Without --repeats a
-- setting is a trial, and its objective the trial's.
CREATE VIEW sweep_settings AS
  SELECT g.sweep_id AS sweep_id, g.setting AS setting, g.trial AS trial,
    t.run_id AS run_id, t.params AS params, g.repeats AS repeats,
    g.objective AS objective, g.objective_sd AS objective_sd
  FROM (SELECT sweep_id, setting, min(trial) AS trial,
      count(objective) AS repeats, avg(objective) AS objective,
      CASE WHEN count(objective) > 1 THEN sqrt(max(0.0,
        (sum(objective * objective) - sum(objective) * sum(objective)
         / count(objective)) / (count(objective) - 1))) END AS objective_sd
    FROM sweep_trials WHERE status = 'completed' AND objective IS NOT NULL
    GROUP BY sweep_id, setting) g
  JOIN sweep_trials t ON t.sweep_id = g.sweep_id AND t.trial = g.trial;

-- (sweep_id, key, value, trials, best, mean, settings): per swept parameter
-- and value, over the completed trials: how many, the best setting's
-- objective (a setting's is the mean of its repeats; by the sweep's
-- direction), the mean over the trials, and (since 9) how many settings
-- they are (trials / settings: the repeats).
CREATE VIEW sweep_param_stats AS
  SELECT g.sweep_id AS sweep_id, p.key AS key, p.value AS value,
    sum(g.repeats) AS trials,
    CASE s.direction WHEN 'max' THEN max(g.objective)
      ELSE min(g.objective) END AS best,
    sum(g.objective * g.repeats) / sum(g.repeats) AS mean,
    count(*) AS settings
  FROM sweep_settings g JOIN sweeps s ON s.id = g.sweep_id
  JOIN params p ON p.run_id = g.run_id
  WHERE instr(' ' || s.keys || ' ', ' ' || p.key || ' ') > 0
  GROUP BY g.sweep_id, p.key, p.value;
