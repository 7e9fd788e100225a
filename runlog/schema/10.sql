-- 10.sql: schema version 10 (step 9 -> 10): text a run wrote at a step, by
-- name (bp.log_text): a sequence model's samples, so that "the sample of
-- every run of a sweep at the step where its validation loss was lowest"
-- is one SELECT joining texts to metrics on the step (issue 26).

CREATE TABLE texts( -- one row per text logged, in order
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  name TEXT NOT NULL,   -- what it is: 'sample'
  step INTEGER NOT NULL, -- the step it was taken at, as a metric's
  time REAL NOT NULL,
  text TEXT NOT NULL
);
CREATE INDEX texts_run ON texts(run_id, name, step);
