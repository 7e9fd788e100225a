-- 12.sql: schema version 12 (step 11 -> 12): when a run's steps were
-- reached, so that a metric can be drawn against wall time (the dashboard's
-- x axis, `backprop plot --x time`). Before this step the run log kept a
-- run's start and end alone, and a value's time was estimated at a steady
-- pace between them; a run recorded before it still is (and says so).
--
-- The writer thread adds the rows in each commit of metric rows (writer.c):
-- for each series in the commit, its greatest step and the time the commit
-- took its rows, which is at most a quarter of a second (the writer's
-- FLUSH_AGE) after that step was logged. A series thus gets a row per
-- commit it has rows in, at most about 20 a second whatever its rate, and
-- its steps between two rows are placed by interpolation
-- (bp_runlog_time_axis, runlog/step_times.c). A commit that logs a step
-- again (a resumed run) replaces its time.

CREATE TABLE step_times( -- a row per series per commit of its metric rows
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  name_id INTEGER NOT NULL, -- a metric_names.id
  step INTEGER NOT NULL,    -- the series' greatest step in the commit
  time REAL NOT NULL,       -- when the commit took the rows
  PRIMARY KEY (run_id, name_id, step)) WITHOUT ROWID;
