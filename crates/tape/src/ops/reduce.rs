//! Reductions: sums and means over all elements or given axes.

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

    /// Σ over `axes` (negative axes count from the end); `keepdim` keeps them with
    /// extent 1. ∂ = g (reshaped to keep the axes) broadcast to the input's shape.
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::constant(Tensor::<f64>::arange(6).reshape(&[2, 3]).unwrap());
    /// assert_eq!(x.sum_axes(&[-1], false).unwrap().value().data(), &[3.0, 12.0]);
    /// assert_eq!(x.sum_axes(&[0], true).unwrap().shape(), &[1, 3]);
    /// ```
    pub fn sum_axes(&self, axes: &[isize], keepdim: bool) -> Result<Var<T>> {
        let axes = shape::normalize_axes("sum", axes, self.ndim())?;
        let value = self.with_value(|v| v.sum_axes(&axes, keepdim));
        let from: Shape = self.shape().into();
        let kept = keepdim_shape(&from, &axes);
        Ok(Var::from_op(
            "sum_axes",
            value,
            &[self],
            move |c: &Ctx<'_, T>| -> Result<Grads<T>> {
                single(c.grad.reshape(&kept)?.broadcast_to(&from)?)
            },
        ))
    }

    /// Arithmetic mean of all elements: sum / n.
    pub fn mean(&self) -> Var<T> {
        let n = T::from_usize(self.numel());
        self.sum().mul_scalar(T::ONE / n)
    }

    /// Mean over `axes`: sum over them divided by the number of elements summed.
    pub fn mean_axes(&self, axes: &[isize], keepdim: bool) -> Result<Var<T>> {
        let normalized = shape::normalize_axes("mean", axes, self.ndim())?;
        let count: usize = normalized.iter().map(|&a| self.shape()[a]).product();
        Ok(self
            .sum_axes(axes, keepdim)?
            .mul_scalar(T::ONE / T::from_usize(count)))
    }

    /// The same elements under another shape with as many elements. ∂ = g reshaped back.
    pub fn reshape(&self, shape: &[usize]) -> Result<Var<T>> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        let value = self.with_value(|v| v.reshape(shape))?;
        let from: Shape = self.shape().into();
        Ok(Var::from_op(
            "reshape",
            value,
            &[self],
            move |c: &Ctx<'_, T>| -> Result<Grads<T>> { single(c.grad.reshape(&from)?) },
        ))
    }
}
