//! Losses (the lecture's ξ) and the regularization term, as functions of vars.

mod binary;
mod cross_entropy;
mod nll;
mod regression;
mod robust;

pub use binary::{BceWithLogitsOptions, binary_cross_entropy, binary_cross_entropy_with_logits};
pub use cross_entropy::{CrossEntropyOptions, cross_entropy, cross_entropy_with};
pub use nll::{NllLossOptions, nll_loss};
pub use regression::{l2_regularization, mse_loss};
pub use robust::{KlReduction, huber_loss, kl_div, l1_loss, smooth_l1_loss};

use tapegrad_tape::{Float, TapeError, Tensor, Var};

use crate::error::{NnError, Result};

/// How per-sample losses are combined, as PyTorch's `reduction` argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reduction {
    /// No reduction: one loss per sample (shape `[N]`, or the input's shape for mse).
    None,
    /// The (weighted) mean; PyTorch's default.
    #[default]
    Mean,
    /// The sum.
    Sum,
}

/// (N, K) of a [N, K] input to a classification loss.
fn batch_and_classes<T: Float>(
    op: &'static str,
    x: &Var<T>,
    targets: &[usize],
) -> Result<(usize, usize)> {
    if x.ndim() != 2 {
        return Err(TapeError::InvalidShape {
            op,
            shape: x.shape().into(),
            reason: "the input must be [N, K] (batch, classes)".into(),
        }
        .into());
    }
    let (n, k) = (x.shape()[0], x.shape()[1]);
    if k == 0 {
        return Err(TapeError::InvalidShape {
            op,
            shape: x.shape().into(),
            reason: "there must be at least one class".into(),
        }
        .into());
    }
    if targets.len() != n {
        return Err(NnError::InvalidArgument {
            op,
            name: "targets",
            value: format!("{} targets", targets.len()),
            reason: format!("the input {:?} holds {n} samples", x.shape()),
        });
    }
    Ok((n, k))
}

/// The class of each sample, or `None` for a sample whose target is the ignored
/// index. Errors on the first target outside 0..K.
fn checked_targets(
    op: &'static str,
    targets: &[usize],
    classes: usize,
    ignore_index: Option<usize>,
) -> Result<Vec<Option<usize>>> {
    targets
        .iter()
        .enumerate()
        .map(|(position, &target)| {
            if Some(target) == ignore_index {
                Ok(None)
            } else if target >= classes {
                Err(NnError::TargetOutOfRange {
                    op,
                    position,
                    target,
                    classes,
                })
            } else {
                Ok(Some(target))
            }
        })
        .collect()
}

/// Checks that class weights, if given, are a [K] tensor.
fn check_class_weight<T: Float>(
    op: &'static str,
    weight: Option<&Tensor<T>>,
    classes: usize,
) -> Result<()> {
    match weight {
        Some(w) if w.shape() != [classes] => Err(NnError::InvalidArgument {
            op,
            name: "weight",
            value: format!("shape {:?}", w.shape()),
            reason: format!("one weight per class is needed, [{classes}]"),
        }),
        _ => Ok(()),
    }
}

/// w[c], or 1 without weights.
fn class_weight<T: Float>(weight: Option<&Tensor<T>>, class: usize) -> T {
    weight.map_or(T::ONE, |w| w.data()[class])
}

/// The divisor of the mean reduction: Σ w[y_n] over the samples not ignored
/// (their count without weights), as PyTorch.
fn mean_divisor<T: Float>(classes_of: &[Option<usize>], weight: Option<&Tensor<T>>) -> T {
    classes_of
        .iter()
        .flatten()
        .map(|&y| class_weight(weight, y))
        .sum()
}

/// Applies `reduction` to per-sample losses [N].
fn reduce<T: Float>(per_sample: Var<T>, reduction: Reduction, divisor: T) -> Var<T> {
    match reduction {
        Reduction::None => per_sample,
        Reduction::Sum => per_sample.sum(),
        Reduction::Mean => per_sample.sum().div_scalar(divisor),
    }
}

/// Refuses shapes that differ, naming `op` (PyTorch would broadcast them,
/// with a warning).
fn same_shape(op: &'static str, a: &[usize], b: &[usize]) -> Result<()> {
    if a == b {
        return Ok(());
    }
    Err(TapeError::ShapeMismatch {
        op,
        lhs: a.into(),
        rhs: b.into(),
    }
    .into())
}
