//! Tensor-level convolution kernels on NCHW images: im2col and its adjoint
//! col2im (`columns`) around one GEMM per group of each image; the sizes and
//! their checks are in `geometry`, the pooling loops in `pool` and
//! `adaptive`, the transposed convolution's checks and output size in
//! `transpose`.
//!
//! Notation: input `[N, C, H, W]`, weight `[O, C/groups, kh, kw]`, output
//! `[N, O, Ho, Wo]`, `K = (C/groups)·kh·kw` (rows of a group's column matrix)
//! and `P = Ho·Wo` (its columns). A group's channels are consecutive, in the
//! image, the weight (its `[O/groups, K]` block of rows) and the output alike.
//! The three convolution kernels are the three partial derivatives of the
//! trilinear form `⟨g, conv(x, w)⟩`, group by group:
//! `conv(x, w) = W·cols(x)`, `input_grad(g, w) = col2im(Wᵀ·g)` and
//! `weight_grad(x, g) = Σₙ gₙ·cols(xₙ)ᵀ`.

mod adaptive;
mod columns;
mod geometry;
mod pool;
mod transpose;

pub(crate) use geometry::{check_channels, out_extent, require_rank};
pub(crate) use pool::PlaneIndex;
pub(crate) use transpose::{TransposePlan, transpose_plan};

use rayon::prelude::*;

use self::columns::{col2im, im2col};
use self::geometry::{Geometry, check_grad_shape, conv_geometry, require_positive, require_rank4};
use super::Tensor;
use super::gemm::{Layout, matmul_into};
use crate::error::{Result, TapeError};
use crate::float::Float;
use crate::ops::Conv2dOptions;
use crate::tensor::buffers;

/// Multiply-adds below which a convolution runs on one thread.
const PARALLEL_MACS: usize = 1 << 20;

/// Runs `f(first image, chunk of out, scratch)` over consecutive images, on
/// the rayon pool when the work is large: each task gets a run of images and
/// one scratch buffer of `scratch_len` elements, reused across its images.
fn for_image_chunks<T: Float>(
    geo: &Geometry,
    out: &mut [T],
    out_per_image: usize,
    scratch_len: usize,
    f: impl Fn(usize, &mut [T], &mut [T]) + Sync,
) {
    let threads = rayon::current_num_threads();
    if geo.n < 2 || threads < 2 || geo.macs() < PARALLEL_MACS || out_per_image == 0 {
        let mut scratch = buffers::filled(scratch_len, T::ZERO);
        for (n, chunk) in out.chunks_exact_mut(out_per_image.max(1)).enumerate() {
            f(n, chunk, &mut scratch);
        }
        return;
    }
    let per_task = geo.n.div_ceil(threads);
    out.par_chunks_mut(per_task * out_per_image)
        .enumerate()
        .for_each(|(t, images)| {
            let mut scratch = buffers::filled(scratch_len, T::ZERO);
            for (k, chunk) in images.chunks_exact_mut(out_per_image).enumerate() {
                f(t * per_task + k, chunk, &mut scratch);
            }
        });
}

/// Block `i` of `len` elements: group `i`'s part of an image, output or weight.
fn block<T>(data: &[T], i: usize, len: usize) -> &[T] {
    &data[i * len..][..len]
}

/// [`block`], writable.
fn block_mut<T>(data: &mut [T], i: usize, len: usize) -> &mut [T] {
    &mut data[i * len..][..len]
}

/// The column matrix of one group of an image: the group's channels
/// themselves for a pointwise convolution, else im2col of them into `scratch`.
fn group_columns<'a, T: Float>(geo: &Geometry, channels: &'a [T], scratch: &'a mut [T]) -> &'a [T] {
    if geo.is_pointwise() {
        channels
    } else {
        im2col(geo, channels, scratch);
        scratch
    }
}

/// Scratch elements for one group's column matrix (none when pointwise).
fn scratch_len(geo: &Geometry) -> usize {
    if geo.is_pointwise() {
        0
    } else {
        geo.k() * geo.p()
    }
}

/// The output buffer of a convolution: the bias planes when there is one (the
/// GEMMs then add to them: one pass over the output instead of a zero fill and
/// a bias fill), zeros otherwise.
fn output_start<T: Float>(geo: &Geometry, bias: Option<&[T]>) -> Vec<T> {
    let Some(b) = bias else {
        return buffers::filled(geo.n * geo.out_len(), T::ZERO);
    };
    let mut out = buffers::with_capacity(geo.n * geo.out_len());
    for _ in 0..geo.n {
        b.iter()
            .for_each(|&bo| out.extend(std::iter::repeat_n(bo, geo.p())));
    }
    out
}

impl<T: Float> Tensor<T> {
    /// 2-d cross-correlation of `self` `[N, C, H, W]` with `weight`
    /// `[O, C/groups, kh, kw]`, plus `bias` `[O]` per output channel: the
    /// forward of `Var::conv2d_with`.
    pub(crate) fn conv2d(
        &self,
        weight: &Tensor<T>,
        bias: Option<&Tensor<T>>,
        opts: Conv2dOptions,
    ) -> Result<Tensor<T>> {
        let geo = conv_geometry("conv2d", self.shape(), weight.shape(), opts)?;
        if let Some(b) = bias
            && b.shape() != [geo.o]
        {
            return Err(TapeError::ShapeMismatch {
                op: "conv2d",
                lhs: b.shape().into(),
                rhs: [geo.o].as_slice().into(),
            });
        }
        let (x, w) = (self.data(), weight.data());
        let bias = bias.map(Tensor::data);
        let (k, p, og) = (geo.k(), geo.p(), geo.group_o());
        let mut out = output_start(&geo, bias);
        let scratch = scratch_len(&geo);
        for_image_chunks(&geo, &mut out, geo.out_len(), scratch, |n, y, scratch| {
            let image = &x[n * geo.image_len()..][..geo.image_len()];
            for gi in 0..geo.groups {
                let channels = block(image, gi, geo.group_image_len());
                let wg = block(w, gi, geo.group_weight_len());
                let yg = block_mut(y, gi, geo.group_out_len());
                let cols = group_columns(&geo, channels, scratch);
                let acc = bias.is_some();
                matmul_into(og, k, p, wg, Layout::Normal, cols, Layout::Normal, yg, acc);
            }
        });
        Tensor::from_vec(out, &[geo.n, geo.o, geo.ho, geo.wo])
    }

    /// ∂⟨self, conv2d(x, w)⟩/∂x for `self` = g `[N, O, Ho, Wo]`, an input of
    /// spatial size `input_hw`: `col2im(Wᵀ·g)` for each group of each image, a
    /// transposed convolution.
    pub(crate) fn conv2d_input_grad(
        &self,
        weight: &Tensor<T>,
        input_hw: (usize, usize),
        opts: Conv2dOptions,
    ) -> Result<Tensor<T>> {
        let op = "conv2d_input_grad";
        require_rank4(op, "grad_output", self.shape())?;
        require_rank4(op, "weight", weight.shape())?;
        let ws = weight.shape();
        let channels = ws[1] * opts.groups.max(1);
        let x_shape = [self.shape()[0], channels, input_hw.0, input_hw.1];
        let geo = conv_geometry(op, &x_shape, ws, opts)?;
        check_grad_shape(op, &geo, self.shape())?;
        let (g, w) = (self.data(), weight.data());
        let (k, p, og) = (geo.k(), geo.p(), geo.group_o());
        let mut out = buffers::filled(geo.n * geo.image_len(), T::ZERO);
        let scratch = scratch_len(&geo);
        for_image_chunks(&geo, &mut out, geo.image_len(), scratch, |n, dx, cols| {
            let gn = &g[n * geo.out_len()..][..geo.out_len()];
            for gi in 0..geo.groups {
                let gg = block(gn, gi, geo.group_out_len());
                let wg = block(w, gi, geo.group_weight_len());
                let dxg = block_mut(dx, gi, geo.group_image_len());
                let (t, nl) = (Layout::Transposed, Layout::Normal);
                if geo.is_pointwise() {
                    matmul_into(k, og, p, wg, t, gg, nl, dxg, false);
                } else {
                    matmul_into(k, og, p, wg, t, gg, nl, cols, false);
                    col2im(&geo, cols, dxg);
                }
            }
        });
        Tensor::from_vec(out, &x_shape)
    }

    /// ∂⟨g, conv2d(self, w)⟩/∂w for `self` = x `[N, C, H, W]`, g
    /// `[N, O, Ho, Wo]` and a `kernel`-sized weight `[O, C/groups, kh, kw]`:
    /// `Σₙ gₙ·cols(xₙ)ᵀ`, group by group.
    pub(crate) fn conv2d_weight_grad(
        &self,
        grad_output: &Tensor<T>,
        kernel: (usize, usize),
        opts: Conv2dOptions,
    ) -> Result<Tensor<T>> {
        let op = "conv2d_weight_grad";
        require_rank4(op, "input", self.shape())?;
        require_rank4(op, "grad_output", grad_output.shape())?;
        require_positive(op, "groups", opts.groups)?;
        let (xs, gs) = (self.shape(), grad_output.shape());
        let w_shape = [gs[1], xs[1] / opts.groups, kernel.0, kernel.1];
        let geo = conv_geometry(op, xs, &w_shape, opts)?;
        check_grad_shape(op, &geo, gs)?;
        let (x, g) = (self.data(), grad_output.data());
        let weight_len = geo.o * geo.k();
        let partial = |images: std::ops::Range<usize>| {
            let mut dw = buffers::filled(weight_len, T::ZERO);
            let mut scratch = buffers::filled(scratch_len(&geo), T::ZERO);
            for n in images {
                let image = &x[n * geo.image_len()..][..geo.image_len()];
                let gn = &g[n * geo.out_len()..][..geo.out_len()];
                add_image_weight_grad(&geo, image, gn, &mut dw, &mut scratch);
            }
            dw
        };
        let threads = rayon::current_num_threads();
        let dw = if geo.n < 2 || threads < 2 || geo.macs() < PARALLEL_MACS {
            partial(0..geo.n)
        } else {
            let per_task = geo.n.div_ceil(threads);
            (0..geo.n.div_ceil(per_task))
                .into_par_iter()
                .map(|t| partial(t * per_task..((t + 1) * per_task).min(geo.n)))
                .reduce_with(|mut a, b| {
                    a.iter_mut().zip(&b).for_each(|(a, &b)| *a += b);
                    a
                })
                .unwrap_or_else(|| buffers::filled(weight_len, T::ZERO))
        };
        Tensor::from_vec(dw, &w_shape)
    }
}

/// `dw += gₙ·cols(xₙ)ᵀ` for one image `xₙ` and its output gradient `gₙ`, each
/// group's block of the weight gradient from that group's channels.
fn add_image_weight_grad<T: Float>(
    geo: &Geometry,
    image: &[T],
    gn: &[T],
    dw: &mut [T],
    scratch: &mut [T],
) {
    let (k, p, og) = (geo.k(), geo.p(), geo.group_o());
    for gi in 0..geo.groups {
        let channels = block(image, gi, geo.group_image_len());
        let gg = block(gn, gi, geo.group_out_len());
        let dwg = block_mut(dw, gi, geo.group_weight_len());
        let cols = group_columns(geo, channels, scratch);
        let (nl, t) = (Layout::Normal, Layout::Transposed);
        matmul_into(og, p, k, gg, nl, cols, t, dwg, true);
    }
}

/// Σ of a slice with eight running sums, which the compiler keeps in one
/// vector register (a single running sum is one dependent add per element).
fn sum_lanes<T: Float>(xs: &[T]) -> T {
    let mut lanes = [T::ZERO; 8];
    let chunks = xs.chunks_exact(8);
    let tail: T = chunks.remainder().iter().copied().sum();
    for chunk in chunks {
        for (l, &x) in lanes.iter_mut().zip(chunk) {
            *l += x;
        }
    }
    lanes.iter().copied().sum::<T>() + tail
}

impl<T: Float> Tensor<T> {
    /// Σ over the batch and spatial axes of `[N, C, H, W]`, giving `[C]`: the
    /// gradient of a per-channel bias.
    pub(crate) fn sum_channels(&self) -> Result<Tensor<T>> {
        require_rank4("conv2d_bias_grad", "grad_output", self.shape())?;
        let (n, c) = (self.shape()[0], self.shape()[1]);
        let plane = self.shape()[2] * self.shape()[3];
        let mut out = buffers::filled(c, T::ZERO);
        if plane > 0 {
            for (k, chunk) in self.data().chunks_exact(plane).enumerate().take(n * c) {
                out[k % c] += sum_lanes(chunk);
            }
        }
        Tensor::from_vec(out, &[c])
    }
}
