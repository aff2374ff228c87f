//! 2-d convolution on the tape (NCHW, PyTorch's `conv2d` with zero padding,
//! stride, dilation and groups); `conv1d` and `conv_transpose2d` in the
//! submodules are built from the same three ops.
//!
//! A fused op rather than a composition, for speed (im2col + GEMM). Its
//! gradients are two more ops, and the three close under differentiation: they
//! are the partial derivatives of the trilinear form `T(x, w, g) = ⟨g, conv(x, w)⟩`,
//!
//! - `conv2d(x, w) = ∂T/∂g`,
//! - `conv2d_input_grad(g, w) = ∂T/∂x` (a transposed convolution),
//! - `conv2d_weight_grad(x, g) = ∂T/∂w`,
//!
//! so the gradient of each one with respect to either of its inputs is another
//! member of the triangle, evaluated at the incoming gradient `u`:
//! `⟨u, input_grad(g, w)⟩ = T(u, w, g)` gives `∂g = conv2d(u, w)` and
//! `∂w = weight_grad(u, g)`; `⟨u, weight_grad(x, g)⟩ = T(x, u, g)` gives
//! `∂x = input_grad(g, u)` and `∂g = conv2d(x, u)`. All three carry the same
//! [`Conv2dOptions`] (stride, padding, dilation, groups), and `T` stays
//! trilinear with any of them, so the triangle stays closed.

mod conv1d;
mod options;
mod transpose;

pub use options::{Conv1dOptions, Conv2dOptions, ConvTranspose2dOptions};

use smallvec::smallvec;

use super::elementwise::single;
use super::{Ctx, Grads, OutputNotRead};
use crate::error::Result;
use crate::float::Float;
use crate::shape::Shape;
use crate::tensor::Tensor;
use crate::var::Var;

/// (rows, columns) of the last two axes of a rank-4 shape, (0, 0) otherwise
/// (the kernels then report the rank error).
pub(super) fn spatial(shape: &[usize]) -> (usize, usize) {
    match shape {
        [_, _, h, w] => (*h, *w),
        _ => (0, 0),
    }
}

/// Σ of g `[N, O, Ho, Wo]` over the batch and spatial axes, `[O]`: the bias
/// gradient. Fused (rather than `sum_axes`) because it runs on every backward
/// pass over the largest tensors of a network, as contiguous sums per plane.
/// ∂g = the incoming `[O]` gradient broadcast back over the summed axes.
pub(super) fn bias_grad<T: Float>(g: &Var<T>) -> Result<Var<T>> {
    let value = g.with_value(Tensor::sum_channels)?;
    let shape: Shape = g.shape().into();
    let kept = [1, shape[1], 1, 1];
    Var::try_from_op(
        "conv2d_bias_grad",
        value,
        &[g],
        move |c: &Ctx<'_, T>| -> Result<Grads<T>> {
            single(c.grad.reshape(&kept)?.broadcast_to(&shape)?)
        },
    )
}

/// The gradients of `input_grad(g, w)` (inputs `[g, w]`, incoming `u` of the
/// input's shape): `∂g = conv2d(u, w)`, `∂w = weight_grad(u, g)`, from
/// `⟨u, input_grad(g, w)⟩ = T(u, w, g)`.
pub(super) fn input_grad_rule<T: Float>(
    c: &Ctx<'_, T>,
    kernel: (usize, usize),
    opts: Conv2dOptions,
) -> Result<Grads<T>> {
    let (g, w, u) = (&c.inputs[0], &c.inputs[1], c.grad);
    let gg = if c.needs(0) {
        Some(u.conv2d_with(w, None, opts)?)
    } else {
        None
    };
    let gw = if c.needs(1) {
        Some(u.conv2d_weight_grad(g, kernel, opts)?)
    } else {
        None
    };
    Ok(smallvec![gg, gw])
}

impl<T: Float> Var<T> {
    /// 2-d cross-correlation with stride and padding, the common case of
    /// [`Var::conv2d_with`] (dilation 1, one group): `self` `[N, C, H, W]`,
    /// `weight` `[O, C, kh, kw]`, optional `bias` `[O]`, zero padding; the
    /// result is `[N, O, Ho, Wo]` with `Ho = (H + 2·ph − kh)/sh + 1` (floor),
    /// likewise `Wo`, and
    /// `out[n, o, i, j] = b[o] + Σ_{c,p,q} w[o, c, p, q] · x[n, c, i·sh + p − ph, j·sw + q − pw]`.
    ///
    /// Gradients and errors as [`Var::conv2d_with`].
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// // One 3×3 image, a 2×2 kernel of ones: each output is the sum of a 2×2 block.
    /// let x = Var::constant(Tensor::<f64>::arange(9).reshape(&[1, 1, 3, 3]).unwrap());
    /// let w = Var::parameter(Tensor::ones(&[1, 1, 2, 2]));
    /// let y = x.conv2d(&w, None, (1, 1), (0, 0)).unwrap();
    /// assert_eq!(y.value().data(), &[8.0, 12.0, 20.0, 24.0]);
    /// y.sum().backward().unwrap();
    /// // ∂/∂w[p, q] = Σ of the inputs under tap (p, q), the same sums here.
    /// assert_eq!(w.grad().unwrap().data(), &[8.0, 12.0, 20.0, 24.0]);
    /// ```
    pub fn conv2d(
        &self,
        weight: &Var<T>,
        bias: Option<&Var<T>>,
        stride: (usize, usize),
        padding: (usize, usize),
    ) -> Result<Var<T>> {
        let opts = Conv2dOptions {
            stride,
            padding,
            ..Conv2dOptions::default()
        };
        self.conv2d_with(weight, bias, opts)
    }

    /// 2-d cross-correlation, as PyTorch's `conv2d` with all its options:
    /// `self` `[N, C, H, W]`, `weight` `[O, C/G, kh, kw]` (G = `groups`),
    /// optional `bias` `[O]`; the result is `[N, O, Ho, Wo]` with
    /// `Ho = (H + 2·ph − dh·(kh − 1) − 1)/sh + 1` (floor), likewise `Wo`, and
    /// `out[n, o, i, j] = b[o] + Σ_{c,p,q} w[o, c, p, q] · x[n, g·C/G + c, i·sh + p·dh − ph, j·sw + q·dw − pw]`
    /// where `g = ⌊o/(O/G)⌋` is the group of output channel `o`.
    ///
    /// Gradients: `∂x = conv2d_input_grad(g, w)`, `∂w = conv2d_weight_grad(x, g)`,
    /// `∂b = Σ_{n,i,j} g[n, ·, i, j]`, with the same options; all differentiable
    /// again.
    ///
    /// Errors: an input or weight not of rank 4, a zero stride, dilation or
    /// groups, channel counts that do not match (`C ≠ G·weight.shape[1]`, or G
    /// not dividing O), a bias not of shape `[O]`, or a dilated kernel
    /// `dh·(kh − 1) + 1` larger than the padded input.
    ///
    /// ```
    /// use tapegrad_tape::{Conv2dOptions, Tensor, Var};
    /// // Two channels, depthwise (one group per channel), taps 2 apart.
    /// let x = Var::constant(Tensor::<f64>::arange(18).reshape(&[1, 2, 3, 3]).unwrap());
    /// let w = Var::parameter(Tensor::from_vec(vec![1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0], &[2, 1, 2, 2]).unwrap());
    /// let opts = Conv2dOptions { dilation: (2, 2), groups: 2, ..Default::default() };
    /// let y = x.conv2d_with(&w, None, opts).unwrap();
    /// // Channel 0: the four corners 0 + 2 + 6 + 8; channel 1: its first element.
    /// assert_eq!(y.value().data(), &[16.0, 9.0]);
    /// ```
    pub fn conv2d_with(
        &self,
        weight: &Var<T>,
        bias: Option<&Var<T>>,
        opts: Conv2dOptions,
    ) -> Result<Var<T>> {
        let value = self.with_value(|x| {
            weight.with_value(|w| match bias {
                Some(b) => b.with_value(|b| x.conv2d(w, Some(b), opts)),
                None => x.conv2d(w, None, opts),
            })
        })?;
        let input_hw = spatial(self.shape());
        let kernel = spatial(weight.shape());
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        let rule = move |c: &Ctx<'_, T>| -> Result<Grads<T>> {
            let (x, w, g) = (&c.inputs[0], &c.inputs[1], c.grad);
            let gx = if c.needs(0) {
                Some(g.conv2d_input_grad(w, input_hw, opts)?)
            } else {
                None
            };
            let gw = if c.needs(1) {
                Some(x.conv2d_weight_grad(g, kernel, opts)?)
            } else {
                None
            };
            let mut grads: Grads<T> = smallvec![gx, gw];
            if c.inputs.len() == 3 {
                let gb = if c.needs(2) {
                    Some(bias_grad(g)?)
                } else {
                    None
                };
                grads.push(gb);
            }
            Ok(grads)
        };
        Var::try_from_op("conv2d", value, &inputs, OutputNotRead(rule))
    }

    /// The gradient of a convolution with respect to its input, for `self` = g
    /// `[N, O, Ho, Wo]` flowing into the output and `weight` `[O, C/G, kh, kw]`:
    /// `∂⟨g, conv2d_with(x, w, opts)⟩/∂x`, of shape `[N, C, H, W]` with
    /// `(H, W) = input_hw` (needed because with a stride several input sizes
    /// give the same output) and `C = G·weight.shape[1]`. This is a transposed
    /// convolution: `col2im(Wᵀ·gₙ)` per group of each image.
    ///
    /// Gradients (the incoming gradient `u` has the input's shape):
    /// `∂g = conv2d(u, w)`, `∂w = conv2d_weight_grad(u, g)`.
    ///
    /// Errors as [`Var::conv2d_with`], and when g's shape is not the output
    /// shape of that convolution.
    ///
    /// ```
    /// use tapegrad_tape::{Conv2dOptions, Tensor, Var};
    /// let g = Var::constant(Tensor::<f64>::ones(&[1, 1, 2, 2]));
    /// let w = Var::constant(Tensor::ones(&[1, 1, 2, 2]));
    /// let dx = g.conv2d_input_grad(&w, (3, 3), Conv2dOptions::default()).unwrap();
    /// // How many 2×2 windows cover each pixel of the 3×3 input.
    /// assert_eq!(dx.value().data(), &[1.0, 2.0, 1.0, 2.0, 4.0, 2.0, 1.0, 2.0, 1.0]);
    /// ```
    pub fn conv2d_input_grad(
        &self,
        weight: &Var<T>,
        input_hw: (usize, usize),
        opts: Conv2dOptions,
    ) -> Result<Var<T>> {
        let value =
            self.with_value(|g| weight.with_value(|w| g.conv2d_input_grad(w, input_hw, opts)))?;
        let kernel = spatial(weight.shape());
        let rule = move |c: &Ctx<'_, T>| input_grad_rule(c, kernel, opts);
        Var::try_from_op("conv2d_input_grad", value, &[self, weight], rule)
    }

    /// The gradient of a convolution with respect to its weight, for `self` = x
    /// `[N, C, H, W]` and `grad_output` = g `[N, O, Ho, Wo]`:
    /// `∂⟨g, conv2d_with(x, w, opts)⟩/∂w`, of shape `[O, C/G, kh, kw]` with
    /// `(kh, kw) = kernel`; group by group `Σₙ gₙ·cols(xₙ)ᵀ`.
    ///
    /// Gradients (the incoming gradient `u` has the weight's shape):
    /// `∂x = conv2d_input_grad(g, u)`, `∂g = conv2d(x, u)`.
    ///
    /// Errors as [`Var::conv2d_with`], and when g's shape is not the output
    /// shape of that convolution.
    ///
    /// ```
    /// use tapegrad_tape::{Conv2dOptions, Tensor, Var};
    /// let x = Var::constant(Tensor::<f64>::arange(9).reshape(&[1, 1, 3, 3]).unwrap());
    /// let g = Var::constant(Tensor::ones(&[1, 1, 2, 2]));
    /// let dw = x.conv2d_weight_grad(&g, (2, 2), Conv2dOptions::default()).unwrap();
    /// assert_eq!(dw.value().data(), &[8.0, 12.0, 20.0, 24.0]);
    /// ```
    pub fn conv2d_weight_grad(
        &self,
        grad_output: &Var<T>,
        kernel: (usize, usize),
        opts: Conv2dOptions,
    ) -> Result<Var<T>> {
        let value =
            self.with_value(|x| grad_output.with_value(|g| x.conv2d_weight_grad(g, kernel, opts)))?;
        let input_hw = spatial(self.shape());
        let rule = move |c: &Ctx<'_, T>| -> Result<Grads<T>> {
            let (x, g, u) = (&c.inputs[0], &c.inputs[1], c.grad);
            let gx = if c.needs(0) {
                Some(g.conv2d_input_grad(u, input_hw, opts)?)
            } else {
                None
            };
            let gg = if c.needs(1) {
                Some(x.conv2d_with(u, None, opts)?)
            } else {
                None
            };
            Ok(smallvec![gx, gg])
        };
        Var::try_from_op("conv2d_weight_grad", value, &[self, grad_output], rule)
    }
}
