-- support.lua: what the LuaUnit suites share. A scratch directory removed at
-- the end, files written into it, the backprop command run as a user runs
-- it (from the source directory, as ctest's BP_EXE), queries through
-- `backprop query --csv`, the one way the suites assert an error's text, and
-- a Lua module's definition as text.
local lu = require "luaunit"

local M = {}

M.EXE = os.getenv("BP_EXE")
M.SRC = os.getenv("BP_SOURCE_DIR") or "."
M.TMP = os.tmpname()
os.remove(M.TMP)
assert(os.execute("mkdir -p " .. M.TMP))

function M.slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- Writes text to a file of the scratch directory; returns its path.
function M.write(name, text)
  local path = M.TMP .. "/" .. name
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

-- What `backprop run` says first on stderr, "run 17 started (PATH)\n"
-- (or "resumed"), taken off: the suites look at what comes after it, and
-- test_host checks the line itself.
function M.without_run_line(err)
  return (err:gsub("^run %d+ %a+ %b()\n", "", 1))
end

-- Runs `backprop ARGS` in the source directory, with `env` ("K=V ...")
-- before it if given; returns stdout, stderr (without the run's first line,
-- M.without_run_line) and the exit status.
function M.backprop(args, env)
  assert(M.EXE, "BP_EXE is not set (run through ctest)")
  local ok, _, code = os.execute(string.format("cd %s && %s %s %s >%s/out 2>%s/err",
    M.SRC, env or "", M.EXE, args, M.TMP, M.TMP))
  return M.slurp(M.TMP .. "/out"), M.without_run_line(M.slurp(M.TMP .. "/err")), ok and 0 or code
end

-- The rows of `backprop query --csv` as lines, without the header; or nil,
-- its stderr and exit status when it fails.
function M.try_query(db, sql)
  local out, err, code = M.backprop(string.format("query --db %s --csv %q", db, sql))
  if code ~= 0 then return nil, err, code end
  local rows = {}
  for line in out:gmatch("[^\n]+") do rows[#rows + 1] = line end
  table.remove(rows, 1)
  return rows
end

-- Starts `backprop ARGS` in the background, its stderr into the scratch
-- directory's bgerr; returns its pid once the file `mark` exists (which the
-- script writes when it is ready), or raises after 20 s.
function M.start(args, mark)
  local pidfile = M.TMP .. "/pid"
  os.execute(string.format("%s %s >/dev/null 2>%s/bgerr & echo $! > %s",
    M.EXE, args, M.TMP, pidfile))
  local pid = M.slurp(pidfile):match("%d+")
  for _ = 1, 400 do
    local f = io.open(mark)
    if f then f:close(); return pid end
    os.execute("sleep 0.05")
  end
  os.execute("kill -KILL " .. pid)
  error("the script never wrote " .. mark .. ": " .. M.slurp(M.TMP .. "/bgerr"))
end

-- The same, asserting that it succeeds.
function M.query(db, sql)
  local rows, err, code = M.try_query(db, sql)
  lu.assertEquals(code, nil, err)
  return rows
end

-- For the tests that start processes and wait for them: wall-clock seconds
-- (`date`'s, to the nanosecond), a nap, whether process pid is there (and
-- not a zombie), and a wait of up to `seconds` (default 20) for a file to
-- appear (whether it did).
function M.clock()
  local p = io.popen("date +%s.%N")
  local t = tonumber(p:read("a"))
  p:close()
  return t
end

function M.sleep(s) os.execute(string.format("sleep %.3f", s)) end

function M.alive(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then return false end
  local state = (f:read("a") or ""):match("%) (%a)")
  f:close()
  return state ~= nil and state ~= "Z" and state ~= "X"
end

function M.await_file(path, seconds)
  for _ = 1, (seconds or 20) * 20 do
    local f = io.open(path)
    if f then f:close(); return true end
    M.sleep(0.05)
  end
  return false
end

-- Asserts that f raises an error containing `text`. f is a closure, so that
-- the call is made as a script makes it (a method call names its method; a
-- bare pcall(net.forward, ...) would not).
function M.assert_error_text(text, f)
  local ok, err = pcall(f)
  lu.assertFalse(ok, "expected an error: " .. text)
  lu.assertStrContains(tostring(err), text, false)
end

-- A module written in Lua, as a script writes it (load it, call it with
-- the module): a gate, x * sigmoid(x W^T), on 4 features, registered as
-- "gate" (README's example). Text, so that a script run apart (backprop run,
-- backprop lua) can define the very same one.
M.GATE = [[
local bp = ...
return bp.module{
  name = "gate", params = {w = bp.tensor{{0.3, -0.1, 0.2, 0.5}, {-0.4, 0.2, 0.1, -0.3},
                                         {0.2, 0.2, -0.5, 0.1}, {0.1, -0.6, 0.3, 0.2}}},
  forward = function(self, x)
    self.g = x:matmul(self.w:t()):sigmoid()
    return x * self.g
  end,
  backward = function(self, x, dout)
    local dg = dout * x * self.g * (1 - self.g)
    self.grad.w:add(dg:t():matmul(x), self.grad.w)
    return dout * self.g + dg:matmul(self.w)
  end}
]]

-- Runs the suite, removes the scratch directory, exits with LuaUnit's code.
function M.finish()
  local rc = lu.LuaUnit.run()
  os.execute("rm -rf " .. M.TMP)
  os.exit(rc)
end

return M
