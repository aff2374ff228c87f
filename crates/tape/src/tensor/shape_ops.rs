//! Tensor-level shape kernels (permute, concat, narrow, pad, index_select,
//! index_add, gather, scatter_add) and the checks of their arguments.
//!
//! A tensor is read around an axis as `[outer, extent, inner]`; most kernels then
//! copy contiguous runs of `inner` (or more) elements. Kernels assume their
//! arguments were checked by the `Var` op that calls them.

use super::Tensor;
use crate::float::Float;
use crate::shape::{self, Shape};
use crate::tensor::buffers;

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
/// and `offset = Σ_d index_d · strides[d]`.
pub(crate) fn for_each_offset(shape: &[usize], strides: &[usize], f: impl FnMut(usize, usize)) {
    for_each_offset2(shape, &shape::strides(shape), strides, f);
}

/// Calls `f(offset_a, offset_b)` for every element of `shape` in row-major
/// order, each offset the dot product of the element's index with `sa` or `sb`.
/// The last axis is a plain loop; the others advance like an odometer, so no
/// index is ever allocated per element.
pub(crate) fn for_each_offset2(
    shape: &[usize],
    sa: &[usize],
    sb: &[usize],
    mut f: impl FnMut(usize, usize),
) {
    let Some((&last_n, outer)) = shape.split_last() else {
        f(0, 0);
        return;
    };
    if shape::numel(shape) == 0 {
        return;
    }
    let (last_a, last_b) = (sa[outer.len()], sb[outer.len()]);
    let mut index: Shape = smallvec::smallvec![0; outer.len()];
    let (mut base_a, mut base_b) = (0, 0);
    loop {
        for k in 0..last_n {
            f(base_a + k * last_a, base_b + k * last_b);
        }
        let mut ax = outer.len();
        loop {
            if ax == 0 {
                return;
            }
            ax -= 1;
            index[ax] += 1;
            base_a += sa[ax];
            base_b += sb[ax];
            if index[ax] < outer[ax] {
                break;
            }
            base_a -= sa[ax] * outer[ax];
            base_b -= sb[ax] * outer[ax];
            index[ax] = 0;
        }
    }
}

/// Side of the square tiles of a blocked permute: 32 × 32 elements keep both the
/// rows read and the rows written in L1.
const TILE: usize = 32;

/// `shape` with the extent of `axis` replaced by `extent`.
pub(crate) fn with_extent(shape: &[usize], axis: usize, extent: usize) -> Shape {
    let mut out: Shape = shape.into();
    out[axis] = extent;
    out
}

impl<T: Float> Tensor<T> {
    /// The axes reordered: output axis `d` is input axis `perm[d]`. A strided
    /// copy: the output is written in order, the input read through permuted
    /// strides. When the input's contiguous axis is not the output's last one,
    /// the copy goes by square tiles of those two axes, so that reads and writes
    /// both stay in cache (a plain strided transpose is ~10× slower).
    pub(crate) fn permute_kernel(&self, perm: &[usize]) -> Self {
        let src = shape::strides(self.shape());
        let out_shape: Shape = perm.iter().map(|&p| self.shape()[p]).collect();
        let strides: Shape = perm.iter().map(|&p| src[p]).collect();
        let data = self.data();
        let nd = out_shape.len();
        let contiguous = perm.iter().position(|&p| p + 1 == nd);
        match contiguous {
            Some(q) if q + 1 < nd && out_shape[q] > 1 && out_shape[nd - 1] > 1 => {
                let out = tiled_permute(data, &out_shape, &strides, q);
                Self::from_parts(out, out_shape)
            }
            // The last axis stays last (attention's head split and merge):
            // whole rows are copied, the odometer runs over the others.
            Some(q) if q + 1 == nd && nd > 1 && out_shape[nd - 1] > 1 => {
                let row = out_shape[nd - 1];
                let mut out = buffers::with_capacity(self.numel());
                for_each_offset(&out_shape[..nd - 1], &strides[..nd - 1], |_, off| {
                    out.extend_from_slice(&data[off..off + row]);
                });
                Self::from_parts(out, out_shape)
            }
            _ => {
                let mut out = buffers::with_capacity(self.numel());
                for_each_offset(&out_shape, &strides, |_, off| out.push(data[off]));
                Self::from_parts(out, out_shape)
            }
        }
    }

    /// Elements `start..start + len` along `axis`.
    pub(crate) fn narrow_kernel(&self, axis: usize, start: usize, len: usize) -> Self {
        let (outer, n, inner) = split_at_axis(self.shape(), axis);
        let data = self.data();
        let mut out = buffers::with_capacity(outer * len * inner);
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
        let mut out = buffers::filled(outer * m * inner, T::ZERO);
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
        let mut out = buffers::with_capacity(shape::numel(&out_shape));
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
        let mut out = buffers::with_capacity(outer * indices.len() * inner);
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
        let mut out = buffers::with_capacity(index.len());
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

/// The permuted copy of `data` into a row-major array of shape `out_shape`, read
/// through `strides` (the input stride of each output axis), where output axis
/// `q` is the input's contiguous axis: tiles of axes `q` × last are copied whole.
fn tiled_permute<T: Float>(data: &[T], out_shape: &[usize], strides: &[usize], q: usize) -> Vec<T> {
    let nd = out_shape.len();
    let out_strides = shape::strides(out_shape);
    let (nq, nl) = (out_shape[q], out_shape[nd - 1]);
    let (in_l, out_q) = (strides[nd - 1], out_strides[q]);
    let mut blocks: Shape = out_shape.into();
    blocks[q] = 1;
    blocks[nd - 1] = 1;
    let mut out = buffers::filled(data.len(), T::ZERO);
    for_each_offset2(&blocks, strides, &out_strides, |base_in, base_out| {
        for q0 in (0..nq).step_by(TILE) {
            for l0 in (0..nl).step_by(TILE) {
                for i in q0..(q0 + TILE).min(nq) {
                    let row = &mut out[base_out + i * out_q..][..nl];
                    for l in l0..(l0 + TILE).min(nl) {
                        row[l] = data[base_in + i + l * in_l];
                    }
                }
            }
        }
    });
    out
}
