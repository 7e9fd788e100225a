-- test_summaries.lua: the metric summaries (runlog/summary.c) through the
-- real program (LuaUnit): after a run, a run killed with SIGKILL and marked
-- crashed, its resume, a merge and an rm, `backprop check` finds every
-- summary equal to a rebuild from the rows, and the views that read them
-- answer as the rows do; a summary changed behind its back is caught.
local lu = require "luaunit"

package.path = (os.getenv("BP_SOURCE_DIR") or ".") .. "/tests/lua/?.lua;" .. package.path
local S = require "support"
local EXE, SRC, TMP, slurp, backprop, query = S.EXE, S.SRC, S.TMP, S.slurp, S.backprop, S.query

-- `backprop check` agrees, over `series` metric series
local function agrees(db, series)
  local out, err, code = backprop("check --summaries --db " .. db)
  lu.assertEquals(code, 0, err)
  lu.assertEquals(out, "summaries of " .. series .. " metric series agree with their rows\n")
end

-- run_summary's final and best loss, and steps, as the rows give them
local function views_match_rows(db)
  lu.assertEquals(query(db, "SELECT count(*) FROM run_summary s WHERE s.final_loss IS NOT"
    .. " (SELECT value FROM loss_curve c WHERE c.run_id = s.id ORDER BY step DESC LIMIT 1)"
    .. " OR s.best_loss IS NOT (SELECT min(value) FROM loss_curve c WHERE c.run_id = s.id)"
    .. " OR s.steps IS NOT (SELECT max(step) FROM metrics m WHERE m.run_id = s.id)"), {"0"})
end

TestSummaries = {}

function TestSummaries:test_killed_resumed_merged_removed()
  local db = TMP .. "/sum.db"
  local _, err, code = backprop("run --db " .. db .. " scripts/resumable.lua epochs=6")
  lu.assertEquals(code, 0, err)
  -- run 2 stalls after epoch 3's checkpoint, having logged epoch 4's first
  -- steps and more; kill -9 it there
  local pid = S.start(string.format("run --db %s %s/scripts/resumable.lua epochs=6 stall_at=3",
    db, SRC), TMP .. "/bgerr")
  for _ = 1, 400 do
    if slurp(TMP .. "/bgerr"):find("stalled at epoch 3") then break end
    S.sleep(0.05)
  end
  os.execute("kill -KILL " .. pid .. "; sleep 0.2")
  lu.assertStrMatches(select(1, backprop("runs --db " .. db)), ".*\n%s*2%s+resumable%s+crashed.*")
  agrees(db, 8) -- loss, train_loss, val_loss, val_accuracy of each run
  views_match_rows(db)
  local out
  out, err, code = backprop("run --db " .. db .. " --resume 2")
  lu.assertEquals(code, 0, err)
  lu.assertStrContains(out, "resumed after epoch 3\n")
  agrees(db, 8)
  views_match_rows(db)
  -- the resumed run's summaries are the uninterrupted run's
  lu.assertEquals(query(db, "SELECT count(*) FROM metric_summary a JOIN metric_summary b"
    .. " ON b.run_id = 2 AND b.name_id = a.name_id AND b.count = a.count"
    .. " AND b.last_value IS a.last_value AND b.min_value IS a.min_value"
    .. " AND b.min_step = a.min_step AND b.max_step = a.max_step WHERE a.run_id = 1"), {"4"})

  local other = TMP .. "/other.db"
  _, err, code = backprop("run --db " .. other .. " scripts/xor.lua")
  lu.assertEquals(code, 0, err)
  local merged = TMP .. "/merged.db"
  for _ = 1, 2 do
    _, err, code = backprop("merge " .. merged .. " " .. db .. " " .. other)
    lu.assertEquals(code, 0, err)
  end
  agrees(merged, 9)
  views_match_rows(merged)
  _, err, code = backprop("rm --yes --db " .. merged .. " 1")
  lu.assertEquals(code, 0, err)
  agrees(merged, 5)
  lu.assertEquals(query(merged, "SELECT count(*) FROM metric_summary WHERE run_id = 1"), {"0"})

  -- a summary changed behind the writer's back is caught, and named
  local n = query(merged, "SELECT count(*) FROM metrics WHERE run_id = 3")[1]
  os.execute(string.format("sqlite3 %s 'UPDATE metric_summary SET count = count + 1"
    .. " WHERE run_id = 3'", merged))
  out, err, code = backprop("check --db " .. merged .. " 3")
  lu.assertEquals(code, 1)
  lu.assertEquals(out, "")
  lu.assertEquals(err, "backprop: run 3: 1 summaries differ from their rows; the first:"
    .. " run 3, metric 'loss': count " .. (n + 1) .. ", from the rows " .. n .. "\n")
end

S.finish()
