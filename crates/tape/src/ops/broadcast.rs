//! broadcast_to and its adjoint sum_to: the one place where gradients of
//! broadcast operands are summed back to the operand's shape.

use super::elementwise::single;
use super::{Ctx, Grads};
use crate::error::Result;
use crate::float::Float;
use crate::shape::Shape;
use crate::var::Var;

impl<T: Float> Var<T> {
    /// Repeats along broadcast axes to `shape` (NumPy rule). ∂ = sum_to(g, shape of x).
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::constant(Tensor::<f64>::arange(2).reshape(&[2, 1]).unwrap());
    /// assert_eq!(x.broadcast_to(&[2, 3]).unwrap().value().data(), &[0.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
    /// ```
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Var<T>> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        let value = self.with_value(|v| v.broadcast_to(shape))?;
        let from: Shape = self.shape().into();
        Var::try_from_op(
            "broadcast_to",
            value,
            &[self],
            move |c: &Ctx<'_, T>| -> Result<Grads<T>> { single(c.grad.sum_to(&from)?) },
        )
    }

    /// Sums over broadcast axes down to `shape`, the shape `self` was broadcast
    /// from. ∂ = broadcast_to(g, shape of x).
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::constant(Tensor::<f64>::ones(&[2, 3]));
    /// assert_eq!(x.sum_to(&[3]).unwrap().value().data(), &[2.0, 2.0, 2.0]);
    /// ```
    pub fn sum_to(&self, shape: &[usize]) -> Result<Var<T>> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        let value = self.with_value(|v| v.sum_to(shape))?;
        let from: Shape = self.shape().into();
        Var::try_from_op(
            "sum_to",
            value,
            &[self],
            move |c: &Ctx<'_, T>| -> Result<Grads<T>> { single(c.grad.broadcast_to(&from)?) },
        )
    }
}
