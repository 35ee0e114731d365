#!/usr/bin/python3
"""schedule_parity.py - the PyTorch side of the schedules' accuracy parity.

Trains the recipe of docs/recipes/parity-<schedule>.json with PyTorch on the
same IDX files and prints each seed's test accuracy and their mean, to set
beside mlpd's over the same seeds (docs/recipes/README.md has both). The
recipe: 784-512-256-10 relu, glorot_uniform weights and zero biases (mlpd's
"init": "glorot_uniform"), softmax cross-entropy, Adam lr 1e-3 (eps 1e-7, as
mlpd's default), batch 256, dropout 0.2 on both hidden layers, 10 epochs,
reshuffled every epoch, and
- cosine: CosineAnnealingLR(T_max = every batch of the run, eta_min 0) stepped
  per batch (mlp.h's "cosine" with min_lr 0 and no warm-up);
- step: StepLR(step_size 4, gamma 0.3) stepped per epoch (mlp.h's "step").

Usage (Debian's python3-torch):
    /usr/bin/python3 tests/reference/schedule_parity.py DATA_DIR cosine|step [SEEDS]
"""
import gzip
import os
import struct
import sys

import numpy as np
import torch

EPOCHS, BATCH, LR, DROPOUT = 10, 256, 1e-3, 0.2


def read_idx(data_dir, name):
    for cand in (name, name + ".gz"):
        path = os.path.join(data_dir, cand)
        if os.path.exists(path):
            opener = gzip.open if cand.endswith(".gz") else open
            with opener(path, "rb") as f:
                data = f.read()
            ndim = struct.unpack(">I", data[:4])[0] & 0xFF
            dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
            return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)
    raise SystemExit(f"missing {name} in {data_dir}")


def split(data_dir, prefix):
    x = read_idx(data_dir, f"{prefix}-images-idx3-ubyte")
    y = read_idx(data_dir, f"{prefix}-labels-idx1-ubyte")
    return (torch.from_numpy(x.reshape(len(x), -1).astype(np.float32) / 255.0),
            torch.from_numpy(y.astype(np.int64)))


def net():
    layers = [torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Dropout(DROPOUT),
              torch.nn.Linear(512, 256), torch.nn.ReLU(), torch.nn.Dropout(DROPOUT),
              torch.nn.Linear(256, 10)]
    for layer in layers:
        if isinstance(layer, torch.nn.Linear):
            torch.nn.init.xavier_uniform_(layer.weight)
            torch.nn.init.zeros_(layer.bias)
    return torch.nn.Sequential(*layers)


def run(train, test, schedule, seed):
    torch.manual_seed(seed)
    x, y = train
    model = net()
    opt = torch.optim.Adam(model.parameters(), lr=LR, eps=1e-7)
    steps = (len(x) + BATCH - 1) // BATCH
    if schedule == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=EPOCHS * steps)
    else:
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=4, gamma=0.3)
    lossf = torch.nn.CrossEntropyLoss()
    for _ in range(EPOCHS):
        model.train()
        perm = torch.randperm(len(x))
        for i in range(0, len(x), BATCH):
            idx = perm[i:i + BATCH]
            opt.zero_grad(set_to_none=True)
            lossf(model(x[idx]), y[idx]).backward()
            opt.step()
            if schedule == "cosine":
                sched.step()
        if schedule == "step":
            sched.step()
    model.eval()
    with torch.no_grad():
        return (model(test[0]).argmax(1) == test[1]).double().mean().item()


def main():
    if len(sys.argv) < 3 or sys.argv[2] not in ("cosine", "step"):
        raise SystemExit(__doc__)
    seeds = [int(s) for s in sys.argv[3].split(",")] if len(sys.argv) > 3 else [1, 2, 3]
    torch.set_num_threads(int(os.environ.get("PARITY_THREADS", "2")))
    train, test = split(sys.argv[1], "train"), split(sys.argv[1], "t10k")
    accs = []
    for seed in seeds:
        accs.append(run(train, test, sys.argv[2], seed))
        print(f"seed {seed}: test_accuracy {accs[-1]:.4f}", flush=True)
    print(f"mean {np.mean(accs):.4f} std {np.std(accs):.4f} over {len(accs)} seeds")


if __name__ == "__main__":
    main()
