"""PyTorch twin of `cargo run --release --example bench -- WL`.

Same workloads, same sizes, same step counts; prints one JSON line per figure:
{"fw": "torch", "wl": "W1", "metric": "ms_step", "value": 6.4}

    python3 benches/torch_twin.py W1
    python3 benches/torch_twin.py W2 --steps 1000 --memory   # also peak RSS (VmHWM)
"""
import json
import statistics
import sys
import time

import torch

torch.set_num_threads(2)
WARMUP, STEPS = 10, 50


def emit(wl, metric, value):
    print(json.dumps({"fw": "torch", "wl": wl, "metric": metric, "value": round(value, 4)}), flush=True)


def peak_rss_mib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def timed_steps(step, warmup=WARMUP, steps=None):
    steps = STEPS if steps is None else steps
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def train_workload(wl, model, x, y):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-8)
    loss_fn = torch.nn.CrossEntropyLoss()
    train_loop(wl, opt, lambda: loss_fn(model(x), y))


def train_loop(wl, opt, loss_fn):
    def step():
        opt.zero_grad()
        loss_fn().backward()
        opt.step()

    if MEMORY:
        emit(wl, "rss_before_training_mib", peak_rss_mib())
    emit(wl, "ms_step", timed_steps(step))
    if MEMORY:
        emit(wl, "peak_rss_at_end_mib", peak_rss_mib())
    emit(wl, "ms_opt", timed_steps(opt.step))


def w1():
    g = torch.Generator().manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 512), torch.nn.ReLU(),
        torch.nn.Linear(512, 512), torch.nn.ReLU(),
        torch.nn.Linear(512, 10))
    x = torch.randn(128, 784, generator=g)
    y = torch.randint(0, 10, (128,), generator=g)
    train_workload("W1", model, x, y)


def w6():
    """One pre-norm transformer block (d 128, 4 heads, ff 512, GELU, no
    dropout), batch 32 × sequence 64, MSE to a fixed target, AdamW."""
    g = torch.Generator().manual_seed(0)
    block = torch.nn.TransformerEncoderLayer(128, 4, 512, dropout=0.0, activation="gelu",
                                             batch_first=True, norm_first=True)
    x = torch.randn(32, 64, 128, generator=g)
    target = torch.randn(32, 64, 128, generator=g)
    opt = torch.optim.AdamW(block.parameters(), lr=1e-3)
    train_loop("W6", opt, lambda: torch.nn.functional.mse_loss(block(x), target))


def w7():
    """A 2-layer LSTM (28 → 128) over 28 steps at batch 64, a linear head on
    the last layer's final state, cross-entropy, Adam."""
    g = torch.Generator().manual_seed(0)
    lstm = torch.nn.LSTM(28, 128, 2, batch_first=True)
    head = torch.nn.Linear(128, 10)
    x = torch.randn(64, 28, 28, generator=g)
    y = torch.randint(0, 10, (64,), generator=g)
    opt = torch.optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=1e-3, eps=1e-8)

    def loss():
        _, (h, _) = lstm(x)
        return torch.nn.functional.cross_entropy(head(h[-1]), y)

    train_loop("W7", opt, loss)


def cnn():
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(1600, 10))


def w2():
    g = torch.Generator().manual_seed(0)
    model = cnn()
    x = torch.randn(64, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (64,), generator=g)
    train_workload("W2", model, x, y)


def w_eval():
    """W2's CNN forward only, under no_grad, on a batch of 1000."""
    g = torch.Generator().manual_seed(0)
    model = cnn().eval()
    x = torch.randn(1000, 1, 28, 28, generator=g)
    with torch.no_grad():
        ms = timed_steps(lambda: model(x), warmup=3, steps=min(STEPS, 20))
    emit("WEVAL", "ms_batch", ms)
    emit("WEVAL", "samples_per_s", 1000 / (ms * 1e-3))


def w3():
    ops = 10_000
    x = torch.ones(16, requires_grad=True)
    total, fwd, bwd = [], [], []
    for run in range(60):
        t0 = time.perf_counter()
        y = x
        for i in range(ops):
            y = y * 1.0001 if i % 2 == 0 else y + 0.0001
        loss = y.sum()
        del y
        t1 = time.perf_counter()
        loss.backward()
        del loss
        t2 = time.perf_counter()
        x.grad = None
        if run >= 10:
            fwd.append((t1 - t0) * 1e9 / ops)
            bwd.append((t2 - t1) * 1e9 / ops)
            total.append((t2 - t0) * 1e9 / ops)
    emit("W3", "ns_per_op", statistics.median(total))
    emit("W3", "fwd_ns_per_op", statistics.median(fwd))
    emit("W3", "bwd_ns_per_op", statistics.median(bwd))


def w4():
    for (m, k, n), name in [((1024, 1024, 1024), "gflops_1024^3"), ((256, 784, 512), "gflops_256x784x512")]:
        a, b = torch.randn(m, k), torch.randn(k, n)
        out = torch.empty(m, n)
        ms = timed_steps(lambda: torch.matmul(a, b, out=out), warmup=5, steps=30)
        emit("W4", name, 2 * m * n * k / (ms * 1e-3) / 1e9)


def w5():
    n = 10_000_000
    p = torch.nn.Parameter(torch.randn(n))
    p.grad = torch.randn(n)
    for fused, metric in [(True, "ms_step"), (False, "ms_step_default")]:
        opt = torch.optim.Adam([p], lr=1e-3, fused=fused) if fused else torch.optim.Adam([p], lr=1e-3, foreach=False)
        ms = timed_steps(opt.step, warmup=5, steps=30)
        emit("W5", metric, ms)
        if fused:
            emit("W5", "GBps", 28 * n / (ms * 1e-3) / 1e9)


# W5opt: this crate's OptimizerKind names → the PyTorch optimizer (lr 1e-3, PyTorch's defaults).
W5OPT = {
    "sgd": (torch.optim.SGD, {}),
    "momentum": (torch.optim.SGD, {"momentum": 0.9}),
    "adagrad": (torch.optim.Adagrad, {}),
    "rmsprop": (torch.optim.RMSprop, {}),
    "adam": (torch.optim.Adam, {}),
    "adamw": (torch.optim.AdamW, {}),
    "adadelta": (torch.optim.Adadelta, {}),
    "adamax": (torch.optim.Adamax, {}),
    "nadam": (torch.optim.NAdam, {}),
    "nadamw": (torch.optim.NAdam, {"decoupled_weight_decay": True}),
    "radam": (torch.optim.RAdam, {}),
    "asgd": (torch.optim.ASGD, {}),
    "rprop": (torch.optim.Rprop, {}),
    "adafactor": (torch.optim.Adafactor, {}),
}


def fastest(cls, p, options):
    """PyTorch's fastest path for the class: fused where it has one, else foreach."""
    for path in ({"fused": True}, {"foreach": True}, {}):
        try:
            opt = cls([p], lr=1e-3, **options, **path)
            opt.step()
            return opt
        except (RuntimeError, TypeError, ValueError):
            continue
    raise RuntimeError(f"no path of {cls.__name__} runs")


def w5opt():
    n = 10_000_000
    start = torch.randn(n)
    grad = torch.randn(n)
    for name, (cls, options) in W5OPT.items():
        p = torch.nn.Parameter(start.clone())
        p.grad = grad
        opt = fastest(cls, p, options)
        emit("W5opt", f"ms_{name}", timed_steps(opt.step, warmup=3, steps=15))


def w_lbfgs():
    n = 60_000
    g = torch.Generator().manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 512), torch.nn.ReLU(),
        torch.nn.Linear(512, 512), torch.nn.ReLU(),
        torch.nn.Linear(512, 10))
    x = torch.randn(n, 784, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    opt = torch.optim.LBFGS(model.parameters(), max_iter=4, history_size=10)
    loss_fn = torch.nn.CrossEntropyLoss()

    def closure():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        return loss

    opt.step(closure)
    state = opt.state[next(model.parameters())]
    before = (state["n_iter"], state["func_evals"])
    t0 = time.perf_counter()
    for _ in range(2):
        opt.step(closure)
    ms = (time.perf_counter() - t0) * 1e3
    emit("WLBFGS", "ms_per_iteration", ms / max(1, state["n_iter"] - before[0]))
    emit("WLBFGS", "ms_per_eval", ms / max(1, state["func_evals"] - before[1]))


if __name__ == "__main__":
    workloads = {"W1": w1, "W2": w2, "W3": w3, "W4": w4, "W5": w5, "W5opt": w5opt, "WLBFGS": w_lbfgs,
                 "WEVAL": w_eval,
                 "W6": w6, "W7": w7}
    args = sys.argv[1:]
    MEMORY = "--memory" in args
    if "--steps" in args:
        STEPS = int(args[args.index("--steps") + 1])
    for name in [a for a in args if a in workloads] or list(workloads):
        with torch.no_grad() if name in ("W4",) else torch.enable_grad():
            workloads[name]()
