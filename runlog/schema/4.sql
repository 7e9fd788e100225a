-- 4.sql: schema version 4 (step 3 -> 4): whole networks (bp_save.h's bytes:
-- architecture and weights), and checkpoints (everything a run needs to go on
-- where it stopped).

CREATE TABLE networks( -- whole networks: what bp.load_net reads
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  step INTEGER NOT NULL,
  name TEXT NOT NULL DEFAULT 'net', -- 'net' unless named
  data BLOB NOT NULL, -- a network file (engine/bp_save.h: architecture and
                      -- every weight, exactly)
  UNIQUE (run_id, name, step)
);

CREATE TABLE checkpoints( -- the latest checkpoint of a run
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  step INTEGER NOT NULL,
  time REAL NOT NULL,
  data BLOB NOT NULL, -- the Lua module's (bindings/lmodel.c): networks,
                      -- optimiser states, the generator's state
  PRIMARY KEY (run_id, step)
);
