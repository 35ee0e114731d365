#!/usr/bin/python3
"""PyTorch peer for `make bench`: the reference recipe (784-512-256-10 relu,
softmax cross-entropy, plain SGD lr 0.01, batch 128) on the same IDX data,
and batch-1 / batch-128 inference.

Run by tests/bench/run.sh with Debian's python3-torch (/usr/bin/python3).
Prints `key=value` lines that run.sh parses. Each thread configuration is
measured in its own process because torch's intra-op thread count and
OpenBLAS' are process-wide:

  usage: torch_peer.py train DATA_DIR EPOCHS      (one configuration, env decides threads)
         torch_peer.py infer
"""
import gzip
import os
import struct
import sys
import time

import numpy as np
import torch


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find(data_dir, name):
    for cand in (name, name + ".gz"):
        p = os.path.join(data_dir, cand)
        if os.path.exists(p):
            return p
    raise SystemExit("missing " + name + " in " + data_dir)


def reference_net():
    return torch.nn.Sequential(
        torch.nn.Linear(784, 512), torch.nn.ReLU(),
        torch.nn.Linear(512, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 10))


def train(data_dir, epochs):
    threads = int(os.environ.get("PEER_TORCH_THREADS", "1"))
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    x = read_idx(find(data_dir, "train-images-idx3-ubyte"))
    y = read_idx(find(data_dir, "train-labels-idx1-ubyte"))
    x = torch.from_numpy(x.reshape(len(x), 784).astype(np.float32) / 255.0)
    y = torch.from_numpy(y.astype(np.int64))
    net = reference_net()
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    lossf = torch.nn.CrossEntropyLoss()
    n = len(x)
    best = None
    for _ in range(epochs):
        perm = torch.randperm(n)
        t0 = time.perf_counter()
        for i in range(0, n, 128):
            idx = perm[i:i + 128]
            opt.zero_grad(set_to_none=True)
            loss = lossf(net(x[idx]), y[idx])
            loss.backward()
            opt.step()
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    print("torch_epoch_seconds=%.4f" % best)
    print("torch_samples_per_sec=%.1f" % (n / best))
    print("torch_last_loss=%.4f" % loss.item())


def infer():
    torch.set_num_threads(int(os.environ.get("PEER_TORCH_THREADS", "1")))
    net = reference_net().eval()
    x1 = torch.rand(1, 784)
    with torch.no_grad():
        for _ in range(200):
            net(x1)
        lat = []
        for _ in range(2000):
            t0 = time.perf_counter()
            net(x1)
            lat.append(time.perf_counter() - t0)
        lat.sort()
        print("torch_b1_median_us=%.2f" % (lat[len(lat) // 2] * 1e6))
        print("torch_b1_p99_us=%.2f" % (lat[int(len(lat) * 0.99)] * 1e6))
        for rows, reps in ((128, 200), (16, 1000)):
            x = torch.rand(rows, 784)
            t0 = time.perf_counter()
            for _ in range(reps):
                net(x)
            dt = time.perf_counter() - t0
            print("torch_b%d_samples_per_sec=%.1f" % (rows, reps * rows / dt))


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "train":
        train(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) >= 2 and sys.argv[1] == "infer":
        infer()
    else:
        raise SystemExit(__doc__)
