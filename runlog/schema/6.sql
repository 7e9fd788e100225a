-- 6.sql: schema version 6 (step 5 -> 6): each run's metrics summarised, so
-- that a table of runs reads a row per run and metric instead of every
-- metric row, and a long series reduced for a plot reads a row per 256
-- steps.
--
-- The writer thread keeps both tables in the transactions that commit the
-- metric rows (runlog/summary.c), so that they always agree with the rows:
-- `backprop check` compares them with a rebuild from the rows. A database
-- migrated to this version gets them filled from its rows as the migration
-- ends (runlog/summary.c, rl_summaries_fill). NaN is stored as NULL, as in
-- metrics; the least and greatest values leave NaN out, and the steps given
-- with them are the first at which they were reached.

CREATE TABLE metric_summary( -- one row per run and metric
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  name_id INTEGER NOT NULL, -- a metric_names.id
  count INTEGER NOT NULL, -- values logged (one per step)
  nan_count INTEGER NOT NULL, -- of which NaN
  first_step INTEGER NOT NULL,
  last_step INTEGER NOT NULL,
  last_value, -- the value at last_step (NULL: NaN)
  min_value, -- the least value that is not NaN (NULL: every value was NaN);
             -- untyped as metrics.value is, so that -0.0 keeps its sign
  min_step INTEGER, -- the first step at which it was logged
  max_value, -- the greatest
  max_step INTEGER,
  PRIMARY KEY (run_id, name_id)) WITHOUT ROWID;

CREATE TABLE metric_blocks( -- a series in blocks of 256 steps: block b holds
                            -- the steps 256 b to 256 b + 255 (b = step >> 8)
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  name_id INTEGER NOT NULL,
  block INTEGER NOT NULL,
  count INTEGER NOT NULL, -- then as metric_summary, over the block's steps
  nan_count INTEGER NOT NULL,
  first_step INTEGER NOT NULL,
  last_step INTEGER NOT NULL,
  min_value,
  min_step INTEGER,
  max_value,
  max_step INTEGER,
  PRIMARY KEY (run_id, name_id, block)) WITHOUT ROWID;
