-- seed_example.lua: the lecture's 2-3-1 network, one stage at a time.
--
-- Inputs x1 = 1, x2 = 2, target y = 3; three sigmoid hidden units with bias 1;
-- a linear output; loss (y - out)^2 / 2; gradient descent with lr = 0.01.
-- w111 = 0.5, w112 = 0.3 and w211 = -0.23 are the lecture's; the weights it
-- does not show are chosen so that the output is 1.106, as the lecture's is.
--
--   backprop run scripts/seed_example.lua [lr=0.01] [steps=300]
local bp = require "backprop"

local lr = bp.param("lr", 0.01)
local steps = bp.param("steps", 300)

local net = bp.net(2)
net:add(3, "sigmoid", {
  weights = {{ 0.5, 0.3},    -- w111 w112  (lecture)
             {-0.1, 0.1},    -- w121 w122
             {-0.4, 0.6}},   -- w131 w132
  bias = 1,                  -- b11 b12 b13 (lecture: 1)
})
net:add(1, "identity", {
  weights = {{-0.23, 0.3, 0.1}},  -- w211 (lecture) w212 w213
  bias = 1,                       -- b21
})
local loss = bp.loss("half_se")
bp.log_weights(net, 0)   -- every weight, recorded exactly: see README's queries
local x, y = {1, 2}, {3}

-- Each figure is printed with the lecture's beside it. The lecture rounds
-- o11 to 0.89 before it multiplies, so from dLoss/dw211 on its figures
-- differ from the exact ones in the third digit.
local function show(label, exact, lecture, how)
  print(string.format("%-15s = %9.5f   lecture: %-7s %s", label, exact, lecture, how or ""))
end

-- 1. Forward propagation.
local out = net:forward(x)
show("h11", net:h(1)[1], "2.1", "(w111*x1 + w112*x2 + b11)")
show("o11", net:o(1)[1], "0.89", "(sigmoid(h11))")
show("output", out[1], "1.106")

-- 2. The loss.
show("loss", loss:forward(out, y), "", "((y - output)^2 / 2)")

-- 3. Backpropagation: the chain rule back through both layers.
local dout = loss:backward(out, y)
net:backward(dout)
local o11 = net:o(1)[1]
show("dLoss/dOutput", dout[1], "-1.894", "(output - y)")
show("dLoss/dw211", net:grad_weight(2, 1, 1), "-1.686", "(dLoss/dOutput * o11)")
local w211 = net:weight(2, 1, 1)

-- 4. Gradient descent: w_new = w_old - lr * dLoss/dw.
net:update(lr)
bp.log("loss", loss:forward(out, y), 1)
bp.log_weights(net, 1)
show("new w211", net:weight(2, 1, 1), "-0.213", "(w211 - lr * dLoss/dw211)")
show("dOutput/do11", w211, "-0.23", "(w211)")
show("do11/dh11", o11 * (1 - o11), "0.0979", "(o11 * (1 - o11))")
show("dLoss/dw111", net:grad_weight(1, 1, 1), "0.0426", "(dLoss/dOutput * dOutput/do11 * do11/dh11 * x1)")
show("new w111", net:weight(1, 1, 1), "0.499", "(w111 - lr * dLoss/dw111)")

-- Then train: the four stages in one call per step.
net:log_loss("loss")
print("\nstep   loss")
for step = 2, steps do
  local l = net:train_step(x, y, loss, lr)
  if step % 50 == 0 then bp.log_weights(net, step) end
  if step == 2 or step % 50 == 0 or step == steps then
    print(string.format("%4d   %.6f", step, l))
  end
end
print(string.format("output after %d steps = %.4f (target %g)", steps, net:forward(x)[1], y[1]))
