//! The transposed convolution as the input gradient of the convolution it
//! transposes: its checks, its output size and its forward.
//!
//! `conv_transpose2d(x, w) = conv2d_input_grad(x, w)` for the convolution with
//! the same stride, padding, dilation and groups whose input has the
//! transposed convolution's output size
//! `Ho = (H − 1)·sh − 2·ph + dh·(kh − 1) + oph + 1` (likewise `Wo`). That
//! convolution maps `Ho` rows to `H + ⌊oph/sh⌋` rows: when the output padding
//! reaches the stride (allowed when it stays below the dilation), `x` is taken
//! with `⌊oph/sh⌋` zero rows appended.

use super::geometry::{invalid, require_positive, require_rank4};
use crate::error::{Result, TapeError};
use crate::float::Float;
use crate::ops::{Conv2dOptions, ConvTranspose2dOptions};
use crate::tensor::Tensor;

const OP: &str = "conv_transpose2d";

/// A checked transposed convolution: the convolution it is the input
/// gradient of, and the sizes involved.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TransposePlan {
    /// The options of the transposed convolution.
    pub(crate) conv: Conv2dOptions,
    /// The output's `(Ho, Wo)`: the input size of that convolution.
    pub(crate) out_hw: (usize, usize),
    /// Zero rows and columns appended to x: `(⌊oph/sh⌋, ⌊opw/sw⌋)`.
    pub(crate) extra: (usize, usize),
    /// `(kh, kw)`.
    pub(crate) kernel: (usize, usize),
}

/// The output extent along one axis, `(len − 1)·s − 2p + d·(k − 1) + op + 1`,
/// or an error when it is not positive or the output padding is too large.
fn transposed_extent(
    len: usize,
    k: usize,
    s: usize,
    p: usize,
    d: usize,
    op: usize,
) -> Result<i128> {
    require_positive(OP, "stride", s)?;
    require_positive(OP, "dilation", d)?;
    require_positive(OP, "kernel", k)?;
    if op >= s && op >= d {
        return Err(invalid(
            OP,
            "output_padding",
            op.to_string(),
            format!("must be smaller than the stride {s} or the dilation {d}"),
        ));
    }
    let [len, k, s, p, d, op] = [len, k, s, p, d, op].map(|v| v as i128);
    Ok((len - 1) * s - 2 * p + d * (k - 1) + op + 1)
}

/// Checks a transposed convolution of an `x_shape` input `[N, C_in, H, W]` by
/// a `w_shape` weight `[C_in, C_out/groups, kh, kw]` with an optional bias of
/// `bias_shape` `[C_out]`.
pub(crate) fn transpose_plan(
    x_shape: &[usize],
    w_shape: &[usize],
    bias_shape: Option<&[usize]>,
    opts: ConvTranspose2dOptions,
) -> Result<TransposePlan> {
    require_rank4(OP, "input", x_shape)?;
    require_rank4(OP, "weight", w_shape)?;
    check_transposed_channels(x_shape, w_shape, opts.groups)?;
    if x_shape[2] == 0 || x_shape[3] == 0 {
        return Err(TapeError::InvalidShape {
            op: OP,
            shape: x_shape.into(),
            reason: "input must have at least one row and one column".into(),
        });
    }
    let out_channels = w_shape[1] * opts.groups;
    if let Some(b) = bias_shape
        && b != [out_channels]
    {
        return Err(TapeError::ShapeMismatch {
            op: OP,
            lhs: b.into(),
            rhs: [out_channels].as_slice().into(),
        });
    }
    let (s, p, d, op) = (
        opts.stride,
        opts.padding,
        opts.dilation,
        opts.output_padding,
    );
    let ho = transposed_extent(x_shape[2], w_shape[2], s.0, p.0, d.0, op.0)?;
    let wo = transposed_extent(x_shape[3], w_shape[3], s.1, p.1, d.1, op.1)?;
    if ho < 1 || wo < 1 {
        return Err(invalid(
            OP,
            "padding",
            format!("{p:?}"),
            format!(
                "leaves an output of {ho} × {wo} for the {} × {} input",
                x_shape[2], x_shape[3]
            ),
        ));
    }
    Ok(TransposePlan {
        conv: opts.conv(),
        out_hw: (ho as usize, wo as usize),
        extra: (op.0 / s.0, op.1 / s.1),
        kernel: (w_shape[2], w_shape[3]),
    })
}

/// The weight's first axis counts the input's channels, in `groups` groups.
fn check_transposed_channels(x_shape: &[usize], w_shape: &[usize], groups: usize) -> Result<()> {
    require_positive(OP, "groups", groups)?;
    if w_shape[0] != x_shape[1] {
        return Err(invalid(
            OP,
            "weight",
            format!("{w_shape:?}"),
            format!(
                "has {} input channels, the input {x_shape:?} has {}",
                w_shape[0], x_shape[1]
            ),
        ));
    }
    if !w_shape[0].is_multiple_of(groups) {
        return Err(invalid(
            OP,
            "groups",
            groups.to_string(),
            format!("does not divide the input's {} channels", w_shape[0]),
        ));
    }
    Ok(())
}

impl<T: Float> Tensor<T> {
    /// The transposed convolution of `self` = x, already extended by
    /// `plan.extra` zero rows and columns, by `weight`, plus `bias` per output
    /// channel.
    pub(crate) fn conv_transpose2d(
        &self,
        weight: &Tensor<T>,
        bias: Option<&Tensor<T>>,
        plan: &TransposePlan,
    ) -> Result<Tensor<T>> {
        let mut out = self.conv2d_input_grad(weight, plan.out_hw, plan.conv)?;
        if let Some(b) = bias {
            let plane = plan.out_hw.0 * plan.out_hw.1;
            add_channel_bias(out.data_mut(), b.data(), plane);
        }
        Ok(out)
    }
}

/// Adds `bias[c]` to every element of each `[N, C]` plane of `out`.
fn add_channel_bias<T: Float>(out: &mut [T], bias: &[T], plane: usize) {
    if plane == 0 || bias.is_empty() {
        return;
    }
    for (q, chunk) in out.chunks_exact_mut(plane).enumerate() {
        let b = bias[q % bias.len()];
        chunk.iter_mut().for_each(|v| *v += b);
    }
}
