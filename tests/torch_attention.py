"""torch_attention.py: PyTorch's side of test_seq.lua's attention check.

Reads B T C heads causal, then x, c_attn.weight, c_attn.bias,
c_proj.weight, c_proj.bias and dy (one list of numbers a line, as %.17g)
from argv[1]; runs torch.nn.MultiheadAttention(C, heads,
batch_first=True) in float64 with those tensors as in_proj_weight,
in_proj_bias, out_proj.weight and out_proj.bias on (x, x, x), the causal
mask as attn_mask when asked (True above the diagonal: a key after the
query is not attended); backpropagates dy; writes y, dx and the four
gradients to argv[2], a line each. nn.MultiheadAttention, not a copy of
our equations: the test holds the layout README claims, not just the math.
"""
import sys

import torch


def main():
    with open(sys.argv[1]) as f:
        lines = [[float(v) for v in line.split()] for line in f]
    B, T, C, heads, causal = (int(v) for v in lines[0])
    x, w_in, b_in, w_out, b_out, dy = (torch.tensor(v, dtype=torch.float64) for v in lines[1:7])
    x = x.view(B, T, C).requires_grad_()
    mha = torch.nn.MultiheadAttention(C, heads, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        mha.in_proj_weight.copy_(w_in.view(3 * C, C))
        mha.in_proj_bias.copy_(b_in)
        mha.out_proj.weight.copy_(w_out.view(C, C))
        mha.out_proj.bias.copy_(b_out)
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1) if causal else None
    y, _ = mha(x, x, x, attn_mask=mask, need_weights=False)
    y.backward(dy.view(B, T, C))
    out = [y, x.grad, mha.in_proj_weight.grad, mha.in_proj_bias.grad,
           mha.out_proj.weight.grad, mha.out_proj.bias.grad]
    with open(sys.argv[2], "w") as f:
        for t in out:
            f.write(" ".join("%.17g" % v for v in t.detach().reshape(-1).tolist()) + "\n")


main()
