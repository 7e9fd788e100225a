-- 7.sql: schema version 7 (step 6 -> 7): each run's parameters kept as one
-- line of text, 'hidden=4 lr=0.1', the way run_summary.params spells them,
-- so that a table of 10,000 runs reads a column per run instead of putting
-- 100,000 parameter rows together (`backprop runs --all`; scripts/bench/
-- NOTES.md, issue 20).
--
-- The triggers keep the line equal to the rows whatever writes them:
-- backprop, `backprop merge`, or a user's own statements in the sqlite3
-- shell. The spelling: key=value sorted by key, separated by spaces; a bool
-- as true or false; a NaN (stored as NULL) as nan; a run without
-- parameters has NULL. It is written once, in params_text_spell; the other
-- triggers make it run by touching a row of the run.

ALTER TABLE runs ADD COLUMN params_text TEXT; -- as above, kept by triggers

CREATE TRIGGER params_text_spell AFTER UPDATE ON params BEGIN
  UPDATE runs SET params_text = (SELECT group_concat(kv, ' ') FROM (
    SELECT p.key || '=' || CASE WHEN p.type = 'bool' THEN CASE WHEN p.value
      THEN 'true' ELSE 'false' END ELSE coalesce(p.value, 'nan') END AS kv
    FROM params p WHERE p.run_id = NEW.run_id ORDER BY p.key))
  WHERE id = NEW.run_id;
END;

CREATE TRIGGER params_text_insert AFTER INSERT ON params BEGIN
  UPDATE params SET type = type WHERE run_id = NEW.run_id AND key = NEW.key;
END;

-- A run's last parameter deleted leaves NULL; otherwise one that remains
-- is touched.
CREATE TRIGGER params_text_delete AFTER DELETE ON params BEGIN
  UPDATE runs SET params_text = NULL WHERE id = OLD.run_id;
  UPDATE params SET type = type WHERE run_id = OLD.run_id
    AND key = (SELECT min(key) FROM params WHERE run_id = OLD.run_id);
END;

-- The runs there are: one row of each touched.
UPDATE params SET type = type WHERE (run_id, key) IN
  (SELECT run_id, min(key) FROM params GROUP BY run_id);
