-- 2.sql: schema version 2 (step 1 -> 2): weight snapshots.

CREATE TABLE snapshots( -- weights and biases of a network at a step
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  step INTEGER NOT NULL,
  name TEXT NOT NULL DEFAULT 'net', -- which network ('net' unless named)
  shape TEXT NOT NULL, -- the widths: inputs, then each layer's outputs: '2,3,1'
  dtype TEXT NOT NULL CHECK (dtype IN ('f64', 'f32')), -- 8 or 4 bytes a value
  data BLOB NOT NULL, -- the values in the engine's flat order (layer by layer,
                      -- W row by row, then the biases), little-endian
  UNIQUE (run_id, name, step)
);
