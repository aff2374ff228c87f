//! Binary cross-entropy, on probabilities and on logits.

use tapegrad_tape::{Float, TapeError, Tensor, Var};

use super::{Reduction, reduce, same_shape};
use crate::error::{NnError, Result};

/// The options of [`binary_cross_entropy_with_logits`]; `Default` is
/// PyTorch's (no weights, mean).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BceWithLogitsOptions<T: Float> {
    /// A weight per element, broadcast against the input.
    pub weight: Option<Tensor<T>>,
    /// The weight p of the positive term, broadcast against the input (one per
    /// class as the last axis, as PyTorch's `pos_weight`).
    pub pos_weight: Option<Tensor<T>>,
    /// How the elements are combined.
    pub reduction: Reduction,
}

/// Binary cross-entropy of targets y ∈ [0, 1] and the sigmoid of logits x, as
/// `torch.nn.functional.binary_cross_entropy_with_logits`:
///
/// ```text
/// ℓ_i = w_i [ −p y_i log σ(x_i) − (1 − y_i) log(1 − σ(x_i)) ]
///     = w_i [ (1 − y_i) x_i − (1 + (p − 1) y_i) log σ(x_i) ]
/// ```
///
/// computed with the stable log σ, so logits of any size give the right loss
/// (σ is never formed and then logged), and the gradient w (σ(x) − y) as
/// PyTorch's (with p: w ((p y + 1 − y) σ(x) − p y)). The target must have the
/// input's shape.
///
/// ```
/// use tapegrad_nn::{binary_cross_entropy_with_logits, BceWithLogitsOptions};
/// use tapegrad_tape::{Tensor, Var};
/// let x = Var::parameter(Tensor::from_vec(vec![100.0f64, -100.0], &[2]).unwrap());
/// let y = Var::constant(Tensor::from_vec(vec![0.0, 0.0], &[2]).unwrap());
/// let loss = binary_cross_entropy_with_logits(&x, &y, &BceWithLogitsOptions::default()).unwrap();
/// assert!((loss.item().unwrap() - 50.0).abs() < 1e-12); // (100 + 0) / 2
/// ```
pub fn binary_cross_entropy_with_logits<T: Float>(
    input: &Var<T>,
    target: &Var<T>,
    options: &BceWithLogitsOptions<T>,
) -> Result<Var<T>> {
    const OP: &str = "binary_cross_entropy_with_logits";
    same_shape(OP, input.shape(), target.shape())?;
    let loss = input.bce_with_logits(target, options.pos_weight.as_ref())?;
    same_shape(
        "binary_cross_entropy_with_logits (pos_weight)",
        input.shape(),
        loss.shape(),
    )?;
    let loss = weighted(OP, loss, options.weight.as_ref(), input.shape())?;
    Ok(reduce(
        loss,
        options.reduction,
        T::from_usize(input.numel()),
    ))
}

/// `loss ⊙ weight`, refused when the weight does not broadcast to `shape`.
fn weighted<T: Float>(
    op: &'static str,
    loss: Var<T>,
    weight: Option<&Tensor<T>>,
    shape: &[usize],
) -> Result<Var<T>> {
    let Some(w) = weight else {
        return Ok(loss);
    };
    let out = loss.mul(&Var::constant(w.clone()))?;
    if out.shape() != shape {
        return Err(TapeError::ShapeMismatch {
            op,
            lhs: shape.into(),
            rhs: w.shape().into(),
        }
        .into());
    }
    Ok(out)
}

/// Binary cross-entropy of targets y and probabilities p, as
/// `torch.nn.functional.binary_cross_entropy`:
///
/// ```text
/// ℓ_i = −w_i [ y_i max(ln p_i, −100) + (1 − y_i) max(ln(1 − p_i), −100) ]
/// ```
///
/// with PyTorch's gradient w (p − y) / max(p (1 − p), 1e-12). Every p and y
/// must lie in [0, 1] (NaN included in the refusal), as PyTorch checks;
/// `weight` is broadcast against the input. Prefer
/// [`binary_cross_entropy_with_logits`] on logits: it needs no clamp.
///
/// ```
/// use tapegrad_nn::{binary_cross_entropy, Reduction};
/// use tapegrad_tape::{Tensor, Var};
/// let p = Var::constant(Tensor::from_vec(vec![0.5f64, 1.0], &[2]).unwrap());
/// let y = Var::constant(Tensor::from_vec(vec![1.0, 0.0], &[2]).unwrap());
/// let loss = binary_cross_entropy(&p, &y, None, Reduction::None).unwrap();
/// assert_eq!(loss.value().data(), &[std::f64::consts::LN_2, 100.0]);
/// let bad = Var::constant(Tensor::from_vec(vec![1.5f64, 0.0], &[2]).unwrap());
/// assert!(binary_cross_entropy(&bad, &y, None, Reduction::Mean).is_err());
/// ```
pub fn binary_cross_entropy<T: Float>(
    input: &Var<T>,
    target: &Var<T>,
    weight: Option<&Tensor<T>>,
    reduction: Reduction,
) -> Result<Var<T>> {
    const OP: &str = "binary_cross_entropy";
    same_shape(OP, input.shape(), target.shape())?;
    for (name, v) in [("input", input), ("target", target)] {
        let outside = v.with_value(|t| {
            t.data()
                .iter()
                .copied()
                .find(|&x| !(x >= T::ZERO && x <= T::ONE))
        });
        if let Some(x) = outside {
            return Err(NnError::InvalidArgument {
                op: OP,
                name,
                value: x.to_string(),
                reason: format!("all elements of {name} should be between 0 and 1"),
            });
        }
    }
    let loss = weighted(OP, input.bce(target)?, weight, input.shape())?;
    Ok(reduce(loss, reduction, T::from_usize(input.numel())))
}
