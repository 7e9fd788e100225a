-- 1.sql: schema version 1 (step 0 -> 1): runs and what they log.
--
-- The conventions of every table are in README.md beside this file. The
-- notes inside each CREATE are kept by SQLite with the table, so the stock
-- shell's .schema shows them. runs is rebuilt by 3.sql: its columns are
-- described there, as a database has them now.

CREATE TABLE scripts( -- one row per distinct script text
  id INTEGER PRIMARY KEY,
  hash TEXT NOT NULL, -- FNV-1a 64 of the text in 16 hex digits (indexed; the
                      -- text itself is compared too, so a collision is harmless)
  text TEXT NOT NULL  -- the whole script
);
CREATE INDEX scripts_hash ON scripts(hash);

CREATE TABLE runs( -- one row per run (as version 1 had it; see 3.sql)
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  script_path TEXT,
  script_id INTEGER REFERENCES scripts(id),
  command TEXT,
  seed INTEGER,
  started REAL NOT NULL,
  ended REAL,
  status TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running',
    'completed', 'failed', 'interrupted', 'diverged', 'crashed')),
  message TEXT,
  traceback TEXT,
  host TEXT,
  pid INTEGER,
  version TEXT
);
CREATE INDEX runs_status ON runs(status);
CREATE INDEX runs_script ON runs(script_id);

CREATE TABLE params( -- one row per parameter of a run
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value, -- no affinity: INTEGER, REAL or TEXT as given (a bool is 0/1),
         -- so `value < 0.05` compares numbers
  type TEXT NOT NULL CHECK (type IN ('int', 'real', 'text', 'bool')),
  PRIMARY KEY (run_id, key)) WITHOUT ROWID;
CREATE INDEX params_key ON params(key, value);

CREATE TABLE metric_names( -- metric names, interned: a metric row carries a
                           -- number, not the text (smaller and faster)
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE
);

CREATE TABLE metrics( -- one row per metric value
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  name_id INTEGER NOT NULL, -- a metric_names.id (not declared a foreign key:
                            -- checking it would slow every insert)
  step INTEGER NOT NULL,
  value, -- a REAL; NULL means NaN. Declared without a type: a REAL
         -- column would store -0.0 as the integer 0, losing its sign
  PRIMARY KEY (run_id, name_id, step)) WITHOUT ROWID;

CREATE TABLE tags( -- key/value labels of a run
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT, -- may be NULL
  PRIMARY KEY (run_id, key)) WITHOUT ROWID;

CREATE TABLE notes( -- free-text notes of a run, in order
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  time REAL NOT NULL,
  text TEXT NOT NULL
);
CREATE INDEX notes_run ON notes(run_id);
