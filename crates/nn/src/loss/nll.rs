//! Negative log-likelihood of given log-probabilities.

use smallvec::smallvec;
use tapegrad_tape::{Ctx, Float, Grads, Tensor, Var};

use super::{
    Reduction, batch_and_classes, check_class_weight, checked_targets, class_weight, mean_divisor,
    reduce,
};
use crate::error::Result;

/// Options of [`nll_loss`], PyTorch's keyword arguments.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NllLossOptions<T: Float> {
    /// How the per-sample losses are combined (default: the weighted mean).
    pub reduction: Reduction,
    /// A weight per class, shape `[K]` (default: all 1).
    pub weight: Option<Tensor<T>>,
    /// A target value whose samples contribute nothing.
    pub ignore_index: Option<usize>,
}

/// Negative log-likelihood of log-probabilities [N, K] (a log-softmax output)
/// at class indices `[N]`, as `torch.nn.functional.nll_loss`:
///
/// ```text
/// ℓ_n = −w[y_n] x[n, y_n]   (0 for an ignored sample)
/// Mean: Σ ℓ_n / Σ_{n not ignored} w[y_n];  Sum: Σ ℓ_n;  None: ℓ
/// ```
///
/// Only the picked entries are read, so −∞ elsewhere (a zero probability) is
/// harmless. The gradient is `∂ℓ_n/∂x[n, c] = −w[y_n]` at `c = y_n`, 0 elsewhere.
///
/// ```
/// use tapegrad_nn::{nll_loss, NllLossOptions};
/// use tapegrad_tape::{Tensor, Var};
/// let logp = Var::constant(Tensor::from_vec(vec![-0.1f64, f64::NEG_INFINITY, -2.0, -0.5], &[2, 2]).unwrap());
/// let loss = nll_loss(&logp, &[0, 1], &NllLossOptions::default()).unwrap();
/// assert_eq!(loss.item().unwrap(), (0.1 + 0.5) / 2.0);
/// ```
pub fn nll_loss<T: Float>(
    log_probs: &Var<T>,
    targets: &[usize],
    opts: &NllLossOptions<T>,
) -> Result<Var<T>> {
    const OP: &str = "nll_loss";
    let (_, k) = batch_and_classes(OP, log_probs, targets)?;
    let classes_of = checked_targets(OP, targets, k, opts.ignore_index)?;
    let weight = opts.weight.as_ref();
    check_class_weight(OP, weight, k)?;
    let sample_weights: Vec<T> = classes_of
        .iter()
        .map(|class| class.map_or(T::ZERO, |y| -class_weight(weight, y)))
        .collect();
    let sample_weights = Var::constant(Tensor::from_vec(sample_weights, &[classes_of.len()])?);
    let per_sample = pick_targets(log_probs, &classes_of)?.mul(&sample_weights)?;
    Ok(reduce(
        per_sample,
        opts.reduction,
        mean_divisor(&classes_of, weight),
    ))
}

/// out[n] = x[n, y_n] (0 where y_n is `None`). ∂/∂x = g[n] at (n, y_n), else
/// exactly 0 (a selection by a constant one-hot mask, so an infinite g of an
/// ignored sample stays out, as PyTorch); differentiable again.
fn pick_targets<T: Float>(x: &Var<T>, classes_of: &[Option<usize>]) -> Result<Var<T>> {
    let (n, k) = (x.shape()[0], x.shape()[1]);
    let mut one_hot = vec![T::ZERO; n * k];
    for (i, class) in classes_of.iter().enumerate() {
        if let Some(y) = class {
            one_hot[i * k + y] = T::ONE;
        }
    }
    let picked = x.with_value(|v| {
        let data = v.data();
        classes_of
            .iter()
            .enumerate()
            .map(|(i, class)| class.map_or(T::ZERO, |y| data[i * k + y]))
            .collect::<Vec<T>>()
    });
    let one_hot = Tensor::from_vec(one_hot, &[n, k])?;
    Ok(Var::try_from_op(
        "nll_loss (pick targets)",
        Tensor::from_vec(picked, &[n])?,
        &[x],
        move |c: &Ctx<'_, T>| -> tapegrad_tape::Result<Grads<T>> {
            let g = c.grad.reshape(&[n, 1])?;
            Ok(smallvec![Some(
                g.where_cond(&one_hot, &Var::scalar(T::ZERO))?
            )])
        },
    )?)
}
