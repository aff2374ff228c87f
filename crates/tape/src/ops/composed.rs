//! The higher-order rule of a fused op: its gradient differentiated through
//! the same function written in `Var` ops.
//!
//! A fused op computes its value and its first-order gradient in a few tight
//! loops. When a differentiable gradient is asked for (`create_graph`), its
//! rule calls [`composed_vjp`] instead: the composition is rebuilt on aliases
//! of the op's inputs and its vector-Jacobian product is taken with
//! [`grad`](crate::grad) under recording, so every order differentiates again.
//! The aliases are created after everything the inputs depend on, so the walk
//! stops at them and gives the partial derivatives of the composition, never a
//! path through the inputs' own history.

use super::elementwise::single;
use super::{Ctx, Grads, OutputNotRead};
use crate::engine::{GradOptions, grad};
use crate::error::Result;
use crate::float::Float;
use crate::var::{Var, with_grad_mode};

/// `x` again as a new node whose gradient is passed through unchanged.
pub(crate) fn alias<T: Float>(x: &Var<T>) -> Var<T> {
    let rule = OutputNotRead(|c: &Ctx<'_, T>| single(c.grad.clone()));
    Var::from_op("alias", x.value(), &[x], rule)
}

/// The gradients of `⟨c.grad, composed(c.inputs)⟩` for the inputs that need
/// one, recorded so that they can be differentiated again. `composed` must
/// compute the fused op's value from its inputs with `Var` ops.
pub(crate) fn composed_vjp<T: Float>(
    c: &Ctx<'_, T>,
    composed: impl Fn(&[Var<T>]) -> Result<Var<T>>,
) -> Result<Grads<T>> {
    with_grad_mode(true, || {
        let aliases: Vec<Var<T>> = c.inputs.iter().map(alias).collect();
        let value = composed(&aliases)?;
        let wanted: Vec<usize> = (0..aliases.len()).filter(|&i| c.needs(i)).collect();
        let targets: Vec<Var<T>> = wanted.iter().map(|&i| aliases[i].clone()).collect();
        let opts = GradOptions {
            create_graph: true,
            retain_graph: true,
            allow_unused: true,
        };
        let found = grad(&[value], &targets, Some(&[c.grad.clone()]), opts)?;
        let mut grads: Grads<T> = (0..aliases.len()).map(|_| None).collect();
        for (i, g) in wanted.into_iter().zip(found) {
            grads[i] = g;
        }
        Ok(grads)
    })
}
