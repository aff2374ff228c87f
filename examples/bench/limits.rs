//! The machine's limits, measured in the same process as the workloads: the
//! f32 FMA peak of all the pool's threads (compute-bound workloads) and the
//! time of the plainest fused Adam loop (W5, memory-bound).
//!
//! A compute workload's limit is its step's GEMM FLOP count over the peak:
//! the time the step would take if every product ran at the peak and nothing
//! else cost anything.

use std::hint::black_box;
use std::time::Instant;

/// One matrix product C[m×n] = A[m×k]·B[k×n] of a training step, and how many
/// of its two operands need a gradient (each is one more product of the same
/// size in the backward pass).
#[derive(Clone, Copy)]
pub(crate) struct Product {
    m: usize,
    k: usize,
    n: usize,
    operand_grads: usize,
}

impl Product {
    /// A linear layer on `rows` inputs: its weight always needs a gradient,
    /// its input when `input_grad`.
    pub fn linear(rows: usize, inputs: usize, outputs: usize, input_grad: bool) -> Self {
        let operand_grads = 1 + usize::from(input_grad);
        Self {
            m: rows,
            k: inputs,
            n: outputs,
            operand_grads,
        }
    }

    /// `count` products of the same size whose two operands both need a
    /// gradient (attention's Q·Kᵀ and P·V), as one product of `count`× the
    /// rows.
    pub fn both_operands(count: usize, m: usize, k: usize, n: usize) -> Self {
        Self {
            m: count * m,
            k,
            n,
            operand_grads: 2,
        }
    }

    /// The forward product's FLOPs, 2mkn.
    pub fn forward_flops(self) -> f64 {
        2.0 * (self.m * self.k * self.n) as f64
    }

    /// Forward and backward FLOPs: one forward product and one per operand
    /// gradient.
    fn step_flops(self) -> f64 {
        self.forward_flops() * (1 + self.operand_grads) as f64
    }
}

/// The FLOPs of a training step's products (forward and backward).
pub(crate) fn step_flops(products: &[Product]) -> f64 {
    products.iter().map(|p| p.step_flops()).sum()
}

/// Independent FMA chains per thread: enough to cover the FMA latency (4
/// cycles) on two FMA pipes, within the 32 vector registers.
const CHAINS: usize = 16;
/// Iterations of the probe's loop per thread and repetition.
const PROBE_ITERATIONS: usize = 4_000_000;
const PROBE_REPEATS: usize = 5;

/// The f32 FMA peak of all the pool's threads at once, in GFLOP/s: the best
/// of a few repetitions of `CHAINS` independent FMA chains per thread, 16
/// lanes wide with AVX-512F, 8 with AVX2 + FMA, else scalar.
pub(crate) fn fma_peak_gflops() -> f64 {
    let lanes = fma_lanes();
    let flops_per_thread = (2 * CHAINS * lanes * PROBE_ITERATIONS) as f64;
    let threads = rayon::current_num_threads() as f64;
    (0..PROBE_REPEATS)
        .map(|_| {
            let start = Instant::now();
            rayon::broadcast(|_| black_box(fma_chains(black_box(PROBE_ITERATIONS))));
            threads * flops_per_thread / start.elapsed().as_secs_f64() / 1e9
        })
        .fold(0.0, f64::max)
}

fn fma_lanes() -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return 16;
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return 8;
        }
    }
    1
}

/// `iterations` rounds of `CHAINS` FMAs at the widest width the CPU has; the
/// sum of the chains, so that none is optimized away.
fn fma_chains(iterations: usize) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F, checked just above.
            return unsafe { x86::fma_chains_avx512(iterations) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports AVX2 and FMA, checked just above.
            return unsafe { x86::fma_chains_avx2(iterations) };
        }
    }
    let mut acc = [1.0f32; CHAINS];
    for _ in 0..iterations {
        for a in &mut acc {
            *a = a.mul_add(0.999_999, 1e-7);
        }
    }
    acc.iter().sum()
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::CHAINS;
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx512f")]
    pub(super) fn fma_chains_avx512(iterations: usize) -> f32 {
        let (a, b) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
        let mut acc = [_mm512_set1_ps(1.0); CHAINS];
        for _ in 0..iterations {
            for x in &mut acc {
                *x = _mm512_fmadd_ps(*x, a, b);
            }
        }
        acc.iter().map(|&x| _mm512_reduce_add_ps(x)).sum()
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn fma_chains_avx2(iterations: usize) -> f32 {
        let (a, b) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
        let mut acc = [_mm256_set1_ps(1.0); CHAINS];
        for _ in 0..iterations {
            for x in &mut acc {
                *x = _mm256_fmadd_ps(*x, a, b);
            }
        }
        let mut lanes = [0.0f32; 8];
        let sum = acc
            .iter()
            .fold(_mm256_setzero_ps(), |s, &x| _mm256_add_ps(s, x));
        // SAFETY: `lanes` holds 8 f32, the width of one AVX register.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), sum) };
        lanes.iter().sum()
    }
}

/// Adam's constants for the plain loop (PyTorch's defaults, step 1).
struct AdamStep {
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    bias1: f32,
    bias2_sqrt: f32,
}

impl AdamStep {
    /// One element: reads θ, g, m, v (16 bytes), writes θ, m, v (12 bytes).
    #[inline(always)]
    fn apply(&self, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
        let n = p.len();
        let (g, m, v) = (&g[..n], &mut m[..n], &mut v[..n]);
        for i in 0..n {
            m[i] = self.beta1 * m[i] + (1.0 - self.beta1) * g[i];
            v[i] = self.beta2 * v[i] + (1.0 - self.beta2) * g[i] * g[i];
            let denom = (v[i].sqrt() / self.bias2_sqrt) + self.eps;
            p[i] -= self.lr / self.bias1 * m[i] / denom;
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn adam_avx512(step: &AdamStep, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
    step.apply(p, g, m, v);
}

fn adam_chunk(step: &AdamStep, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU supports AVX-512F, checked just above.
        return unsafe { adam_avx512(step, p, g, m, v) };
    }
    step.apply(p, g, m, v);
}

/// Median milliseconds of the plainest fused Adam loop over `n` f32
/// elements, compiled for AVX-512 where the CPU has it and cut into one
/// contiguous part per thread of the pool: the memory limit of W5.
pub(crate) fn plain_adam_ms(n: usize) -> f64 {
    let step = AdamStep {
        lr: 1e-3,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        bias1: 0.1,
        bias2_sqrt: 0.001f32.sqrt(),
    };
    let mut p = vec![1.0f32; n];
    let g = vec![0.5f32; n];
    let (mut m, mut v) = (vec![0.0f32; n], vec![0.0f32; n]);
    let part = n.div_ceil(rayon::current_num_threads());
    crate::timed_ms(5, 30, || {
        rayon::scope(|s| {
            let parts = p
                .chunks_mut(part)
                .zip(g.chunks(part))
                .zip(m.chunks_mut(part).zip(v.chunks_mut(part)));
            for ((p, g), (m, v)) in parts {
                let step = &step;
                s.spawn(move |_| adam_chunk(step, p, g, m, v));
            }
        });
        black_box(&mut p);
    })
}
