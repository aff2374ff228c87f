//! Time one Adam step on a single 10M-element f32 parameter whose gradient is
//! already there: the update alone, as PyTorch's `torch.optim.Adam(fused=True)`
//! step is timed.
//!
//! Run with `cargo run --release --example bench_adam [-- steps]`.
//!
//! Traffic per element: read θ, g, s, r (16 bytes), write θ, s, r (12 bytes):
//! 28 bytes, so GB/s = 28 · n / time.

use std::time::Instant;

use tapegrad::optim::{Adam, AdamConfig, Optimizer};
use tapegrad::tape::{Tensor, Var};

const N: usize = 10_000_000;
const BYTES_PER_ELEMENT: f64 = 28.0;
const WARMUP: usize = 5;

fn main() {
    let steps: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(30)
        .max(20);
    let param = Var::parameter(pattern(N, 0.37));
    param.set_grad(Some(pattern(N, 1.91)));
    let mut opt = Adam::new(vec![param.clone()], AdamConfig::default()).expect("valid options");

    for _ in 0..WARMUP {
        opt.step().expect("step");
    }
    let mut times: Vec<f64> = (0..steps)
        .map(|_| {
            let start = Instant::now();
            opt.step().expect("step");
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let best = times[0];
    let gbps = |t: f64| BYTES_PER_ELEMENT * N as f64 / t / 1e9;
    // The checksum keeps the result observable, so the work cannot be optimized away.
    let checksum: f64 =
        param.with_value(|v| v.data().iter().step_by(4096).map(|&x| f64::from(x)).sum());
    println!(
        "Adam step, {N} f32 parameters, {} cores: median {:.3} ms ({:.1} GB/s), best {:.3} ms ({:.1} GB/s) over {steps} steps (checksum {checksum:.4})",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        median * 1e3,
        gbps(median),
        best * 1e3,
        gbps(best),
    );
}

/// Deterministic values in [-1, 1) with no structure a branch predictor could use.
fn pattern(n: usize, seed: f32) -> Tensor<f32> {
    let data = (0..n)
        .map(|i| ((i as f32 * 0.618_034 + seed).fract() * 2.0) - 1.0)
        .collect();
    Tensor::from_vec(data, &[n]).expect("length matches")
}
