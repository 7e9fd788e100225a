-- 9.sql: schema version 9 (step 8 -> 9): a sweep's repeats (`backprop sweep
-- --repeats K`, issue 16). Each setting of the sweep runs K times with K
-- seeds; trial i is setting i / K's run number i % K, and the setting is
-- judged by the mean of its repeats' objectives (the view sweep_settings).
-- Sweeps recorded before have one run per setting.

ALTER TABLE sweeps ADD COLUMN repeats INTEGER NOT NULL DEFAULT 1
  CHECK (repeats >= 1); -- runs of each setting: trials = settings * repeats
