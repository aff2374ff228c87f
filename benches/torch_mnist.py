"""PyTorch twin of the MNIST runs of `cargo run --release --example train`.

Same networks, initialization family (PyTorch's defaults), data normalization
(one mean and deviation over all training pixels), optimizer and schedule,
batch size with a reshuffle per epoch, 2 threads. Prints one line per epoch
with the seconds of its training steps (evaluation excluded, as in the Rust
log) and the test accuracy:

    python3 benches/torch_mnist.py cnn ../shared/data/mnist 5
    python3 benches/torch_mnist.py mlp ../shared/data/mnist 5
    python3 benches/torch_mnist.py vit ../shared/data/mnist 10
    python3 benches/torch_mnist.py lstm ../shared/data/mnist 10

`cnn` and `mlp` train with Adam (lr 1e-3, batch 64); `vit` with AdamW (lr
1e-3, weight decay 0.05), a linear warm-up over the first twentieth of the
steps from lr/100 then cosine decay to 0, gradients clipped to norm 1, batch
128; `lstm` with Adam (lr 1e-3, batch 64), cosine decay to 0, gradients
clipped to norm 1.
"""
import gzip
import math
import struct
import sys
import time

import numpy as np
import torch
from torch import nn

torch.set_num_threads(int(sys.argv[4]) if len(sys.argv) > 4 else 2)
torch.manual_seed(0)

# The ViT of `--model vit` on 28×28 images.
VIT = dict(patch=4, d_model=64, heads=4, depth=4, ff=128)
# The LSTM of `--model lstm`: rows as steps.
LSTM = dict(hidden=128, layers=1)


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


class Vit(nn.Module):
    """Patch embedding, class token, learned positions, pre-norm GELU blocks, head."""

    def __init__(self, side, classes, patch, d_model, heads, depth, ff):
        super().__init__()
        tokens = (side // patch) ** 2
        self.patch_embed = nn.Conv2d(1, d_model, patch, stride=patch)
        self.cls_token = nn.Parameter(torch.randn(1, 1, d_model) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, tokens + 1, d_model) * 0.02)
        layer = nn.TransformerEncoderLayer(
            d_model, heads, ff, dropout=0.0, activation="gelu",
            batch_first=True, norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(
            layer, depth, norm=nn.LayerNorm(d_model), enable_nested_tensor=False
        )
        self.head = nn.Linear(d_model, classes)

    def forward(self, x):
        z = self.patch_embed(x).flatten(2).transpose(1, 2)
        z = torch.cat([self.cls_token.expand(len(x), -1, -1), z], 1) + self.pos_embed
        return self.head(self.encoder(z)[:, 0])


class RowLstm(nn.Module):
    """Image rows as the steps of an LSTM; a linear layer on the last step's h."""

    def __init__(self, width, classes, hidden, layers):
        super().__init__()
        self.lstm = nn.LSTM(width, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x):
        return self.head(self.lstm(x.squeeze(1))[0][:, -1])


def model(kind):
    if kind == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 32, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(1600, 10),
        )
    if kind == "vit":
        return Vit(28, 10, **VIT)
    if kind == "lstm":
        return RowLstm(28, 10, **LSTM)
    return nn.Sequential(
        nn.Flatten(), nn.Linear(784, 512), nn.ReLU(),
        nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10),
    )


def recipe(kind, net, steps):
    """(optimizer, scheduler or None, clipping norm or None, batch size)."""
    if kind == "vit":
        opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.05)
        warmup = max(1, steps // 20)
        sched = torch.optim.lr_scheduler.SequentialLR(opt, [
            torch.optim.lr_scheduler.LinearLR(opt, 0.01, 1.0, warmup),
            torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps - warmup),
        ], [warmup])
        return opt, sched, 1.0
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    if kind == "lstm":
        return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps), 1.0
    return opt, None, None


BATCH = {"vit": 128}


def main():
    kind, folder, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    batch = BATCH.get(kind, 64)
    data = load(folder)
    (x, y), (xt, yt) = data["train"], data["test"]
    x, xt = x.unsqueeze(1), xt.unsqueeze(1)
    net = model(kind)
    opt, sched, clip = recipe(kind, net, epochs * math.ceil(len(y) / batch))
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(1, epochs + 1):
        net.train()
        order = torch.randperm(len(y))
        start = time.perf_counter()
        for i in range(0, len(y), batch):
            idx = order[i : i + batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(x[idx]), y[idx])
            loss.backward()
            if clip is not None:
                nn.utils.clip_grad_norm_(net.parameters(), clip)
            opt.step()
            if sched is not None:
                sched.step()
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
