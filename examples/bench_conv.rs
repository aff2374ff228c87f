//! Times forward + backward of the convolutional part of a small MNIST CNN in
//! f32 at batch 64: conv 5×5 1→32 → ReLU → max-pool 2 → conv 3×3 32→64 → ReLU
//! → max-pool 2 (both convolutions with bias, no padding). Prints the median
//! (and the minimum) over the timed runs after a warm-up, for the whole step
//! and its two halves.
//!
//! Run: `cargo run --release --example bench_conv [runs]`

use std::time::{Duration, Instant};

use rand::{SeedableRng, rngs::StdRng};
use tapegrad::tape::{Result, Tensor, Var};

const BATCH: usize = 64;
const WARMUP: usize = 5;

/// The layers' parameters.
struct Net {
    w1: Var<f32>,
    b1: Var<f32>,
    w2: Var<f32>,
    b2: Var<f32>,
}

impl Net {
    fn new(rng: &mut StdRng) -> Self {
        let param = |shape: &[usize], fan_in: usize, rng: &mut StdRng| {
            let bound = 1.0 / (fan_in as f32).sqrt();
            Var::parameter(Tensor::rand_uniform(shape, -bound, bound, rng))
        };
        Self {
            w1: param(&[32, 1, 5, 5], 25, rng),
            b1: param(&[32], 25, rng),
            w2: param(&[64, 32, 3, 3], 288, rng),
            b2: param(&[64], 288, rng),
        }
    }

    /// [N, 1, 28, 28] → [N, 64, 5, 5].
    fn forward(&self, x: &Var<f32>) -> Result<Var<f32>> {
        let h = x.conv2d(&self.w1, Some(&self.b1), (1, 1), (0, 0))?.relu();
        let h = h.max_pool2d((2, 2), (2, 2), (0, 0))?;
        let h = h.conv2d(&self.w2, Some(&self.b2), (1, 1), (0, 0))?.relu();
        h.max_pool2d((2, 2), (2, 2), (0, 0))
    }

    fn zero_grad(&self) {
        for p in [&self.w1, &self.b1, &self.w2, &self.b2] {
            p.zero_grad();
        }
    }
}

/// "median (min)" in milliseconds; the minimum shows the cost without
/// interference from other processes.
fn summary(mut times: Vec<Duration>) -> String {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    format!(
        "{:7.2} ms (min {:6.2})",
        ms(times[times.len() / 2]),
        ms(times[0])
    )
}

fn main() -> Result<()> {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(30);
    let mut rng = StdRng::seed_from_u64(0);
    let net = Net::new(&mut rng);
    let x = Var::constant(Tensor::rand_uniform(
        &[BATCH, 1, 28, 28],
        0.0,
        1.0,
        &mut rng,
    ));
    let seed = Tensor::rand_normal(&[BATCH, 64, 5, 5], 0.0, 1.0, &mut rng);
    let (mut forward, mut backward, mut total) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..WARMUP + runs {
        net.zero_grad();
        let start = Instant::now();
        let y = net.forward(&x)?;
        let mid = Instant::now();
        y.backward_from(&seed, false)?;
        let end = Instant::now();
        if run >= WARMUP {
            forward.push(mid - start);
            backward.push(end - mid);
            total.push(end - start);
        }
    }
    println!(
        "conv/pool CNN, f32, batch {BATCH}, {} cores, median of {runs} runs:",
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    println!("  forward + backward {}", summary(total));
    println!("  forward            {}", summary(forward));
    println!("  backward           {}", summary(backward));
    Ok(())
}
