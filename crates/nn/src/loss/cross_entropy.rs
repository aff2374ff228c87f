//! Cross-entropy on logits, fused with the log-softmax for stability.
//!
//! Fused rather than composed: log(softmax(z)) built from exp, sum and log
//! overflows for logits of magnitude ~100 and loses the small probabilities; the
//! fused forward subtracts the row maximum first, and the rule below differentiates
//! the same stable expression.

use smallvec::smallvec;
use tapegrad_tape::{Ctx, Float, Grads, Tensor, Var};

use super::{
    Reduction, batch_and_classes, check_class_weight, checked_targets, class_weight, mean_divisor,
};
use crate::error::{NnError, Result};

/// Options of [`cross_entropy_with`], PyTorch's keyword arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct CrossEntropyOptions<T: Float> {
    /// How the per-sample losses are combined (default: the weighted mean).
    pub reduction: Reduction,
    /// A weight per class, shape `[K]` (default: all 1).
    pub weight: Option<Tensor<T>>,
    /// ε ∈ [0, 1]: the target becomes (1 − ε) one-hot + ε/K uniform (default 0).
    pub label_smoothing: T,
    /// A target value whose samples contribute nothing (PyTorch's default −100
    /// cannot be a `usize`; `None` ignores nothing).
    pub ignore_index: Option<usize>,
}

impl<T: Float> Default for CrossEntropyOptions<T> {
    fn default() -> Self {
        Self {
            reduction: Reduction::Mean,
            weight: None,
            label_smoothing: T::ZERO,
            ignore_index: None,
        }
    }
}

/// Mean cross-entropy of logits [N, K] against class indices `[N]`, as
/// `torch.nn.functional.cross_entropy(logits, targets)`:
///
/// ```text
/// log p[n, c] = z[n, c] − m_n − log Σ_c' exp(z[n, c'] − m_n),   m_n = max_c z[n, c]
/// ξ = (1/N) Σ_n −log p[n, y_n]
/// ```
///
/// Stable for any finite logits (the maximum is subtracted), and differentiable
/// twice. Non-finite logits behave as in PyTorch: a row holding NaN or +∞, or
/// only −∞, gives a NaN loss and NaN gradients in that row; −∞ at the target
/// gives +∞ with a finite gradient; −∞ elsewhere is a zero probability.
/// Errors name the first target outside 0..K.
///
/// ```
/// use tapegrad_nn::cross_entropy;
/// use tapegrad_tape::{Tensor, Var};
/// let z = Var::parameter(Tensor::from_vec(vec![0.0f64, 0.0, 1000.0, 0.0], &[2, 2]).unwrap());
/// let loss = cross_entropy(&z, &[0, 1]).unwrap();
/// // row 0: log 2; row 1: −log p[1, 1] = 1000 (no overflow)
/// assert!((loss.item().unwrap() - (2f64.ln() + 1000.0) / 2.0).abs() < 1e-12);
/// loss.backward().unwrap();
/// // ∂ξ/∂z = (softmax(z) − onehot(y)) / N
/// assert_eq!(z.grad().unwrap().data(), &[-0.25, 0.25, 0.5, -0.5]);
/// ```
pub fn cross_entropy<T: Float>(logits: &Var<T>, targets: &[usize]) -> Result<Var<T>> {
    cross_entropy_with(logits, targets, &CrossEntropyOptions::default())
}

/// Cross-entropy with PyTorch's options: class weights w, label smoothing ε,
/// an ignored index and the reduction. For a sample not ignored,
///
/// ```text
/// ℓ_n = (1 − ε) w[y_n] (−log p[n, y_n]) + (ε/K) Σ_c w[c] (−log p[n, c])
/// ```
///
/// (w = 1 without weights); an ignored sample has ℓ_n = 0 and a zero gradient
/// (NaN only where its own softmax is, as PyTorch), also when every sample is
/// ignored and the mean is 0/0 = NaN. `Sum` gives Σ ℓ_n,
/// `None` the vector ℓ, and `Mean` Σ ℓ_n / Σ_{n not ignored} `w[y_n]`, PyTorch's
/// weighted mean (the smoothing term is divided by the same sum, as PyTorch
/// does). Writing ℓ_n = −Σ_c a[n, c] log p[n, c], the gradient is
///
/// ```text
/// ∂ℓ_n/∂z[n, c] = p[n, c] Σ_c' a[n, c'] − a[n, c]
/// ```
///
/// ```
/// use tapegrad_nn::{cross_entropy_with, CrossEntropyOptions, Reduction};
/// use tapegrad_tape::{Tensor, Var};
/// let z = Var::constant(Tensor::from_vec(vec![2.0f64, 0.0, 0.0, 2.0], &[2, 2]).unwrap());
/// let opts = CrossEntropyOptions { reduction: Reduction::None, ignore_index: Some(1), ..Default::default() };
/// let loss = cross_entropy_with(&z, &[0, 1], &opts).unwrap();
/// let expected = (1.0 + (-2f64).exp()).ln(); // −log p[0, 0]
/// assert!((loss.value().data()[0] - expected).abs() < 1e-15);
/// assert_eq!(loss.value().data()[1], 0.0);   // ignored
/// ```
pub fn cross_entropy_with<T: Float>(
    logits: &Var<T>,
    targets: &[usize],
    opts: &CrossEntropyOptions<T>,
) -> Result<Var<T>> {
    const OP: &str = "cross_entropy";
    let (n, k) = batch_and_classes(OP, logits, targets)?;
    let classes_of = checked_targets(OP, targets, k, opts.ignore_index)?;
    check_class_weight(OP, opts.weight.as_ref(), k)?;
    let eps = opts.label_smoothing;
    if !(eps >= T::ZERO && eps <= T::ONE) {
        return Err(NnError::InvalidArgument {
            op: OP,
            name: "label_smoothing",
            value: eps.to_string(),
            reason: "must lie in [0, 1]".into(),
        });
    }
    let coefficients = TargetCoefficients::new(&classes_of, k, opts);
    let per_sample = logits.with_value(|z| per_sample_losses(z, &classes_of, opts));
    let divisor = mean_divisor(&classes_of, opts.weight.as_ref());
    let value = match opts.reduction {
        Reduction::None => Tensor::from_vec(per_sample, &[n])?,
        Reduction::Sum => Tensor::scalar(per_sample.into_iter().sum()),
        Reduction::Mean => Tensor::scalar(per_sample.into_iter().sum::<T>() / divisor),
    };
    let kept_rows = kept_rows(&classes_of);
    let reduction = opts.reduction;
    Ok(Var::try_from_op(
        OP,
        value,
        &[logits],
        move |c: &Ctx<'_, T>| -> tapegrad_tape::Result<Grads<T>> {
            let dz = coefficients.gradient(&c.inputs[0])?;
            let g = match reduction {
                Reduction::None => c.grad.reshape(&[n, 1])?,
                Reduction::Sum => c.grad.clone(),
                Reduction::Mean => c.grad.div_scalar(divisor),
            };
            // An ignored sample's row is scaled by 0, not by g: as in PyTorch
            // (whose nll gradient is 0 there before the log-softmax rule),
            // it gets 0 also when the mean divides by a zero weight (every
            // sample ignored), and NaN only where its own softmax is NaN.
            let g = match &kept_rows {
                Some(kept) => g.where_cond(kept, &Var::scalar(T::ZERO))?,
                None => g,
            };
            Ok(smallvec![Some(dz.mul(&g)?)])
        },
    )?)
}

/// A [N, 1] mask of the samples not ignored, `None` when none is.
fn kept_rows<T: Float>(classes_of: &[Option<usize>]) -> Option<Tensor<T>> {
    if classes_of.iter().all(Option::is_some) {
        return None;
    }
    let mask = classes_of
        .iter()
        .map(|c| if c.is_some() { T::ONE } else { T::ZERO })
        .collect();
    Some(Tensor::from_vec(mask, &[classes_of.len(), 1]).expect("n elements"))
}

/// ℓ_n for every sample, from one pass over each row (max, then Σ exp).
fn per_sample_losses<T: Float>(
    z: &Tensor<T>,
    classes_of: &[Option<usize>],
    opts: &CrossEntropyOptions<T>,
) -> Vec<T> {
    let k = z.shape()[1];
    let eps = opts.label_smoothing;
    let weight = opts.weight.as_ref();
    let mut logp = vec![T::ZERO; k];
    z.data()
        .chunks_exact(k.max(1))
        .zip(classes_of)
        .map(|(row, class)| {
            let Some(y) = *class else { return T::ZERO };
            log_softmax_row(row, &mut logp);
            let nll = -logp[y] * class_weight(weight, y);
            if eps == T::ZERO {
                return nll;
            }
            let smooth: T = (0..k).map(|c| -logp[c] * class_weight(weight, c)).sum();
            (T::ONE - eps) * nll + eps / T::from_usize(k) * smooth
        })
        .collect()
}

/// The largest logit of a row, NaN if the row holds one (`Float::max` would
/// skip it; the result is NaN either way, this says so).
fn row_max<T: Float>(row: &[T]) -> T {
    row.iter().copied().fold(T::NEG_INFINITY, T::maximum)
}

/// out[c] = z[c] − m − log Σ exp(z − m), m = max z.
fn log_softmax_row<T: Float>(row: &[T], out: &mut [T]) {
    let m = row_max(row);
    let log_sum = row.iter().map(|&x| (x - m).exp()).sum::<T>().ln();
    for (o, &x) in out.iter_mut().zip(row) {
        *o = x - m - log_sum;
    }
}

/// The target distribution of each sample scaled by its weights: a[n, c] and
/// its row sums s[n] = Σ_c a[n, c] (both 0 for an ignored sample).
struct TargetCoefficients<T: Float> {
    a: Tensor<T>,
    row_sums: Tensor<T>,
}

impl<T: Float> TargetCoefficients<T> {
    /// a[n, c] = (1 − ε) w[y_n] [c = y_n] + (ε/K) w[c].
    fn new(classes_of: &[Option<usize>], k: usize, opts: &CrossEntropyOptions<T>) -> Self {
        let n = classes_of.len();
        let eps = opts.label_smoothing;
        let weight = opts.weight.as_ref();
        let smooth = eps / T::from_usize(k.max(1));
        let mut a = vec![T::ZERO; n * k];
        let mut row_sums = vec![T::ZERO; n];
        for (i, class) in classes_of.iter().enumerate() {
            let Some(y) = *class else { continue };
            let row = &mut a[i * k..(i + 1) * k];
            if eps != T::ZERO {
                for (c, a_c) in row.iter_mut().enumerate() {
                    *a_c = smooth * class_weight(weight, c);
                }
            }
            row[y] += (T::ONE - eps) * class_weight(weight, y);
            row_sums[i] = row.iter().copied().sum();
        }
        Self {
            a: Tensor::from_vec(a, &[n, k]).expect("n·k elements"),
            row_sums: Tensor::from_vec(row_sums, &[n, 1]).expect("n elements"),
        }
    }

    /// ∂ℓ/∂z = softmax(z) ⊙ s − a, with softmax(z) = exp(z − m − log Σ exp(z − m))
    /// built from Var ops on `z` (m held constant: the expression does not depend
    /// on it), so that the gradient can itself be differentiated.
    fn gradient(&self, z: &Var<T>) -> tapegrad_tape::Result<Var<T>> {
        let row_max = z.with_value(|v| {
            let k = v.shape()[1].max(1);
            let maxima = v.data().chunks_exact(k).map(row_max).collect();
            Tensor::from_vec(maxima, &[v.shape()[0], 1])
        })?;
        let shifted = z.sub(&Var::constant(row_max))?;
        let log_sum = shifted.exp().sum_axes(&[-1], true)?.log();
        let softmax = shifted.sub(&log_sum)?.exp();
        softmax
            .mul(&Var::constant(self.row_sums.clone()))?
            .sub(&Var::constant(self.a.clone()))
    }
}
