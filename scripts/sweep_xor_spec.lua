-- sweep_xor_spec.lua: a sweep written in Lua, for what is too long for a
-- command line:   backprop sweep --spec scripts/sweep_xor_spec.lua
return {
  script = "scripts/sweep_xor.lua",
  params = {lr = "loguniform:1e-2:5", hidden = {2, 4, 8}},
  trials = 12,
  seed = 1,
  objective = "min:loss",
  prune = "median",
}
