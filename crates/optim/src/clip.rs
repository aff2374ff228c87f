//! Gradient clipping, as PyTorch's `torch.nn.utils.clip_grad_norm_` and `clip_grad_value_`.

use tapegrad_tape::{Float, Var};

use crate::error::{OptimError, Result};

/// Scales all gradients together so that their joint norm is at most `max_norm`,
/// and returns that norm before clipping.
///
/// ```text
/// total = ‖(‖g₁‖_p, ‖g₂‖_p, …)‖_p       (the norm of all gradients as one vector)
/// coef  = min(max_norm / (total + 1e-6), 1)
/// gᵢ ← coef · gᵢ
/// ```
///
/// `norm_type` is p > 0, or `f64::INFINITY` for the largest magnitude. Parameters
/// without a gradient are skipped. With `error_if_nonfinite`, a NaN or infinite
/// total is [`OptimError::NonFiniteNorm`] and no gradient is changed; otherwise
/// the gradients are scaled by the resulting NaN or 0 coefficient, as PyTorch
/// does. Sums are accumulated in f64 for f32 gradients too.
///
/// ```
/// use tapegrad_optim::clip_grad_norm;
/// use tapegrad_tape::{Tensor, Var};
/// let w = Var::parameter(Tensor::<f64>::zeros(&[2]));
/// w.set_grad(Some(Tensor::from_vec(vec![3.0, 4.0], &[2]).unwrap()));
/// let total = clip_grad_norm(&[w.clone()], 1.0, 2.0, false).unwrap();
/// assert_eq!(total, 5.0);
/// let g = w.grad().unwrap();
/// assert!((g.data()[0] - 0.6).abs() < 1e-6 && (g.data()[1] - 0.8).abs() < 1e-6);
/// ```
pub fn clip_grad_norm<T: Float>(
    params: &[Var<T>],
    max_norm: f64,
    norm_type: f64,
    error_if_nonfinite: bool,
) -> Result<T> {
    const NAME: &str = "clip_grad_norm";
    if norm_type.is_nan() || norm_type <= 0.0 {
        return Err(invalid(
            NAME,
            "norm_type",
            norm_type,
            "must be > 0 or infinity",
        ));
    }
    if max_norm.is_nan() || max_norm < 0.0 {
        return Err(invalid(NAME, "max_norm", max_norm, "must be >= 0"));
    }
    let norms = params
        .iter()
        .filter_map(|p| p.with_grad_mut(|g| g.as_ref().map(|g| norm(g.data(), norm_type))));
    let total = combine(norms, norm_type);
    if error_if_nonfinite && !total.is_finite() {
        return Err(OptimError::NonFiniteNorm { norm_type, total });
    }
    let coef = T::from_f64((max_norm / (total + 1e-6)).min(1.0));
    let coef = if total.is_nan() {
        T::from_f64(f64::NAN)
    } else {
        coef
    };
    for p in params {
        p.with_grad_mut(|g| {
            if let Some(g) = g {
                g.data_mut().iter_mut().for_each(|x| *x *= coef);
            }
        });
    }
    Ok(T::from_f64(total))
}

/// ‖x‖_p of one gradient.
fn norm<T: Float>(x: &[T], p: f64) -> f64 {
    if p == f64::INFINITY {
        return x.iter().fold(0.0, |m, v| {
            let a = v.to_f64().abs();
            if a > m || a.is_nan() { a } else { m }
        });
    }
    if p == 2.0 {
        return x
            .iter()
            .map(|v| v.to_f64() * v.to_f64())
            .sum::<f64>()
            .sqrt();
    }
    if p == 1.0 {
        return x.iter().map(|v| v.to_f64().abs()).sum();
    }
    x.iter()
        .map(|v| v.to_f64().abs().powf(p))
        .sum::<f64>()
        .powf(1.0 / p)
}

/// The norm of the per-gradient norms.
fn combine(norms: impl Iterator<Item = f64>, p: f64) -> f64 {
    let norms: Vec<f64> = norms.collect();
    norm(&norms, p)
}

/// Clamps every gradient element to [−clip, clip] (PyTorch's `clip_grad_value_`).
///
/// ```
/// use tapegrad_optim::clip_grad_value;
/// use tapegrad_tape::{Tensor, Var};
/// let w = Var::parameter(Tensor::<f32>::zeros(&[3]));
/// w.set_grad(Some(Tensor::from_vec(vec![-5.0, 0.5, 2.0], &[3]).unwrap()));
/// clip_grad_value(&[w.clone()], 1.0).unwrap();
/// assert_eq!(w.grad().unwrap().data(), &[-1.0, 0.5, 1.0]);
/// ```
pub fn clip_grad_value<T: Float>(params: &[Var<T>], clip: f64) -> Result<()> {
    if clip.is_nan() || clip < 0.0 {
        return Err(invalid("clip_grad_value", "clip", clip, "must be >= 0"));
    }
    let (lo, hi) = (T::from_f64(-clip), T::from_f64(clip));
    for p in params {
        p.with_grad_mut(|g| {
            if let Some(g) = g {
                for x in g.data_mut() {
                    // NaN stays NaN, as torch.clamp leaves it.
                    *x = if *x < lo {
                        lo
                    } else if *x > hi {
                        hi
                    } else {
                        *x
                    };
                }
            }
        });
    }
    Ok(())
}

fn invalid(function: &'static str, name: &'static str, value: f64, reason: &str) -> OptimError {
    OptimError::InvalidArgument {
        function,
        name,
        value: format!("{value}"),
        reason: reason.to_string(),
    }
}
