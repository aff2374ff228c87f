//! Reductions: sums, means, max, min and logsumexp over all elements or given axes.

use super::elementwise::single;
use super::{Ctx, Grads};
use crate::error::Result;
use crate::float::Float;
use crate::shape::{self, Shape};
use crate::tensor::Tensor;
use crate::var::Var;

/// The shape of a reduction's result with the reduced axes kept as 1.
pub(crate) fn keepdim_shape(shape: &[usize], axes: &[usize]) -> Shape {
    shape
        .iter()
        .enumerate()
        .map(|(i, &n)| if axes.contains(&i) { 1 } else { n })
        .collect()
}

impl<T: Float> Var<T> {
    /// Σ of all elements, as a 0-d var. ∂ = g broadcast to the input's shape.
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::constant(Tensor::<f64>::arange(4));
    /// assert_eq!(x.sum().item().unwrap(), 6.0);
    /// ```
    pub fn sum(&self) -> Var<T> {
        let value = Tensor::scalar(self.with_value(Tensor::sum_all));
        let from: Shape = self.shape().into();
        Var::from_op(
            "sum",
            value,
            &[self],
            move |c: &Ctx<'_, T>| -> Result<Grads<T>> { single(c.grad.broadcast_to(&from)?) },
        )
    }

    /// Σ over `axes` (negative axes count from the end; a 0-d input takes 0 or
    /// −1, and no axes means every axis, as PyTorch's `dim=()`); `keepdim`
    /// keeps them with extent 1. ∂ = g (reshaped to keep the axes) broadcast to
    /// the input's shape.
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::constant(Tensor::<f64>::arange(6).reshape(&[2, 3]).unwrap());
    /// assert_eq!(x.sum_axes(&[-1], false).unwrap().value().data(), &[3.0, 12.0]);
    /// assert_eq!(x.sum_axes(&[0], true).unwrap().shape(), &[1, 3]);
    /// assert_eq!(x.sum_axes(&[], false).unwrap().item().unwrap(), 15.0);
    /// ```
    pub fn sum_axes(&self, axes: &[isize], keepdim: bool) -> Result<Var<T>> {
        if axes.is_empty() && self.ndim() > 0 {
            return self.sum_axes(&all_axes(self.ndim()), keepdim);
        }
        if self.ndim() == 0 && !axes.is_empty() {
            shape::normalize_axes("sum", axes, 1)?;
            return self.sum_axes(&[], keepdim);
        }
        let axes = shape::normalize_axes("sum", axes, self.ndim())?;
        let value = self.with_value(|v| v.sum_axes(&axes, keepdim));
        let from: Shape = self.shape().into();
        let kept = keepdim_shape(&from, &axes);
        Var::try_from_op(
            "sum_axes",
            value,
            &[self],
            move |c: &Ctx<'_, T>| -> Result<Grads<T>> {
                single(c.grad.reshape(&kept)?.broadcast_to(&from)?)
            },
        )
    }

    /// Arithmetic mean of all elements: sum / n (NaN for no elements, 0/0, as
    /// PyTorch).
    pub fn mean(&self) -> Var<T> {
        self.sum().div_scalar(T::from_usize(self.numel()))
    }

    /// Mean over `axes`: sum over them divided by the number of elements summed
    /// (a 0-d input takes axis 0 or −1, and no axes means every axis, as
    /// [`Var::sum_axes`]).
    pub fn mean_axes(&self, axes: &[isize], keepdim: bool) -> Result<Var<T>> {
        if axes.is_empty() && self.ndim() > 0 {
            return self.mean_axes(&all_axes(self.ndim()), keepdim);
        }
        if self.ndim() == 0 && !axes.is_empty() {
            shape::normalize_axes("mean", axes, 1)?;
            return self.mean_axes(&[], keepdim);
        }
        let normalized = shape::normalize_axes("mean", axes, self.ndim())?;
        let count: usize = normalized.iter().map(|&a| self.shape()[a]).product();
        Ok(self
            .sum_axes(axes, keepdim)?
            .div_scalar(T::from_usize(count)))
    }

    /// The same elements under another shape with as many elements. ∂ = g reshaped back.
    pub fn reshape(&self, shape: &[usize]) -> Result<Var<T>> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        let value = self.with_value(|v| v.reshape(shape))?;
        let from: Shape = self.shape().into();
        Var::try_from_op(
            "reshape",
            value,
            &[self],
            move |c: &Ctx<'_, T>| -> Result<Grads<T>> { single(c.grad.reshape(&from)?) },
        )
    }

    /// The largest element, as a 0-d var (NaN if any element is NaN), as
    /// PyTorch's full `max()`.
    ///
    /// Gradient (PyTorch's `evenly_distribute_backward`): split evenly among the
    /// elements attaining the max, ∂x = g / #{x = out} there and exactly 0
    /// elsewhere (a selection, so an infinite g stays off the other elements).
    /// When the max is NaN, the NaN elements are the ones attaining it.
    /// Errors on a tensor with no elements.
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::parameter(Tensor::from_vec(vec![1.0f64, 3.0, 3.0, -2.0], &[2, 2]).unwrap());
    /// let m = x.max().unwrap();
    /// assert_eq!(m.item().unwrap(), 3.0);
    /// m.backward().unwrap();
    /// assert_eq!(x.grad().unwrap().data(), &[0.0, 0.5, 0.5, 0.0]); // the tie splits
    ///
    /// let y = Var::parameter(Tensor::from_vec(vec![f64::NAN, 3.0, f64::NAN], &[3]).unwrap());
    /// y.max().unwrap().backward().unwrap();
    /// assert_eq!(y.grad().unwrap().data(), &[0.5, 0.0, 0.5]); // the NaNs are the max
    /// ```
    pub fn max(&self) -> Result<Var<T>> {
        extremum(
            self,
            "max",
            &all_axes(self.ndim()),
            false,
            Extremum::MAX_WHOLE,
        )
    }

    /// The smallest element, as a 0-d var, as PyTorch's full `min()`; the
    /// gradient as [`Var::max`]'s: g / #{x = out} on the elements attaining it,
    /// exactly 0 elsewhere.
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::constant(Tensor::from_vec(vec![1.0f64, -3.0, 2.0], &[3]).unwrap());
    /// assert_eq!(x.min().unwrap().item().unwrap(), -3.0);
    /// ```
    pub fn min(&self) -> Result<Var<T>> {
        extremum(
            self,
            "min",
            &all_axes(self.ndim()),
            false,
            Extremum::MIN_WHOLE,
        )
    }

    /// Max over `axes` (negative axes count from the end; a 0-d input takes 0 or
    /// −1; no axes means every axis), as PyTorch's `amax`; `keepdim` keeps the axes with extent 1.
    /// NaN propagates: a lane holding a NaN has max NaN.
    ///
    /// Gradient (PyTorch's `amax` rule): ∂x = (g / #{x = out}) ⊙ [x = out]
    /// along the reduced axes, so ties split g evenly. It is a product, and NaN
    /// equals nothing: a lane whose max is NaN gets (g / 0) · 0 = NaN throughout,
    /// and an infinite g gives NaN on the lane's other elements, as in PyTorch.
    /// Errors on a bad or repeated axis, or a reduced axis of size 0.
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::constant(Tensor::from_vec(vec![1.0f64, 5.0, 2.0, 4.0, 0.0, 6.0], &[2, 3]).unwrap());
    /// assert_eq!(x.max_axes(&[-1], false).unwrap().value().data(), &[5.0, 6.0]);
    /// assert_eq!(x.max_axes(&[0], true).unwrap().value().data(), &[4.0, 5.0, 6.0]);
    /// assert_eq!(x.max_axes(&[0], true).unwrap().shape(), &[1, 3]);
    /// ```
    pub fn max_axes(&self, axes: &[isize], keepdim: bool) -> Result<Var<T>> {
        extremum(self, "max", axes, keepdim, Extremum::MAX_AXES)
    }

    /// Min over `axes`, as PyTorch's `amin`; NaN propagates and the gradient is
    /// [`Var::max_axes`]'s: ∂x = (g / #{x = out}) ⊙ [x = out].
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::constant(Tensor::from_vec(vec![1.0f64, 5.0, 2.0, 4.0, 0.0, 6.0], &[2, 3]).unwrap());
    /// assert_eq!(x.min_axes(&[1], false).unwrap().value().data(), &[1.0, 0.0]);
    /// ```
    pub fn min_axes(&self, axes: &[isize], keepdim: bool) -> Result<Var<T>> {
        extremum(self, "min", axes, keepdim, Extremum::MIN_AXES)
    }

    /// log Σ exp(x) over all elements, as a 0-d var, computed as
    /// m + log Σ exp(x − m) with m = max x, so large inputs do not overflow
    /// (−∞ for no elements). ∂x = g ⊙ exp(x − out).
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::constant(Tensor::from_vec(vec![1000.0f64, 1000.0], &[2]).unwrap());
    /// let y = x.logsumexp().item().unwrap();
    /// assert!((y - (1000.0 + 2f64.ln())).abs() < 1e-12);
    /// ```
    pub fn logsumexp(&self) -> Var<T> {
        let axes: Shape = (0..self.ndim()).collect();
        logsumexp_op(self, axes, false)
    }

    /// log Σ exp over `axes` (negative axes count from the end; a 0-d input takes
    /// 0 or −1; no axes means every axis), stable as [`Var::logsumexp`]; `keepdim` keeps the axes with
    /// extent 1. ∂x = g ⊙ exp(x − out), with g and out broadcast over the reduced axes.
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::constant(Tensor::<f64>::zeros(&[2, 4]));
    /// let y = x.logsumexp_axes(&[-1], false).unwrap();
    /// assert!((y.value().data()[0] - 4f64.ln()).abs() < 1e-15);
    /// ```
    pub fn logsumexp_axes(&self, axes: &[isize], keepdim: bool) -> Result<Var<T>> {
        if axes.is_empty() && self.ndim() > 0 {
            return self.logsumexp_axes(&all_axes(self.ndim()), keepdim);
        }
        if self.ndim() == 0 && !axes.is_empty() {
            shape::normalize_axes("logsumexp", axes, 1)?;
            return self.logsumexp_axes(&[], keepdim);
        }
        let axes = shape::normalize_axes("logsumexp", axes, self.ndim())?;
        let out = logsumexp_op(self, axes, keepdim);
        // A fallible call returns a forward anomaly (this op's, or one kept before).
        crate::anomaly::take_kept()?;
        Ok(out)
    }
}

fn all_axes(ndim: usize) -> Vec<isize> {
    (0..ndim as isize).collect()
}

/// Which extremum, and which of PyTorch's two gradient rules it follows.
#[derive(Clone, Copy)]
struct Extremum {
    take_max: bool,
    /// The rule of the full `max()` / `min()` (`evenly_distribute_backward`):
    /// NaN elements attain a NaN result, and g reaches the attaining elements
    /// by selection. Otherwise the rule of `amax` / `amin`: a product with
    /// `[x = out]`, under which NaN attains nothing.
    whole: bool,
}

impl Extremum {
    const MAX_WHOLE: Self = Self {
        take_max: true,
        whole: true,
    };
    const MIN_WHOLE: Self = Self {
        take_max: false,
        whole: true,
    };
    const MAX_AXES: Self = Self {
        take_max: true,
        whole: false,
    };
    const MIN_AXES: Self = Self {
        take_max: false,
        whole: false,
    };
}

/// Max or min over `axes`; see [`Var::max`] and [`Var::max_axes`].
fn extremum<T: Float>(
    x: &Var<T>,
    op: &'static str,
    axes: &[isize],
    keepdim: bool,
    kind: Extremum,
) -> Result<Var<T>> {
    if axes.is_empty() && x.ndim() > 0 {
        return extremum(x, op, &all_axes(x.ndim()), keepdim, kind);
    }
    if x.ndim() == 0 && !axes.is_empty() {
        // PyTorch lets a 0-d tensor be reduced over axis 0 or −1: the identity.
        shape::normalize_axes(op, axes, 1)?;
        return extremum(x, op, &[], keepdim, kind);
    }
    let axes = shape::normalize_axes(op, axes, x.ndim())?;
    x.with_value(|v| v.check_reducible(op, &axes))?;
    let value = x.with_value(|v| v.extremum_axes(&axes, keepdim, kind.take_max));
    let kept = keepdim_shape(x.shape(), &axes);
    Var::try_from_op(op, value, &[x], move |c: &Ctx<'_, T>| -> Result<Grads<T>> {
        // The mask and counts are piecewise constant in x, so constants here
        // give the right second derivative (0 almost everywhere).
        let extremum = c.output.value().reshape(&kept)?;
        let (mask, count) =
            c.inputs[0].with_value(|v| v.extremum_mask(&extremum, &axes, kind.whole));
        let share = c.grad.reshape(&kept)?.div(&Var::constant(count))?;
        single(if kind.whole {
            share.where_cond(&mask, &Var::scalar(T::ZERO))?
        } else {
            share.mul(&Var::constant(mask))?
        })
    })
}

/// logsumexp over normalized `axes`; see [`Var::logsumexp_axes`].
fn logsumexp_op<T: Float>(x: &Var<T>, axes: Shape, keepdim: bool) -> Var<T> {
    let value = x.with_value(|v| v.logsumexp_axes(&axes, keepdim));
    let kept = keepdim_shape(x.shape(), &axes);
    Var::from_op(
        "logsumexp",
        value,
        &[x],
        move |c: &Ctx<'_, T>| -> Result<Grads<T>> {
            // Built from the output var, so a second derivative flows through it.
            let softmax = c.inputs[0].sub(&c.output.reshape(&kept)?)?.exp();
            single(softmax.mul(&c.grad.reshape(&kept)?)?)
        },
    )
}
