//! Tensor-level shape kernels (permute, concat, narrow, pad, index_select,
//! index_add, gather, scatter_add) and the checks of their arguments.
//!
//! A tensor is read around an axis as `[outer, extent, inner]`; most kernels then
//! copy contiguous runs of `inner` (or more) elements. Kernels assume their
//! arguments were checked by the `Var` op that calls them.

use super::Tensor;
use crate::float::Float;
use crate::shape::{self, Shape};

/// `(outer, extent, inner)`: a row-major shape read as `[outer, extent, inner]`
/// around `axis`.
pub(crate) fn split_at_axis(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    (
        shape::numel(&shape[..axis]),
        shape[axis],
        shape::numel(&shape[axis + 1..]),
    )
}

/// Calls `f(i, offset)` for every element of `shape`, `i` its row-major position
/// and `offset = Σ_d index_d · strides[d]`. The last axis is a plain loop; the
/// others advance like an odometer, so no index is ever allocated per element.
pub(crate) fn for_each_offset(shape: &[usize], strides: &[usize], mut f: impl FnMut(usize, usize)) {
    let n = shape::numel(shape);
    let Some((&last_n, outer)) = shape.split_last() else {
        f(0, 0);
        return;
    };
    if n == 0 {
        return;
    }
    let last_s = strides[outer.len()];
    let mut index: Shape = smallvec::smallvec![0; outer.len()];
    let (mut i, mut base) = (0, 0);
    loop {
        for k in 0..last_n {
            f(i + k, base + k * last_s);
        }
        i += last_n;
        if i >= n {
            return;
        }
        for ax in (0..outer.len()).rev() {
            index[ax] += 1;
            base += strides[ax];
            if index[ax] < outer[ax] {
                break;
            }
            base -= strides[ax] * outer[ax];
            index[ax] = 0;
        }
    }
}

/// `shape` with the extent of `axis` replaced by `extent`.
pub(crate) fn with_extent(shape: &[usize], axis: usize, extent: usize) -> Shape {
    let mut out: Shape = shape.into();
    out[axis] = extent;
    out
}

impl<T: Float> Tensor<T> {
    /// The axes reordered: output axis `d` is input axis `perm[d]`. A strided
    /// copy: the output is written in order, the input read through permuted strides.
    pub(crate) fn permute_kernel(&self, perm: &[usize]) -> Self {
        let src = shape::strides(self.shape());
        let out_shape: Shape = perm.iter().map(|&p| self.shape()[p]).collect();
        let strides: Shape = perm.iter().map(|&p| src[p]).collect();
        let data = self.data();
        let mut out = Vec::with_capacity(self.numel());
        for_each_offset(&out_shape, &strides, |_, off| out.push(data[off]));
        Self::from_parts(out, out_shape)
    }

    /// Elements `start..start + len` along `axis`.
    pub(crate) fn narrow_kernel(&self, axis: usize, start: usize, len: usize) -> Self {
        let (outer, n, inner) = split_at_axis(self.shape(), axis);
        let data = self.data();
        let mut out = Vec::with_capacity(outer * len * inner);
        for o in 0..outer {
            let begin = (o * n + start) * inner;
            out.extend_from_slice(&data[begin..begin + len * inner]);
        }
        Self::from_parts(out, with_extent(self.shape(), axis, len))
    }

    /// `before` zeros, the elements, then `after` zeros along `axis`.
    pub(crate) fn pad_kernel(&self, axis: usize, before: usize, after: usize) -> Self {
        let (outer, n, inner) = split_at_axis(self.shape(), axis);
        let m = before + n + after;
        let run = n * inner;
        let data = self.data();
        let mut out = vec![T::ZERO; outer * m * inner];
        for o in 0..outer {
            let begin = (o * m + before) * inner;
            out[begin..begin + run].copy_from_slice(&data[o * run..(o + 1) * run]);
        }
        Self::from_parts(out, with_extent(self.shape(), axis, m))
    }

    /// `parts` joined along `axis`; their shapes agree elsewhere.
    pub(crate) fn concat_kernel(parts: &[Tensor<T>], axis: usize) -> Self {
        let total: usize = parts.iter().map(|p| p.shape()[axis]).sum();
        let out_shape = with_extent(parts[0].shape(), axis, total);
        let (outer, _, inner) = split_at_axis(&out_shape, axis);
        let mut out = Vec::with_capacity(shape::numel(&out_shape));
        for o in 0..outer {
            for p in parts {
                let run = p.shape()[axis] * inner;
                out.extend_from_slice(&p.data()[o * run..(o + 1) * run]);
            }
        }
        Self::from_parts(out, out_shape)
    }

    /// The slices `indices[j]` along `axis`, in that order.
    pub(crate) fn index_select_kernel(&self, axis: usize, indices: &[usize]) -> Self {
        let (outer, n, inner) = split_at_axis(self.shape(), axis);
        let data = self.data();
        let mut out = Vec::with_capacity(outer * indices.len() * inner);
        for o in 0..outer {
            for &i in indices {
                let begin = (o * n + i) * inner;
                out.extend_from_slice(&data[begin..begin + inner]);
            }
        }
        Self::from_parts(out, with_extent(self.shape(), axis, indices.len()))
    }

    /// A copy of `self` with slice `j` of `source` added to slice `indices[j]`
    /// along `axis` (repeated indices accumulate).
    pub(crate) fn index_add_kernel(&self, axis: usize, indices: &[usize], source: &Self) -> Self {
        let (outer, n, inner) = split_at_axis(self.shape(), axis);
        let k = indices.len();
        let src = source.data();
        let mut out = self.data().to_vec();
        for o in 0..outer {
            for (j, &i) in indices.iter().enumerate() {
                let dst = &mut out[(o * n + i) * inner..][..inner];
                let from = &src[(o * k + j) * inner..][..inner];
                dst.iter_mut().zip(from).for_each(|(d, &s)| *d += s);
            }
        }
        Self::from_parts(out, self.shape().into())
    }

    /// Strides of `self` with the one of `axis` set to 0 (the index supplies it),
    /// and the stride of `axis`.
    fn gather_strides(&self, axis: usize) -> (Shape, usize) {
        let mut strides = shape::strides(self.shape());
        let axis_stride = std::mem::replace(&mut strides[axis], 0);
        (strides, axis_stride)
    }

    /// `out[p] = self[p with coordinate axis replaced by index[p]]`, `out` of
    /// shape `index_shape`.
    pub(crate) fn gather_kernel(
        &self,
        axis: usize,
        index: &[usize],
        index_shape: &[usize],
    ) -> Self {
        let (strides, axis_stride) = self.gather_strides(axis);
        let data = self.data();
        let mut out = Vec::with_capacity(index.len());
        for_each_offset(index_shape, &strides, |i, off| {
            out.push(data[off + index[i] * axis_stride]);
        });
        Self::from_parts(out, index_shape.into())
    }

    /// A copy of `self` with `src[p]` added at `p` with coordinate `axis`
    /// replaced by `index[p]` (repeated targets accumulate); `src` has the
    /// index's shape.
    pub(crate) fn scatter_add_kernel(
        &self,
        axis: usize,
        index: &[usize],
        index_shape: &[usize],
        src: &Self,
    ) -> Self {
        let (strides, axis_stride) = self.gather_strides(axis);
        let values = src.data();
        let mut out = self.data().to_vec();
        for_each_offset(index_shape, &strides, |i, off| {
            out[off + index[i] * axis_stride] += values[i];
        });
        Self::from_parts(out, self.shape().into())
    }
}
