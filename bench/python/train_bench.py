"""PyTorch CPU reference for sweeplab's training benchmark (bench/src/bin/train_bench.rs).

Trains the same architectures as sweeplab's core (the MNIST MLP 784-128-10 and the classic
MNIST CNN: conv 32 -> conv 64 -> max-pool -> dropout -> fc 128 -> dropout -> fc 10) with Adam,
the same batch size and the same number of threads, on the same data (MNIST-10k's first
8,000 images, normalised the same way), and prints one JSON object per measurement:
{"model": ..., "samples_per_sec": ...}. Each measurement is a full training step (gather the
batch, forward, cross-entropy, backward, Adam step) repeated for --steps steps after
--warmup steps.
"""

import argparse
import gzip
import json
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def load_mnist(directory):
    with gzip.open(f"{directory}/mnist10k-images-idx3-ubyte.gz", "rb") as f:
        data = f.read()
    magic, n, rows, cols = struct.unpack(">IIII", data[:16])
    assert magic == 2051, magic
    images = np.frombuffer(data, dtype=np.uint8, offset=16).reshape(n, rows * cols)
    with gzip.open(f"{directory}/mnist10k-labels-idx1-ubyte.gz", "rb") as f:
        data = f.read()
    labels = np.frombuffer(data, dtype=np.uint8, offset=8)
    x = (images.astype(np.float32) / 255.0 - 0.1307) / 0.3081
    return torch.from_numpy(x[:8000].copy()), torch.from_numpy(labels[:8000].astype(np.int64))


class Mlp(nn.Module):
    def __init__(self, width=128):
        super().__init__()
        self.fc1 = nn.Linear(784, width)
        self.fc2 = nn.Linear(width, 10)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


class Cnn(nn.Module):
    def __init__(self, dropout=0.25):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        x = x.view(-1, 1, 28, 28)
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = self.dropout(x)
        x = torch.flatten(x, 1)
        x = self.dropout(F.relu(self.fc1(x)))
        return self.fc2(x)


def measure(model, x, y, batch, steps, warmup, read_every):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    n = x.shape[0]
    gen = torch.Generator().manual_seed(0)
    perm = torch.randperm(n, generator=gen)
    pos = 0
    losses = []

    def step():
        nonlocal pos, perm
        if pos + batch > n:
            perm = torch.randperm(n, generator=gen)
            pos = 0
        idx = perm[pos : pos + batch]
        pos += batch
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x.index_select(0, idx)), y.index_select(0, idx))
        loss.backward()
        opt.step()
        losses.append(loss.detach())
        if len(losses) >= read_every:
            torch.stack(losses).tolist()
            losses.clear()

    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    torch.stack(losses).tolist() if losses else None
    return steps * batch / (time.perf_counter() - start)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--model", choices=["mlp", "cnn"], required=True)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--read-every", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    x, y = load_mnist(a.data)
    model = Mlp() if a.model == "mlp" else Cnn()
    model.train()
    for _ in range(a.repeats):
        sps = measure(model, x, y, a.batch, a.steps, a.warmup, a.read_every)
        print(json.dumps({"model": a.model, "samples_per_sec": sps, "torch": torch.__version__,
                          "threads": torch.get_num_threads()}))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
