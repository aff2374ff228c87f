//! The loops under every op: elementwise maps, broadcasting zips and sums over axes.
//! Large same-shape work is split across threads with rayon.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::Tensor;
use super::shape_ops::for_each_offset2;
use crate::error::{Result, TapeError};
use crate::float::Float;
use crate::shape::{self, Shape};
use crate::tensor::buffers;
use crate::vecmath::{Kernel, vectorized};

/// Element count above which elementwise loops run on the rayon pool. Below it the
/// hand-off costs more than the loop.
pub const PAR_THRESHOLD: usize = 1 << 15;
const CHUNK: usize = 1 << 13;

/// A vector of `len` elements written chunk by chunk on the rayon pool:
/// `write(start, chunk)` must write every slot of `chunk`, which holds elements
/// `start..start + chunk.len()`. No zero fill before the real values.
fn par_collect<T: Float>(
    len: usize,
    write: impl Fn(usize, &mut [MaybeUninit<T>]) + Sync,
) -> Vec<T> {
    let mut out = buffers::with_capacity(len);
    out.spare_capacity_mut()[..len]
        .par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(c, chunk)| write(c * CHUNK, chunk));
    // SAFETY: the chunks cover slots 0..len and `write` initialized each one.
    unsafe { out.set_len(len) };
    out
}

/// `out[i] = f(src[i])` for every i (`out` as long as `src`), compiled for
/// AVX-512 when the CPU has it so that a branch-free `f` runs 16 lanes wide
/// ([`vectorized`]).
fn map_slice<T: Float>(src: &[T], out: &mut [MaybeUninit<T>], f: &impl Fn(T) -> T) {
    vectorized(MapSlice { src, out, f });
}

/// The loop of [`map_slice`].
struct MapSlice<'a, T, F> {
    src: &'a [T],
    out: &'a mut [MaybeUninit<T>],
    f: &'a F,
}

impl<T: Float, F: Fn(T) -> T> Kernel for MapSlice<'_, T, F> {
    #[inline(always)]
    fn run(self) {
        // An index loop, not an iterator chain: an adapter's `fold` that the
        // compiler keeps out of line would be compiled without AVX-512.
        let (out, src) = (self.out, self.src);
        assert_eq!(src.len(), out.len());
        for i in 0..out.len() {
            out[i].write((self.f)(src[i]));
        }
    }
}

/// Calls `row(a_offset, b_offset)` for every run of the last axis of a
/// broadcast result of shape `out_shape`, in row-major order (the odometer of
/// [`for_each_offset2`] over the other axes): the run's k-th element reads
/// `a_offset + k·sa[last]` and `b_offset + k·sb[last]`. A 0-d shape is one run
/// of one element.
fn for_each_broadcast_row(
    out_shape: &[usize],
    sa: &[usize],
    sb: &[usize],
    row: impl FnMut(usize, usize),
) {
    if shape::numel(out_shape) == 0 {
        return;
    }
    let outer = out_shape.len().saturating_sub(1);
    for_each_offset2(&out_shape[..outer], &sa[..outer], &sb[..outer], row);
}

/// A broadcast operand seen along the output's last axis: its data and its
/// stride along that axis (0 when broadcast, 1 when contiguous).
struct RunOf<'a, T> {
    data: &'a [T],
    stride: usize,
}

impl<'a, T> RunOf<'a, T> {
    /// `data` with the broadcast `strides` of its operand.
    fn of(data: &'a [T], strides: &[usize]) -> Self {
        Self {
            data,
            stride: strides.last().copied().unwrap_or(0),
        }
    }
}

/// Appends `f(a[k], b[k])` for the `len` elements of one run, as a contiguous
/// loop (which the compiler vectorizes) when each operand is contiguous or
/// constant along the run.
fn extend_run<T: Float>(
    out: &mut Vec<T>,
    (a, ia): (&RunOf<'_, T>, usize),
    (b, ib): (&RunOf<'_, T>, usize),
    len: usize,
    f: &impl Fn(T, T) -> T,
) {
    match (a.stride, b.stride) {
        (1, 1) => {
            let (a, b) = (&a.data[ia..ia + len], &b.data[ib..ib + len]);
            out.extend(a.iter().zip(b).map(|(&x, &y)| f(x, y)));
        }
        (1, 0) => {
            let y = b.data[ib];
            out.extend(a.data[ia..ia + len].iter().map(|&x| f(x, y)));
        }
        (0, 1) => {
            let x = a.data[ia];
            out.extend(b.data[ib..ib + len].iter().map(|&y| f(x, y)));
        }
        (la, lb) => out.extend((0..len).map(|k| f(a.data[ia + k * la], b.data[ib + k * lb]))),
    }
}

/// Whether `block`, without its leading 1s, is the trailing part of `full`: then
/// broadcasting it to `full` repeats its elements as whole rows.
fn is_trailing_block(block: &[usize], full: &[usize]) -> bool {
    let first = block.iter().position(|&d| d != 1).unwrap_or(block.len());
    let block = &block[first..];
    !block.is_empty() && full.ends_with(block)
}

/// `f(full[i], block[i mod block.len()])`: a broadcast of a trailing block (a
/// bias row, say) as contiguous row loops the compiler vectorizes.
fn repeat_rows<T: Float>(full: &[T], block: &[T], f: impl Fn(T, T) -> T) -> Vec<T> {
    let mut out = buffers::with_capacity(full.len());
    for row in full.chunks_exact(block.len()) {
        out.extend(row.iter().zip(block).map(|(&x, &y)| f(x, y)));
    }
    out
}

/// One operand of [`Tensor::select`] seen at the output's shape: a single
/// element read everywhere, or the operand broadcast to that shape.
enum Operand<T: Float> {
    Scalar(T),
    Full(Tensor<T>),
}

impl<T: Float> Operand<T> {
    fn of(t: &Tensor<T>, out_shape: &[usize]) -> Result<Self> {
        Ok(if t.numel() == 1 {
            Operand::Scalar(t.data()[0])
        } else {
            Operand::Full(t.broadcast_to(out_shape)?)
        })
    }

    #[inline]
    fn at(&self, i: usize) -> T {
        match self {
            Operand::Scalar(x) => *x,
            Operand::Full(t) => t.data()[i],
        }
    }
}

impl<T: Float> Tensor<T> {
    /// A new tensor with `f` applied to every element.
    ///
    /// ```
    /// let t = tapegrad_tape::Tensor::<f64>::arange(3).map(|x| x * x);
    /// assert_eq!(t.data(), &[0.0, 1.0, 4.0]);
    /// ```
    pub fn map(&self, f: impl Fn(T) -> T + Sync) -> Self {
        // Written into uninitialized memory rather than a zero-filled buffer:
        // the fill would be a second pass over memory about to be overwritten.
        let n = self.numel();
        let out = if n < PAR_THRESHOLD {
            let mut out = buffers::with_capacity(n);
            map_slice(self.data(), &mut out.spare_capacity_mut()[..n], &f);
            // SAFETY: map_slice wrote every one of the n slots.
            unsafe { out.set_len(n) };
            out
        } else {
            par_collect(n, |start, out| {
                map_slice(&self.data()[start..start + out.len()], out, &f);
            })
        };
        Self::from_parts(out, Shape::from_slice(&self.shape))
    }

    /// Combines two tensors elementwise after broadcasting them to a common shape.
    /// `op` names the caller in the error when the shapes do not broadcast.
    pub fn zip_with(
        &self,
        other: &Self,
        op: &'static str,
        f: impl Fn(T, T) -> T + Sync,
    ) -> Result<Self> {
        if self.shape == other.shape {
            let (a, b) = (self.data(), other.data());
            let out = if a.len() < PAR_THRESHOLD {
                a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect()
            } else {
                par_collect(a.len(), |start, out| {
                    let (a, b) = (&a[start..][..out.len()], &b[start..][..out.len()]);
                    for i in 0..out.len() {
                        out[i].write(f(a[i], b[i]));
                    }
                })
            };
            return Ok(Self::from_parts(out, Shape::from_slice(&self.shape)));
        }
        let out_shape = shape::broadcast_shapes(op, &self.shape, &other.shape)?;
        if other.numel() == 1 && out_shape == self.shape {
            let b = other.data()[0];
            return Ok(self.map(|a| f(a, b)));
        }
        if self.numel() == 1 && out_shape == other.shape {
            let a = self.data()[0];
            return Ok(other.map(|b| f(a, b)));
        }
        if out_shape == self.shape && is_trailing_block(&other.shape, &out_shape) {
            let out = repeat_rows(self.data(), other.data(), &f);
            return Ok(Self::from_parts(out, out_shape));
        }
        if out_shape == other.shape && is_trailing_block(&self.shape, &out_shape) {
            let out = repeat_rows(other.data(), self.data(), |b, a| f(a, b));
            return Ok(Self::from_parts(out, out_shape));
        }
        let sa = shape::broadcast_strides(&self.shape, &out_shape);
        let sb = shape::broadcast_strides(&other.shape, &out_shape);
        let mut out = buffers::with_capacity(shape::numel(&out_shape));
        let (a, b) = (RunOf::of(self.data(), &sa), RunOf::of(other.data(), &sb));
        let len = out_shape.last().copied().unwrap_or(1);
        for_each_broadcast_row(&out_shape, &sa, &sb, |ia, ib| {
            extend_run(&mut out, (&a, ia), (&b, ib), len, &f);
        });
        Ok(Self::from_parts(out, out_shape))
    }

    /// Elementwise sum with broadcasting.
    pub fn add(&self, other: &Self) -> Result<Self> {
        self.zip_with(other, "add", |a, b| a + b)
    }

    /// Elementwise difference with broadcasting.
    pub fn sub(&self, other: &Self) -> Result<Self> {
        self.zip_with(other, "sub", |a, b| a - b)
    }

    /// Elementwise product with broadcasting.
    pub fn mul(&self, other: &Self) -> Result<Self> {
        self.zip_with(other, "mul", |a, b| a * b)
    }

    /// Elementwise quotient with broadcasting.
    pub fn div(&self, other: &Self) -> Result<Self> {
        self.zip_with(other, "div", |a, b| a / b)
    }

    /// Every element times a scalar.
    pub fn scale(&self, factor: T) -> Self {
        self.map(|x| x * factor)
    }

    /// Adds `other` (same shape) into `self` in place: the accumulation of gradients.
    pub fn add_assign(&mut self, other: &Self) -> Result<()> {
        self.zip_assign(other, "add_assign", |a, b| a + b)
    }

    /// `self[i] = f(self[i], other[i])` in place, for `other` of the same shape
    /// (the buffer is copied first only if it is shared).
    pub(crate) fn zip_assign(
        &mut self,
        other: &Self,
        op: &'static str,
        f: impl Fn(T, T) -> T + Sync,
    ) -> Result<()> {
        if self.shape != other.shape {
            return Err(TapeError::ShapeMismatch {
                op,
                lhs: self.shape.clone(),
                rhs: other.shape.clone(),
            });
        }
        let out = self.data_mut();
        let src = other.data();
        let run = |o: &mut [T], s: &[T]| o.iter_mut().zip(s).for_each(|(o, &s)| *o = f(*o, s));
        if out.len() >= PAR_THRESHOLD {
            out.par_chunks_mut(CHUNK)
                .zip(src.par_chunks(CHUNK))
                .for_each(|(o, s)| run(o, s));
        } else {
            run(out, src);
        }
        Ok(())
    }

    /// `a` where `self` is nonzero (NaN counts as nonzero) and `b` elsewhere, the
    /// three broadcast to a common shape: a selection, as `torch.where`, so the
    /// side not picked never enters the arithmetic (no `NaN · 0`). `op` names the
    /// caller when the shapes do not broadcast.
    ///
    /// ```
    /// use tapegrad_tape::Tensor;
    /// let cond = Tensor::from_vec(vec![1.0f64, 0.0], &[2, 1]).unwrap();
    /// let a = Tensor::from_vec(vec![1.0, 2.0], &[2]).unwrap();
    /// let b = Tensor::scalar(f64::NAN);
    /// let out = cond.select(&a, &b, "where").unwrap();
    /// assert_eq!(out.shape(), &[2, 2]);
    /// assert_eq!(&out.data()[..2], &[1.0, 2.0]);
    /// assert!(out.data()[2..].iter().all(|x| x.is_nan()));
    /// ```
    pub fn select(&self, a: &Self, b: &Self, op: &'static str) -> Result<Self> {
        let ab = shape::broadcast_shapes(op, &a.shape, &b.shape)?;
        let out_shape = shape::broadcast_shapes(op, &ab, &self.shape)?;
        let [c, a, b] = [self, a, b].map(|t| Operand::of(t, &out_shape));
        let (c, a, b) = (c?, a?, b?);
        let pick = |i| if c.at(i) != T::ZERO { a.at(i) } else { b.at(i) };
        let n = shape::numel(&out_shape);
        let out = if n < PAR_THRESHOLD {
            (0..n).map(pick).collect()
        } else {
            par_collect(n, |start, out| {
                for (k, o) in out.iter_mut().enumerate() {
                    o.write(pick(start + k));
                }
            })
        };
        Ok(Self::from_parts(out, out_shape))
    }

    /// Sum of all elements.
    pub fn sum_all(&self) -> T {
        if self.numel() >= PAR_THRESHOLD {
            self.data()
                .par_chunks(CHUNK)
                .map(|c| c.iter().copied().sum::<T>())
                .sum()
        } else {
            self.data().iter().copied().sum()
        }
    }

    /// The tensor repeated along broadcast axes to `shape` (NumPy's `broadcast_to`).
    ///
    /// ```
    /// let t = tapegrad_tape::Tensor::<f64>::arange(3).broadcast_to(&[2, 3]).unwrap();
    /// assert_eq!(t.data(), &[0.0, 1.0, 2.0, 0.0, 1.0, 2.0]);
    /// ```
    pub fn broadcast_to(&self, target: &[usize]) -> Result<Self> {
        if self.shape.as_slice() == target {
            return Ok(self.clone());
        }
        let out_shape = shape::broadcast_shapes("broadcast_to", &self.shape, target)?;
        if out_shape.as_slice() != target {
            return Err(TapeError::ShapeMismatch {
                op: "broadcast_to",
                lhs: self.shape.clone(),
                rhs: target.into(),
            });
        }
        let src = shape::broadcast_strides(&self.shape, target);
        let mut out = buffers::with_capacity(shape::numel(target));
        let data = RunOf::of(self.data(), &src);
        let len = target.last().copied().unwrap_or(1);
        for_each_broadcast_row(target, &src, &src, |i, _| {
            extend_run(&mut out, (&data, i), (&data, i), len, &|x, _| x);
        });
        Ok(Self::from_parts(out, out_shape))
    }

    /// Sums over the given (normalized, sorted) axes. With `keepdim` the summed
    /// axes stay with extent 1.
    pub(crate) fn sum_axes(&self, axes: &[usize], keepdim: bool) -> Self {
        let kept: Shape = self
            .shape
            .iter()
            .enumerate()
            .map(|(i, &n)| if axes.contains(&i) { 1 } else { n })
            .collect();
        // Each run of adjacent summed axes is one [outer, reduced, inner] pass, last
        // run first; the passes are contiguous loops the compiler vectorizes.
        let mut current = self.clone();
        let mut end = self.ndim();
        while end > 0 {
            let Some(last) = (0..end).rev().find(|i| axes.contains(i)) else {
                break;
            };
            let first = (0..=last)
                .rev()
                .take_while(|i| axes.contains(i))
                .last()
                .unwrap_or(last);
            current = current.sum_block(first, last + 1);
            end = first;
        }
        let out_shape = if keepdim {
            kept
        } else {
            self.shape
                .iter()
                .enumerate()
                .filter(|(i, _)| !axes.contains(i))
                .map(|(_, &n)| n)
                .collect()
        };
        Self::from_parts(current.into_vec(), out_shape)
    }

    /// Sums over the adjacent axes `first..end`, keeping them with extent 1.
    fn sum_block(&self, first: usize, end: usize) -> Self {
        let outer = shape::numel(&self.shape[..first]);
        let reduced = shape::numel(&self.shape[first..end]);
        let inner = shape::numel(&self.shape[end..]);
        let data = self.data();
        let mut out = buffers::filled(outer * inner, T::ZERO);
        if inner == 1 {
            for (o, slot) in out.iter_mut().enumerate() {
                *slot = data[o * reduced..(o + 1) * reduced].iter().copied().sum();
            }
        } else {
            for o in 0..outer {
                let dst = &mut out[o * inner..(o + 1) * inner];
                for r in 0..reduced {
                    let src = &data[(o * reduced + r) * inner..][..inner];
                    dst.iter_mut().zip(src).for_each(|(d, &s)| *d += s);
                }
            }
        }
        let mut shape = Shape::from_slice(&self.shape);
        shape[first..end].fill(1);
        Self::from_parts(out, shape)
    }

    /// Sums a broadcast result back to `target`, the shape it was broadcast from:
    /// the inverse of [`Tensor::broadcast_to`] for gradients.
    ///
    /// ```
    /// let g = tapegrad_tape::Tensor::<f64>::ones(&[2, 3]);
    /// assert_eq!(g.sum_to(&[1, 3]).unwrap().data(), &[2.0, 2.0, 2.0]);
    /// assert_eq!(g.sum_to(&[]).unwrap().data(), &[6.0]);
    /// ```
    pub fn sum_to(&self, target: &[usize]) -> Result<Self> {
        if self.shape.as_slice() == target {
            return Ok(self.clone());
        }
        let compatible =
            shape::broadcast_shapes("sum_to", target, &self.shape).is_ok_and(|s| s == self.shape);
        if !compatible {
            return Err(TapeError::ShapeMismatch {
                op: "sum_to",
                lhs: self.shape.clone(),
                rhs: target.into(),
            });
        }
        let offset = self.ndim() - target.len();
        let axes: Shape = (0..self.ndim())
            .filter(|&i| i < offset || (target[i - offset] == 1 && self.shape[i] != 1))
            .collect();
        Ok(self.sum_axes(&axes, true).reshape(target)?.clone())
    }
}
