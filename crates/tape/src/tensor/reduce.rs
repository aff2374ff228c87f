//! Tensor-level reductions along axes (max, min, logsumexp, argmax, argmin) and
//! the softmax kernel. Reductions walk the input once in memory order, writing
//! into the output through strides that are 0 along the reduced axes.

use rayon::prelude::*;

use super::Tensor;
use super::kernels::PAR_THRESHOLD;
use super::shape_ops::{for_each_offset, split_at_axis};
use crate::error::{Result, TapeError};
use crate::float::Float;
use crate::shape::{self, Shape};
use crate::tensor::buffers;
use crate::vecmath::{Kernel, vectorized};

/// The shape with the (normalized) `axes` set to 1 (`keepdim`) or removed.
pub(crate) fn reduced_shape(shape: &[usize], axes: &[usize], keepdim: bool) -> Shape {
    let kept = shape.iter().enumerate();
    if keepdim {
        kept.map(|(i, &n)| if axes.contains(&i) { 1 } else { n })
            .collect()
    } else {
        kept.filter(|(i, _)| !axes.contains(i))
            .map(|(_, &n)| n)
            .collect()
    }
}

/// Whether `x` beats `best` for a max (`take_max`) or min. NaN always wins, so
/// it propagates as in PyTorch.
#[inline(always)]
fn beats<T: Float>(x: T, best: T, take_max: bool) -> bool {
    x.is_nan() || if take_max { x > best } else { x < best }
}

/// Whether `x` is the extremum `m`; with `nan_attains_nan`, a NaN element
/// attains a NaN extremum (the rule of PyTorch's full `max()`), else NaN
/// equals nothing (the rule of `amax`).
#[inline(always)]
fn attains<T: Float>(x: T, m: T, nan_attains_nan: bool) -> bool {
    x == m || (nan_attains_nan && x.is_nan() && m.is_nan())
}

impl<T: Float> Tensor<T> {
    /// Checks that a max, min or arg-extremum over the normalized `axes` has
    /// something to pick from: no reduced axis is empty, nor (when all axes are
    /// reduced) the whole tensor.
    pub(crate) fn check_reducible(&self, op: &'static str, axes: &[usize]) -> Result<()> {
        if let Some(&axis) = axes.iter().find(|&&a| self.shape()[a] == 0) {
            return Err(TapeError::InvalidShape {
                op,
                shape: self.shape().into(),
                reason: format!("cannot reduce over axis {axis}, which has no elements"),
            });
        }
        Ok(())
    }

    /// Strides that write the input's elements into a reduction over `axes` with
    /// the axes kept: 0 along the reduced axes.
    fn reduction_strides(&self, axes: &[usize]) -> (Shape, Shape) {
        let kept = reduced_shape(self.shape(), axes, true);
        let strides = shape::broadcast_strides(&kept, self.shape());
        (kept, strides)
    }

    /// Max (`take_max`) or min over the normalized `axes`, none of them empty.
    pub(crate) fn extremum_axes(&self, axes: &[usize], keepdim: bool, take_max: bool) -> Self {
        let (kept, strides) = self.reduction_strides(axes);
        let start = if take_max {
            T::NEG_INFINITY
        } else {
            T::INFINITY
        };
        let mut out = vec![start; shape::numel(&kept)];
        let data = self.data();
        for_each_offset(self.shape(), &strides, |i, o| {
            if beats(data[i], out[o], take_max) {
                out[o] = data[i];
            }
        });
        Self::from_parts(out, reduced_shape(self.shape(), axes, keepdim))
    }

    /// Which elements attain an extremum over `axes` (`m` in the kept-axes
    /// shape): the mask `[x = m]` (input shape, 0s and 1s) and the count
    /// `#{x = m}` of each lane (kept-axes shape), among which the gradient is
    /// split. See [`attains`] for `nan_attains_nan`.
    pub(crate) fn extremum_mask(
        &self,
        extremum: &Self,
        axes: &[usize],
        nan_attains_nan: bool,
    ) -> (Self, Self) {
        let (kept, strides) = self.reduction_strides(axes);
        let (data, m) = (self.data(), extremum.data());
        let mut count = buffers::filled(m.len(), T::ZERO);
        let mut mask = buffers::filled(self.numel(), T::ZERO);
        for_each_offset(self.shape(), &strides, |i, o| {
            if attains(data[i], m[o], nan_attains_nan) {
                mask[i] = T::ONE;
                count[o] += T::ONE;
            }
        });
        (
            Self::from_parts(mask, self.shape().into()),
            Self::from_parts(count, kept),
        )
    }

    /// `log Σ exp` over the normalized `axes`, as `m + log Σ exp(x − m)` with `m`
    /// the max, so no term overflows. A non-finite max (all −∞, or a +∞) is not
    /// subtracted: the result is then −∞ or +∞ as it should be, not NaN.
    pub(crate) fn logsumexp_axes(&self, axes: &[usize], keepdim: bool) -> Self {
        let (kept, strides) = self.reduction_strides(axes);
        let max = self.extremum_axes(axes, true, true);
        let shift: Vec<T> = max
            .data()
            .iter()
            .map(|&m| if m.is_finite() { m } else { T::ZERO })
            .collect();
        let mut sum = buffers::filled(shape::numel(&kept), T::ZERO);
        let data = self.data();
        for_each_offset(self.shape(), &strides, |i, o| {
            sum[o] += (data[i] - shift[o]).exp();
        });
        let out = sum.iter().zip(&shift).map(|(&s, &m)| m + s.ln()).collect();
        Self::from_parts(out, reduced_shape(self.shape(), axes, keepdim))
    }

    /// Positions of the maximum along `axis` (negative counts from the end), the
    /// first one on ties, NaN counting as the maximum (as `torch.argmax`). The
    /// result lists them in row-major order of the shape without `axis`; a 0-d
    /// tensor has the one position 0 (axis 0 or −1).
    ///
    /// ```
    /// use tapegrad_tape::Tensor;
    /// let logits = Tensor::from_vec(vec![0.1f64, 2.0, 2.0, 5.0, -1.0, 0.0], &[2, 3]).unwrap();
    /// assert_eq!(logits.argmax(-1).unwrap(), vec![1, 0]); // ties: the first
    /// assert_eq!(logits.argmax(0).unwrap(), vec![1, 0, 0]);
    /// assert!(logits.argmax(2).is_err());
    /// ```
    pub fn argmax(&self, axis: isize) -> Result<Vec<usize>> {
        self.arg_extremum("argmax", axis, true)
    }

    /// Positions of the minimum along `axis`, the first one on ties (see
    /// [`Tensor::argmax`]).
    ///
    /// ```
    /// use tapegrad_tape::Tensor;
    /// let t = Tensor::from_vec(vec![3.0f32, 1.0, 1.0, 0.0], &[2, 2]).unwrap();
    /// assert_eq!(t.argmin(1).unwrap(), vec![1, 1]);
    /// ```
    pub fn argmin(&self, axis: isize) -> Result<Vec<usize>> {
        self.arg_extremum("argmin", axis, false)
    }

    fn arg_extremum(&self, op: &'static str, axis: isize, take_max: bool) -> Result<Vec<usize>> {
        if self.ndim() == 0 {
            shape::normalize_axis(op, axis, 1)?;
            return Ok(vec![0]);
        }
        let axis = shape::normalize_axis(op, axis, self.ndim())?;
        self.check_reducible(op, &[axis])?;
        let (outer, n, inner) = split_at_axis(self.shape(), axis);
        let data = self.data();
        let mut best_at = vec![0usize; outer * inner];
        let mut best = buffers::with_capacity(outer * inner);
        for o in 0..outer {
            best.extend_from_slice(&data[o * n * inner..][..inner]);
        }
        // k outermost: each pass reads one contiguous run of `inner` elements.
        for o in 0..outer {
            for k in 1..n {
                let run = &data[(o * n + k) * inner..][..inner];
                for (i, &x) in run.iter().enumerate() {
                    let slot = o * inner + i;
                    if !best[slot].is_nan() && beats(x, best[slot], take_max) {
                        best[slot] = x;
                        best_at[slot] = k;
                    }
                }
            }
        }
        Ok(best_at)
    }

    /// Softmax (or, with `log`, log-softmax) along the normalized `axis`, each
    /// lane shifted by its max so that no exponential overflows. Large inputs
    /// are split across threads by outer index.
    pub(crate) fn softmax_kernel(&self, axis: usize, log: bool) -> Self {
        let (_, n, inner) = split_at_axis(self.shape(), axis);
        let lane = n * inner;
        let mut out = buffers::filled(self.numel(), T::ZERO);
        if lane > 0 {
            let data = self.data();
            let buffers = || {
                (
                    buffers::filled(inner, T::ZERO),
                    buffers::filled(inner, T::ZERO),
                )
            };
            let run = |(max, sum): &mut (Vec<T>, Vec<T>), (o, x): (&mut [T], &[T])| {
                softmax_block(o, x, max, sum, log);
            };
            if self.numel() >= PAR_THRESHOLD {
                out.par_chunks_mut(lane)
                    .zip(data.par_chunks(lane))
                    .for_each_init(buffers, run);
            } else {
                let mut scratch = buffers();
                out.chunks_mut(lane)
                    .zip(data.chunks(lane))
                    .for_each(|block| run(&mut scratch, block));
            }
        }
        Self::from_parts(out, self.shape().into())
    }
}

/// Softmax (or log-softmax) of one `[n, inner]` block along its first axis,
/// into `out`; `max` and `sum` are scratch rows of length `inner`.
fn softmax_block<T: Float>(out: &mut [T], x: &[T], max: &mut [T], sum: &mut [T], log: bool) {
    if max.len() == 1 {
        return softmax_lane(out, x, log);
    }
    let inner = max.len();
    max.fill(T::NEG_INFINITY);
    sum.fill(T::ZERO);
    for row in x.chunks_exact(inner) {
        for (m, &v) in max.iter_mut().zip(row) {
            if beats(v, *m, true) {
                *m = v;
            }
        }
    }
    for (o_row, row) in out.chunks_exact_mut(inner).zip(x.chunks_exact(inner)) {
        for i in 0..inner {
            let shifted = row[i] - max[i];
            let e = shifted.exp();
            o_row[i] = if log { shifted } else { e };
            sum[i] += e;
        }
    }
    for o_row in out.chunks_exact_mut(inner) {
        for i in 0..inner {
            if log {
                o_row[i] -= sum[i].ln();
            } else {
                o_row[i] /= sum[i];
            }
        }
    }
}

/// Partial results kept side by side in the softmax of a lane: its max and
/// its sum are taken over `LANES` interleaved parts (element i in part
/// i mod `LANES`), combined in part order, so that the loops run 16 wide.
const LANES: usize = 16;

/// Softmax (or log-softmax) of one contiguous lane: the common case of the
/// last axis, compiled for AVX-512 when the CPU has it ([`vectorized`]).
fn softmax_lane<T: Float>(out: &mut [T], x: &[T], log: bool) {
    vectorized(SoftmaxLane { out, x, log });
}

/// The loops of [`softmax_lane`].
struct SoftmaxLane<'a, T> {
    out: &'a mut [T],
    x: &'a [T],
    log: bool,
}

impl<T: Float> Kernel for SoftmaxLane<'_, T> {
    #[inline(always)]
    fn run(self) {
        let (x, log) = (self.x, self.log);
        let out = &mut self.out[..x.len()];
        let max = lane_max(x);
        // e = exp(x − max) into `out` (x − max for log-softmax), summed.
        let mut parts = [T::ZERO; LANES];
        let whole = x.len() - x.len() % LANES;
        let mut start = 0;
        while start < whole {
            let xs: &[T; LANES] = x[start..start + LANES].try_into().expect("LANES long");
            let os: &mut [T; LANES] = (&mut out[start..start + LANES])
                .try_into()
                .expect("LANES long");
            for j in 0..LANES {
                let shifted = xs[j] - max;
                let e = shifted.exp();
                os[j] = if log { shifted } else { e };
                parts[j] += e;
            }
            start += LANES;
        }
        let mut sum = parts.iter().fold(T::ZERO, |s, &p| s + p);
        for i in whole..x.len() {
            let shifted = x[i] - max;
            let e = shifted.exp();
            out[i] = if log { shifted } else { e };
            sum += e;
        }
        if log {
            let log_sum = sum.ln();
            out.iter_mut().for_each(|o| *o -= log_sum);
        } else {
            let inv = T::ONE / sum;
            out.iter_mut().for_each(|o| *o *= inv);
        }
    }
}

/// The largest element of `x` (NaN if it holds one; −∞ if empty), over
/// `LANES` interleaved parts.
#[inline(always)]
fn lane_max<T: Float>(x: &[T]) -> T {
    let larger = |m: T, v: T| if beats(v, m, true) { v } else { m };
    let mut parts = [T::NEG_INFINITY; LANES];
    let whole = x.len() - x.len() % LANES;
    let mut start = 0;
    while start < whole {
        let xs: &[T; LANES] = x[start..start + LANES].try_into().expect("LANES long");
        for j in 0..LANES {
            parts[j] = larger(parts[j], xs[j]);
        }
        start += LANES;
    }
    let max = parts.iter().fold(T::NEG_INFINITY, |m, &p| larger(m, p));
    x[whole..].iter().fold(max, |m, &v| larger(m, v))
}
