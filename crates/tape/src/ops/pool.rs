//! 2-d max and average pooling on the tape (NCHW, PyTorch semantics).
//!
//! Both are linear maps once the max positions are fixed, so each comes with
//! its adjoint as a second op, and the pair closes under differentiation:
//! max pooling is a gather at the saved argmax positions, whose gradient is a
//! scatter-add to those positions, whose gradient is the gather again; average
//! pooling `A` has gradient `Aᵀ`, whose gradient is `A`; adaptive average
//! pooling likewise.

use std::sync::Arc;

use super::elementwise::single;
use super::{Ctx, Grads, OutputNotRead};
use crate::error::Result;
use crate::float::Float;
use crate::shape::Shape;
use crate::tensor::PlaneIndex;
use crate::tensor::buffers::Reused;
use crate::var::Var;

/// For each `[N, C]` plane of a pooled tensor, the position of each max in
/// the input plane (row-major, `0..H·W`).
type Argmax = Arc<Reused<PlaneIndex>>;

/// `out[q, j] = x[q, index[q, j]]`: the input-shaped `x` read at the argmax
/// positions. ∂x = scatter of g to those positions.
fn gather_at<T: Float>(x: &Var<T>, index: &Argmax, out_shape: &Shape) -> Var<T> {
    let value = x.with_value(|v| v.gather_planes(index, out_shape));
    let index = Arc::clone(index);
    let in_shape: Shape = x.shape().into();
    Var::from_op(
        "max_pool2d_gather",
        value,
        &[x],
        move |c: &Ctx<'_, T>| -> Result<Grads<T>> { single(scatter_to(c.grad, &index, &in_shape)) },
    )
}

/// `out[q, index[q, j]] += g[q, j]` into zeros of `in_shape`: the gradient of
/// max pooling. ∂g = gather of the incoming gradient at the same positions.
fn scatter_to<T: Float>(g: &Var<T>, index: &Argmax, in_shape: &Shape) -> Var<T> {
    let value = g.with_value(|v| v.scatter_planes(index, in_shape));
    let index = Arc::clone(index);
    let out_shape: Shape = g.shape().into();
    Var::from_op(
        "max_pool2d_scatter",
        value,
        &[g],
        move |c: &Ctx<'_, T>| -> Result<Grads<T>> { single(gather_at(c.grad, &index, &out_shape)) },
    )
}

/// The adjoint of average pooling, for g `[N, C, Ho, Wo]` and an input of
/// spatial size `input_hw`. ∂g = avg_pool2d of the incoming gradient.
fn avg_pool2d_adjoint<T: Float>(
    g: &Var<T>,
    input_hw: (usize, usize),
    kernel: (usize, usize),
    stride: (usize, usize),
    padding: (usize, usize),
) -> Result<Var<T>> {
    let value = g.with_value(|v| v.avg_pool2d_adjoint(input_hw, kernel, stride, padding))?;
    Var::try_from_op(
        "avg_pool2d_backward",
        value,
        &[g],
        move |c: &Ctx<'_, T>| -> Result<Grads<T>> {
            single(c.grad.avg_pool2d(kernel, stride, padding)?)
        },
    )
}

/// The adjoint of adaptive average pooling, for g `[N, C, Ho, Wo]` and an
/// input of spatial size `input_hw`. ∂g = adaptive_avg_pool2d of the incoming
/// gradient to `(Ho, Wo)`.
fn adaptive_avg_pool2d_adjoint<T: Float>(g: &Var<T>, input_hw: (usize, usize)) -> Result<Var<T>> {
    let value = g.with_value(|v| v.adaptive_avg_pool2d_adjoint(input_hw))?;
    let out_hw = spatial(g.shape());
    Var::try_from_op(
        "adaptive_avg_pool2d_backward",
        value,
        &[g],
        OutputNotRead(move |c: &Ctx<'_, T>| -> Result<Grads<T>> {
            single(c.grad.adaptive_avg_pool2d(out_hw)?)
        }),
    )
}

/// (rows, columns) of the last two axes of a rank-4 shape, (0, 0) otherwise
/// (the kernels then report the rank error).
fn spatial(shape: &[usize]) -> (usize, usize) {
    match shape {
        [_, _, h, w] => (*h, *w),
        _ => (0, 0),
    }
}

impl<T: Float> Var<T> {
    /// Max pooling, as PyTorch's `max_pool2d` (dilation 1, floor mode):
    /// `self` `[N, C, H, W]` → `[N, C, Ho, Wo]` with
    /// `Ho = (H + 2·ph − kh)/sh + 1`, each output the largest element of its
    /// `kh × kw` window; padding counts as −∞.
    ///
    /// Ties: the gradient goes to the first maximum in row-major scan order of
    /// the window (as PyTorch), once per window; elements under several
    /// overlapping windows receive the sum. A NaN counts as the maximum.
    ///
    /// Errors: an input not of rank 4, a zero kernel or stride, padding larger
    /// than half the kernel (PyTorch's limit), or a kernel larger than the
    /// padded input.
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::parameter(Tensor::from_vec(vec![1.0f64, 5.0, 2.0, 5.0], &[1, 1, 2, 2]).unwrap());
    /// let y = x.max_pool2d((2, 2), (2, 2), (0, 0)).unwrap();
    /// assert_eq!(y.value().data(), &[5.0]);
    /// y.sum().backward().unwrap();
    /// assert_eq!(x.grad().unwrap().data(), &[0.0, 1.0, 0.0, 0.0]); // first of the tied 5s
    /// ```
    pub fn max_pool2d(
        &self,
        kernel: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
    ) -> Result<Var<T>> {
        let (value, index) = self.with_value(|x| x.max_pool2d_indices(kernel, stride, padding))?;
        let index: Argmax = Arc::new(index);
        let in_shape: Shape = self.shape().into();
        Var::try_from_op(
            "max_pool2d",
            value,
            &[self],
            OutputNotRead(move |c: &Ctx<'_, T>| -> Result<Grads<T>> {
                single(scatter_to(c.grad, &index, &in_shape))
            }),
        )
    }

    /// Average pooling, as PyTorch's `avg_pool2d` with its defaults
    /// (`count_include_pad=True`, floor mode): each output is the sum of its
    /// `kh × kw` window divided by `kh·kw`, padding counted as zeros.
    ///
    /// Gradient: each g spreads `g/(kh·kw)` over its window (padding dropped),
    /// an op whose own gradient is this pooling again.
    ///
    /// Errors as [`Var::max_pool2d`].
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::parameter(Tensor::<f64>::arange(4).reshape(&[1, 1, 2, 2]).unwrap());
    /// // Padding 1 with a 2×2 kernel: the corner window holds x[0,0] and three zeros.
    /// let y = x.avg_pool2d((2, 2), (2, 2), (1, 1)).unwrap();
    /// assert_eq!(y.value().data(), &[0.0, 0.25, 0.5, 0.75]);
    /// y.sum().backward().unwrap();
    /// assert_eq!(x.grad().unwrap().data(), &[0.25; 4]);
    /// ```
    pub fn avg_pool2d(
        &self,
        kernel: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
    ) -> Result<Var<T>> {
        let value = self.with_value(|x| x.avg_pool2d(kernel, stride, padding))?;
        let input_hw = spatial(self.shape());
        Var::try_from_op(
            "avg_pool2d",
            value,
            &[self],
            move |c: &Ctx<'_, T>| -> Result<Grads<T>> {
                single(avg_pool2d_adjoint(
                    c.grad, input_hw, kernel, stride, padding,
                )?)
            },
        )
    }

    /// Adaptive average pooling, as PyTorch's `adaptive_avg_pool2d`: `self`
    /// `[N, C, H, W]` → `[N, C, Ho, Wo]` with `(Ho, Wo) = output_size`, output
    /// `(i, j)` the mean of the input rows `⌊i·H/Ho⌋ .. ⌈(i + 1)·H/Ho⌉` and
    /// columns `⌊j·W/Wo⌋ .. ⌈(j + 1)·W/Wo⌉` (bins overlap when the sizes do not
    /// divide; an output larger than the input repeats elements).
    ///
    /// Gradient: each g spreads evenly over its bin, an op whose own gradient
    /// is this pooling again.
    ///
    /// Errors: an input not of rank 4, or with no rows or no columns.
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::parameter(Tensor::<f64>::arange(5).reshape(&[1, 1, 1, 5]).unwrap());
    /// // 5 → 2 columns: bins 0..3 and 2..5 share column 2.
    /// let y = x.adaptive_avg_pool2d((1, 2)).unwrap();
    /// assert_eq!(y.value().data(), &[1.0, 3.0]);
    /// y.sum().backward().unwrap();
    /// assert_eq!(x.grad().unwrap().data(), &[1.0 / 3.0, 1.0 / 3.0, 2.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0]);
    /// ```
    pub fn adaptive_avg_pool2d(&self, output_size: (usize, usize)) -> Result<Var<T>> {
        let value = self.with_value(|x| x.adaptive_avg_pool2d(output_size))?;
        let input_hw = spatial(self.shape());
        Var::try_from_op(
            "adaptive_avg_pool2d",
            value,
            &[self],
            OutputNotRead(move |c: &Ctx<'_, T>| -> Result<Grads<T>> {
                single(adaptive_avg_pool2d_adjoint(c.grad, input_hw)?)
            }),
        )
    }
}
