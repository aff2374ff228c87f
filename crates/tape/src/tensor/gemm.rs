//! The matrix-multiplication kernel under matmul and convolution: a thin, safe
//! wrapper around the `gemm` crate's tuned micro-kernels.

use gemm::Parallelism;

use crate::float::Float;

/// Products with fewer multiply-adds than this run on one thread: below it the
/// hand-off to the pool costs more than it saves.
const PARALLEL_FLOPS: usize = 1 << 18;

/// How an operand is stored relative to its logical shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Logical `[rows, cols]` stored row-major.
    Normal,
    /// Logical `[rows, cols]` stored as its transpose, `[cols, rows]` row-major.
    Transposed,
}

impl Layout {
    /// (row stride, column stride) of a logical `rows × cols` operand.
    fn strides(self, rows: usize, cols: usize) -> (isize, isize) {
        match self {
            Layout::Normal => (cols as isize, 1),
            Layout::Transposed => (1, rows as isize),
        }
    }
}

/// `out = a · b` (or `out += a · b` when `accumulate`), with `a` logically
/// `m × k`, `b` logically `k × n` and `out` row-major `m × n`.
///
/// Panics if a slice is shorter than its shape needs: callers check shapes first.
pub fn matmul_into<T: Float>(
    m: usize,
    k: usize,
    n: usize,
    a: &[T],
    a_layout: Layout,
    b: &[T],
    b_layout: Layout,
    out: &mut [T],
    accumulate: bool,
) {
    assert!(
        a.len() >= m * k && b.len() >= k * n && out.len() >= m * n,
        "matmul_into: operand too short"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            out[..m * n].fill(T::ZERO);
        }
        return;
    }
    let (a_rs, a_cs) = a_layout.strides(m, k);
    let (b_rs, b_cs) = b_layout.strides(k, n);
    let parallelism = if m * n * k >= PARALLEL_FLOPS && rayon::current_num_threads() > 1 {
        Parallelism::Rayon(0)
    } else {
        Parallelism::None
    };
    // SAFETY: every pointer is valid for the strides and extents given (checked
    // by the assertion above), `out` does not alias `a` or `b` (a `&mut` and two
    // `&` borrows), and T is f32 or f64, which the crate supports.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            T::ONE,
            T::ONE,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, k: usize, n: usize, a: &[f64], b: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        out
    }

    fn transpose(rows: usize, cols: usize, x: &[f64]) -> Vec<f64> {
        let mut t = vec![0.0; x.len()];
        for i in 0..rows {
            for j in 0..cols {
                t[j * rows + i] = x[i * cols + j];
            }
        }
        t
    }

    #[test]
    fn all_layouts_match_the_naive_product() {
        let (m, k, n) = (37, 19, 23);
        let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.11).cos()).collect();
        let expected = naive(m, k, n, &a, &b);
        let (at, bt) = (transpose(m, k, &a), transpose(k, n, &b));
        for (a, la) in [(&a, Layout::Normal), (&at, Layout::Transposed)] {
            for (b, lb) in [(&b, Layout::Normal), (&bt, Layout::Transposed)] {
                let mut out = vec![1.0; m * n];
                matmul_into(m, k, n, a, la, b, lb, &mut out, false);
                for (x, y) in out.iter().zip(&expected) {
                    assert!((x - y).abs() < 1e-12, "{la:?} {lb:?}");
                }
                matmul_into(m, k, n, a, la, b, lb, &mut out, true);
                for (x, y) in out.iter().zip(&expected) {
                    assert!((x - 2.0 * y).abs() < 1e-12, "accumulate {la:?} {lb:?}");
                }
            }
        }
    }
}
