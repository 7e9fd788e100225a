-- 3.sql: schema version 3 (step 2 -> 3): sweeps, runs linked to them, a
-- run's uid, status 'pruned'.
--
-- A CHECK constraint cannot be altered, so runs is rebuilt (SQLite's "making
-- other kinds of table schema changes"): the views go first, since renaming a
-- table checks every view; the migration has turned the foreign keys off, or
-- dropping the old runs would delete what every other table holds of them. A
-- migrated run's uid is made of what identified it already, so two copies of
-- one old database give their runs the same uids and a merge of both keeps
-- one of each.

DROP VIEW IF EXISTS metrics_view;
DROP VIEW IF EXISTS loss_curve;
DROP VIEW IF EXISTS run_summary;
DROP VIEW IF EXISTS run_params;

CREATE TABLE sweeps( -- one row per sweep; cli/bp_sweeprun.h runs them
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
  strategy TEXT NOT NULL CHECK (strategy IN ('grid', 'random')),
  trials INTEGER NOT NULL, -- how many
  seed INTEGER NOT NULL, -- the sweep's seed
  objective TEXT NOT NULL, -- the metric judged (its value at its last step)
  direction TEXT NOT NULL CHECK (direction IN ('min', 'max')),
  prune TEXT, -- 'median:K', 'halving:MIN_STEP:ETA' or NULL (off)
  status TEXT NOT NULL CHECK (status IN ('running', 'completed',
    'interrupted', 'failed', 'partial')), -- partial: a shard's, some trials
                                          -- ran elsewhere
  message TEXT, -- why it failed (or NULL)
  started REAL NOT NULL,
  ended REAL,
  claimed REAL, -- when the process running it now took it (it may be a resume)
  host TEXT, -- with pid: that process
  pid INTEGER,
  command TEXT -- the command line that began it
);

CREATE TABLE runs_v3( -- one row per run
  id INTEGER PRIMARY KEY, -- the run's number
  name TEXT NOT NULL, -- the run's name (default: script file name without .lua)
  script_path TEXT, -- the script as named on the command line (or NULL)
  script_id INTEGER REFERENCES scripts(id), -- or NULL
  command TEXT, -- the command line
  seed INTEGER, -- the seed of the run's generator (NULL: unknown)
  started REAL NOT NULL, -- start time
  ended REAL, -- end time (NULL while running)
  status TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running',
    'completed', 'failed', 'interrupted', 'diverged', 'crashed', 'pruned')),
    -- pruned: a sweep's trial stopped early
  message TEXT, -- the error of a failed run (or NULL)
  traceback TEXT, -- its Lua traceback (or NULL)
  host TEXT, -- host name
  pid INTEGER, -- process id
  version TEXT, -- the backprop version that ran it
  sweep_id INTEGER REFERENCES sweeps(id) ON DELETE SET NULL,
    -- the sweep whose trial this run is (NULL: none)
  trial INTEGER, -- the trial's index in the sweep, from 0
  uid TEXT NOT NULL UNIQUE DEFAULT (lower(hex(randomblob(16)))) -- the run's
      -- identity across databases (merge): 128 random bits in hex;
      -- 'v2:host:pid:started:id' for a run recorded before version 3
);
INSERT INTO runs_v3(id, name, script_path, script_id, command, seed, started,
  ended, status, message, traceback, host, pid, version, uid)
  SELECT id, name, script_path, script_id, command, seed, started, ended,
    status, message, traceback, host, pid, version,
    printf('v2:%s:%d:%.3f:%d', coalesce(host, ''), coalesce(pid, 0), started, id)
  FROM runs ORDER BY id;
DROP TABLE runs;
ALTER TABLE runs_v3 RENAME TO runs;
CREATE INDEX runs_status ON runs(status);
CREATE INDEX runs_script ON runs(script_id);
CREATE INDEX runs_sweep ON runs(sweep_id, trial);
