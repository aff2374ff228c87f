//! The elementwise kernels of losses, as PyTorch computes them: Smooth L1 (β)
//! and Huber (δ) on the residual d = ŷ − y (each a fused forward, a fused
//! derivative op with PyTorch's backward formula and its second derivative,
//! like the activations), and binary cross-entropy on logits (PyTorch's
//! forward composition with its explicit backward formulas).

use smallvec::smallvec;

use super::activation::{activation, derivative, std_max};
use super::elementwise::mask;
use super::{Ctx, Grads};
use crate::error::Result;
use crate::float::Float;
use crate::tensor::Tensor;
use crate::var::{Var, no_grad};

impl<T: Float> Var<T> {
    /// Smooth L1 of the residual d (PyTorch's `smooth_l1_loss` elementwise):
    /// ½ d²/β where |d| < β, |d| − ½β elsewhere (β > 0). ∂ = g d/β inside,
    /// g sign(d) outside (NaN at a NaN d).
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let d = Var::constant(Tensor::from_vec(vec![0.5f64, -3.0], &[2]).unwrap());
    /// assert_eq!(d.smooth_l1(1.0).value().data(), &[0.125, 2.5]);
    /// ```
    pub fn smooth_l1(&self, beta: T) -> Var<T> {
        let half = T::from_f64(0.5);
        let f = move |d: T| {
            let z = d.abs();
            if z < beta {
                half * z * z / beta
            } else {
                z - half * beta
            }
        };
        activation(self, "smooth_l1", f, move |d| {
            clipped_slope(d, "smooth_l1_grad", beta, T::ONE / beta)
        })
    }

    /// Huber of the residual d (PyTorch's `huber_loss` elementwise): ½ d²
    /// where |d| < δ, δ (|d| − ½δ) elsewhere (δ > 0). ∂ = g d inside, g δ
    /// sign(d) outside (NaN at a NaN d).
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let d = Var::constant(Tensor::from_vec(vec![0.5f64, -3.0], &[2]).unwrap());
    /// assert_eq!(d.huber(2.0).value().data(), &[0.125, 4.0]);
    /// ```
    pub fn huber(&self, delta: T) -> Var<T> {
        let half = T::from_f64(0.5);
        let f = move |d: T| {
            let z = d.abs();
            if z < delta {
                half * z * z
            } else {
                delta * (z - half * delta)
            }
        };
        activation(self, "huber", f, move |d| {
            clipped_slope(d, "huber_grad", delta, T::ONE)
        })
    }
}

/// s · clamp(d, −edge, edge) with PyTorch's branches: −s·edge for d ≤ −edge,
/// s·edge for d ≥ edge, s·d between (and at a NaN d); its own gradient is s
/// on (−edge, edge), 0 elsewhere.
fn clipped_slope<T: Float>(d: &Var<T>, op: &'static str, edge: T, s: T) -> Var<T> {
    let df = move |d: T| {
        if d <= -edge {
            -s * edge
        } else if d >= edge {
            s * edge
        } else {
            s * d
        }
    };
    derivative(d, op, df, move |d| {
        let inside = mask(d, |v| v > -edge && v < edge);
        Ok(Var::constant(inside.map(|m| m * s)))
    })
}

impl<T: Float> Var<T> {
    /// The elementwise loss of `binary_cross_entropy_with_logits` on logits x
    /// and targets y (same shape; `pos_weight` p broadcast against them), in
    /// PyTorch's order of operations:
    ///
    /// ```text
    /// ℓ = (1 − y) x − w log σ(x),   w = (p − 1) y + 1 (w = 1 without p)
    /// ∂x = g (σ(x) − y)  or  g ((p y + 1 − y) σ(x) − p y)
    /// ∂y = −g x          or  g (log σ(−x) − p log σ(x))
    /// ```
    ///
    /// so that large logits neither overflow nor lose the loss.
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::parameter(Tensor::from_vec(vec![800.0f64, -800.0, 0.0], &[3]).unwrap());
    /// let y = Var::constant(Tensor::from_vec(vec![1.0, 1.0, 0.5], &[3]).unwrap());
    /// let loss = x.bce_with_logits(&y, None).unwrap();
    /// assert_eq!(loss.value().data(), &[0.0, 800.0, std::f64::consts::LN_2]);
    /// loss.sum().backward().unwrap();
    /// assert_eq!(x.grad().unwrap().data(), &[0.0, -1.0, 0.0]);
    /// ```
    pub fn bce_with_logits(
        &self,
        target: &Var<T>,
        pos_weight: Option<&Tensor<T>>,
    ) -> Result<Var<T>> {
        let pos_weight = pos_weight.map(|p| Var::constant(p.clone()));
        let value = no_grad(|| -> Result<Tensor<T>> {
            let mut log_sig = self.log_sigmoid();
            if let Some(p) = &pos_weight {
                let w = p.add_scalar(-T::ONE).mul(target)?.add_scalar(T::ONE);
                log_sig = log_sig.mul(&w)?;
            }
            Ok(target.rsub_scalar(T::ONE).mul(self)?.sub(&log_sig)?.value())
        })?;
        let rule = move |c: &Ctx<'_, T>| -> Result<Grads<T>> {
            let (x, y) = (&c.inputs[0], &c.inputs[1]);
            let gx = if c.needs(0) {
                let slope = match &pos_weight {
                    None => x.sigmoid().sub(y)?,
                    Some(p) => {
                        let t = p.mul(y)?;
                        t.add_scalar(T::ONE).sub(y)?.mul(&x.sigmoid())?.sub(&t)?
                    }
                };
                Some(slope.mul(c.grad)?)
            } else {
                None
            };
            let gy = if c.needs(1) {
                let slope = match &pos_weight {
                    None => x.neg(),
                    Some(p) => x.neg().log_sigmoid().sub(&x.log_sigmoid().mul(p)?)?,
                };
                Some(slope.mul(c.grad)?)
            } else {
                None
            };
            Ok(smallvec![gx, gy])
        };
        Var::try_from_op("bce_with_logits", value, &[self, target], rule)
    }
}

impl<T: Float> Var<T> {
    /// The elementwise loss of `binary_cross_entropy` on probabilities p and
    /// targets y, as PyTorch's kernel (each log clamped at −100, so p = 0 or 1
    /// gives a finite loss):
    ///
    /// ```text
    /// ℓ = (y − 1) max(ln(1 − p), −100) − y max(ln p, −100)
    /// ∂p = g (p − y) / max(p (1 − p), ε),  ε = 1e-12 (as f32, PyTorch's EPSILON)
    /// ∂y = g (ln(1 − p) − ln p)
    /// ```
    ///
    /// The ranges are not checked here (nn's `binary_cross_entropy` refuses
    /// values outside [0, 1], as PyTorch).
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let p = Var::constant(Tensor::from_vec(vec![0.0f64, 0.5], &[2]).unwrap());
    /// let y = Var::constant(Tensor::from_vec(vec![1.0, 1.0], &[2]).unwrap());
    /// assert_eq!(p.bce(&y).unwrap().value().data(), &[100.0, std::f64::consts::LN_2]);
    /// ```
    pub fn bce(&self, target: &Var<T>) -> Result<Var<T>> {
        let floor = T::from_f64(-100.0);
        let f = move |p: T, y: T| {
            let log_q = std_max((-p).ln_1p(), floor);
            let log_p = std_max(p.ln(), floor);
            (y - T::ONE) * log_q - y * log_p
        };
        let value = self.with_value(|p| target.with_value(|y| p.zip_with(y, "bce", f)))?;
        let rule = |c: &Ctx<'_, T>| -> Result<Grads<T>> {
            let (p, y) = (&c.inputs[0], &c.inputs[1]);
            let gp = if c.needs(0) {
                let eps = Var::scalar(T::from_f64(f64::from(1e-12f32)));
                let spread = p.mul(&p.rsub_scalar(T::ONE))?.maximum(&eps)?;
                Some(c.grad.mul(&p.sub(y)?)?.div(&spread)?)
            } else {
                None
            };
            let gy = if c.needs(1) {
                let log_odds = p.rsub_scalar(T::ONE).log().sub(&p.log())?;
                Some(c.grad.mul(&log_odds)?)
            } else {
                None
            };
            Ok(smallvec![gp, gy])
        };
        Var::try_from_op("bce", value, &[self, target], rule)
    }
}
