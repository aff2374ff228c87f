//! softmax and log_softmax along an axis.
//!
//! Both are fused ops with their own rules rather than compositions of exp, sum
//! and div: the composition `exp(x) / Σ exp(x)` overflows to inf/inf = NaN for
//! logits near 1e3 (in f64; near 90 in f32), and `log(softmax(x))` gives
//! log(0) = −∞ for a probability that underflows. The fused forward subtracts
//! each lane's max first, and log_softmax never takes the log of a probability,
//! so both stay finite for any finite logits. The rules, written with `Var` ops on
//! the output, avoid storing the intermediate exponentials and stay differentiable.

use super::elementwise::single;
use super::{Ctx, Grads};
use crate::error::Result;
use crate::float::Float;
use crate::shape::normalize_axis;
use crate::var::Var;

impl<T: Float> Var<T> {
    /// softmax along `axis` (negative counts from the end; a 0-d input takes 0
    /// or −1): out = exp(x − m) / Σ_axis exp(x − m) with m the lane's max.
    /// ∂x = out ⊙ (g − Σ_axis(g ⊙ out)).
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::constant(Tensor::from_vec(vec![1000.0f64, 1000.0, -1000.0], &[3]).unwrap());
    /// let p = x.softmax(0).unwrap().value();
    /// assert_eq!(p.data(), &[0.5, 0.5, 0.0]); // no overflow to NaN
    /// ```
    pub fn softmax(&self, axis: isize) -> Result<Var<T>> {
        fused(self, "softmax", axis, false)
    }

    /// log softmax along `axis`: out = x − m − log Σ_axis exp(x − m), with m the
    /// lane's max. ∂x = g − softmax ⊙ Σ_axis g, with softmax = exp(out).
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::constant(Tensor::from_vec(vec![0.0f64, 1000.0], &[1, 2]).unwrap());
    /// let lp = x.log_softmax(-1).unwrap().value();
    /// assert_eq!(lp.data(), &[-1000.0, 0.0]); // finite, where log(softmax) gives −∞
    /// ```
    pub fn log_softmax(&self, axis: isize) -> Result<Var<T>> {
        fused(self, "log_softmax", axis, true)
    }
}

/// softmax (`log` false) or log_softmax (`log` true) as one op.
fn fused<T: Float>(x: &Var<T>, op: &'static str, axis: isize, log: bool) -> Result<Var<T>> {
    if x.ndim() == 0 {
        // PyTorch treats a 0-d tensor as having the one axis 0 (or −1).
        normalize_axis(op, axis, 1)?;
        return fused(&x.reshape(&[1])?, op, 0, log)?.reshape(&[]);
    }
    let ax = normalize_axis(op, axis, x.ndim())?;
    let value = x.with_value(|v| v.softmax_kernel(ax, log));
    let lane = [ax as isize];
    if log {
        Var::try_from_op(op, value, &[x], move |c: &Ctx<'_, T>| -> Result<Grads<T>> {
            let softmax = c.output.exp();
            let total = c.grad.sum_axes(&lane, true)?;
            single(c.grad.sub(&softmax.mul(&total)?)?)
        })
    } else {
        Var::try_from_op(op, value, &[x], move |c: &Ctx<'_, T>| -> Result<Grads<T>> {
            let out = c.output;
            let dot = c.grad.mul(out)?.sum_axes(&lane, true)?;
            single(out.mul(&c.grad.sub(&dot)?)?)
        })
    }
}
