//! Per-op overhead of the tape (workload W3): a 16-element parameter through
//! 10 000 alternating `x * 1.0001` and `x + 0.0001`, a sum, and backward (graph
//! release included). Prints the median over runs of ns per op.
//!
//! Run: `cargo run --release --example bench_tape`

use std::time::Instant;

use tapegrad::tape::{Result, Tensor, Var};

/// A graph of small tensors is many small allocations; mimalloc serves them
/// faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const OPS: usize = 10_000;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() -> Result<()> {
    let x = Var::parameter(Tensor::<f32>::ones(&[16]));
    let (mut fwd, mut bwd, mut total) = (Vec::new(), Vec::new(), Vec::new());
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    for run in 0..runs {
        let start = Instant::now();
        let mut y = x.clone();
        for i in 0..OPS {
            y = if i % 2 == 0 { &y * 1.0001 } else { &y + 0.0001 };
        }
        let loss = y.sum();
        drop(y);
        let mid = Instant::now();
        loss.backward()?;
        drop(loss);
        let end = Instant::now();
        x.zero_grad();
        if run >= runs / 6 {
            fwd.push((mid - start).as_nanos() as f64 / OPS as f64);
            bwd.push((end - mid).as_nanos() as f64 / OPS as f64);
            total.push((end - start).as_nanos() as f64 / OPS as f64);
        }
    }
    println!(
        "{{\"fw\": \"tapegrad\", \"wl\": \"W3\", \"metric\": \"ns_per_op\", \"value\": {:.1}}}",
        median(total)
    );
    println!(
        "{{\"fw\": \"tapegrad\", \"wl\": \"W3\", \"metric\": \"fwd_ns_per_op\", \"value\": {:.1}}}",
        median(fwd)
    );
    println!(
        "{{\"fw\": \"tapegrad\", \"wl\": \"W3\", \"metric\": \"bwd_ns_per_op\", \"value\": {:.1}}}",
        median(bwd)
    );
    Ok(())
}
