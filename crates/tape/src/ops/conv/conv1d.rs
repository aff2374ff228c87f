//! 1-d convolution (NCL), as PyTorch's `conv1d`: a 2-d convolution of
//! `[N, C, 1, L]` images, so its gradients are those of the triangle.

use super::Conv1dOptions;
use crate::error::{Result, TapeError};
use crate::float::Float;
use crate::tensor::{check_channels, out_extent, require_rank};
use crate::var::Var;

const OP: &str = "conv1d";

/// Checks a 1-d convolution of `x_shape` `[N, C, L]` by `w_shape`
/// `[O, C/G, k]` with an optional bias, and returns the output length.
fn check(
    x_shape: &[usize],
    w_shape: &[usize],
    bias: Option<&[usize]>,
    opts: Conv1dOptions,
) -> Result<usize> {
    require_rank(OP, "input", x_shape, 3)?;
    require_rank(OP, "weight", w_shape, 3)?;
    check_channels(OP, x_shape, w_shape, opts.groups)?;
    if let Some(b) = bias
        && b != [w_shape[0]]
    {
        return Err(TapeError::ShapeMismatch {
            op: OP,
            lhs: b.into(),
            rhs: [w_shape[0]].as_slice().into(),
        });
    }
    let Conv1dOptions {
        stride,
        padding,
        dilation,
        ..
    } = opts;
    out_extent(OP, x_shape[2], w_shape[2], stride, padding, dilation)
}

/// `[a, b, l]` as `[a, b, 1, l]`.
fn with_unit_height<T: Float>(v: &Var<T>) -> Result<Var<T>> {
    let s = v.shape();
    v.reshape(&[s[0], s[1], 1, s[2]])
}

impl<T: Float> Var<T> {
    /// 1-d cross-correlation, as PyTorch's `conv1d`: `self` `[N, C, L]`,
    /// `weight` `[O, C/G, k]` (G = `groups`), optional `bias` `[O]`; the result
    /// is `[N, O, Lo]` with `Lo = (L + 2·p − d·(k − 1) − 1)/s + 1` (floor) and
    /// `out[n, o, i] = b[o] + Σ_{c,q} w[o, c, q] · x[n, g·C/G + c, i·s + q·d − p]`,
    /// `g` the group of output channel `o`.
    ///
    /// It is [`Var::conv2d_with`] on `[N, C, 1, L]` images with a `[O, C/G, 1, k]`
    /// kernel (reshapes, no copy), so its gradients are the convolution's.
    ///
    /// Errors: an input or weight not of rank 3, a zero stride, dilation or
    /// groups, channel counts that do not match, a bias not `[O]`, or a
    /// dilated kernel longer than the padded input.
    ///
    /// ```
    /// use tapegrad_tape::{Conv1dOptions, Tensor, Var};
    /// let x = Var::constant(Tensor::<f64>::arange(6).reshape(&[1, 1, 6]).unwrap());
    /// let w = Var::parameter(Tensor::from_vec(vec![1.0, -1.0], &[1, 1, 2]).unwrap());
    /// // x[i·2] − x[i·2 + 2]: taps 2 apart, every other position.
    /// let opts = Conv1dOptions { stride: 2, dilation: 2, ..Default::default() };
    /// let y = x.conv1d(&w, None, opts).unwrap();
    /// assert_eq!(y.value().data(), &[-2.0, -2.0]);
    /// ```
    pub fn conv1d(
        &self,
        weight: &Var<T>,
        bias: Option<&Var<T>>,
        opts: Conv1dOptions,
    ) -> Result<Var<T>> {
        let length = check(self.shape(), weight.shape(), bias.map(Var::shape), opts)?;
        let (x, w) = (with_unit_height(self)?, with_unit_height(weight)?);
        let y = x.conv2d_with(&w, bias, opts.as_2d())?;
        y.reshape(&[self.shape()[0], weight.shape()[0], length])
    }
}
