//! The robust regression losses (L1, Smooth L1, Huber) and the Kullback–Leibler
//! divergence, as PyTorch's.

use tapegrad_tape::{Float, Var};

use super::{Reduction, reduce, same_shape};
use crate::error::{NnError, Result};

fn refuse(op: &'static str, name: &'static str, value: f64, reason: &str) -> NnError {
    NnError::InvalidArgument {
        op,
        name,
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// Mean absolute error, as `torch.nn.functional.l1_loss`:
///
/// ```text
/// ℓ_i = |ŷ_i − y_i|;  Mean: (1/n) Σ ℓ_i;  Sum: Σ ℓ_i;  None: ℓ
/// ```
///
/// ∂ℓ_i/∂ŷ_i = sign(ŷ_i − y_i), 0 where they are equal.
///
/// ```
/// use tapegrad_nn::{l1_loss, Reduction};
/// use tapegrad_tape::{Tensor, Var};
/// let pred = Var::constant(Tensor::from_vec(vec![1.0f64, 2.0], &[2]).unwrap());
/// let target = Var::constant(Tensor::from_vec(vec![0.0, 4.0], &[2]).unwrap());
/// assert_eq!(l1_loss(&pred, &target, Reduction::Mean).unwrap().item().unwrap(), 1.5);
/// ```
pub fn l1_loss<T: Float>(pred: &Var<T>, target: &Var<T>, reduction: Reduction) -> Result<Var<T>> {
    same_shape("l1_loss", pred.shape(), target.shape())?;
    let per_element = pred.sub(target)?.abs();
    Ok(reduce(per_element, reduction, T::from_usize(pred.numel())))
}

/// Smooth L1, as `torch.nn.functional.smooth_l1_loss` (β ≥ 0, PyTorch's
/// default 1): with d = ŷ − y,
///
/// ```text
/// ℓ_i = ½ d_i² / β  if |d_i| < β,  |d_i| − ½ β  otherwise   (β = 0: |d_i|)
/// ```
///
/// ```
/// use tapegrad_nn::{smooth_l1_loss, Reduction};
/// use tapegrad_tape::{Tensor, Var};
/// let pred = Var::constant(Tensor::from_vec(vec![0.5f64, 3.0], &[2]).unwrap());
/// let zero = Var::constant(Tensor::zeros(&[2]));
/// assert_eq!(smooth_l1_loss(&pred, &zero, 1.0, Reduction::Sum).unwrap().item().unwrap(), 0.125 + 2.5);
/// assert!(smooth_l1_loss(&pred, &zero, -1.0, Reduction::Sum).is_err());
/// ```
pub fn smooth_l1_loss<T: Float>(
    pred: &Var<T>,
    target: &Var<T>,
    beta: f64,
    reduction: Reduction,
) -> Result<Var<T>> {
    const OP: &str = "smooth_l1_loss";
    if beta.is_nan() || beta < 0.0 {
        return Err(refuse(OP, "beta", beta, "must be >= 0, as PyTorch's"));
    }
    same_shape(OP, pred.shape(), target.shape())?;
    if beta == 0.0 {
        return l1_loss(pred, target, reduction);
    }
    let per_element = pred.sub(target)?.smooth_l1(T::from_f64(beta));
    Ok(reduce(per_element, reduction, T::from_usize(pred.numel())))
}

/// Huber, as `torch.nn.functional.huber_loss` (δ > 0, PyTorch's default 1):
/// with d = ŷ − y,
///
/// ```text
/// ℓ_i = ½ d_i²  if |d_i| < δ,  δ (|d_i| − ½ δ)  otherwise
/// ```
///
/// (δ times Smooth L1 with β = δ.)
///
/// ```
/// use tapegrad_nn::{huber_loss, Reduction};
/// use tapegrad_tape::{Tensor, Var};
/// let pred = Var::constant(Tensor::from_vec(vec![0.5f64, 3.0], &[2]).unwrap());
/// let zero = Var::constant(Tensor::zeros(&[2]));
/// assert_eq!(huber_loss(&pred, &zero, 2.0, Reduction::None).unwrap().value().data(), &[0.125, 4.0]);
/// ```
pub fn huber_loss<T: Float>(
    pred: &Var<T>,
    target: &Var<T>,
    delta: f64,
    reduction: Reduction,
) -> Result<Var<T>> {
    const OP: &str = "huber_loss";
    if delta.is_nan() || delta <= 0.0 {
        return Err(refuse(OP, "delta", delta, "must be > 0, as PyTorch's"));
    }
    same_shape(OP, pred.shape(), target.shape())?;
    let per_element = pred.sub(target)?.huber(T::from_f64(delta));
    Ok(reduce(per_element, reduction, T::from_usize(pred.numel())))
}

/// How [`kl_div`] combines its terms (PyTorch's `reduction` of `kl_div`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KlReduction {
    /// One term per element.
    None,
    /// The sum over the elements divided by the batch size (the first axis):
    /// the divergence of the distributions, averaged over the batch.
    BatchMean,
    /// The sum.
    Sum,
    /// The mean over all elements (PyTorch's default, which it warns is not the
    /// divergence; `BatchMean` is).
    #[default]
    Mean,
}

/// The Kullback–Leibler divergence of the target from the input's
/// distribution, as `torch.nn.functional.kl_div`; the input holds log
/// probabilities, the target probabilities (or log probabilities with
/// `log_target`):
///
/// ```text
/// ℓ_i = y_i (ln y_i − x_i), 0 where y_i = 0      ℓ_i = e^(y_i) (y_i − x_i)  (log_target)
/// ```
///
/// ```
/// use tapegrad_nn::{kl_div, KlReduction};
/// use tapegrad_tape::{Tensor, Var};
/// let log_p = Var::constant(Tensor::from_vec(vec![0.5f64.ln(), 0.5f64.ln()], &[1, 2]).unwrap());
/// let q = Var::constant(Tensor::from_vec(vec![1.0, 0.0], &[1, 2]).unwrap());
/// let kl = kl_div(&log_p, &q, KlReduction::BatchMean, false).unwrap().item().unwrap();
/// assert!((kl - 2.0f64.ln()).abs() < 1e-15);
/// ```
pub fn kl_div<T: Float>(
    input: &Var<T>,
    target: &Var<T>,
    reduction: KlReduction,
    log_target: bool,
) -> Result<Var<T>> {
    same_shape("kl_div", input.shape(), target.shape())?;
    let per_element = if log_target {
        target.exp().mul(&target.sub(input)?)?
    } else {
        target.xlogy(target)?.sub(&target.mul(input)?)?
    };
    Ok(match reduction {
        KlReduction::None => per_element,
        KlReduction::Sum => per_element.sum(),
        KlReduction::Mean => per_element.sum().div_scalar(T::from_usize(input.numel())),
        KlReduction::BatchMean => {
            let batch = input.shape().first().copied().unwrap_or(1);
            per_element.sum().div_scalar(T::from_usize(batch))
        }
    })
}
