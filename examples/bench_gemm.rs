//! GEMM throughput of tapegrad's kernel (`tensor::gemm::matmul_into`, the
//! `gemm` crate) against `matrixmultiply` with its `threading` feature, in f32
//! and f64, output preallocated. The kernels run in alternation (one call of
//! each per round, after a warm-up), so that both see the same machine load;
//! each line gives the median and the best round as GFLOP/s = 2·m·n·k / time.
//!
//! Run: `RAYON_NUM_THREADS=2 MATMUL_NUM_THREADS=2 cargo run --release --example bench_gemm`
//!
//! Optional arguments: `m k n` times one more size; `threshold` instead times
//! the `gemm` crate on one thread against two over a range of small sizes, to
//! place `PARALLEL_FLOPS`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use tapegrad::tape::Float;
use tapegrad::tape::tensor::gemm::{Layout, matmul_into};

/// Untimed rounds before measuring (thread pools, packing buffers, caches).
const WARM_UP: usize = 3;
/// Timed rounds: at least this many, and more until `MIN_TIME` has passed.
const MIN_ROUNDS: usize = 15;
const MIN_TIME: Duration = Duration::from_millis(1500);

/// A call to time.
type Call<'a> = Box<dyn FnMut() + 'a>;

/// Times the calls in alternation; returns (median, best) seconds of each.
fn compare(calls: &mut [Call<'_>]) -> Vec<(f64, f64)> {
    for _ in 0..WARM_UP {
        calls.iter_mut().for_each(|f| f());
    }
    let mut times = vec![Vec::new(); calls.len()];
    let start = Instant::now();
    while times[0].len() < MIN_ROUNDS || start.elapsed() < MIN_TIME {
        for (f, t) in calls.iter_mut().zip(&mut times) {
            let begin = Instant::now();
            f();
            t.push(begin.elapsed().as_secs_f64());
        }
    }
    times
        .into_iter()
        .map(|mut t| {
            t.sort_by(f64::total_cmp);
            (t[t.len() / 2], t[0])
        })
        .collect()
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
        let (a_rs, b_rs, c_rs) = (k as isize, n as isize, n as isize);
        let (a, b, c) = (a.as_ptr(), b.as_ptr(), c.as_mut_ptr());
        // SAFETY: the buffers hold the row-major m×k, k×n and m×n matrices the
        // strides describe (checked above), and `c` aliases neither input.
        unsafe { matrixmultiply::sgemm(m, k, n, 1.0, a, a_rs, 1, b, b_rs, 1, 0.0, c, c_rs, 1) }
    }
}

impl Element for f64 {
    const LABEL: &'static str = "f64";
    fn matrixmultiply(m: usize, k: usize, n: usize, a: &[f64], b: &[f64], c: &mut [f64]) {
        assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
        let (a_rs, b_rs, c_rs) = (k as isize, n as isize, n as isize);
        let (a, b, c) = (a.as_ptr(), b.as_ptr(), c.as_mut_ptr());
        // SAFETY: as for f32.
        unsafe { matrixmultiply::dgemm(m, k, n, 1.0, a, a_rs, 1, b, b_rs, 1, 0.0, c, c_rs, 1) }
    }
}

/// Deterministic values in [-1, 1).
fn filled<T: Float>(len: usize, seed: usize) -> Vec<T> {
    (0..len)
        .map(|i| T::from_f64(((i * 7919 + seed * 104_729) % 2003) as f64 / 1001.5 - 1.0))
        .collect()
}

fn gflops((m, k, n): (usize, usize, usize), seconds: f64) -> f64 {
    2.0 * (m * n * k) as f64 / seconds / 1e9
}

/// tapegrad's kernel against matrixmultiply at one size; checks they agree.
fn bench<T: Element>(size: (usize, usize, usize)) {
    let (m, k, n) = size;
    let (a, b) = (filled::<T>(m * k, 1), filled::<T>(k * n, 2));
    let (mut ours, mut theirs) = (vec![T::ZERO; m * n], vec![T::ZERO; m * n]);
    let timings = compare(&mut [
        Box::new(|| {
            matmul_into(
                m,
                k,
                n,
                &a,
                Layout::Normal,
                &b,
                Layout::Normal,
                &mut ours,
                false,
            );
            black_box(&mut ours);
        }),
        Box::new(|| {
            T::matrixmultiply(m, k, n, &a, &b, &mut theirs);
            black_box(&mut theirs);
        }),
    ]);
    for (name, (median, best)) in ["tapegrad (gemm crate)", "matrixmultiply"]
        .iter()
        .zip(timings)
    {
        println!(
            "{:<4} {m:>5}×{k:<5}×{n:<5} {name:<22} median {:>6.1}  best {:>6.1} GFLOP/s",
            T::LABEL,
            gflops(size, median),
            gflops(size, best)
        );
    }
    let worst = ours
        .iter()
        .zip(&theirs)
        .map(|(x, y)| (x.to_f64() - y.to_f64()).abs())
        .fold(0.0, f64::max);
    assert!(worst <= 1e-3 * k as f64, "the kernels disagree by {worst}");
}

/// A `gemm` crate call `c = a · b` (row-major) with the given parallelism.
fn gemm_crate<T: Float>(
    (m, k, n): (usize, usize, usize),
    a: &[T],
    b: &[T],
    c: &mut [T],
    parallelism: gemm::Parallelism,
) {
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    let (dst, lhs, rhs) = (c.as_mut_ptr(), a.as_ptr(), b.as_ptr());
    let (one, zero) = (T::ONE, T::ZERO);
    // SAFETY: row-major m×k, k×n and m×n buffers (checked above); `c` aliases
    // neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            n as isize,
            false,
            lhs,
            1,
            k as isize,
            rhs,
            1,
            n as isize,
            zero,
            one,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// `c = a · b` as `tapegrad` threads a product: two column blocks, one
/// single-threaded call each, in one `rayon::join`.
fn gemm_column_blocks<T: Float>((m, k, n): (usize, usize, usize), a: &[T], b: &[T], c: &mut [T]) {
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    let half = (n / 2) / 16 * 16;
    let (lhs, rhs, dst) = (
        a.as_ptr() as usize,
        b.as_ptr() as usize,
        c.as_mut_ptr() as usize,
    );
    let block = |start: usize, cols: usize| {
        let (lhs, rhs, dst) = (lhs as *const T, rhs as *const T, dst as *mut T);
        // SAFETY: columns start..start + cols of the row-major k×n `b` and m×n
        // `c` (checked above); the two blocks write disjoint columns of `c`.
        unsafe {
            gemm::gemm(
                m,
                cols,
                k,
                dst.add(start),
                1,
                n as isize,
                false,
                lhs,
                1,
                k as isize,
                rhs.add(start),
                1,
                n as isize,
                T::ZERO,
                T::ONE,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        }
    };
    rayon::join(|| block(0, half), || block(half, n - half));
}

/// One thread against two for products around the threshold: the crate's own
/// threading, and two column blocks (what `matmul_into` does above
/// `PARALLEL_FLOPS`).
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
    for size in sizes {
        let (m, k, n) = size;
        let (a, b) = (filled::<T>(m * k, 1), filled::<T>(k * n, 2));
        let mut c = [
            vec![T::ZERO; m * n],
            vec![T::ZERO; m * n],
            vec![T::ZERO; m * n],
        ];
        let [c1, c2, c3] = &mut c;
        let timings = compare(&mut [
            Box::new(|| gemm_crate(size, &a, &b, c1, gemm::Parallelism::None)),
            Box::new(|| gemm_crate(size, &a, &b, c2, gemm::Parallelism::Rayon(2))),
            Box::new(|| gemm_column_blocks(size, &a, &b, c3)),
        ]);
        let [(median1, best1), (median2, best2), (median3, best3)] = timings[..] else {
            unreachable!("three calls were timed")
        };
        println!(
            "{:<4} {m:>4}×{k:<4}×{n:<4} m·k·n {:>9}  1 thread {:>6.1} (best {:>6.1})  crate 2 threads {:>6.1} (best {:>6.1})  2 column blocks {:>6.1} (best {:>6.1}) GFLOP/s",
            T::LABEL,
            m * k * n,
            gflops(size, median1),
            gflops(size, best1),
            gflops(size, median2),
            gflops(size, best2),
            gflops(size, median3),
            gflops(size, best3)
        );
    }
}

fn main() {
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "one per core".into());
    println!("rayon threads: {threads}");
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
    for &size in &sizes {
        bench::<f32>(size);
        bench::<f64>(size);
    }
}
