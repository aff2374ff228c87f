//! The matrix-multiplication kernel under matmul and convolution (a thin, safe
//! wrapper around the `gemm` crate's tuned micro-kernels), and the batched
//! product `op(A)·op(B)` of tensors built on it.

use gemm::Parallelism;
use rayon::prelude::*;

use super::Tensor;
use crate::error::{Result, TapeError};
use crate::float::Float;
use crate::shape::{self, Shape};
use crate::tensor::buffers;

/// Products with fewer multiply-adds (m·k·n) than this run on one thread: below
/// it the hand-off to the pool costs more than it saves (measured on 2 cores:
/// two threads tie up to 64³ and lose at 96³–128³ and 32×784×128; they win from
/// 192³, see docs/performance.md). A batch of smaller products is spread over
/// the pool one matrix per task instead.
pub const PARALLEL_FLOPS: usize = 1 << 22;

/// How an operand is stored relative to its logical shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Logical `[rows, cols]` stored row-major.
    Normal,
    /// Logical `[rows, cols]` stored as its transpose, `[cols, rows]` row-major.
    Transposed,
}

impl Layout {
    /// `Transposed` when `transposed`, else `Normal`.
    pub fn of(transposed: bool) -> Self {
        if transposed {
            Layout::Transposed
        } else {
            Layout::Normal
        }
    }

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
///
/// ```
/// use tapegrad_tape::tensor::gemm::{matmul_into, Layout};
/// // [1 2; 3 4] · [5 6]ᵀ, with b = [5, 6] read as a 2 × 1 column
/// let mut out = [0.0f64; 2];
/// matmul_into(2, 2, 1, &[1.0, 2.0, 3.0, 4.0], Layout::Normal, &[5.0, 6.0], Layout::Normal, &mut out, false);
/// assert_eq!(out, [17.0, 39.0]);
/// ```
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
    let threads = rayon::current_num_threads();
    let (a, b) = ((a, a_layout), (b, b_layout));
    matmul_into_threads(m, k, n, a, b, out, accumulate, threads);
}

/// [`matmul_into`] on at most `threads` threads of the pool (1: the calling
/// thread only, for a caller that is itself one of several parallel tasks).
pub(crate) fn matmul_into_threads<T: Float>(
    m: usize,
    k: usize,
    n: usize,
    (a, a_layout): (&[T], Layout),
    (b, b_layout): (&[T], Layout),
    out: &mut [T],
    accumulate: bool,
    threads: usize,
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
    let operands = Operands {
        a: a.as_ptr(),
        a_strides: a_layout.strides(m, k),
        b: b.as_ptr(),
        b_strides: b_layout.strides(k, n),
        out: out.as_mut_ptr(),
        out_row_stride: n,
    };
    // SAFETY: the pointers are valid for the strides and extents given (checked
    // by the assertion above), `out` does not alias `a` or `b` (a `&mut` and two
    // `&` borrows), and the borrows outlive the call.
    unsafe {
        if m * n * k >= PARALLEL_FLOPS && threads > 1 {
            operands.gemm_in_blocks(m, k, n, threads, accumulate);
        } else {
            operands.gemm(m, k, n, accumulate);
        }
    }
}

/// A column block of a threaded product starts at a multiple of this many
/// columns (a 64-byte cache line of f32); rows are split instead when the
/// result has fewer than `2 · BLOCK_COLUMNS` columns a thread.
const BLOCK_COLUMNS: usize = 16;

/// Raw operands of one product: `out = op(A)·op(B)` with A `m × k` at `a`,
/// B `k × n` at `b`, given as (row stride, column stride), and `out` row-major
/// with `out_row_stride` elements between rows.
#[derive(Clone, Copy)]
struct Operands<T> {
    a: *const T,
    a_strides: (isize, isize),
    b: *const T,
    b_strides: (isize, isize),
    out: *mut T,
    out_row_stride: usize,
}

// SAFETY: the pointers are only dereferenced inside `gemm`, on blocks of `out`
// that no other thread writes, while the borrows behind them are held by the
// caller of `matmul_into`; `T` (f32, f64) is Send + Sync.
unsafe impl<T: Send> Send for Operands<T> {}
unsafe impl<T: Sync> Sync for Operands<T> {}

impl<T: Float> Operands<T> {
    /// The product on the calling thread.
    ///
    /// # Safety
    /// The pointers must be valid for an `m × k · k × n` product with their
    /// strides, and `out` must alias neither operand.
    unsafe fn gemm(self, m: usize, k: usize, n: usize, accumulate: bool) {
        let (a_rs, a_cs) = self.a_strides;
        let (b_rs, b_cs) = self.b_strides;
        // SAFETY: forwarded from the caller; T is f32 or f64, which the crate supports.
        unsafe {
            gemm::gemm(
                m,
                n,
                k,
                self.out,
                1,
                self.out_row_stride as isize,
                accumulate,
                self.a,
                a_cs,
                a_rs,
                self.b,
                b_cs,
                b_rs,
                T::ONE,
                T::ONE,
                false,
                false,
                false,
                Parallelism::None,
            );
        }
    }

    /// The product cut into `threads` blocks of columns (rows for a narrow
    /// result), one single-threaded GEMM each on the pool. One fork-join per
    /// product: the crate's own threading forks twice per depth block (packing,
    /// then the kernel) and measured 8–12 % slower at 256×784×512 and
    /// 128×784×512 on 2 cores (docs/performance.md).
    ///
    /// # Safety
    /// As for [`Operands::gemm`].
    unsafe fn gemm_in_blocks(self, m: usize, k: usize, n: usize, threads: usize, accumulate: bool) {
        let by_columns = n >= 2 * BLOCK_COLUMNS * threads;
        let (len, unit) = if by_columns {
            (n, BLOCK_COLUMNS)
        } else {
            (m, 1)
        };
        let bound = |j: usize| {
            if j == threads {
                len
            } else {
                (j * len / threads) / unit * unit
            }
        };
        (0..threads).into_par_iter().for_each(|j| {
            let (start, end) = (bound(j), bound(j + 1));
            if start == end {
                return;
            }
            let mut block = self;
            // SAFETY: the offsets stay inside the operands (start < len), and the
            // blocks of `out` (columns or rows start..end) are disjoint.
            unsafe {
                if by_columns {
                    block.b = self.b.offset(start as isize * self.b_strides.1);
                    block.out = self.out.add(start);
                    block.gemm(m, k, end - start, accumulate);
                } else {
                    block.a = self.a.offset(start as isize * self.a_strides.0);
                    block.out = self.out.add(start * self.out_row_stride);
                    block.gemm(end - start, k, n, accumulate);
                }
            }
        });
    }
}

/// The sizes of a product `op(A)·op(B)`: the broadcast batch shape and the
/// `m × k · k × n` of each matrix.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan {
    pub(crate) batch: Shape,
    pub(crate) m: usize,
    pub(crate) k: usize,
    pub(crate) n: usize,
}

impl Plan {
    /// Checks that `a` and `b` (rank ≥ 2, last two axes the matrices, stored
    /// transposed when `ta`/`tb`) can be multiplied and that their batch axes
    /// broadcast.
    pub(crate) fn new(
        op: &'static str,
        a: &[usize],
        b: &[usize],
        ta: bool,
        tb: bool,
    ) -> Result<Self> {
        let mismatch = || TapeError::ShapeMismatch {
            op,
            lhs: a.into(),
            rhs: b.into(),
        };
        if a.len() < 2 || b.len() < 2 {
            return Err(mismatch());
        }
        let (a_batch, a_mat) = a.split_at(a.len() - 2);
        let (b_batch, b_mat) = b.split_at(b.len() - 2);
        let (m, k) = if ta {
            (a_mat[1], a_mat[0])
        } else {
            (a_mat[0], a_mat[1])
        };
        let (kb, n) = if tb {
            (b_mat[1], b_mat[0])
        } else {
            (b_mat[0], b_mat[1])
        };
        if k != kb {
            return Err(mismatch());
        }
        let batch = shape::broadcast_shapes(op, a_batch, b_batch).map_err(|_| mismatch())?;
        Ok(Self { batch, m, k, n })
    }

    /// Number of matrices in the result.
    pub(crate) fn count(&self) -> usize {
        shape::numel(&self.batch)
    }

    /// `batch × m × n`.
    pub(crate) fn out_shape(&self) -> Shape {
        let mut out = self.batch.clone();
        out.extend([self.m, self.n]);
        out
    }
}

/// The shapes of a `torch.matmul` call: a 1-D left operand becomes `1 × k`, a
/// 1-D right operand `k × 1`, and the added axis is removed from the result.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Promoted {
    /// Shape the left operand is read as.
    pub(crate) a: Shape,
    /// Shape the right operand is read as.
    pub(crate) b: Shape,
    /// Shape of the result.
    pub(crate) out: Shape,
}

impl Promoted {
    pub(crate) fn new(a: &[usize], b: &[usize]) -> Result<Self> {
        let promote = |s: &[usize], vector: Shape| if s.len() == 1 { vector } else { s.into() };
        let ap = promote(a, smallvec::smallvec![1, a.first().copied().unwrap_or(0)]);
        let bp = promote(b, smallvec::smallvec![b.first().copied().unwrap_or(0), 1]);
        let plan =
            Plan::new("matmul", &ap, &bp, false, false).map_err(|_| TapeError::ShapeMismatch {
                op: "matmul",
                lhs: a.into(),
                rhs: b.into(),
            })?;
        let mut out = plan.batch.clone();
        if a.len() > 1 {
            out.push(plan.m);
        }
        if b.len() > 1 {
            out.push(plan.n);
        }
        Ok(Self { a: ap, b: bp, out })
    }
}

/// Start of each result matrix's operand matrix, for an operand whose batch
/// shape `from` is broadcast to `to`, with `matrix` elements per matrix.
fn batch_offsets(from: &[usize], to: &[usize], matrix: usize) -> Vec<usize> {
    let strides = shape::broadcast_strides(from, to);
    let mut index: Shape = smallvec::smallvec![0; to.len()];
    let mut offsets = buffers::with_capacity(shape::numel(to));
    for _ in 0..shape::numel(to) {
        let start: usize = index.iter().zip(&strides).map(|(i, s)| i * s).sum();
        offsets.push(start * matrix);
        for d in (0..to.len()).rev() {
            index[d] += 1;
            if index[d] < to[d] {
                break;
            }
            index[d] = 0;
        }
    }
    offsets
}

/// One GEMM per result matrix. Many small matrices are spread over the pool
/// (each GEMM then runs on one thread); large ones are threaded inside the GEMM.
fn batched_into<T: Float>(
    a: &Tensor<T>,
    b: &Tensor<T>,
    ta: bool,
    tb: bool,
    plan: &Plan,
    out: &mut [T],
) {
    let Plan { m, k, n, .. } = *plan;
    let a_offsets = batch_offsets(&a.shape()[..a.ndim() - 2], &plan.batch, m * k);
    let b_offsets = batch_offsets(&b.shape()[..b.ndim() - 2], &plan.batch, k * n);
    let (la, lb) = (Layout::of(ta), Layout::of(tb));
    let one = |(c, (&oa, &ob)): (&mut [T], (&usize, &usize))| {
        matmul_into(m, k, n, &a.data()[oa..], la, &b.data()[ob..], lb, c, false);
    };
    let flops = m * k * n;
    if flops < PARALLEL_FLOPS && flops * plan.count() >= PARALLEL_FLOPS {
        out.par_chunks_mut(m * n)
            .zip(a_offsets.par_iter().zip(&b_offsets))
            .for_each(one);
    } else {
        out.chunks_mut(m * n)
            .zip(a_offsets.iter().zip(&b_offsets))
            .for_each(one);
    }
}

/// `op(A)·op(B)` for operands that fit `plan`.
pub(crate) fn product<T: Float>(
    a: &Tensor<T>,
    b: &Tensor<T>,
    ta: bool,
    tb: bool,
    plan: &Plan,
) -> Tensor<T> {
    let mut out = buffers::filled(plan.count() * plan.m * plan.n, T::ZERO);
    if out.is_empty() {
        return Tensor::from_parts(out, plan.out_shape());
    }
    if !ta && shape::numel(&b.shape()[..b.ndim() - 2]) == 1 {
        // A's row-major matrices lie one after another: together they are a
        // single (count·m) × k matrix, and the result is one (count·m) × n GEMM.
        let rows = plan.count() * plan.m;
        let lb = Layout::of(tb);
        matmul_into(
            rows,
            plan.k,
            plan.n,
            a.data(),
            Layout::Normal,
            b.data(),
            lb,
            &mut out,
            false,
        );
    } else {
        batched_into(a, b, ta, tb, plan, &mut out);
    }
    Tensor::from_parts(out, plan.out_shape())
}

impl<T: Float> Tensor<T> {
    /// The matrix product with `torch.matmul` semantics: `m×k @ k×n`; batched
    /// `…×m×k @ …×k×n` with the batch axes broadcast (NumPy rule); a 1-D left
    /// operand is read as `1×k` and a 1-D right operand as `k×1`, and that axis
    /// is removed from the result (so 1-D @ 1-D is the dot product, 0-d).
    ///
    /// `out[…, i, j] = Σₚ a[…, i, p] b[…, p, j]`.
    ///
    /// ```
    /// use tapegrad_tape::Tensor;
    /// let a = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    /// let v = Tensor::from_vec(vec![5.0, 6.0], &[2]).unwrap();
    /// let av = a.matmul(&v).unwrap();
    /// assert_eq!(av.shape(), &[2]);
    /// assert_eq!(av.data(), &[17.0, 39.0]);
    /// ```
    pub fn matmul(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        let p = Promoted::new(self.shape(), other.shape())?;
        self.reshape(&p.a)?
            .matmul_t(&other.reshape(&p.b)?, false, false)?
            .reshape(&p.out)
    }

    /// `op(A)·op(B)` over the last two axes, where `op(X) = Xᵀ` (last two axes
    /// swapped) when its flag is set; batch axes broadcast. The transposes are
    /// read through strides, never copied. Both operands need rank ≥ 2.
    ///
    /// ```
    /// use tapegrad_tape::Tensor;
    /// let a = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    /// // aᵀ · a = [1 3; 2 4] · [1 2; 3 4]
    /// assert_eq!(a.matmul_t(&a, true, false).unwrap().data(), &[10.0, 14.0, 14.0, 20.0]);
    /// ```
    pub fn matmul_t(
        &self,
        other: &Tensor<T>,
        transpose_self: bool,
        transpose_other: bool,
    ) -> Result<Tensor<T>> {
        let plan = Plan::new(
            "matmul_t",
            self.shape(),
            other.shape(),
            transpose_self,
            transpose_other,
        )?;
        Ok(product(self, other, transpose_self, transpose_other, &plan))
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

    /// A and B as stored, with their layouts.
    type Case = (Vec<f64>, Layout, Vec<f64>, Layout);

    /// The four layout combinations of deterministic `m × k` and `k × n`
    /// operands, with their product.
    fn layouts(m: usize, k: usize, n: usize) -> (Vec<Case>, Vec<f64>) {
        let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.11).cos()).collect();
        let expected = naive(m, k, n, &a, &b);
        let (at, bt) = (transpose(m, k, &a), transpose(k, n, &b));
        let mut cases = Vec::new();
        for (a, la) in [(&a, Layout::Normal), (&at, Layout::Transposed)] {
            for (b, lb) in [(&b, Layout::Normal), (&bt, Layout::Transposed)] {
                cases.push((a.clone(), la, b.clone(), lb));
            }
        }
        (cases, expected)
    }

    #[test]
    fn all_layouts_match_the_naive_product() {
        let (m, k, n) = (37, 19, 23);
        let (cases, expected) = layouts(m, k, n);
        for (a, la, b, lb) in &cases {
            let (la, lb) = (*la, *lb);
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

    /// Above `PARALLEL_FLOPS` the product is cut into column blocks (wide
    /// results) or row blocks (narrow ones), on 3 threads so the blocks are
    /// uneven; every layout, and accumulation, must still give the product.
    #[test]
    fn threaded_blocks_match_the_naive_product() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        for (m, k, n) in [(150, 300, 101), (1000, 150, 29)] {
            assert!(m * k * n >= PARALLEL_FLOPS);
            let (cases, expected) = layouts(m, k, n);
            for (a, la, b, lb) in &cases {
                let (la, lb) = (*la, *lb);
                let mut out = vec![1.0; m * n];
                pool.install(|| matmul_into(m, k, n, a, la, b, lb, &mut out, true));
                for (i, (x, y)) in out.iter().zip(&expected).enumerate() {
                    assert!(
                        (x - 1.0 - y).abs() < 1e-9,
                        "{m}x{k}x{n} {la:?} {lb:?} at {i}"
                    );
                }
            }
        }
    }

    #[test]
    fn batch_offsets_follow_broadcasting() {
        assert_eq!(batch_offsets(&[2, 1], &[2, 3], 10), [0, 0, 0, 10, 10, 10]);
        assert_eq!(batch_offsets(&[3], &[2, 3], 4), [0, 4, 8, 0, 4, 8]);
        assert_eq!(batch_offsets(&[], &[2], 4), [0, 0]);
    }

    #[test]
    fn promotion_of_vectors() {
        let p = Promoted::new(&[3], &[2, 3, 4]).unwrap();
        assert_eq!(
            (p.a.as_slice(), p.out.as_slice()),
            (&[1, 3][..], &[2, 4][..])
        );
        let p = Promoted::new(&[3], &[3]).unwrap();
        assert_eq!(p.out.as_slice(), &[] as &[usize]);
        assert!(Promoted::new(&[], &[3]).is_err());
    }
}
