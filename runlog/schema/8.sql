-- 8.sql: schema version 8 (step 7 -> 8): each metric's unit, so that the
-- step of a metric means one thing. net:fit logs each batch's loss at the
-- batch count and each epoch's figures (train_loss, val_loss...) at the
-- epoch; before this step both were a "step", and `backprop export` put
-- epoch 3's val_loss in the row of batch step 3. Now every series says
-- whether its steps count batches (training steps) or epochs, readers keep
-- the two apart (`show` a table each, `export` an epoch column), and a run
-- logging one name in both units is refused when it logs (runlog/units.c).
--
-- The writer records a series' unit in the transaction of its first rows;
-- a series without a row here (written by hand in the sqlite3 shell) is in
-- steps. epochs maps a run's epoch to the training step at which it ended,
-- where the run said so (net:fit; bp.log{..., epoch = n} after training
-- steps), so that a per-epoch figure can be drawn against steps too.

CREATE TABLE metric_units( -- one row per run and metric
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  name_id INTEGER NOT NULL, -- a metric_names.id
  unit TEXT NOT NULL CHECK (unit IN ('step', 'epoch')), -- what metrics.step counts
  PRIMARY KEY (run_id, name_id)) WITHOUT ROWID;

CREATE TABLE epochs( -- one row per epoch of a run that said where it ended
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  epoch INTEGER NOT NULL,
  step INTEGER NOT NULL, -- the training steps taken when the epoch ended
  PRIMARY KEY (run_id, epoch)) WITHOUT ROWID;

-- The series recorded before this step get a unit guessed from what net:fit
-- wrote per epoch: a series is per epoch when its name is one fit gives an
-- epoch's figures (train_loss, or NAME_loss, NAME_accuracy,
-- NAME_confusion_I_J of a validation set: val_loss, test_accuracy...; and
-- accuracy) and its steps are exactly 1, 2, ..., n, as fit numbers a run's
-- epochs. Everything else is per step. A script that logged such a name at
-- every batch from step 1 (char_rnn.lua's train_loss) is guessed wrong:
-- `UPDATE metric_units SET unit = 'step' WHERE ...` in the sqlite3 shell
-- puts it right. Old runs get no epochs rows: where their epochs ended was
-- never recorded. The series come from the summaries; a database migrated
-- from before version 6 has none yet (they are filled as the migration
-- ends), so its rows are grouped instead.
WITH series(run_id, name_id, count, first_step, last_step) AS (
  SELECT run_id, name_id, count, first_step, last_step FROM metric_summary
  UNION ALL
  SELECT run_id, name_id, count(*), min(step), max(step) FROM metrics
  WHERE NOT EXISTS (SELECT 1 FROM metric_summary) GROUP BY run_id, name_id)
INSERT INTO metric_units(run_id, name_id, unit)
  SELECT s.run_id, s.name_id,
    CASE WHEN (n.name LIKE '%\_loss' ESCAPE '\' OR n.name LIKE '%accuracy'
               OR n.name LIKE '%\_confusion\_%\_%' ESCAPE '\')
           AND s.first_step = 1 AND s.last_step = s.count
      THEN 'epoch' ELSE 'step' END
  FROM series s JOIN metric_names n ON n.id = s.name_id;
