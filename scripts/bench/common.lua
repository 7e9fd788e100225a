-- common.lua: what the benchmarks of scripts/bench/ share.
--
-- Each benchmark is an experiment like any other: `backprop run --db
-- results/bench.db scripts/bench/wN.lua threads=1` records its parameters
-- and every figure (bp.log) as a run. This file times repetitions and
-- summarises them (median, min, max), runs the C floors and the PyTorch side
-- (scripts/bench/torch_bench.py, one process per benchmark, the same thread
-- count), and writes the synthetic IDX data the data-set loader reads, so
-- that 60,000 rows reach C memory without a Lua table per row.
local bp = require "backprop"

local C = {}
C.build = bp.param("build", "build")  -- where w1_floor and blas_floor are
C.reps = bp.param("reps", 5)
C.threads = bp.param("threads", 1)
-- peers=false: backprop's own figures only, without PyTorch and the C floors
-- (scripts/bench/compare.sh, which sets two builds of backprop side by side)
C.peers = bp.param("peers", true)
bp.threads(C.threads)

-- median, min and max of a list of figures
function C.stats(xs)
  local s = {}
  for i, v in ipairs(xs) do s[i] = v end
  table.sort(s)
  local n = #s
  local med = n % 2 == 1 and s[(n + 1) // 2] or (s[n // 2] + s[n // 2 + 1]) / 2
  return {med = med, min = s[1], max = s[n]}
end

-- runs f() reps times, each timed on the wall clock; returns the list of
-- figure(seconds) for each repetition
function C.repeat_timed(reps, f, figure)
  local out = {}
  for r = 1, reps do
    local t0 = bp.clock()
    f(r)
    out[r] = figure(bp.clock() - t0)
  end
  return out
end

-- the lines a command prints; raises if it fails
function C.run(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local lines = {}
  for line in p:lines() do lines[#lines + 1] = line end
  local ok, _, code = p:close()
  if not ok then
    error(cmd .. " failed (" .. tostring(code) .. "):\n" .. table.concat(lines, "\n"))
  end
  return lines
end

-- the numbers after `key` on each line that has it
function C.numbers(lines, key)
  local xs = {}
  for _, line in ipairs(lines) do
    local v = line:match("^" .. key .. " ([%d%.e+-]+)")
    if v then xs[#xs + 1] = tonumber(v) end
  end
  return xs
end

-- PyTorch is Debian's python3-torch, for /usr/bin/python3 (not a python3
-- that happens to come first on PATH); installed here if missing
function C.ensure_torch()
  if os.execute("/usr/bin/python3 -c 'import torch' 2>/dev/null") then return end
  print("installing python3-torch (apt-get) ...")
  assert(os.execute("apt-get install -y python3-torch >/dev/null"),
         "cannot install python3-torch: run apt-get install -y python3-torch")
end

-- PyTorch in its best configuration, which the benchmark prints:
--  - glibc keeps its large buffers: Debian's PyTorch slows by up to 3x at
--    random when glibc hands them back to the kernel every step;
--  - the best split of the threads between its own loops (OpenMP,
--    torch.set_num_threads) and its matrix products (OpenBLAS): at 2 threads
--    its default, both at 2, fights itself on two cores (37 s an epoch of
--    W2 against 1.8 with OpenBLAS's two alone, 2026-12-06), so each split
--    is run and the fastest kept; the default, for the record, with one
--    repetition.
C.TORCH_ENV = "MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824"

-- one configuration: torch's threads `tt`, OpenBLAS's `bt`
local function torch_once(workload, args, tt, bt, reps)
  C.ensure_torch()
  local cmd = string.format(
    "%s OPENBLAS_NUM_THREADS=%d OMP_NUM_THREADS=%d /usr/bin/python3 scripts/bench/torch_bench.py %s threads=%d reps=%d %s",
    C.TORCH_ENV, bt, tt, workload, tt, reps, args or "")
  local lines = C.run(cmd)
  local last = lines[#lines]
  local r = {fields = {}}
  r.med, r.min, r.max = last:match("^result (%S+) min (%S+) max (%S+)")
  assert(r.med, "unexpected output of " .. cmd .. ":\n" .. table.concat(lines, "\n"))
  r.med, r.min, r.max = tonumber(r.med), tonumber(r.min), tonumber(r.max)
  for k, v in last:gmatch("(%S+) (%S+)") do r.fields[k] = tonumber(v) or v end
  r.config = string.format("torch threads %d, OpenBLAS threads %d, %s", tt, bt, C.TORCH_ENV)
  return r
end

-- runs a PyTorch workload in each split of C.threads; returns the best
-- (lowest figure, or highest with higher = true): {med, min, max, config,
-- fields = {name = value}}, and prints every split's median
function C.torch(workload, args, higher)
  local T, splits = C.threads, {{C.threads, C.threads, C.reps}}
  if T > 1 then splits = {{1, T, C.reps}, {T, 1, C.reps}, {T, T, 1}} end
  local best
  for _, s in ipairs(splits) do
    local r = torch_once(workload, args, s[1], s[2], s[3])
    print(string.format("  torch %-44s %12.6g (%d reps)", r.config:match("^[^,]+,[^,]+"),
                        r.med, s[3]))
    if not best or (higher and r.med > best.med) or (not higher and r.med < best.med) then
      best = r
    end
  end
  print("  torch best: " .. best.config)
  bp.tag("torch_config", best.config)
  return best
end

-- the machine's load average over the last minute (/proc/loadavg)
function C.load()
  local f = io.open("/proc/loadavg")
  if not f then return 0 end
  local v = tonumber(f:read("l"):match("^(%S+)"))
  f:close()
  return v
end

-- the limit lines of scripts/bench/blas_floor.c: one repetition of `what`
-- ("peak", or "LIB w2" ...) at C.threads; returns its figure for `key`
-- (gflops, seconds) and for "cpu_" .. key (the same over the process's CPU
-- time: what the figure would be had its threads had their cores), or nil
-- when this build has no such library; `rows`, if given, follows the
-- repetitions (W5's images an epoch)
function C.limit(what, key, rows)
  local ok, lines = pcall(C.run, string.format("%s/blas_floor %s %d 1 %s", C.build, what,
                                               C.threads, rows or ""))
  if not ok then return nil end
  return C.numbers(lines, key)[1], C.numbers(lines, "cpu_" .. key)[1]
end

-- the peak resident set of this process so far, in kB
function C.peak_rss_kb()
  for line in io.lines("/proc/self/status") do
    local v = line:match("^VmHWM:%s+(%d+)")
    if v then return tonumber(v) end
  end
end

-- logs name_med, name_min and name_max of a stats table, and prints a line
function C.report(name, s, unit)
  bp.log(name, s.med, 0)
  bp.log(name .. "_min", s.min, 0)
  bp.log(name .. "_max", s.max, 0)
  print(string.format("%-28s %12.6g %-8s (min %.6g, max %.6g)", name, s.med,
                      unit or "", s.min, s.max))
end

-- logs and prints one figure
function C.figure(name, v, unit)
  bp.log(name, v, 0)
  print(string.format("%-28s %12.6g %s", name, v, unit or ""))
end

-- The learning comparison of issue 26 (w8.lua's and w9.lua's learn=N):
-- net, trained N iterations, evaluated as the char_*.lua scripts measure
-- it (8 of the validation part's sequential batches of B x T, spread
-- evenly), beside PyTorch's validation loss after its own N iterations
-- (torch_bench.py WORKLOAD learn=N), both logged with their ratio.
function C.learn_figures(workload, dir, learn, net, corpus, B, T, ce)
  local count, total, val = corpus:batches(B, T, "val"), 0, nil
  local n = math.min(8, count)
  for v = 1, n do
    val = corpus:batch(B, T, {part = "val", index = 1 + (v - 1) * count // n, into = val})
    total = total + net:evaluate(val, ce).loss
  end
  local ours = total / n
  C.figure("learn_iterations", learn, "")
  C.figure("val_loss", ours, "nats/char")
  local tv = C.torch(workload, string.format("dir=%s learn=%d", dir, learn))
  C.figure("torch_val_loss", tv.med, "nats/char")
  C.figure("val_loss_over_torch", ours / tv.med, "x")
end

-- Writes n images of `side` x `side` random bytes (uniform 0..255) and n
-- labels (uniform 0..classes-1) as IDX files PREFIX-images-idx3-ubyte and
-- PREFIX-labels-idx1-ubyte, drawn from Lua's generator seeded with `seed`,
-- unless they exist. Scaled by 1/256 they are inputs uniform in [0, 1) (on
-- a grid of 1/256). Returns the prefix.
function C.idx_data(prefix, n, side, classes, seed)
  local img, lab = prefix .. "-images-idx3-ubyte", prefix .. "-labels-idx1-ubyte"
  local f = io.open(img, "rb")
  if f then f:close() return prefix end
  os.execute("mkdir -p " .. prefix:match("^(.*)/"))
  math.randomseed(seed)
  local fi = assert(io.open(img .. ".tmp", "wb"))
  fi:write(string.pack(">I4I4I4I4", 0x803, n, side, side))
  local d, row = side * side, {}
  for _ = 1, n do
    for i = 1, d do row[i] = math.random(0, 255) end
    fi:write(string.char(table.unpack(row, 1, d)))
  end
  fi:close()
  local fl = assert(io.open(lab, "wb"))
  fl:write(string.pack(">I4I4", 0x801, n))
  for _ = 1, n do fl:write(string.char(math.random(0, classes - 1))) end
  fl:close()
  assert(os.rename(img .. ".tmp", img))
  return prefix
end

-- the data set an idx_data prefix holds, scaled into [0, 1)
-- dtype: of the inputs, "float32" for a float32 network as torch_bench.py
-- holds them (default float64)
function C.load_idx(prefix, classes, dtype)
  local d = assert(bp.load_idx(prefix .. "-images-idx3-ubyte",
                               prefix .. "-labels-idx1-ubyte", classes,
                               {dtype = dtype or "float64"}))
  d:scale{shift = 0, scale = 256}
  return d
end

-- the lecture's 2-3-1 network, from its weights (W1 and W4)
function C.lecture_net()
  local net = bp.net(2)
  net:add(3, "sigmoid", {weights = {{0.5, 0.3}, {-0.1, 0.1}, {-0.4, 0.6}}, bias = 1})
  net:add(1, "identity", {weights = {{-0.23, 0.3, 0.1}}, bias = 1})
  return net
end

-- a line for the machine: lscpu's model name and the core count
function C.machine()
  local model, cores = "?", "?"
  for _, line in ipairs(C.run("lscpu")) do
    model = line:match("^Model name:%s+(.+)$") or model
    cores = line:match("^CPU%(s%):%s+(%d+)$") or cores
  end
  bp.tag("machine", model .. ", " .. cores .. " cores")
  return model .. ", " .. cores .. " cores"
end

return C
