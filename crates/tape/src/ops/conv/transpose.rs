//! The transposed convolution, as PyTorch's `conv_transpose2d`: the input
//! gradient of a convolution, so it lives inside the convolution triangle.

use super::{ConvTranspose2dOptions, bias_grad, input_grad_rule};
use crate::error::Result;
use crate::float::Float;
use crate::ops::{Ctx, Grads, OutputNotRead};
use crate::tensor::{TransposePlan, transpose_plan};
use crate::var::Var;

impl<T: Float> Var<T> {
    /// 2-d transposed convolution, as PyTorch's `conv_transpose2d`: `self`
    /// `[N, C_in, H, W]`, `weight` `[C_in, C_out/G, kh, kw]` (G = `groups`),
    /// optional `bias` `[C_out]`; the result is `[N, C_out, Ho, Wo]` with
    /// `Ho = (H − 1)·sh − 2·ph + dh·(kh − 1) + oph + 1`, likewise `Wo`, and
    /// `out[n, g·C_out/G + c, i·sh + p·dh − ph, j·sw + q·dw − pw] += x[n, m, i, j] · w[m, c, p, q]`
    /// summed over the input channels `m` of group `g`, plus `b`.
    ///
    /// It is the adjoint of the convolution with the same stride, padding,
    /// dilation and groups from `[Ho, Wo]` images: `conv_transpose2d(x, w) =
    /// conv2d_input_grad(x, w)` at input size `(Ho, Wo)` (x extended by
    /// `⌊oph/sh⌋` zero rows and `⌊opw/sw⌋` zero columns when the output
    /// padding reaches the stride). So, for `u` arriving at the output,
    /// `∂x = conv2d(u, w)`, `∂w = conv2d_weight_grad(u, x)` and
    /// `∂b = Σ_{n,i,j} u[n, ·, i, j]`, all differentiable again.
    ///
    /// Errors: an input or weight not of rank 4, an input without rows or
    /// columns, `weight.shape[0] ≠ C_in`, a zero stride, dilation, kernel or
    /// groups, G not dividing `C_in`, a bias not `[G·weight.shape[1]]`, an
    /// output padding not smaller than the stride or the dilation of its axis,
    /// or a padding that leaves no output.
    ///
    /// ```
    /// use tapegrad_tape::{ConvTranspose2dOptions, Tensor, Var};
    /// // Stride 2 spreads each input over its own 2×2 block.
    /// let x = Var::parameter(Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[1, 1, 2, 2]).unwrap());
    /// let w = Var::parameter(Tensor::ones(&[1, 1, 2, 2]));
    /// let opts = ConvTranspose2dOptions { stride: (2, 2), ..Default::default() };
    /// let y = x.conv_transpose2d(&w, None, opts).unwrap();
    /// assert_eq!(y.shape(), &[1, 1, 4, 4]);
    /// assert_eq!(&y.value().data()[..8], &[1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 2.0, 2.0]);
    /// y.sum().backward().unwrap();
    /// assert_eq!(x.grad().unwrap().data(), &[4.0; 4]);
    /// ```
    pub fn conv_transpose2d(
        &self,
        weight: &Var<T>,
        bias: Option<&Var<T>>,
        opts: ConvTranspose2dOptions,
    ) -> Result<Var<T>> {
        let plan = transpose_plan(self.shape(), weight.shape(), bias.map(Var::shape), opts)?;
        let x = self
            .pad_axis(2, 0, plan.extra.0)?
            .pad_axis(3, 0, plan.extra.1)?;
        transposed(&x, weight, bias, plan)
    }
}

/// Records the transposed convolution of `x`, already extended to the output
/// size of the convolution it transposes.
fn transposed<T: Float>(
    x: &Var<T>,
    weight: &Var<T>,
    bias: Option<&Var<T>>,
    plan: TransposePlan,
) -> Result<Var<T>> {
    let value = x.with_value(|x| {
        weight.with_value(|w| match bias {
            Some(b) => b.with_value(|b| x.conv_transpose2d(w, Some(b), &plan)),
            None => x.conv_transpose2d(w, None, &plan),
        })
    })?;
    let mut inputs = vec![x, weight];
    inputs.extend(bias);
    let (kernel, conv) = (plan.kernel, plan.conv);
    let rule = move |c: &Ctx<'_, T>| -> Result<Grads<T>> {
        let mut grads = input_grad_rule(c, kernel, conv)?;
        if c.inputs.len() == 3 {
            grads.push(if c.needs(2) {
                Some(bias_grad(c.grad)?)
            } else {
                None
            });
        }
        Ok(grads)
    };
    Var::try_from_op("conv_transpose2d", value, &inputs, OutputNotRead(rule))
}
