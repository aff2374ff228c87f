//! Pooling kernels on NCHW images: max pooling with the positions of the
//! maxima, the gather and scatter-add at those positions, average pooling and
//! its adjoint. Every loop runs plane by plane (one image and channel).
//!
//! A position is a `u32` within its `H·W` plane: half the memory of a `usize`,
//! and the positions stay alive with the graph until backward.

use rayon::prelude::*;

use super::geometry::{
    Geometry, check_grad_shape, invalid, out_extent, require_rank4, valid_range,
};
use crate::error::Result;
use crate::float::Float;
use crate::tensor::buffers;
use crate::tensor::{PAR_THRESHOLD, Tensor};

/// A position within one `H·W` input plane.
pub(crate) type PlaneIndex = u32;

/// Checks a pooling of an `x_shape` input: rank 4, and as PyTorch, padding at
/// most half the kernel (so every window holds at least one input element).
fn pool_geometry(
    op: &'static str,
    x_shape: &[usize],
    kernel: (usize, usize),
    stride: (usize, usize),
    padding: (usize, usize),
) -> Result<Geometry> {
    require_rank4(op, "input", x_shape)?;
    for (k, p) in [(kernel.0, padding.0), (kernel.1, padding.1)] {
        if p > k / 2 {
            return Err(invalid(
                op,
                "padding",
                format!("{padding:?}"),
                format!("must be at most half the kernel {kernel:?}"),
            ));
        }
    }
    let ho = out_extent(op, x_shape[2], kernel.0, stride.0, padding.0, 1)?;
    let wo = out_extent(op, x_shape[3], kernel.1, stride.1, padding.1, 1)?;
    Ok(Geometry {
        n: x_shape[0],
        c: x_shape[1],
        h: x_shape[2],
        w: x_shape[3],
        o: x_shape[1],
        kh: kernel.0,
        kw: kernel.1,
        sh: stride.0,
        sw: stride.1,
        ph: padding.0,
        pw: padding.1,
        dh: 1,
        dw: 1,
        groups: 1,
        ho,
        wo,
    })
}

/// The input rows (or columns) `lo..hi` under window `pos`, padding excluded.
#[inline]
fn window(pos: usize, stride: usize, pad: usize, kernel: usize, len: usize) -> (usize, usize) {
    let start = pos * stride;
    (start.saturating_sub(pad), (start + kernel - pad).min(len))
}

/// For each kernel column `j` that meets the input: the output columns
/// `lo..hi` it reaches and the input column under `lo` (the next ones follow
/// every `sw` columns). Pooling loops run along an output row with these, so
/// that the innermost loop is long and free of branches.
fn column_taps(geo: &Geometry) -> Vec<(usize, usize, usize)> {
    (0..geo.kw)
        .map(|j| {
            let (lo, hi) = valid_range(geo.wo, geo.sw, j, geo.pw, geo.w);
            (lo, hi, (lo * geo.sw + j).wrapping_sub(geo.pw))
        })
        .filter(|(lo, hi, _)| lo < hi)
        .collect()
}

/// Max pooling of one `H·W` plane: values and positions of the first maximum
/// of each window (`cols` holds each output column's input columns). With
/// `NAN`, a NaN wins and only a later NaN replaces it (as PyTorch); without,
/// the plane holds no NaN and the loop skips that bookkeeping.
fn max_pool_plane<T: Float, const NAN: bool>(
    geo: &Geometry,
    cols: &[(usize, usize)],
    src: &[T],
    vals: &mut [T],
    idx: &mut [PlaneIndex],
) {
    for oh in 0..geo.ho {
        let (r0, r1) = window(oh, geo.sh, geo.ph, geo.kh, geo.h);
        let lines = vals[oh * geo.wo..][..geo.wo]
            .iter_mut()
            .zip(&mut idx[oh * geo.wo..]);
        for ((val, i), &(c0, c1)) in lines.zip(cols) {
            let (mut m, mut at, mut nan_seen) = (T::NEG_INFINITY, r0 * geo.w + c0, false);
            for r in r0..r1 {
                for (c, &v) in src[r * geo.w..][c0..c1].iter().enumerate() {
                    // Strictly greater: the first maximum in scan order wins.
                    // `m` is a plain `maxss`, the index a conditional move: no
                    // branch for random data to mispredict.
                    let take = if NAN {
                        ((v > m) & !nan_seen) | v.is_nan()
                    } else {
                        v > m
                    };
                    if NAN {
                        nan_seen |= v.is_nan();
                    }
                    at = if take { r * geo.w + c0 + c } else { at };
                    m = if v > m { v } else { m };
                }
            }
            *val = src[at];
            *i = at as PlaneIndex;
        }
    }
}

/// Runs `f(plane, chunk)` on each `plane_len` chunk of `out` (one per image and
/// channel), on the rayon pool when the tensors are large.
/// [`max_pool_plane`] for the common 2×2 window, stride 2, no padding, on a
/// plane without NaN: four loads and three compares per output, in the same
/// scan order (strictly greater, so the first maximum wins).
fn max_pool_plane_2x2<T: Float>(geo: &Geometry, src: &[T], vals: &mut [T], idx: &mut [PlaneIndex]) {
    let w = geo.w;
    let rows = vals
        .chunks_exact_mut(geo.wo)
        .zip(idx.chunks_exact_mut(geo.wo));
    for (oh, (vals, idx)) in rows.enumerate().take(geo.ho) {
        let top = 2 * oh * w;
        for (ow, (val, i)) in vals.iter_mut().zip(idx.iter_mut()).enumerate() {
            let first = top + 2 * ow;
            let (mut m, mut at) = (src[first], first);
            for at_next in [first + 1, first + w, first + w + 1] {
                let v = src[at_next];
                at = if v > m { at_next } else { at };
                m = if v > m { v } else { m };
            }
            *val = m;
            *i = at as PlaneIndex;
        }
    }
}

pub(super) fn for_planes<T: Float>(
    out: &mut [T],
    plane_len: usize,
    work: usize,
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    if plane_len == 0 {
        return;
    }
    if work < PAR_THRESHOLD || rayon::current_num_threads() < 2 {
        out.chunks_exact_mut(plane_len)
            .enumerate()
            .for_each(|(q, c)| f(q, c));
    } else {
        out.par_chunks_mut(plane_len)
            .with_min_len((4096 / plane_len).max(1))
            .enumerate()
            .for_each(|(q, c)| f(q, c));
    }
}

impl<T: Float> Tensor<T> {
    /// Max pooling of `[N, C, H, W]` (padding counts as −∞), with the position
    /// of each maximum within its `H·W` plane: the first maximum in row-major
    /// scan order, or the last NaN, as PyTorch.
    pub(crate) fn max_pool2d_indices(
        &self,
        kernel: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
    ) -> Result<(Tensor<T>, buffers::Reused<PlaneIndex>)> {
        let geo = pool_geometry("max_pool2d", self.shape(), kernel, stride, padding)?;
        let (plane, p) = (geo.h * geo.w, geo.p());
        if plane > PlaneIndex::MAX as usize {
            return Err(invalid(
                "max_pool2d",
                "input",
                format!("{:?}", self.shape()),
                format!(
                    "each H·W plane must hold at most {} elements",
                    PlaneIndex::MAX
                ),
            ));
        }
        let x = self.data();
        let mut best = buffers::filled(geo.n * geo.out_len(), T::ZERO);
        let mut index = buffers::Reused::filled(best.len(), 0);
        let work = self.numel() + best.len();
        let cols: Vec<(usize, usize)> = (0..geo.wo)
            .map(|ow| window(ow, geo.sw, geo.pw, geo.kw, geo.w))
            .collect();
        let halving = (kernel, stride, padding) == ((2, 2), (2, 2), (0, 0));
        let scan = |q: usize, vals: &mut [T], idx: &mut [PlaneIndex]| {
            let src = &x[q * plane..][..plane];
            // A fold without early exit, so that it vectorizes.
            if src.iter().fold(false, |nan, v| nan | v.is_nan()) {
                max_pool_plane::<T, true>(&geo, &cols, src, vals, idx);
            } else if halving {
                max_pool_plane_2x2(&geo, src, vals, idx);
            } else {
                max_pool_plane::<T, false>(&geo, &cols, src, vals, idx);
            }
        };
        if work < PAR_THRESHOLD || rayon::current_num_threads() < 2 {
            best.chunks_exact_mut(p)
                .zip(index.chunks_exact_mut(p))
                .enumerate()
                .for_each(|(q, (v, i))| scan(q, v, i));
        } else {
            best.par_chunks_mut(p)
                .zip(index.par_chunks_mut(p))
                .with_min_len((4096 / p).max(1))
                .enumerate()
                .for_each(|(q, (v, i))| scan(q, v, i));
        }
        let out = Tensor::from_vec(best, &[geo.n, geo.c, geo.ho, geo.wo])?;
        Ok((out, index))
    }

    /// `out[q, j] = self[q, index[q, j]]` for each `[N, C]` plane `q`: reads
    /// the pooled positions out of an input-shaped tensor (`out_shape` is the
    /// pooled shape).
    pub(crate) fn gather_planes(&self, index: &[PlaneIndex], out_shape: &[usize]) -> Tensor<T> {
        let planes = out_shape[0] * out_shape[1];
        let (in_plane, out_plane) = (self.numel() / planes.max(1), index.len() / planes.max(1));
        let x = self.data();
        let mut out = buffers::filled(index.len(), T::ZERO);
        for_planes(&mut out, out_plane, index.len(), |q, o| {
            let src = &x[q * in_plane..][..in_plane];
            for (v, &i) in o.iter_mut().zip(&index[q * out_plane..]) {
                *v = src[i as usize];
            }
        });
        Tensor::from_parts(out, out_shape.into())
    }

    /// The adjoint of [`Tensor::gather_planes`]: `out[q, index[q, j]] += self[q, j]`
    /// into zeros of `in_shape` (overlapping windows add up).
    pub(crate) fn scatter_planes(&self, index: &[PlaneIndex], in_shape: &[usize]) -> Tensor<T> {
        let planes = in_shape[0] * in_shape[1];
        let in_plane = in_shape[2] * in_shape[3];
        let out_plane = index.len() / planes.max(1);
        let g = self.data();
        let mut out = buffers::filled(planes * in_plane, T::ZERO);
        for_planes(&mut out, in_plane, planes * in_plane, |q, o| {
            let src = &g[q * out_plane..][..out_plane];
            for (&v, &i) in src.iter().zip(&index[q * out_plane..]) {
                o[i as usize] += v;
            }
        });
        Tensor::from_parts(out, in_shape.into())
    }

    /// Average pooling of `[N, C, H, W]`; padding counts as zeros and every
    /// window divides by `kh·kw` (PyTorch's `count_include_pad=True`).
    pub(crate) fn avg_pool2d(
        &self,
        kernel: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
    ) -> Result<Tensor<T>> {
        let geo = pool_geometry("avg_pool2d", self.shape(), kernel, stride, padding)?;
        let plane = geo.h * geo.w;
        let scale = T::ONE / T::from_usize(geo.kh * geo.kw);
        let x = self.data();
        let mut out = buffers::filled(geo.n * geo.out_len(), T::ZERO);
        let taps = column_taps(&geo);
        for_planes(&mut out, geo.p(), self.numel(), |q, o| {
            let src = &x[q * plane..][..plane];
            for (oh, line) in o.chunks_exact_mut(geo.wo).enumerate() {
                let (r0, r1) = window(oh, geo.sh, geo.ph, geo.kh, geo.h);
                line.fill(T::ZERO);
                for r in r0..r1 {
                    let row = &src[r * geo.w..][..geo.w];
                    for &(lo, hi, start) in &taps {
                        let reads = row[start..].iter().step_by(geo.sw);
                        line[lo..hi]
                            .iter_mut()
                            .zip(reads)
                            .for_each(|(o, &v)| *o += v);
                    }
                }
                line.iter_mut().for_each(|v| *v *= scale);
            }
        });
        Tensor::from_vec(out, &[geo.n, geo.c, geo.ho, geo.wo])
    }

    /// The adjoint of [`Tensor::avg_pool2d`] for `self` = g `[N, C, Ho, Wo]` and
    /// an input of spatial size `input_hw`: each g spreads `g/(kh·kw)` over its
    /// window (padding dropped).
    pub(crate) fn avg_pool2d_adjoint(
        &self,
        input_hw: (usize, usize),
        kernel: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
    ) -> Result<Tensor<T>> {
        let op = "avg_pool2d_backward";
        require_rank4(op, "grad_output", self.shape())?;
        let gs = self.shape();
        let x_shape = [gs[0], gs[1], input_hw.0, input_hw.1];
        let geo = pool_geometry(op, &x_shape, kernel, stride, padding)?;
        check_grad_shape(op, &geo, gs)?;
        let (plane, p) = (geo.h * geo.w, geo.p());
        let scale = T::ONE / T::from_usize(geo.kh * geo.kw);
        let g = self.data();
        let mut out = buffers::filled(geo.n * geo.c * plane, T::ZERO);
        let taps = column_taps(&geo);
        for_planes(&mut out, plane, geo.n * geo.c * plane, |q, dx| {
            let src = &g[q * p..][..p];
            for (oh, line) in src.chunks_exact(geo.wo).enumerate() {
                let (r0, r1) = window(oh, geo.sh, geo.ph, geo.kh, geo.h);
                for r in r0..r1 {
                    let row = &mut dx[r * geo.w..][..geo.w];
                    for &(lo, hi, start) in &taps {
                        let writes = row[start..].iter_mut().step_by(geo.sw);
                        writes
                            .zip(&line[lo..hi])
                            .for_each(|(d, &v)| *d += v * scale);
                    }
                }
            }
        });
        Tensor::from_vec(out, &x_shape)
    }
}
