-- attack_merge.lua: SIGKILL to `backprop merge` at random moments
-- (tests/attack/README.md), BP_ATTACK_KILLS kills.
--
-- Three shards of one sweep, each a database of its own (two trials of
-- 100,000 losses each, and a plain run), are merged into a new output, and
-- the merge is killed at a random moment of what an uninterrupted merge
-- takes (every other time with the first shard merged before). What is left
-- must pass integrity_check and hold each input whole or not at all (its
-- runs, by uid, with every metric of each); merging again must complete it:
-- every run of every input once, all its metrics, the sweep once and
-- completed.
local lu = require "luaunit"

package.path = (os.getenv("BP_SOURCE_DIR") or ".") .. "/tests/lua/?.lua;" .. package.path
local S = require "support"
local EXE, SRC, TMP, slurp, write, backprop, query = S.EXE, S.SRC, S.TMP, S.slurp, S.write,
  S.backprop, S.query
local clock, sleep, alive = S.clock, S.sleep, S.alive

local KILLS = math.tointeger(tonumber(os.getenv("BP_ATTACK_KILLS") or "")) or 10
local SEED = math.tointeger(tonumber(os.getenv("BP_ATTACK_SEED") or "")) or 1
math.randomseed(SEED)
print(string.format("attack_merge: %d kills, BP_ATTACK_SEED=%d", KILLS, SEED))

local SHARDS = 3
local OUT = TMP .. "/out.db"

local function input(k) return TMP .. "/in-" .. k .. ".db" end

-- Each input's runs: uid -> number of metrics.
local function runs_of(db)
  local runs = {}
  for _, row in ipairs(query(db, "SELECT r.uid, (SELECT count(*) FROM metrics m"
      .. " WHERE m.run_id = r.id) FROM runs r")) do
    local uid, n = row:match("^(%x+),(%d+)$")
    runs[uid] = tonumber(n)
  end
  return runs
end

local inputs = {}
local function make_inputs()
  local plain = write("plain.lua", 'local bp = require "backprop"\n'
    .. 'for s = 1, 20000 do bp.log("x", s / 7, s) end\n')
  for trial = 0, 5 do
    local _, err, code = backprop(string.format("sweep --trial %d --db %s --seed 1"
      .. " scripts/sweep_xor.lua lr=0.1,0.5,2 hidden=2,4 steps=100000", trial,
      input(trial % SHARDS)))
    lu.assertEquals(code, 0, err)
  end
  for k = 0, SHARDS - 1 do
    local _, err, code = backprop("run --db " .. input(k) .. " " .. plain)
    lu.assertEquals(code, 0, err)
    inputs[k] = runs_of(input(k))
  end
end

local function remove_out()
  for _, suffix in ipairs{"", "-wal", "-shm", "-journal", "-lock"} do os.remove(OUT .. suffix) end
end

-- The rows of a query on OUT, or {} when OUT has no tables yet (a merge
-- killed before it made the schema leaves an empty file, or none).
local function out_rows(sql)
  local f = io.open(OUT)
  if not f then return {} end
  f:close()
  local rows, err = S.try_query(OUT, sql)
  if not rows and err:find("not a backprop database %(it is empty%)") then return {} end
  lu.assertNotNil(rows, err)
  return rows
end

-- How many inputs OUT holds whole; fails if one is there in part.
local function whole_inputs()
  if #out_rows("SELECT 1 FROM sqlite_master LIMIT 1") == 0 then return 0 end
  lu.assertEquals(out_rows("PRAGMA integrity_check"), {"ok"})
  local there = {}
  for _, row in ipairs(out_rows("SELECT r.uid, (SELECT count(*) FROM metrics m"
      .. " WHERE m.run_id = r.id) FROM runs r")) do
    local uid, n = row:match("^(%x+),(%d+)$")
    lu.assertNil(there[uid], "run " .. uid .. " twice")
    there[uid] = tonumber(n)
  end
  local whole = 0
  for k = 0, SHARDS - 1 do
    local found, total = 0, 0
    for uid, n in pairs(inputs[k]) do
      total = total + 1
      if there[uid] then
        lu.assertEquals(there[uid], n, "run " .. uid .. " of input " .. k .. ": metrics")
        found = found + 1
      end
    end
    lu.assertTrue(found == 0 or found == total,
      string.format("input %d is there in part: %d of its %d runs", k, found, total))
    if found == total then whole = whole + 1 end
  end
  return whole
end

local function merge_args()
  local args = "merge " .. OUT
  for k = 0, SHARDS - 1 do args = args .. " " .. input(k) end
  return args
end

TestAttackMerge = {}

function TestAttackMerge:test_merge_killed_and_merged_again()
  make_inputs()
  local t0 = clock()
  local _, err, code = backprop(merge_args())
  local window = clock() - t0
  lu.assertEquals(code, 0, err)
  lu.assertEquals(whole_inputs(), SHARDS)
  local landed, missed = {}, 0
  for k = 0, SHARDS do landed[k] = 0 end
  t0 = clock()
  for kill = 1, KILLS do
    remove_out()
    if kill % 2 == 0 then
      _, err, code = backprop("merge " .. OUT .. " " .. input(0))
      lu.assertEquals(code, 0, err)
    end
    os.execute(string.format("(cd %s && exec %s %s >/dev/null 2>&1) & echo $! > %s/pid", SRC,
      EXE, merge_args(), TMP, TMP))
    local pid = slurp(TMP .. "/pid"):match("%d+")
    sleep(math.random() * window)
    if alive(pid) then
      os.execute("kill -KILL " .. pid)
      for _ = 1, 1000 do
        if not alive(pid) then break end
        sleep(0.01)
      end
    else
      missed = missed + 1 -- it had ended
    end
    local whole = whole_inputs()
    landed[whole] = landed[whole] + 1
    _, err, code = backprop(merge_args())
    lu.assertEquals(code, 0, err)
    lu.assertEquals(whole_inputs(), SHARDS)
    lu.assertEquals(out_rows("SELECT count(*), min(status) FROM sweeps"), {"1,completed"})
  end
  print(string.format("  %d tries, %d killed mid-merge (the others came after it had ended):"
    .. " left %d with no input, %d with 1, %d with 2, %d with all 3, never one in part;"
    .. " merged again whole with no duplicate, integrity_check ok each time; %.1f s", KILLS,
    KILLS - missed, landed[0], landed[1], landed[2], landed[3], clock() - t0))
end

S.finish()
