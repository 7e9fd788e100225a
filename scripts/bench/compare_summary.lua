-- compare_summary.lua: the table of scripts/bench/compare.sh, from its
-- lines "side workload figure value" (side base or new).
--   backprop lua scripts/bench/compare_summary.lua REV FIGURES
local rev, path = arg[1], arg[2]
local by = {}   -- by[workload .. " " .. figure][side] = {values}
local order = {}
for line in io.lines(path) do
  local side, w, fig, v = line:match("^(%S+) (%S+) (%S+) (%S+)$")
  local key = w .. " " .. fig
  if not by[key] then by[key] = {base = {}, new = {}}; order[#order + 1] = key end
  table.insert(by[key][side], tonumber(v))
end
local function median(xs)
  local s = {table.unpack(xs)}
  table.sort(s)
  local n = #s
  if n == 0 then return 0 / 0 end
  return n % 2 == 1 and s[(n + 1) // 2] or (s[n // 2] + s[n // 2 + 1]) / 2
end
print(string.format("%-22s %-26s %12s %12s %8s", "workload", "figure", rev, "working", "new/base"))
for _, key in ipairs(order) do
  local w, fig = key:match("^(%S+) (%S+)$")
  local b, n = median(by[key].base), median(by[key].new)
  print(string.format("%-22s %-26s %12.6g %12.6g %8.3f", w, fig, b, n, n / b))
end
