-- 11.sql: schema version 11 (step 10 -> 11), issue 16: the search space a
-- sweep's script declares where it uses it (bp.suggest), and how many times
-- a run was started (a sweep's interrupted trial is resumed as the same run).
--
-- The space: A sweep given no
-- parameters on its command line learns them from its trials: the first
-- trial to suggest a name records its specification here, and the name is
-- appended to sweeps.keys, so that sweep_trials and sweep_param_stats show
-- it beside the command line's. One specification per name and sweep: a
-- trial that suggests a name with another is refused.

CREATE TABLE sweep_space( -- one row per name a sweep's script suggested
  sweep_id INTEGER NOT NULL REFERENCES sweeps(id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  spec TEXT NOT NULL, -- canonical, as bp_sweep_param_text writes it: 'loguniform:0.0001:1'
  trial INTEGER NOT NULL, -- the trial that suggested it first
  PRIMARY KEY (sweep_id, key)
);

-- How many times the run was started: 1, and one more each time `backprop
-- run --resume` took it up again (as `sweep --resume` does with a trial that
-- was interrupted or crashed, from its latest checkpoint). sweep_trials'
-- attempts add these up over a trial's runs.
ALTER TABLE runs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 1;
