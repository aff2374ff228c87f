"""Runs tapegrad's benchmark and its PyTorch twin in alternation (A B A B …),
each workload in a fresh process, and prints the median per figure (with the
range over rounds) and the ratio tapegrad / torch. For times, below 1 means
tapegrad is faster; for GFLOP/s, GB/s and samples/s, above 1 does. The table
is headed by the host it ran on (CPU model, family and model number).

Where the benchmark prints a figure's limit on this machine (`limit_<metric>`:
the GEMM FLOPs over the measured FMA peak, or the plainest fused loop's time
for W5), two more columns give each framework's figure over that limit: for
times, 1 is the limit and above it the factor away from it; for rates, the
fraction of the limit reached.

    cargo build --release --example bench
    python3 benches/compare.py --rounds 3 W1 W2 W3 W4 W5
"""
import argparse
import json
import statistics
import subprocess
import sys
from collections import defaultdict

RUST = ["target/release/examples/bench"]
TORCH = [sys.executable, "benches/torch_twin.py"]
HIGHER_IS_BETTER = ("gflops", "GBps", "samples")


def run(cmd, wl):
    out = subprocess.run(cmd + [wl], check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def host():
    """The CPU this runs on, as /proc/cpuinfo names it (Linux), for the table's caption."""
    try:
        with open("/proc/cpuinfo") as info:
            lines = info.read().splitlines()
    except OSError:
        return "unknown host"
    fields = {}
    for line in lines:
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    cpus = sum(1 for line in lines if line.startswith("processor"))
    return (f"{fields.get('model name', '?')} (family {fields.get('cpu family', '?')}, "
            f"model {fields.get('model', '?')}), {cpus} logical CPUs")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("workloads", nargs="*", default=["W1", "W2", "W3", "W4", "W5"])
    args = ap.parse_args()
    values = defaultdict(list)
    for wl in args.workloads:
        for _ in range(args.rounds):
            for cmd in (RUST, TORCH):
                for rec in run(cmd, wl):
                    values[(rec["wl"], rec["metric"], rec["fw"])].append(rec["value"])
    print(f"Host: {host()}\n")
    print("| workload | metric | tapegrad | torch | ratio tapegrad/torch | tapegrad / limit | torch / limit |")
    print("|---|---|---|---|---|---|---|")
    for wl, metric in sorted({(w, m) for (w, m, _) in values}):
        ours = values.get((wl, metric, "tapegrad"))
        theirs = values.get((wl, metric, "torch"))
        limit = values.get((wl, f"limit_{metric}", "tapegrad"))
        ratio = "n/a"
        if ours and theirs:
            better = "higher" if metric.startswith(HIGHER_IS_BETTER) else "lower"
            ratio = f"{over(ours, theirs)} ({better} is better)"
        print(f"| {wl} | {metric} | {fmt(ours)} | {fmt(theirs)} | {ratio} "
              f"| {over(ours, limit)} | {over(theirs, limit)} |")


def fmt(xs):
    if not xs:
        return "n/a"
    return f"{statistics.median(xs):.3f} ({min(xs):.3f}–{max(xs):.3f})"


def over(xs, ys):
    """The ratio of the medians, or n/a when either is missing."""
    if not xs or not ys:
        return "n/a"
    return f"{statistics.median(xs) / statistics.median(ys):.3f}"


if __name__ == "__main__":
    main()
