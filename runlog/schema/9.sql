-- 9.sql: schema version 9 (step 8 -> 9), issue 16: a sweep's repeats
-- (`backprop sweep --repeats K`), and its strategy naming its sampler.
--
-- Each setting of a sweep runs K times with K seeds; trial i is setting
-- i / K's run number i % K, and the setting is judged by the mean of its
-- repeats' objectives (the view sweep_settings). Sweeps recorded before
-- have one run per setting. The strategy of a TPE sweep is its sampler's
-- name ('tpe', 'tpe:multivariate'), no longer 'random'.
--
-- A CHECK constraint cannot be altered, so sweeps is rebuilt as 3.sql
-- rebuilt runs: the views go first (renaming a table checks every view;
-- views.sql makes them again), and the migration has turned the foreign
-- keys off, so that dropping the old table leaves runs.sweep_id alone.
-- An old TPE sweep's strategy is put right from its stored spec.

DROP VIEW IF EXISTS metrics_view;
DROP VIEW IF EXISTS loss_curve;
DROP VIEW IF EXISTS run_summary;
DROP VIEW IF EXISTS run_params;
DROP VIEW IF EXISTS sweep_trials;
DROP VIEW IF EXISTS sweep_param_stats;
DROP VIEW IF EXISTS sweep_settings;

CREATE TABLE sweeps_8( -- one row per sweep; cli/bp_sweeprun.h runs them
  id INTEGER PRIMARY KEY,
  uid TEXT NOT NULL UNIQUE, -- FNV-1a 64 of the script's text, the spec, the
                            -- objective and the pruning rule, so that the
                            -- shards of one sweep run on several machines
                            -- (--plan, --trial) are one sweep again when their
                            -- databases are merged
  name TEXT NOT NULL,
  script_path TEXT, -- with script_id: the script as when the sweep began
  script_id INTEGER REFERENCES scripts(id),
  spec TEXT NOT NULL, -- the canonical specification (bp_sweep_spec_text)
  keys TEXT NOT NULL, -- the swept parameters, space-separated, in order
  strategy TEXT NOT NULL CHECK (strategy IN ('grid', 'random', 'tpe',
    'tpe:multivariate')), -- a grid, or how --trials N are drawn
  trials INTEGER NOT NULL, -- how many: settings * repeats
  seed INTEGER NOT NULL, -- the sweep's seed (its trials' data seed)
  objective TEXT NOT NULL, -- the metric judged (its value at its last step)
  direction TEXT NOT NULL CHECK (direction IN ('min', 'max')),
  prune TEXT, -- 'median:3:startup=5', ... (bp_prune.h), or NULL (off)
  status TEXT NOT NULL CHECK (status IN ('running', 'completed',
    'interrupted', 'failed', 'partial')), -- partial: a shard's, some trials
                                          -- ran elsewhere
  message TEXT, -- why it failed (or NULL)
  started REAL NOT NULL,
  ended REAL,
  claimed REAL, -- when the process running it now took it (it may be a resume)
  host TEXT, -- with pid: that process
  pid INTEGER,
  command TEXT, -- the command line that began it
  boot TEXT, -- the kernel's boot id where it runs (since 5)
  repeats INTEGER NOT NULL DEFAULT 1 CHECK (repeats >= 1)
    -- runs of each setting (--repeats K; since 8)
);

INSERT INTO sweeps_8(id, uid, name, script_path, script_id, spec, keys,
  strategy, trials, seed, objective, direction, prune, status, message,
  started, ended, claimed, host, pid, command, boot)
  SELECT id, uid, name, script_path, script_id, spec, keys,
    CASE WHEN spec LIKE '% --sampler tpe:multivariate%' THEN 'tpe:multivariate'
      WHEN spec LIKE '% --sampler tpe%' THEN 'tpe' ELSE strategy END,
    trials, seed, objective, direction, prune, status, message, started,
    ended, claimed, host, pid, command, boot
  FROM sweeps ORDER BY id;

DROP TABLE sweeps;
ALTER TABLE sweeps_8 RENAME TO sweeps;
