//! Tensor-level convolution kernels on NCHW images: im2col and its adjoint
//! col2im around one GEMM per image; the pooling loops are in `pool`.
//!
//! Notation: input `[N, C, H, W]`, weight `[O, C, kh, kw]`, output
//! `[N, O, Ho, Wo]`, `K = C·kh·kw` (rows of an image's column matrix) and
//! `P = Ho·Wo` (its columns). The three convolution kernels are the three
//! partial derivatives of the trilinear form `⟨g, conv(x, w)⟩`:
//! `conv(x, w) = W·cols(x)`, `input_grad(g, w) = col2im(Wᵀ·g)` and
//! `weight_grad(x, g) = Σₙ gₙ·cols(xₙ)ᵀ`.

mod pool;

pub(crate) use pool::PlaneIndex;

use rayon::prelude::*;

use super::Tensor;
use super::gemm::{Layout, matmul_into};
use crate::error::{Result, TapeError};
use crate::float::Float;

/// Multiply-adds below which a convolution runs on one thread.
const PARALLEL_MACS: usize = 1 << 20;

/// The sizes of one convolution or pooling, all checked against each other.
#[derive(Debug, Clone, Copy)]
struct Geometry {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    kh: usize,
    kw: usize,
    sh: usize,
    sw: usize,
    ph: usize,
    pw: usize,
    ho: usize,
    wo: usize,
}

impl Geometry {
    /// Rows of an image's column matrix.
    fn k(&self) -> usize {
        self.c * self.kh * self.kw
    }
    /// Output positions per image.
    fn p(&self) -> usize {
        self.ho * self.wo
    }
    fn image_len(&self) -> usize {
        self.c * self.h * self.w
    }
    fn out_len(&self) -> usize {
        self.o * self.p()
    }
    /// A 1×1 kernel with stride 1 and no padding: an image is its own column matrix.
    fn is_pointwise(&self) -> bool {
        (self.kh, self.kw, self.sh, self.sw, self.ph, self.pw) == (1, 1, 1, 1, 0, 0)
    }
}

fn invalid(op: &'static str, name: &'static str, value: String, reason: String) -> TapeError {
    TapeError::InvalidArgument {
        op,
        name,
        value,
        reason,
    }
}

fn require_rank4(op: &'static str, what: &'static str, shape: &[usize]) -> Result<()> {
    if shape.len() == 4 {
        return Ok(());
    }
    Err(TapeError::InvalidShape {
        op,
        shape: shape.into(),
        reason: format!("{what} must have rank 4, got rank {}", shape.len()),
    })
}

/// Output extent of a sliding window: `(len + 2·pad − kernel)/stride + 1`, or
/// an error when the kernel does not fit in the padded input or the stride is 0.
fn out_extent(
    op: &'static str,
    len: usize,
    kernel: usize,
    stride: usize,
    pad: usize,
) -> Result<usize> {
    if stride == 0 {
        return Err(invalid(
            op,
            "stride",
            "0".into(),
            "must be at least 1".into(),
        ));
    }
    if kernel == 0 {
        return Err(invalid(
            op,
            "kernel",
            "0".into(),
            "must be at least 1".into(),
        ));
    }
    if kernel > len + 2 * pad {
        return Err(invalid(
            op,
            "kernel",
            kernel.to_string(),
            format!("larger than the padded input extent {len} + 2·{pad}"),
        ));
    }
    Ok((len + 2 * pad - kernel) / stride + 1)
}

/// Checks a convolution of an `x_shape` input by a `w_shape` weight.
fn conv_geometry(
    op: &'static str,
    x_shape: &[usize],
    w_shape: &[usize],
    stride: (usize, usize),
    padding: (usize, usize),
) -> Result<Geometry> {
    require_rank4(op, "input", x_shape)?;
    require_rank4(op, "weight", w_shape)?;
    if x_shape[1] != w_shape[1] {
        return Err(invalid(
            op,
            "weight",
            format!("{w_shape:?}"),
            format!(
                "has {} input channels, the input {x_shape:?} has {}",
                w_shape[1], x_shape[1]
            ),
        ));
    }
    let ho = out_extent(op, x_shape[2], w_shape[2], stride.0, padding.0)?;
    let wo = out_extent(op, x_shape[3], w_shape[3], stride.1, padding.1)?;
    Ok(Geometry {
        n: x_shape[0],
        c: x_shape[1],
        h: x_shape[2],
        w: x_shape[3],
        o: w_shape[0],
        kh: w_shape[2],
        kw: w_shape[3],
        sh: stride.0,
        sw: stride.1,
        ph: padding.0,
        pw: padding.1,
        ho,
        wo,
    })
}

/// Checks that a gradient of the output has the shape the geometry gives.
fn check_grad_shape(op: &'static str, geo: &Geometry, g_shape: &[usize]) -> Result<()> {
    let expected = [geo.n, geo.o, geo.ho, geo.wo];
    if g_shape == expected {
        return Ok(());
    }
    Err(TapeError::ShapeMismatch {
        op,
        lhs: g_shape.into(),
        rhs: expected.as_slice().into(),
    })
}

/// The output positions `lo..hi` along one axis whose input coordinate
/// `pos·stride + offset − pad` falls inside `0..len`.
fn valid_range(out: usize, stride: usize, offset: usize, pad: usize, len: usize) -> (usize, usize) {
    let lo = pad.saturating_sub(offset).div_ceil(stride).min(out);
    let hi = (len + pad).saturating_sub(offset).div_ceil(stride).min(out);
    (lo, hi.max(lo))
}

/// Writes the column matrix `[K, P]` of one image `[C, H, W]`: row
/// `(c, i, j)`, column `(oh, ow)` holds `x[c, oh·sh + i − ph, ow·sw + j − pw]`,
/// 0 in the padding.
fn im2col<T: Float>(geo: &Geometry, x: &[T], cols: &mut [T]) {
    let (p, wo) = (geo.p(), geo.wo);
    let (lo, hi) = (0..geo.kw)
        .map(|j| valid_range(wo, geo.sw, j, geo.pw, geo.w))
        .unzip::<_, _, Vec<_>, Vec<_>>();
    for (row, out) in cols.chunks_exact_mut(p).enumerate().take(geo.k()) {
        let (c, i, j) = (row / (geo.kh * geo.kw), row / geo.kw % geo.kh, row % geo.kw);
        let plane = &x[c * geo.h * geo.w..][..geo.h * geo.w];
        for (oh, line) in out.chunks_exact_mut(wo).enumerate() {
            let ih = (oh * geo.sh + i).wrapping_sub(geo.ph);
            if ih >= geo.h {
                line.fill(T::ZERO);
                continue;
            }
            let src = &plane[ih * geo.w..][..geo.w];
            let (lo, hi) = (lo[j], hi[j]);
            line[..lo].fill(T::ZERO);
            line[hi..].fill(T::ZERO);
            if lo == hi {
                continue;
            }
            let start = lo * geo.sw + j - geo.pw;
            if geo.sw == 1 {
                line[lo..hi].copy_from_slice(&src[start..start + hi - lo]);
            } else {
                for (k, v) in line[lo..hi].iter_mut().enumerate() {
                    *v = src[start + k * geo.sw];
                }
            }
        }
    }
}

/// The adjoint of [`im2col`]: adds every entry of `cols` into the image
/// element it was read from (`x` is overwritten, not accumulated into).
fn col2im<T: Float>(geo: &Geometry, cols: &[T], x: &mut [T]) {
    x.fill(T::ZERO);
    let (p, wo) = (geo.p(), geo.wo);
    for (row, out) in cols.chunks_exact(p).enumerate().take(geo.k()) {
        let (c, i, j) = (row / (geo.kh * geo.kw), row / geo.kw % geo.kh, row % geo.kw);
        let (lo, hi) = valid_range(wo, geo.sw, j, geo.pw, geo.w);
        let plane = &mut x[c * geo.h * geo.w..][..geo.h * geo.w];
        for (oh, line) in out.chunks_exact(wo).enumerate() {
            let ih = (oh * geo.sh + i).wrapping_sub(geo.ph);
            if ih >= geo.h || lo == hi {
                continue;
            }
            let dst = &mut plane[ih * geo.w..][..geo.w];
            let start = lo * geo.sw + j - geo.pw;
            if geo.sw == 1 {
                // Contiguous: the compiler vectorizes this form.
                let dst = &mut dst[start..start + hi - lo];
                dst.iter_mut()
                    .zip(&line[lo..hi])
                    .for_each(|(d, &v)| *d += v);
            } else {
                let targets = dst[start..].iter_mut().step_by(geo.sw);
                targets.zip(&line[lo..hi]).for_each(|(d, &v)| *d += v);
            }
        }
    }
}

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
    let macs = geo.n * geo.o * geo.k() * geo.p();
    let threads = rayon::current_num_threads();
    if geo.n < 2 || threads < 2 || macs < PARALLEL_MACS || out_per_image == 0 {
        let mut scratch = vec![T::ZERO; scratch_len];
        for (n, chunk) in out.chunks_exact_mut(out_per_image.max(1)).enumerate() {
            f(n, chunk, &mut scratch);
        }
        return;
    }
    let per_task = geo.n.div_ceil(threads);
    out.par_chunks_mut(per_task * out_per_image)
        .enumerate()
        .for_each(|(t, images)| {
            let mut scratch = vec![T::ZERO; scratch_len];
            for (k, chunk) in images.chunks_exact_mut(out_per_image).enumerate() {
                f(t * per_task + k, chunk, &mut scratch);
            }
        });
}

impl<T: Float> Tensor<T> {
    /// 2-d cross-correlation of `self` `[N, C, H, W]` with `weight`
    /// `[O, C, kh, kw]`, plus `bias` `[O]` per output channel: the forward of
    /// `Var::conv2d`.
    pub(crate) fn conv2d(
        &self,
        weight: &Tensor<T>,
        bias: Option<&Tensor<T>>,
        stride: (usize, usize),
        padding: (usize, usize),
    ) -> Result<Tensor<T>> {
        let geo = conv_geometry("conv2d", self.shape(), weight.shape(), stride, padding)?;
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
        let (k, p) = (geo.k(), geo.p());
        let scratch = if geo.is_pointwise() { 0 } else { k * p };
        // With a bias the output starts as the bias planes and the GEMM adds to
        // them: one pass over the output instead of a zero fill and a bias fill.
        let mut out = match bias {
            Some(b) => {
                let mut out = Vec::with_capacity(geo.n * geo.out_len());
                for _ in 0..geo.n {
                    b.iter()
                        .for_each(|&bo| out.extend(std::iter::repeat_n(bo, p)));
                }
                out
            }
            None => vec![T::ZERO; geo.n * geo.out_len()],
        };
        for_image_chunks(&geo, &mut out, geo.out_len(), scratch, |n, y, cols| {
            let image = &x[n * geo.image_len()..][..geo.image_len()];
            let cols: &[T] = if geo.is_pointwise() {
                image
            } else {
                im2col(&geo, image, cols);
                cols
            };
            let acc = bias.is_some();
            matmul_into(geo.o, k, p, w, Layout::Normal, cols, Layout::Normal, y, acc);
        });
        Tensor::from_vec(out, &[geo.n, geo.o, geo.ho, geo.wo])
    }

    /// ∂⟨self, conv2d(x, w)⟩/∂x for `self` = g `[N, O, Ho, Wo]`, an input of
    /// spatial size `input_hw`: `col2im(Wᵀ·gₙ)` for each image, a transposed
    /// convolution.
    pub(crate) fn conv2d_input_grad(
        &self,
        weight: &Tensor<T>,
        input_hw: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
    ) -> Result<Tensor<T>> {
        let op = "conv2d_input_grad";
        require_rank4(op, "grad_output", self.shape())?;
        require_rank4(op, "weight", weight.shape())?;
        let ws = weight.shape();
        let x_shape = [self.shape()[0], ws[1], input_hw.0, input_hw.1];
        let geo = conv_geometry(op, &x_shape, ws, stride, padding)?;
        check_grad_shape(op, &geo, self.shape())?;
        let (g, w) = (self.data(), weight.data());
        let (k, p) = (geo.k(), geo.p());
        let scratch = if geo.is_pointwise() { 0 } else { k * p };
        let mut out = vec![T::ZERO; geo.n * geo.image_len()];
        for_image_chunks(&geo, &mut out, geo.image_len(), scratch, |n, dx, cols| {
            let gn = &g[n * geo.out_len()..][..geo.out_len()];
            if geo.is_pointwise() {
                matmul_into(
                    k,
                    geo.o,
                    p,
                    w,
                    Layout::Transposed,
                    gn,
                    Layout::Normal,
                    dx,
                    false,
                );
            } else {
                matmul_into(
                    k,
                    geo.o,
                    p,
                    w,
                    Layout::Transposed,
                    gn,
                    Layout::Normal,
                    cols,
                    false,
                );
                col2im(&geo, cols, dx);
            }
        });
        Tensor::from_vec(out, &x_shape)
    }

    /// ∂⟨g, conv2d(self, w)⟩/∂w for `self` = x `[N, C, H, W]`, g
    /// `[N, O, Ho, Wo]` and a `kernel`-sized weight: `Σₙ gₙ·cols(xₙ)ᵀ`.
    pub(crate) fn conv2d_weight_grad(
        &self,
        grad_output: &Tensor<T>,
        kernel: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
    ) -> Result<Tensor<T>> {
        let op = "conv2d_weight_grad";
        require_rank4(op, "input", self.shape())?;
        require_rank4(op, "grad_output", grad_output.shape())?;
        let (xs, gs) = (self.shape(), grad_output.shape());
        let w_shape = [gs[1], xs[1], kernel.0, kernel.1];
        let geo = conv_geometry(op, xs, &w_shape, stride, padding)?;
        check_grad_shape(op, &geo, gs)?;
        let (x, g) = (self.data(), grad_output.data());
        let (k, p) = (geo.k(), geo.p());
        let partial = |images: std::ops::Range<usize>| {
            let mut dw = vec![T::ZERO; geo.o * k];
            let mut cols = vec![T::ZERO; if geo.is_pointwise() { 0 } else { k * p }];
            for n in images {
                let image = &x[n * geo.image_len()..][..geo.image_len()];
                let cols: &[T] = if geo.is_pointwise() {
                    image
                } else {
                    im2col(&geo, image, &mut cols);
                    &cols
                };
                let gn = &g[n * geo.out_len()..][..geo.out_len()];
                let b = Layout::Transposed;
                matmul_into(geo.o, p, k, gn, Layout::Normal, cols, b, &mut dw, true);
            }
            dw
        };
        let threads = rayon::current_num_threads();
        let macs = geo.n * geo.o * k * p;
        let dw = if geo.n < 2 || threads < 2 || macs < PARALLEL_MACS {
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
                .unwrap_or_else(|| vec![T::ZERO; geo.o * k])
        };
        Tensor::from_vec(dw, &w_shape)
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
        let mut out = vec![T::ZERO; c];
        if plane > 0 {
            for (k, chunk) in self.data().chunks_exact(plane).enumerate().take(n * c) {
                out[k % c] += sum_lanes(chunk);
            }
        }
        Tensor::from_vec(out, &[c])
    }
}
