//! The elementwise kernels of the robust regression losses, on the residual
//! d = ŷ − y, as PyTorch computes them: Smooth L1 (β) and Huber (δ). Each is a
//! fused forward, a fused derivative op (PyTorch's backward formula) and its
//! second derivative, like the activations.

use super::activation::{activation, derivative};
use super::elementwise::mask;
use crate::float::Float;
use crate::var::Var;

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
