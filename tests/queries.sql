-- queries.sql: questions to ask the run log (results/runs.db), one per block.
--
-- Run one in the stock shell:  sqlite3 results/runs.db < one.sql
-- or through backprop:         backprop query "SELECT ..."
-- Queries that unpack weights need bp_weights: `backprop query` has it;
-- in the shell, `.load build/bpsql` first.
-- Each block starts with a `-- name:` line; tests/test_runlog.c runs every
-- block against a database it fills, and checks the answers.

-- name: loss_curve
-- The loss curve of run 1 (NaN shows as 'NaN' in value_text).
SELECT step, value_text FROM loss_curve WHERE run_id = 1 ORDER BY step;

-- name: best_lr
-- The learning rate of the completed run with the lowest final loss.
SELECT p.value AS lr, s.final_loss, s.id
FROM run_summary s JOIN params p ON p.run_id = s.id AND p.key = 'lr'
WHERE s.status = 'completed'
ORDER BY s.final_loss LIMIT 1;

-- name: small_lr
-- Runs with a learning rate below 0.05 (parameters compare as numbers).
SELECT r.id, r.name, p.value AS lr
FROM runs r JOIN params p ON p.run_id = r.id
WHERE p.key = 'lr' AND p.value < 0.05
ORDER BY r.id;

-- name: diverged
-- Runs that diverged, with the step at which the loss stopped being a number.
SELECT r.id, r.name,
  (SELECT min(step) FROM loss_curve l WHERE l.run_id = r.id AND l.value IS NULL)
    AS nan_step
FROM runs r WHERE r.status = 'diverged' ORDER BY r.id;

-- name: failed
-- Failed runs and their errors.
SELECT id, name, message FROM runs WHERE status = 'failed' ORDER BY id;

-- name: mean_final_loss_by_hidden
-- Mean final loss of the completed runs, by hidden layer size.
SELECT p.value AS hidden, count(*) AS runs, avg(s.final_loss) AS mean_final_loss
FROM run_summary s JOIN params p ON p.run_id = s.id AND p.key = 'hidden'
WHERE s.status = 'completed'
GROUP BY p.value ORDER BY p.value;

-- name: side_by_side
-- Runs 1 and 2 side by side at step 2.
SELECT a.step, a.value AS run_1, b.value AS run_2
FROM loss_curve a JOIN loss_curve b ON b.run_id = 2 AND b.step = a.step
WHERE a.run_id = 1 AND a.step = 2;

-- name: weight_history
-- The history of w211 (layer 2, neuron 1, input 1) in run 1. Needs bp_weights.
SELECT s.step, w.value
FROM snapshots s, bp_weights(s.data, s.shape) w
WHERE s.run_id = 1 AND w.name = 'w211'
ORDER BY s.step;

-- name: biases_at_last_snapshot
-- Every bias of run 1's last snapshot. Needs bp_weights.
SELECT w.name, w.value
FROM snapshots s, bp_weights(s.data, s.shape) w
WHERE s.run_id = 1 AND w.kind = 'b'
  AND s.step = (SELECT max(step) FROM snapshots WHERE run_id = 1)
ORDER BY w.idx;

-- name: slowest
-- The slowest finished runs.
SELECT id, name, duration_s FROM run_summary
WHERE ended IS NOT NULL ORDER BY duration_s DESC, id LIMIT 2;

-- name: latest_of_script
-- The latest run of scripts/xor.lua.
SELECT id, name, status FROM runs
WHERE script_path = 'scripts/xor.lua'
ORDER BY started DESC, id DESC LIMIT 1;

-- name: params_wide
-- One row per run with its parameters as columns.
SELECT r.id,
  (SELECT value FROM params WHERE run_id = r.id AND key = 'lr') AS lr,
  (SELECT value FROM params WHERE run_id = r.id AND key = 'hidden') AS hidden
FROM runs r ORDER BY r.id;

-- name: tagged
-- Runs with the tag 'baseline'.
SELECT r.id, r.name FROM runs r JOIN tags t ON t.run_id = r.id
WHERE t.key = 'baseline' ORDER BY r.id;

-- name: same_script
-- Runs grouped by the exact text of their script (stored once per text).
SELECT s.hash, count(r.id) AS runs FROM scripts s JOIN runs r ON r.script_id = s.id
GROUP BY s.id ORDER BY runs DESC, s.hash;
