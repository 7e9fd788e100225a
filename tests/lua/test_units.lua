-- test_units.lua: a metric's step means one thing (issue 18) through the
-- real program (LuaUnit). fit logs each batch's loss per step at the batch
-- count and each epoch's figures per epoch at the epoch, with where each
-- epoch ended; bp.log takes epoch = n; one name in both units is an error
-- naming it; `show` prints a table per unit, `export` a step and an epoch
-- column; `merge` carries the units and epochs; a schema-7 database gets its
-- units guessed as runlog/schema/8.sql says.
local lu = require "luaunit"

package.path = (os.getenv("BP_SOURCE_DIR") or ".") .. "/tests/lua/?.lua;" .. package.path
local S = require "support"
local SRC, TMP, backprop, query = S.SRC, S.TMP, S.backprop, S.query

-- Six samples of two classes, three epochs of batches of 2 (3 steps each),
-- the loss of every step under "loss", the training set as validation too.
local FIT = [[
local bp = require "backprop"
local d = bp.data({{0, 0}, {0, 1}, {1, 0}, {1, 1}, {0.5, 0.5}, {0.2, 0.9}},
                  {1, 2, 2, 1, 1, 2}, {classes = 2})
local net = bp.net(2):add(4, "tanh"):add(2)
net:log_loss("loss")
net:fit{data = d, validation = d, loss = "softmax_ce", lr = 0.1, epochs = 3, batch = 2,
        shuffle = false}
]]

local function run_script(db, name, text, args)
  local out, err, code = backprop(string.format("run --db %s %s %s", db, S.write(name, text),
    args or ""))
  return out, err, code
end

-- export's CSV without the comment lines of the run's record before it
local function csv(out)
  local lines = {}
  for line in out:gmatch("[^\n]*\n") do
    if line:sub(1, 1) ~= "#" then lines[#lines + 1] = line end
  end
  return table.concat(lines)
end

local function fresh(name)
  local db = TMP .. "/" .. name
  os.remove(db)
  return db
end

TestUnits = {}

function TestUnits:test_fit_records_units_and_steps()
  local db = fresh("fit.db")
  local _, err, code = run_script(db, "fit.lua", FIT)
  lu.assertEquals(code, 0, err)
  lu.assertEquals(query(db, "SELECT name, unit, count(*), min(step), max(step) FROM metrics_view"
    .. " WHERE run_id = 1 GROUP BY name ORDER BY name"),
    {"loss,step,9,1,9", "train_loss,epoch,3,1,3", "val_accuracy,epoch,3,1,3",
     "val_loss,epoch,3,1,3"})
  lu.assertEquals(query(db, "SELECT epoch, step FROM epochs WHERE run_id = 1 ORDER BY epoch"),
    {"1,3", "2,6", "3,9"})
  -- the run's steps are its training steps, not its epochs
  lu.assertEquals(query(db, "SELECT steps FROM run_summary WHERE id = 1"), {"9"})
end

function TestUnits:test_log_epoch()
  local db = fresh("log.db")
  local _, err, code = run_script(db, "log.lua", [[
local bp = require "backprop"
local net = bp.net(1):add(1, "identity", {weights = {{1}}, bias = 0})
assert(bp.log{val_loss = 0.75, val_accuracy = 0.5, epoch = 0})  -- before training
for epoch = 1, 2 do
  for _ = 1, 2 do net:train_step({1}, {1}, "half_se", 0) end
  assert(bp.log{val_loss = 0.5 / epoch, epoch = epoch})
  assert(bp.log("val_accuracy", 0.5 + epoch / 4, {epoch = epoch}))
end
assert(bp.log{lr = 0.1, momentum = 0.9, step = 3})
assert(bp.log("lr", 0.05, {step = 4}))
assert(bp.report(0.125, {epoch = 2})) -- outside a sweep, as "objective"
]])
  lu.assertEquals(code, 0, err)
  lu.assertEquals(query(db, "SELECT name, unit, step, value FROM metrics_view ORDER BY name, step"),
    {"lr,step,3,0.1", "lr,step,4,0.05", "momentum,step,3,0.9", "objective,epoch,2,0.125",
     "val_accuracy,epoch,0,0.5", "val_accuracy,epoch,1,0.75", "val_accuracy,epoch,2,1",
     "val_loss,epoch,0,0.75", "val_loss,epoch,1,0.5", "val_loss,epoch,2,0.25"})
  -- epochs 1 and 2 ended after 2 and 4 steps; epoch 0 had none before it
  lu.assertEquals(query(db, "SELECT epoch, step FROM epochs ORDER BY epoch"), {"1,2", "2,4"})
end

function TestUnits:test_log_bad_arguments()
  local _, err, code = backprop("lua " .. S.write("bad.lua", [[
local bp = require "backprop"
local function fails(f) local ok, e = pcall(f); assert(not ok); return e end
print(fails(function() bp.log("x", 1, {epoch = -1}) end))
print(fails(function() bp.log("x", 1, {epoch = 1, step = 2}) end))
print(fails(function() bp.log("x", 1, {epohc = 1}) end))
print(fails(function() bp.log("x", 1, {epoch = 1.5}) end))
print(fails(function() bp.log{x = "a"} end))
print(fails(function() bp.log{1} end))
print(bp.log{x = 1, epoch = 2})
]]))
  lu.assertEquals(code, 0, err)
  lu.assertEquals(select(1, backprop("lua " .. TMP .. "/bad.lua")),
    TMP .. "/bad.lua:3: bad argument #3 to 'log' (field 'epoch': must be >= 0, got -1)\n"
    .. TMP .. "/bad.lua:4: bad argument #3 to 'log' (give step or epoch, not both)\n"
    .. TMP .. "/bad.lua:5: bad argument #3 to 'log' (unknown option 'epohc' (expected step or epoch))\n"
    .. TMP .. "/bad.lua:6: bad argument #3 to 'log' (field 'epoch': integer expected, got number)\n"
    .. TMP .. "/bad.lua:7: bad argument #1 to 'log' (field 'x': number expected, got string)\n"
    .. TMP .. "/bad.lua:8: bad argument #1 to 'log' (metric names are strings, got number)\n"
    .. "false\n")
end

function TestUnits:test_mixing_units_is_an_error()
  local db = fresh("mix.db")
  local _, err, code = run_script(db, "mix.lua", [[
local bp = require "backprop"
bp.log{val_loss = 0.5, epoch = 1}
bp.log("val_loss", 0.25, 10)
]])
  lu.assertEquals(code, 1)
  lu.assertStrContains(err, "backprop: " .. TMP .. "/mix.lua:3: metric 'val_loss' of run 1 is"
    .. " logged per epoch: it cannot be logged per step too (a metric keeps one unit in a run;"
    .. " give the per-step one another name)\n")
  -- fit's own: a step's loss logged as train_loss, which fit writes per epoch
  _, err, code = run_script(db, "mixfit.lua", (FIT:gsub('log_loss%("loss"%)',
    'log_loss("train_loss")')))
  lu.assertEquals(code, 1)
  lu.assertStrContains(err, "/mixfit.lua:6: metric 'train_loss' of run 2 is logged per step: it cannot be"
    .. " logged per epoch too (a metric keeps one unit in a run; give the per-epoch one another"
    .. " name)\n")
  lu.assertEquals(query(db, "SELECT id, status FROM runs ORDER BY id"), {"1,failed", "2,failed"})
  -- nothing of the refused values was recorded
  lu.assertEquals(query(db, "SELECT name, unit, count(*) FROM metrics_view GROUP BY run_id, name"
    .. " ORDER BY run_id, name"), {"val_loss,epoch,1", "train_loss,step,3"})
end

-- A run with both units: a step's loss at steps 1..4, epochs 1 and 2
-- ending at steps 2 and 4, and a figure of epoch 3 logged after step 4.
local BOTH = [[
local bp = require "backprop"
local net = bp.net(1):add(1, "identity", {weights = {{1}}, bias = 0})
for epoch = 1, 2 do
  for s = 1, 2 do bp.log("loss", (2 * epoch + s) / 8, 2 * (epoch - 1) + s) end
  for _ = 1, 2 do net:train_step({1}, {1}, "half_se", 0) end
  bp.log{val_loss = 1 / epoch, val_accuracy = epoch / 4, epoch = epoch}
end
bp.log("test_accuracy", 0.875, {epoch = 3})
bp.log("test_accuracy", 0.75, {epoch = 2})
]]

function TestUnits:test_show_and_export()
  local db = fresh("both.db")
  local _, err, code = run_script(db, "both.lua", BOTH)
  lu.assertEquals(code, 0, err)
  local out
  out, err, code = backprop("show --db " .. db .. " 1")
  lu.assertEquals(code, 0, err)
  lu.assertStrContains(out, "metrics per step:\n"
    .. "  metric  values  steps  last    min   max  nan\n"
    .. "  loss         4   1..4  0.75  0.375  0.75    0\n"
    .. "metrics per epoch:\n"
    .. "  metric         values  epochs   last   min    max  nan\n"
    .. "  test_accuracy       2    2..3  0.875  0.75  0.875    0\n"
    .. "  val_accuracy        2    1..2    0.5  0.25    0.5    0\n"
    .. "  val_loss            2    1..2    0.5   0.5      1    0\n"
    .. "loss curve:\n")
  out, err, code = backprop("export --db " .. db .. " 1 --csv")
  lu.assertEquals(code, 0, err)
  lu.assertEquals(csv(out), "step,epoch,loss,test_accuracy,val_accuracy,val_loss\n"
    .. "1,,0.375,,,\n"
    .. "2,,0.5,,,\n"
    .. "2,1,,,0.25,1\n"
    .. "3,,0.625,,,\n"
    .. "4,,0.75,,,\n"
    .. "4,2,,0.75,0.5,0.5\n"
    .. "4,3,,0.875,,\n")
  -- the JSON form says each metric's unit
  out, err, code = backprop("export --db " .. db .. " 1 --json")
  lu.assertEquals(code, 0, err)
  lu.assertStrContains(out, '"loss": {"unit": "step", "steps": [1, 2, 3, 4], "values": '
    .. '[0.375, 0.5, 0.625, 0.75]}')
  lu.assertStrContains(out, '"val_loss": {"unit": "epoch", "steps": [1, 2], "values": [1, 0.5]}')
  -- a run of per-epoch figures alone, no training: no step table, its loss
  -- curve counted in epochs, and its epochs' ends not known
  _, err, code = run_script(db, "epochs.lua", [[
local bp = require "backprop"
for epoch = 1, 3 do bp.log{loss = 1 / epoch, epoch = epoch} end
]])
  lu.assertEquals(code, 0, err)
  out = backprop("show --db " .. db .. " 2")
  lu.assertNotStrContains(out, "metrics per step:")
  lu.assertStrContains(out, "metrics per epoch:\n"
    .. "  metric  values  epochs      last       min  max  nan\n"
    .. "  loss         3    1..3  0.333333  0.333333    1    0\n"
    .. "loss curve (per epoch):\n")
  lu.assertStrContains(out, "  best 0.333333 at epoch 3\n")
  lu.assertEquals(csv((backprop("export --db " .. db .. " 2"))),
    "step,epoch,loss\n,1,1\n,2,0.5\n,3,0.3333333333333333\n")
end

function TestUnits:test_merge_carries_units()
  local a, b, out_db = fresh("ma.db"), fresh("mb.db"), fresh("merged.db")
  local _, err, code = run_script(a, "both.lua", BOTH)
  lu.assertEquals(code, 0, err)
  _, err, code = run_script(b, "fit.lua", FIT)
  lu.assertEquals(code, 0, err)
  -- into a database whose metric names are numbered otherwise
  _, err, code = run_script(out_db, "other.lua", [[
local bp = require "backprop"
bp.log{zeta = 1, val_loss = 2, epoch = 1}
]])
  lu.assertEquals(code, 0, err)
  for _ = 1, 2 do -- twice: the second changes nothing
    _, err, code = backprop(string.format("merge %s %s %s", out_db, a, b))
    lu.assertEquals(code, 0, err)
  end
  local units = "SELECT r.name, n.name, u.unit FROM metric_units u JOIN runs r ON r.id = u.run_id"
    .. " JOIN metric_names n ON n.id = u.name_id ORDER BY r.id, n.name"
  lu.assertEquals(query(out_db, units),
    {"other,val_loss,epoch", "other,zeta,epoch",
     "both,loss,step", "both,test_accuracy,epoch", "both,val_accuracy,epoch",
     "both,val_loss,epoch",
     "fit,loss,step", "fit,train_loss,epoch", "fit,val_accuracy,epoch", "fit,val_loss,epoch"})
  lu.assertEquals(query(out_db, "SELECT r.name, x.epoch, x.step FROM epochs x JOIN runs r"
    .. " ON r.id = x.run_id ORDER BY r.id, x.epoch"),
    {"both,1,2", "both,2,4", "both,3,4", "fit,1,3", "fit,2,6", "fit,3,9"})
  -- and what a reader makes of them is the input's
  lu.assertEquals(csv((backprop("export --db " .. out_db .. " 2"))),
    csv((backprop("export --db " .. a .. " 1"))))
end

-- A database as schema 7 left it (runlog/schema/1.sql to 7.sql, run by the
-- sqlite3 shell), with the series fit wrote and others, migrated by the
-- first command that opens it for writing.
function TestUnits:test_migration_guesses_units()
  local db = fresh("v7.db")
  local sql = {}
  for v = 1, 7 do sql[#sql + 1] = S.slurp(SRC .. "/runlog/schema/" .. v .. ".sql") end
  sql[#sql + 1] = [[
PRAGMA application_id = 1112560204; PRAGMA user_version = 7;
INSERT INTO runs(id, name, started, status, uid) VALUES (1, 'fit', 1.7e9, 'completed', 'a'),
  (2, 'rnn', 1.7e9, 'completed', 'b');
INSERT INTO metric_names(id, name) VALUES (1, 'loss'), (2, 'train_loss'), (3, 'val_loss'),
  (4, 'val_accuracy'), (5, 'val_confusion_1_2'), (6, 'accuracy'), (7, 'test_accuracy'),
  (8, 'lr');
WITH RECURSIVE s(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM s WHERE k < 9)
INSERT INTO metrics(run_id, name_id, step, value)
  SELECT 1, 1, k, 1.0 / k FROM s
  UNION ALL SELECT 1, n, k, 0.5 FROM s, (SELECT 2 AS n UNION ALL SELECT 3 UNION ALL SELECT 4
    UNION ALL SELECT 5) WHERE k <= 3
  UNION ALL SELECT 1, 6, 2000, 0.75
  UNION ALL SELECT 1, 7, 3, 0.5
  UNION ALL SELECT 1, 8, k, 0.1 FROM s WHERE k <= 3
  UNION ALL SELECT 2, 2, k, 2.0 FROM s
  UNION ALL SELECT 2, 3, 500 * k, 1.5 FROM s WHERE k <= 2;
]]
  -- the summaries as the schema-7 writer kept them
  sql[#sql + 1] = [[
INSERT INTO metric_summary(run_id, name_id, count, nan_count, first_step, last_step,
  last_value, min_value, min_step, max_value, max_step)
  SELECT run_id, name_id, count(*), 0, min(step), max(step), 0, min(value), min(step),
    max(value), max(step) FROM metrics GROUP BY run_id, name_id;
]]
  local f = assert(io.popen("sqlite3 " .. db, "w"))
  f:write(table.concat(sql, "\n"))
  assert(f:close())
  local _, err, code = backprop("runs --db " .. db)
  lu.assertEquals(code, 0, err)
  local last = 1 -- the schema's version: its last step, runlog/schema/N.sql
  while io.open(SRC .. "/runlog/schema/" .. (last + 1) .. ".sql") do last = last + 1 end
  lu.assertEquals(query(db, "PRAGMA user_version"), {tostring(last)})
  -- per epoch: fit's names at steps 1..n; the rest per step (accuracy at
  -- 2000, test_accuracy at 3 alone, rnn's train_loss at every step from 1
  -- is guessed per epoch, as 8.sql warns; its val_loss every 500 is not)
  lu.assertEquals(query(db, "SELECT u.run_id, n.name, u.unit FROM metric_units u JOIN"
    .. " metric_names n ON n.id = u.name_id ORDER BY u.run_id, n.name"),
    {"1,accuracy,step", "1,loss,step", "1,lr,step", "1,test_accuracy,step",
     "1,train_loss,epoch", "1,val_accuracy,epoch", "1,val_confusion_1_2,epoch",
     "1,val_loss,epoch", "2,train_loss,epoch", "2,val_loss,step"})
  lu.assertEquals(query(db, "SELECT count(*) FROM epochs"), {"0"})
  -- and a database from before the summaries (schema 5) is guessed alike
  local old = fresh("v5.db")
  f = assert(io.popen("sqlite3 " .. old, "w"))
  sql = {}
  for v = 1, 5 do sql[#sql + 1] = S.slurp(SRC .. "/runlog/schema/" .. v .. ".sql") end
  sql[#sql + 1] = [[
PRAGMA application_id = 1112560204; PRAGMA user_version = 5;
INSERT INTO runs(id, name, started, status, uid) VALUES (1, 'fit', 1.7e9, 'completed', 'a');
INSERT INTO metric_names(id, name) VALUES (1, 'loss'), (2, 'val_loss');
INSERT INTO metrics(run_id, name_id, step, value) VALUES (1, 1, 1, 1), (1, 1, 2, 0.5),
  (1, 2, 1, 0.75);
]]
  f:write(table.concat(sql, "\n"))
  assert(f:close())
  _, err, code = backprop("runs --db " .. old)
  lu.assertEquals(code, 0, err)
  lu.assertEquals(query(old, "SELECT n.name, u.unit FROM metric_units u JOIN metric_names n"
    .. " ON n.id = u.name_id ORDER BY n.name"), {"loss,step", "val_loss,epoch"})
end

S.finish()
