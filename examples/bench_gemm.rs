//! GEMM throughput of tapegrad's kernel (`tensor::gemm::matmul_into`, the
//! `gemm` crate) against `matrixmultiply` with its `threading` feature, in f32
//! and f64, output preallocated. Prints the median over timed runs after a
//! warm-up, as GFLOP/s = 2·m·n·k / time.
//!
//! Run: `RAYON_NUM_THREADS=2 MATMUL_NUM_THREADS=2 cargo run --release --example bench_gemm`
//! Optional arguments: `m k n` times one more size; `threshold` instead times
//! the `gemm` crate on one thread against two over a range of small sizes, to
//! place `PARALLEL_FLOPS`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use tapegrad::tape::Float;
use tapegrad::tape::tensor::gemm::{Layout, matmul_into};

/// Untimed calls before measuring (thread pools, packing buffers, caches).
const WARM_UP: usize = 3;
/// Timed calls: at least this many, and more until `MIN_TIME` has passed.
const MIN_RUNS: usize = 15;
const MIN_TIME: Duration = Duration::from_millis(1500);

/// Median and best wall time of `f`, in seconds. The best run shows what the
/// kernel does when no other process takes a core.
fn timed(mut f: impl FnMut()) -> (f64, f64) {
    for _ in 0..WARM_UP {
        f();
    }
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < MIN_RUNS || start.elapsed() < MIN_TIME {
        let t = Instant::now();
        f();
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], times[0])
}

/// Median wall time of `f`, in seconds.
fn median_seconds(f: impl FnMut()) -> f64 {
    timed(f).0
}

/// Which GEMM runs `c = a · b` (all row-major).
#[derive(Clone, Copy)]
enum Kernel {
    Tapegrad,
    MatrixMultiply,
}

impl Kernel {
    fn name(self) -> &'static str {
        match self {
            Kernel::Tapegrad => "tapegrad (gemm crate)",
            Kernel::MatrixMultiply => "matrixmultiply",
        }
    }
}

/// The element types both kernels take.
trait Element: Float {
    const LABEL: &'static str;
    /// `c = a · b` through matrixmultiply, all row-major.
    fn matrixmultiply(m: usize, k: usize, n: usize, a: &[Self], b: &[Self], c: &mut [Self]);
}

impl Element for f32 {
    const LABEL: &'static str = "f32";
    fn matrixmultiply(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
        assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
        // SAFETY: the slices hold the row-major m×k, k×n and m×n matrices the
        // strides describe (checked above), and `c` aliases neither input.
        unsafe {
            matrixmultiply::sgemm(
                m,
                k,
                n,
                1.0,
                a.as_ptr(),
                k as isize,
                1,
                b.as_ptr(),
                n as isize,
                1,
                0.0,
                c.as_mut_ptr(),
                n as isize,
                1,
            );
        }
    }
}

impl Element for f64 {
    const LABEL: &'static str = "f64";
    fn matrixmultiply(m: usize, k: usize, n: usize, a: &[f64], b: &[f64], c: &mut [f64]) {
        assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
        // SAFETY: as for f32.
        unsafe {
            matrixmultiply::dgemm(
                m,
                k,
                n,
                1.0,
                a.as_ptr(),
                k as isize,
                1,
                b.as_ptr(),
                n as isize,
                1,
                0.0,
                c.as_mut_ptr(),
                n as isize,
                1,
            );
        }
    }
}

/// Deterministic values in [-1, 1).
fn filled<T: Float>(len: usize, seed: usize) -> Vec<T> {
    (0..len)
        .map(|i| T::from_f64(((i * 7919 + seed * 104_729) % 2003) as f64 / 1001.5 - 1.0))
        .collect()
}

/// Times one kernel at one size; returns GFLOP/s of the median and the best
/// run, and the result (to compare kernels).
fn measure<T: Element>(kernel: Kernel, (m, k, n): (usize, usize, usize)) -> ((f64, f64), Vec<T>) {
    let (a, b) = (filled::<T>(m * k, 1), filled::<T>(k * n, 2));
    let mut c = vec![T::ZERO; m * n];
    let (median, best) = timed(|| {
        match kernel {
            Kernel::Tapegrad => matmul_into(
                m,
                k,
                n,
                &a,
                Layout::Normal,
                &b,
                Layout::Normal,
                &mut c,
                false,
            ),
            Kernel::MatrixMultiply => T::matrixmultiply(m, k, n, &a, &b, &mut c),
        }
        black_box(&mut c);
    });
    let gflops = |seconds: f64| 2.0 * (m * n * k) as f64 / seconds / 1e9;
    ((gflops(median), gflops(best)), c)
}

fn bench<T: Element>(size: (usize, usize, usize)) {
    let (m, k, n) = size;
    let mut results: Vec<Vec<T>> = Vec::new();
    for kernel in [Kernel::Tapegrad, Kernel::MatrixMultiply] {
        let ((median, best), c) = measure::<T>(kernel, size);
        println!(
            "{:<4} {m:>5}×{k:<5}×{n:<5} {:<24} median {median:>6.1}  best {best:>6.1} GFLOP/s",
            T::LABEL,
            kernel.name()
        );
        results.push(c);
    }
    let worst = results[0]
        .iter()
        .zip(&results[1])
        .map(|(x, y)| (x.to_f64() - y.to_f64()).abs())
        .fold(0.0, f64::max);
    assert!(worst <= 1e-3 * k as f64, "the kernels disagree by {worst}");
}

/// Median seconds of one `gemm` crate call with the given parallelism.
fn gemm_crate_seconds<T: Float>(
    size: (usize, usize, usize),
    parallelism: gemm::Parallelism,
) -> f64 {
    let (m, k, n) = size;
    let (a, b) = (filled::<T>(m * k, 1), filled::<T>(k * n, 2));
    let mut c = vec![T::ZERO; m * n];
    median_seconds(|| {
        // SAFETY: row-major m×k, k×n and m×n buffers of exactly those sizes;
        // `c` aliases neither input.
        unsafe {
            gemm::gemm(
                m,
                n,
                k,
                c.as_mut_ptr(),
                1,
                n as isize,
                false,
                a.as_ptr(),
                1,
                k as isize,
                b.as_ptr(),
                1,
                n as isize,
                T::ZERO,
                T::ONE,
                false,
                false,
                false,
                parallelism,
            );
        }
        black_box(&mut c);
    })
}

/// One thread against two for products around the threshold.
fn threshold<T: Element>() {
    let sizes = [
        (32, 32, 32),
        (48, 48, 48),
        (64, 64, 64),
        (96, 96, 96),
        (128, 128, 128),
        (192, 192, 192),
        (256, 256, 256),
        (32, 784, 128),
        (64, 784, 128),
        (128, 784, 256),
    ];
    for (m, k, n) in sizes {
        let one = gemm_crate_seconds::<T>((m, k, n), gemm::Parallelism::None);
        let two = gemm_crate_seconds::<T>((m, k, n), gemm::Parallelism::Rayon(2));
        let gflops = |s: f64| 2.0 * (m * n * k) as f64 / s / 1e9;
        println!(
            "{:<4} {m:>4}×{k:<4}×{n:<4} m·k·n = {:>9}  1 thread {:>6.1}  2 threads {:>6.1} GFLOP/s",
            T::LABEL,
            m * k * n,
            gflops(one),
            gflops(two)
        );
    }
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("threshold") {
        threshold::<f32>();
        threshold::<f64>();
        return;
    }
    let mut sizes = vec![(1024, 1024, 1024), (256, 784, 512)];
    let extra: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    if let [m, k, n] = extra[..] {
        sizes.push((m, k, n));
    }
    println!("rayon threads: {}", rayon_threads());
    for &size in &sizes {
        bench::<f32>(size);
        bench::<f64>(size);
    }
}

/// The size of the pool the `gemm` crate runs on.
fn rayon_threads() -> String {
    std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "default (one per core)".into())
}
