//! Mean squared error and the L2 regularization term.

use tapegrad_tape::{Float, Var};

use super::{Reduction, reduce, same_shape};
use crate::error::{NnError, Result};

/// Squared error between a prediction and a target of the same shape, as
/// `torch.nn.functional.mse_loss`:
///
/// ```text
/// ℓ_i = (ŷ_i − y_i)²;  Mean: (1/n) Σ ℓ_i;  Sum: Σ ℓ_i;  None: ℓ
/// ```
///
/// Both arguments are differentiated (the target may be a parameter too).
/// Unlike PyTorch, shapes that differ are an error rather than broadcast.
///
/// ```
/// use tapegrad_nn::{mse_loss, Reduction};
/// use tapegrad_tape::{Tensor, Var};
/// let pred = Var::parameter(Tensor::from_vec(vec![1.0f64, 2.0], &[2]).unwrap());
/// let target = Var::constant(Tensor::from_vec(vec![0.0, 4.0], &[2]).unwrap());
/// let loss = mse_loss(&pred, &target, Reduction::Mean).unwrap();
/// assert_eq!(loss.item().unwrap(), 2.5);
/// loss.backward().unwrap();
/// assert_eq!(pred.grad().unwrap().data(), &[1.0, -2.0]); // 2 (ŷ − y) / n
/// ```
pub fn mse_loss<T: Float>(pred: &Var<T>, target: &Var<T>, reduction: Reduction) -> Result<Var<T>> {
    same_shape("mse_loss", pred.shape(), target.shape())?;
    let diff = pred.sub(target)?;
    let squared = diff.mul(&diff)?;
    Ok(reduce(squared, reduction, T::from_usize(pred.numel())))
}

/// The lecture's regularization term θᵀθ / (2C) over all the given parameters
/// (C > 0; a larger C regularizes less). Its gradient θ/C is what SGD's
/// `weight_decay = 1/C` adds.
///
/// ```
/// use tapegrad_nn::l2_regularization;
/// use tapegrad_tape::{Tensor, Var};
/// let w = Var::parameter(Tensor::from_vec(vec![3.0f64, 4.0], &[2]).unwrap());
/// let r = l2_regularization(&[w.clone()], 5.0).unwrap();
/// assert_eq!(r.item().unwrap(), 25.0 / 10.0);
/// r.backward().unwrap();
/// let g = w.grad().unwrap();
/// assert!((g.data()[0] - 0.6).abs() < 1e-15 && (g.data()[1] - 0.8).abs() < 1e-15); // θ / C
/// ```
pub fn l2_regularization<T: Float>(params: &[Var<T>], c: T) -> Result<Var<T>> {
    if !(c > T::ZERO && c.is_finite()) {
        return Err(NnError::InvalidArgument {
            op: "l2_regularization",
            name: "C",
            value: c.to_string(),
            reason: "must be positive and finite".into(),
        });
    }
    let mut total = Var::scalar(T::ZERO);
    for p in params {
        total = total.add(&p.mul(p)?.sum())?;
    }
    Ok(total.mul_scalar(T::ONE / (T::from_f64(2.0) * c)))
}
