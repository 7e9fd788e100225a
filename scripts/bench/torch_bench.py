"""torch_bench.py: the PyTorch side of the benchmarks in scripts/bench/.

Each workload is written the way a PyTorch user writes it (eager mode, an
nn.Module, an optimizer, loss.backward()), and does the same arithmetic as
the backprop side: same network, dtype, batch, learning rate and data. The
Lua scripts run it through io.popen and read its last line,
"result <figure> ... peak_rss_kb <kb>"; one repetition per line before that
("rep <figure>") so that the caller takes the median, min and max itself.

Threads: torch.set_num_threads(n) for PyTorch's own loops; its matrix
products go to OpenBLAS (Debian builds PyTorch against libblas), whose
threads the caller sets (OPENBLAS_NUM_THREADS), with glibc's allocator
settings: common.lua's C.torch runs each split and keeps the best.

Usage: /usr/bin/python3 torch_bench.py WORKLOAD threads=N reps=R [key=value ...]
  w1 steps=S            the lecture's 2-3-1, float64, one step per loop turn
  w4 steps=S db=PATH    w1, each step's loss inserted into SQLite
  w2 idx=PREFIX         784-128-64-10 on the IDX data the Lua side wrote
  w3 steps=S            1024-1024-1024-10, batch 256, GFLOP/s
  w5 idx=PREFIX n=N     issue 25's CNN, Adam, batch 64, on the first N images
  w8 dir=DIR iters=K    issue 26's char-rnn, ms per training iteration
  w8 dir=DIR learn=N    the same trained N iterations: validation loss (nats/char)
  w9 dir=DIR steps=S    issue 26's character GPT on the corpus in DIR, ms an iteration
  w9 dir=DIR learn=N    the same trained N iterations: validation loss (nats/char)
"""
import resource
import sqlite3
import sys
import time

import torch


def args():
    kv = dict(a.split("=", 1) for a in sys.argv[2:])
    return sys.argv[1], kv


def lecture_model():
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Sigmoid(),
                                torch.nn.Linear(3, 1)).double()
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[0.5, 0.3], [-0.1, 0.1], [-0.4, 0.6]]))
        model[0].bias.fill_(1)
        model[2].weight.copy_(torch.tensor([[-0.23, 0.3, 0.1]]))
        model[2].bias.fill_(1)
    return model


def w1(kv, db=None):
    """ns per step; with db, each step's loss goes to SQLite (rows/s)."""
    steps = int(kv.get("steps", 20000))
    x = torch.tensor([1.0, 2.0], dtype=torch.float64)
    y = torch.tensor([3.0], dtype=torch.float64)
    figures = []
    for _ in range(int(kv["reps"])):
        model = lecture_model()
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        con = None
        if db:
            con = sqlite3.connect(db)
            con.execute("create table if not exists metric(step integer, name text, value real)")
            con.execute("delete from metric")
            con.commit()
        t0 = time.perf_counter()
        for step in range(steps):
            opt.zero_grad()
            out = model(x)
            loss = ((y - out) ** 2 / 2).sum()
            loss.backward()
            opt.step()
            if con:
                con.execute("insert into metric values (?, 'loss', ?)", (step + 1, loss.item()))
        if con:
            con.commit()
            con.close()
        t = time.perf_counter() - t0
        figures.append(steps / t if db else t / steps * 1e9)
        print("rep %.6g" % figures[-1], flush=True)
    w111 = model[0].weight[0, 0].item()
    return figures, "w111 %.17g" % w111


def read_idx(prefix):
    """The images and labels the Lua side wrote (IDX, unsigned bytes)."""
    with open(prefix + "-images-idx3-ubyte", "rb") as f:
        head = f.read(16)
        n = int.from_bytes(head[4:8], "big")
        d = int.from_bytes(head[8:12], "big") * int.from_bytes(head[12:16], "big")
        x = torch.frombuffer(bytearray(f.read()), dtype=torch.uint8).reshape(n, d)
    with open(prefix + "-labels-idx1-ubyte", "rb") as f:
        f.read(8)
        y = torch.frombuffer(bytearray(f.read()), dtype=torch.uint8).long()
    return x.float() / 256, y


def mlp(sizes):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def w2(kv):
    """Seconds per epoch: 784-128-64-10, batch 64, shuffled every epoch."""
    torch.manual_seed(1)
    x, y = read_idx(kv["idx"])
    n, B = x.shape[0], 64
    model = mlp([784, 128, 64, 10])
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    loss_fn = torch.nn.CrossEntropyLoss()
    figures = []
    for rep in range(int(kv["reps"]) + 1):  # the first epoch warms up
        t0 = time.perf_counter()
        perm = torch.randperm(n)
        for i in range(0, n, B):
            idx = perm[i:i + B]
            opt.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
        t = time.perf_counter() - t0
        if rep:
            figures.append(t)
            print("rep %.6g" % t, flush=True)
    return figures, "last_loss %.6g" % loss.item()


def w3(kv):
    """GFLOP/s of 1024-1024-1024-10, batch 256: 6 x params x batch a step."""
    torch.manual_seed(1)
    B, steps = 256, int(kv.get("steps", 20))
    model = mlp([1024, 1024, 1024, 10])
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = torch.nn.CrossEntropyLoss()
    x = torch.rand(steps, B, 1024)
    y = torch.randint(0, 10, (steps, B))
    figures = []
    for rep in range(int(kv["reps"]) + 1):
        t0 = time.perf_counter()
        for s in range(steps):
            opt.zero_grad()
            loss = loss_fn(model(x[s]), y[s])
            loss.backward()
            opt.step()
        t = time.perf_counter() - t0
        if rep:
            figures.append(6.0 * params * B * steps / t / 1e9)
            print("rep %.6g" % figures[-1], flush=True)
    return figures, "params %d" % params


def cnn():
    """Issue 25's network, as scripts/fashion_cnn.lua builds it."""
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.25),
        nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))


def w5(kv):
    """Seconds per epoch of N images (shuffled every epoch), after 20 steps
    to warm up."""
    torch.manual_seed(1)
    x, y = read_idx(kv["idx"])
    n, B = int(kv.get("n", x.shape[0])), 64
    x, y = x[:n].reshape(n, 1, 28, 28).contiguous(), y[:n].contiguous()
    model = cnn()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step(idx):
        opt.zero_grad()
        loss = loss_fn(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
        return loss

    for i in range(20):
        step(torch.arange(i * B, (i + 1) * B) % n)
    figures = []
    for rep in range(int(kv["reps"])):
        t0 = time.perf_counter()
        perm = torch.randperm(n)
        for i in range(0, n, B):
            loss = step(perm[i:i + B])
        t = time.perf_counter() - t0
        figures.append(t)
        print("rep %.6g" % t, flush=True)
    return figures, "last_loss %.6g" % loss.item()


def read_corpus(d):
    """bp.data.text(d): the directory's regular files whose names have no
    '.', sorted by name, concatenated; ids 0..V-1 in the order of the byte
    values (all of them: text_parts splits them)."""
    import os
    names = sorted(f for f in os.listdir(d)
                   if "." not in f and os.path.isfile(os.path.join(d, f)))
    data = b"".join(open(os.path.join(d, f), "rb").read() for f in names)
    raw = torch.frombuffer(bytearray(data), dtype=torch.uint8).long()
    vocab = torch.unique(raw)
    lut = torch.full((256,), -1, dtype=torch.long)
    lut[vocab] = torch.arange(len(vocab))
    return lut[raw], len(vocab)


def w8(kv):
    """ms per training iteration of char-rnn (scripts/char_rnn.lua's
    network: embedding of 128, a 2-layer LSTM of 128, a linear to V;
    float32, 50 sequences of 50 steps at random offsets of the training
    part, cross-entropy over every step, gradients clipped at norm 5,
    Adam 2e-3), after 5 iterations to warm up; each repetition the mean of
    `iters` iterations."""
    torch.manual_seed(1)
    ids, V = read_corpus(kv.get("dir", "/usr/share/games/fortunes"))
    train, _ = text_parts(ids)
    B, T, H, iters = 50, 50, 128, int(kv.get("iters", 20))
    nn = torch.nn

    class CharRNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(V, H)
            self.lstm = nn.LSTM(H, H, num_layers=2, batch_first=True)
            self.head = nn.Linear(H, V)

        def forward(self, x):
            return self.head(self.lstm(self.embed(x))[0])

    model = CharRNN()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    steps = torch.arange(T)

    def step():
        idx = torch.randint(0, len(train) - T, (B, 1)) + steps
        x, y = train[idx], train[idx + 1]
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x).reshape(-1, V), y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        return loss

    learn = int(kv.get("learn", 0))
    if learn:
        for _ in range(learn):
            step()
        v = val_loss(model, text_parts(ids)[1], V, B, T, 8)
        return [v], "train_loss %.6g" % step().item()
    for _ in range(5):
        step()
    figures = []
    for rep in range(int(kv["reps"])):
        t0 = time.perf_counter()
        for _ in range(iters):
            loss = step()
        t = (time.perf_counter() - t0) / iters * 1e3
        figures.append(t)
        print("rep %.6g" % t, flush=True)
    return figures, "last_loss %.6g V %d" % (loss.item(), V)


def text_parts(ids):
    """bp.data.text's split: the first floor(n (1 - 0.1)) ids train."""
    import math
    n_train = math.floor(len(ids) * (1 - 0.1))
    return ids[:n_train], ids[n_train:]


def val_loss(model, val, V, B, T, batches):
    """char_gpt.lua's validate(): the mean loss of `batches` of the
    validation part's sequential batches, spread evenly (bp_text_batch:
    the part as B streams of (n - 1) // B ids, batch k at step k T)."""
    L = (len(val) - 1) // B
    count = L // T
    n = min(batches, count)
    total = 0.0
    with torch.no_grad():
        for v in range(n):
            k = (v * count) // n
            x = torch.stack([val[b * L + k * T:b * L + k * T + T] for b in range(B)])
            y = torch.stack([val[b * L + k * T + 1:b * L + k * T + T + 1] for b in range(B)])
            total += torch.nn.functional.cross_entropy(model(x).view(-1, V), y.view(-1)).item()
    return total / n


class CausalSelfAttention(torch.nn.Module):
    """nanoGPT's, as written for a PyTorch without scaled_dot_product_attention."""

    def __init__(self, C, heads, T):
        super().__init__()
        self.c_attn = torch.nn.Linear(C, 3 * C)
        self.c_proj = torch.nn.Linear(C, C)
        self.heads = heads
        self.register_buffer("mask", torch.tril(torch.ones(T, T)).view(1, 1, T, T))

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(C, dim=2)
        h = self.heads
        q = q.view(B, T, h, C // h).transpose(1, 2)
        k = k.view(B, T, h, C // h).transpose(1, 2)
        v = v.view(B, T, h, C // h).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / (k.size(-1) ** 0.5))
        att = att.masked_fill(self.mask[:, :, :T, :T] == 0, float("-inf"))
        att = torch.nn.functional.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class Block(torch.nn.Module):
    def __init__(self, C, heads, T):
        super().__init__()
        self.ln_1 = torch.nn.LayerNorm(C)
        self.attn = CausalSelfAttention(C, heads, T)
        self.ln_2 = torch.nn.LayerNorm(C)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(C, 4 * C), torch.nn.GELU(),
                                       torch.nn.Linear(4 * C, C))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(torch.nn.Module):
    def __init__(self, V, C, heads, T, layers):
        super().__init__()
        self.wte = torch.nn.Embedding(V, C)
        self.wpe = torch.nn.Embedding(T, C)
        self.h = torch.nn.ModuleList(Block(C, heads, T) for _ in range(layers))
        self.ln_f = torch.nn.LayerNorm(C)
        self.lm_head = torch.nn.Linear(C, V)

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.size(1)))
        for b in self.h:
            x = b(x)
        return self.lm_head(self.ln_f(x))


def w9(kv):
    """Milliseconds per iteration of the character GPT (w9.lua's): a random
    batch of 32 x 64, forward, loss, backward, clipping at 1, Adam's step;
    reps runs of steps iterations after 5 to warm up."""
    torch.manual_seed(1)
    ids, V = read_corpus(kv["dir"])
    train, val = text_parts(ids)
    T, B, steps = 64, 32, int(kv.get("steps", 20))
    model = GPT(V, 128, 4, T, 2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    def iteration():
        at = torch.randint(len(train) - T, (B,))
        x = torch.stack([train[i:i + T] for i in at.tolist()])
        y = torch.stack([train[i + 1:i + T + 1] for i in at.tolist()])
        opt.zero_grad()
        loss = loss_fn(model(x).view(-1, V), y.view(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss

    learn = int(kv.get("learn", 0))
    if learn:
        for _ in range(learn):
            iteration()
        v = val_loss(model, val, V, B, T, 8)
        return [v], "train_loss %.6g" % iteration().item()
    for _ in range(5):
        iteration()
    figures = []
    for rep in range(int(kv["reps"])):
        t0 = time.perf_counter()
        for _ in range(steps):
            loss = iteration()
        t = time.perf_counter() - t0
        figures.append(t / steps * 1000)
        print("rep %.6g" % figures[-1], flush=True)
    return figures, "last_loss %.6g" % loss.item()


def main():
    workload, kv = args()
    torch.set_num_threads(int(kv.get("threads", 1)))
    if workload == "w1":
        figures, extra = w1(kv)
    elif workload == "w4":
        figures, extra = w1(kv, db=kv["db"])
    elif workload == "w2":
        figures, extra = w2(kv)
    elif workload == "w3":
        figures, extra = w3(kv)
    elif workload == "w5":
        figures, extra = w5(kv)
    elif workload == "w8":
        figures, extra = w8(kv)
    elif workload == "w9":
        figures, extra = w9(kv)
    else:
        sys.exit("unknown workload " + workload)
    figures.sort()
    med = figures[len(figures) // 2] if len(figures) % 2 else \
        (figures[len(figures) // 2 - 1] + figures[len(figures) // 2]) / 2
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("result %.6g min %.6g max %.6g %s peak_rss_kb %d torch %s"
          % (med, figures[0], figures[-1], extra, rss, torch.__version__))


main()
