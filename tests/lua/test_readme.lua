-- test_readme.lua: documentation that cannot rot (LuaUnit).
-- Runs the example scripts into a fresh database, then every ```sql block of
-- README.md that starts with a `-- name:` line, through `backprop query
-- --csv`, and checks each answer against what the scripts printed on their
-- own stdout: an independent path from the one the database took. A query
-- added to the README without a check here fails the suite.
local lu = require "luaunit"

package.path = (os.getenv("BP_SOURCE_DIR") or ".") .. "/tests/lua/?.lua;" .. package.path
local S = require "support"
local SRC, TMP, slurp = S.SRC, S.TMP, S.slurp
local DB = TMP .. "/doc.db"

-- Runs backprop in the source directory; returns stdout, and whether it
-- succeeded.
local function backprop(args)
  local out, _, code = S.backprop(args)
  return out, code == 0
end

-- Minimal CSV: quoted cells may hold commas and doubled quotes.
local function parse_csv(text)
  local rows = {}
  for line in text:gmatch("[^\n]+") do
    local row, pos = {}, 1
    while pos <= #line + 1 do
      if line:sub(pos, pos) == '"' then
        local cell, i = "", pos + 1
        while true do
          local q = assert(line:find('"', i, true))
          cell = cell .. line:sub(i, q - 1)
          if line:sub(q + 1, q + 1) == '"' then cell, i = cell .. '"', q + 2 else pos = q + 2; break end
        end
        row[#row + 1] = cell
      else
        local c = line:find(",", pos, true) or #line + 1
        row[#row + 1] = line:sub(pos, c - 1)
        pos = c + 1
      end
    end
    rows[#rows + 1] = row
  end
  local header = table.remove(rows, 1)
  return rows, header
end

-- The runs the README's queries talk about, in id order.
local printed = {}
local runs = {
  "scripts/seed_example.lua lr=0.01 steps=100", -- 1
  "scripts/seed_example.lua lr=0.02 steps=100", -- 2
  "scripts/xor.lua hidden=3",                   -- 3
  "scripts/xor.lua hidden=4",                   -- 4
  "scripts/xor.lua hidden=4 lr=1.0",            -- 5
  "scripts/seed_example.lua lr=5",              -- 6: diverges
  "scripts/iris.lua",                           -- 7
  "scripts/digits_cnn.lua epochs=2",            -- 8: a graph's snapshots
}
for i, r in ipairs(runs) do
  printed[i] = backprop("run --db " .. DB .. " " .. r)
end

-- What the scripts printed.
local function seed_loss(i, step) return tonumber(printed[i]:match("\n%s*" .. step .. "%s+([%d.]+)")) end
local function xor_loss(i) return tonumber(printed[i]:match("converged at step %d+: loss ([%d.]+)")) end

-- The README's queries, by name.
local queries = {}
for block in slurp(SRC .. "/README.md"):gmatch("```sql\n(.-)```") do
  local name = block:match("^%-%- name: ([%w_]+)")
  if name then queries[name] = block end
end

local function ask(name)
  local sql = assert(queries[name], "README has no query named " .. name)
  local f = assert(io.open(TMP .. "/q.sql", "w"))
  f:write(sql)
  f:close()
  local out, ok = backprop(string.format("query --db %s --csv \"$(cat %s/q.sql)\"", DB, TMP))
  lu.assertTrue(ok, "query " .. name .. " failed: " .. slurp(TMP .. "/err"))
  return parse_csv(out)
end

local checked = {}
TestReadme = {}

function TestReadme:test_loss_curve()
  checked.loss_curve = true
  local rows = ask("loss_curve")
  lu.assertEquals(#rows, 100)
  for _, step in ipairs({2, 50, 100}) do
    lu.assertAlmostEquals(tonumber(rows[step][2]), seed_loss(1, step), 5e-7)
  end
end

function TestReadme:test_best_lr()
  checked.best_lr = true
  local rows = ask("best_lr")
  lu.assertEquals(#rows, 1)
  local l1, l2 = seed_loss(1, 100), seed_loss(2, 100)
  lu.assertTrue(l2 < l1)
  lu.assertEquals(rows[1][1], "0.02")
  lu.assertAlmostEquals(tonumber(rows[1][2]), l2, 5e-7)
  lu.assertEquals(rows[1][3], "2")
end

function TestReadme:test_diverged()
  checked.diverged = true
  local rows = ask("diverged")
  lu.assertEquals(#rows, 1)
  lu.assertEquals(rows[1][1], "6")
  lu.assertEquals(rows[1][2], "seed_example")
  lu.assertStrMatches(rows[1][3], "scripts/seed_example.lua:%d+: loss is inf at step %d+: the run diverged.*")
end

function TestReadme:test_mean_final_loss_by_hidden()
  checked.mean_final_loss_by_hidden = true
  local rows = ask("mean_final_loss_by_hidden")
  lu.assertEquals(#rows, 2)
  lu.assertEquals({rows[1][1], rows[1][2]}, {"3", "1"})
  lu.assertAlmostEquals(tonumber(rows[1][3]), xor_loss(3), 5e-7)
  lu.assertEquals({rows[2][1], rows[2][2]}, {"4", "2"})
  lu.assertAlmostEquals(tonumber(rows[2][3]), (xor_loss(4) + xor_loss(5)) / 2, 5e-7)
end

function TestReadme:test_side_by_side()
  checked.side_by_side = true
  local rows = ask("side_by_side")
  lu.assertEquals(#rows, 1)
  lu.assertEquals(rows[1][1], "100")
  lu.assertAlmostEquals(tonumber(rows[1][2]), seed_loss(1, 100), 5e-7)
  lu.assertAlmostEquals(tonumber(rows[1][3]), seed_loss(2, 100), 5e-7)
end

function TestReadme:test_weight_history()
  checked.weight_history = true
  local rows = ask("weight_history")
  lu.assertEquals(#rows, 4)
  lu.assertEquals({rows[1][1], rows[1][2]}, {"0", "-0.23"})
  lu.assertEquals(rows[2][1], "1")
  local printed_w211 = tonumber(printed[1]:match("new w211%s*=%s*([%d.-]+)"))
  lu.assertAlmostEquals(tonumber(rows[2][2]), printed_w211, 5e-6)
  lu.assertEquals({rows[3][1], rows[4][1]}, {"50", "100"})
end

-- digits_cnn.lua prints, after each epoch, the two values as the network
-- holds them (to 17 digits: every bit).
local function cnn_printed(what)
  local t = {}
  for epoch, v in printed[8]:gmatch("epoch (%d+)[^\n]-" .. what .. " (%S+)") do t[tonumber(epoch)] = v end
  return t
end

function TestReadme:test_conv_centre_history()
  checked.conv_centre_history = true
  local rows = ask("conv_centre_history")
  lu.assertEquals(#rows, 3) -- steps 0, 1, 2
  local want = cnn_printed("conv1%.weight%[1,1,2,2%]")
  lu.assertEquals(rows[1][1], "0")
  for epoch = 1, 2 do
    lu.assertEquals(rows[epoch + 1][1], tostring(epoch))
    lu.assertEquals(tonumber(rows[epoch + 1][2]), tonumber(want[epoch]))
  end
  lu.assertNotEquals(rows[2][2], rows[1][2])
end

function TestReadme:test_bn_running_mean()
  checked.bn_running_mean = true
  local rows = ask("bn_running_mean")
  lu.assertEquals(#rows, 3 * 32)
  local want = cnn_printed("bn1%.running_mean%[1%]")
  lu.assertEquals({rows[1][1], rows[1][2], rows[1][3]}, {"0", "1", "0"})
  for epoch = 1, 2 do
    local r = rows[32 * epoch + 1]
    lu.assertEquals({r[1], r[2]}, {tostring(epoch), "1"})
    lu.assertEquals(tonumber(r[3]), tonumber(want[epoch]))
    lu.assertEquals(rows[32 * epoch + 32][2], "32")
  end
end

function TestReadme:test_slowest()
  checked.slowest = true
  local rows = ask("slowest")
  lu.assertEquals(#rows, 3)
  for i = 2, 3 do lu.assertTrue(tonumber(rows[i - 1][3]) >= tonumber(rows[i][3])) end
end

function TestReadme:test_latest_of_script()
  checked.latest_of_script = true
  local rows = ask("latest_of_script")
  lu.assertEquals(rows, {{"5", "xor", "completed"}})
end

function TestReadme:test_small_lr()
  checked.small_lr = true
  local rows = ask("small_lr")
  lu.assertEquals(rows, {{"1", "0.01"}, {"2", "0.02"}, {"7", "0.01"}, {"8", "0.003"}})
end

function TestReadme:test_epoch_accuracy()
  checked.epoch_accuracy = true
  local rows = ask("epoch_accuracy")
  lu.assertEquals(#rows, 100)
  -- iris.lua prints epochs 1, 20, 40, ... with val_accuracy to 3 decimals
  local n = 0
  for epoch, acc in printed[7]:gmatch("epoch%s+(%d+).-val_accuracy ([%d.]+)") do
    lu.assertEquals(rows[tonumber(epoch)][1], epoch)
    lu.assertAlmostEquals(tonumber(rows[tonumber(epoch)][2]), tonumber(acc), 5e-4)
    n = n + 1
  end
  lu.assertEquals(n, 6)
end

function TestReadme:test_per_epoch()
  checked.per_epoch = true
  local rows = ask("per_epoch")
  lu.assertEquals(#rows, 100)
  -- iris.lua trains on 90 rows in batches of 16: 6 steps an epoch; it
  -- prints epochs 1, 20, 40, ... with val_loss to 4 decimals
  for k, row in ipairs(rows) do
    lu.assertEquals(row[1], tostring(k))
    lu.assertEquals(row[2], tostring(6 * k))
  end
  local n = 0
  for epoch, loss in printed[7]:gmatch("epoch%s+(%d+).-val_loss ([%d.]+)") do
    lu.assertAlmostEquals(tonumber(rows[tonumber(epoch)][3]), tonumber(loss), 5e-5)
    n = n + 1
  end
  lu.assertEquals(n, 6)
end

-- Runs last (LuaUnit sorts tests by name): every README query was checked.
function TestReadme:test_zz_every_query_is_checked()
  local names = {}
  for name in pairs(queries) do names[#names + 1] = name end
  table.sort(names)
  lu.assertTrue(#names >= 8, "README shows fewer than eight queries")
  for _, name in ipairs(names) do
    lu.assertTrue(checked[name], "README query '" .. name .. "' has no check in test_readme.lua")
  end
end

S.finish()
