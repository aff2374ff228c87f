"""PyTorch twin of the MNIST runs of `cargo run --release --example train`.

Same networks, initialization family (PyTorch's defaults), data normalization
(one mean and deviation over all training pixels), optimizer (Adam, lr 1e-3),
batch 64 with a reshuffle per epoch, 2 threads. Prints one line per epoch with
the seconds of its training steps (evaluation excluded, as in the Rust log) and
the test accuracy:

    python3 benches/torch_mnist.py cnn ../shared/data/mnist 5
    python3 benches/torch_mnist.py mlp ../shared/data/mnist 5
"""
import gzip
import struct
import sys
import time

import numpy as np
import torch
from torch import nn

torch.set_num_threads(2)
torch.manual_seed(0)


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(folder):
    parts = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        x = read_idx(f"{folder}/{prefix}-images-idx3-ubyte.gz").astype(np.float32)
        y = read_idx(f"{folder}/{prefix}-labels-idx1-ubyte.gz").astype(np.int64)
        parts[split] = (torch.from_numpy(x), torch.from_numpy(y))
    mean, std = parts["train"][0].mean(), parts["train"][0].std(unbiased=False)
    return {k: ((x - mean) / std, y) for k, (x, y) in parts.items()}


def model(kind):
    if kind == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 32, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(1600, 10),
        )
    return nn.Sequential(
        nn.Flatten(), nn.Linear(784, 512), nn.ReLU(),
        nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10),
    )


def main():
    kind, folder, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    data = load(folder)
    (x, y), (xt, yt) = data["train"], data["test"]
    x, xt = x.unsqueeze(1), xt.unsqueeze(1)
    net = model(kind)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(1, epochs + 1):
        net.train()
        order = torch.randperm(len(y))
        start = time.perf_counter()
        for i in range(0, len(y), 64):
            idx = order[i : i + 64]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(x[idx]), y[idx])
            loss.backward()
            opt.step()
        seconds = time.perf_counter() - start
        net.eval()
        with torch.no_grad():
            correct = sum(
                (net(xt[i : i + 1000]).argmax(1) == yt[i : i + 1000]).sum().item()
                for i in range(0, len(yt), 1000)
            )
        print(f"{kind} epoch {epoch}: {seconds:.2f} s, test accuracy {100 * correct / len(yt):.2f}%", flush=True)


if __name__ == "__main__":
    main()
