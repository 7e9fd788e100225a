-- test_repl.lua: `backprop repl` fed from a pipe (LuaUnit): each line run
-- when complete, values printed readably, errors printed and the prompt
-- going on. (On a terminal the same loop adds prompts and line editing.)
local lu = require "luaunit"

package.path = (os.getenv("BP_SOURCE_DIR") or ".") .. "/tests/lua/?.lua;" .. package.path
local S = require "support"

-- Feeds input to `backprop repl`; returns stdout, stderr, exit status.
local function repl(input)
  S.write("repl.in", input)
  return S.backprop("repl <" .. S.TMP .. "/repl.in")
end

TestRepl = {}

function TestRepl:test_the_lecture_by_hand()
  local out, err, code = repl([[
net = bp.net(2):add(3, "sigmoid", {weights = {{0.5, 0.3}, {-0.1, 0.1}, {-0.4, 0.6}}, bias = 1})
net:add(1, "identity", {weights = {{-0.23, 0.3, 0.1}}, bias = 1})
net
net:forward({1, 2})
net:o(1)
net:weights(1)
loss = bp.loss("half_se")
net:backward(loss:backward(net:forward({1, 2}), {3}))
net:grad_weight(2, 1, 1), net:grad_weight(1, 1, 1)
]])
  lu.assertEquals(code, 0, err)
  lu.assertEquals(err, "")
  lu.assertEquals(out, table.concat({
    -- the add line returns the net, shown as the next line shows it
    "net 2-3-1 (sigmoid, identity), float64, 13 parameters\n  layer 1: 2 -> 3 sigmoid\n  layer 2: 3 -> 1 identity",
    "net 2-3-1 (sigmoid, identity), float64, 13 parameters\n  layer 1: 2 -> 3 sigmoid\n  layer 2: 3 -> 1 identity",
    "{1.10599}",
    "{0.890903, 0.75026, 0.858149}",
    "3 x 2\n   0.5   0.3\n  -0.1   0.1\n  -0.4   0.6",
    -- backward returns dLoss/d(input) (issue 13): dh1 W1 with dh1 =
    -- (0.04234, -0.10646, -0.02306) by hand, so 0.5*0.04234 - 0.1*-0.10646
    -- - 0.4*-0.02306 = 0.04104 and 0.3*0.04234 + 0.1*-0.10646 + 0.6*-0.02306
    -- = -0.01178
    "{0.0410389, -0.0117778}",
    "-1.68738\t0.0423403",
  }, "\n") .. "\n")
end

function TestRepl:test_errors_and_unfinished_lines()
  local out, err, code = repl([[
for i = 1,
  3 do io.write(i, " ") end
print()
error("boom")
nosuch.field
{a = 1, 2, "x"}
function f(
]])
  lu.assertEquals(code, 0)
  lu.assertEquals(out, "1 2 3 \n{2, \"x\", a = 1}\n")
  lu.assertStrContains(err, "stdin:1: boom\nstack traceback:")
  lu.assertStrContains(err, "stdin:1: attempt to index a nil value (global 'nosuch')")
  lu.assertStrContains(err, "stdin: input ended inside an unfinished chunk\n")
end

-- A call spanning lines shows its result; print(net) gives the table the
-- prompt shows; bp.show is the module's (issue 18).
function TestRepl:test_multi_line_results_and_print()
  local out, err, code = repl([[
net = bp.net(2):add(3, "sigmoid", {weights = {{0.5, 0.3}, {-0.1, 0.1}, {-0.4, 0.6}}, bias = 1})
net:forward({1,
  2})
print(net)
net
bp.show
]])
  lu.assertEquals(code, 0, err)
  local layers = "net 2-3 (sigmoid), float64, 9 parameters\n  layer 1: 2 -> 3 sigmoid"
  local head = "{0.890903, 0.75026, 0.858149}\n" .. layers .. "\n" .. layers .. "\n"
  lu.assertEquals(out:sub(1, #head), head)
  lu.assertStrMatches(out:sub(#head + 1), "function: [^\n]+\n")
end

-- net:fit at the prompt returns its statistics, shown as one line rather
-- than every epoch's table; they are all there (issue 18).
function TestRepl:test_fit_is_quiet()
  local out, err, code = repl([[
d = bp.data({{0, 0}, {0, 1}, {1, 0}, {1, 1}}, {1, 2, 2, 1}, {classes = 2})
net = bp.net(2):add(4, "tanh"):add(d:classes())
h = net:fit{data = d, validation = d, loss = "softmax_ce", lr = 0.1, epochs = 3, batch = 2}
h
#h, h[3].epoch, h[3].steps
]])
  lu.assertEquals(code, 0, err)
  lu.assertEquals(err, "")
  local lines = {}
  for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
  lu.assertEquals(#lines, 2, out)
  lu.assertStrMatches(lines[1], "fit: epochs 1%-3, 6 steps, [%d.]+ s; epoch 3: train_loss [%d.e-]+, "
    .. "val_accuracy [%d.e-]+, val_loss [%d.e-]+")
  lu.assertEquals(lines[2], "3\t3\t6")
end

-- Tab completion on a terminal (script(1) gives the prompt one; libedit
-- reads the tabs): a method of a value and a function of the module, as
-- Torch7's th completed them (issue 18).
function TestRepl:test_tab_completion_on_a_terminal()
  if not os.execute("command -v script >/dev/null") then
    print("  (skipped: no script(1) here)")
    return
  end
  S.write("tty.in", "net = bp.net(2):add(1, 'identity', {weights = {{1, 1}}, bias = 0})\n"
    .. "net:tr\t\t_step({1, 2}, {4}, 'half_se', 0.1)\nbp.ne\t(3)\nbp.sh\t\n")
  os.execute(string.format("cd %s && script -qfec %q /dev/null <%s/tty.in >%s/tty.out 2>&1",
    S.SRC, S.EXE .. " repl", S.TMP, S.TMP))
  local out = S.slurp(S.TMP .. "/tty.out"):gsub("\r", "")
  -- two tabs: the common part, then every candidate
  lu.assertStrContains(out, "net:train_batch  net:train_step   net:train_steps  net:training")
  -- completed lines run: train_step's loss (4 - 3)^2 / 2, bp.net (3) a net,
  -- bp.show a function
  lu.assertStrContains(out, "\n0.5\n")
  lu.assertStrContains(out, "\nfunction: ")
  lu.assertStrContains(out, "\nnet 3, float64, 0 parameters\n")
end

S.finish()
