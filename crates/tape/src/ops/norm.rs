//! Normalization layers as ops, with PyTorch's functional signatures: layer
//! norm and RMS norm over trailing axes, group norm, and batch norm with its
//! running statistics. Each is the fused normalization of `normalize` on a
//! view of the input, then the elementwise affine map γ ⊙ x̂ + β.

use super::normalize::Centering;
use crate::error::{Result, TapeError};
use crate::float::Float;
use crate::tensor::Tensor;
use crate::var::Var;

/// The running estimates a training-mode [`Var::batch_norm`] updates, as
/// PyTorch's `running_mean`/`running_var` with `momentum`:
/// `running ← (1 − momentum) · running + momentum · batch statistic`, the
/// variance entering unbiased (n/(n − 1) times the batch's).
#[derive(Debug)]
pub struct RunningStats<'a, T: Float> {
    /// The running mean, `[C]`.
    pub mean: &'a mut Tensor<T>,
    /// The running (unbiased) variance, `[C]`.
    pub var: &'a mut Tensor<T>,
    /// The weight of the new batch, in [0, 1] (PyTorch's default 0.1; the
    /// cumulative average of `momentum=None` is 1/number of batches).
    pub momentum: f64,
}

fn invalid(op: &'static str, name: &'static str, value: String, reason: &str) -> TapeError {
    TapeError::InvalidArgument {
        op,
        name,
        value,
        reason: reason.into(),
    }
}

/// Refuses an ε that is negative or not finite.
fn check_eps(op: &'static str, eps: f64) -> Result<()> {
    if eps >= 0.0 && eps.is_finite() {
        return Ok(());
    }
    Err(invalid(
        op,
        "eps",
        eps.to_string(),
        "must be finite and ≥ 0",
    ))
}

/// Refuses a γ or β whose shape is not `expected`.
fn check_affine<T: Float>(op: &'static str, p: Option<&Var<T>>, expected: &[usize]) -> Result<()> {
    match p {
        Some(p) if p.shape() != expected => Err(TapeError::ShapeMismatch {
            op,
            lhs: expected.into(),
            rhs: p.shape().into(),
        }),
        _ => Ok(()),
    }
}

/// y ⊙ γ + β, with γ and β reshaped to `view` for broadcasting.
fn affine<T: Float>(
    y: Var<T>,
    weight: Option<&Var<T>>,
    bias: Option<&Var<T>>,
    view: &[usize],
) -> Result<Var<T>> {
    let y = match weight {
        Some(w) => y.mul(&w.reshape(view)?)?,
        None => y,
    };
    match bias {
        Some(b) => y.add(&b.reshape(view)?),
        None => Ok(y),
    }
}

/// The shape of an input that must be `[N, C, …]` (rank 2 or more).
fn channels_first(op: &'static str, shape: &[usize]) -> Result<Vec<usize>> {
    if shape.len() >= 2 {
        return Ok(shape.to_vec());
    }
    Err(TapeError::InvalidShape {
        op,
        shape: shape.into(),
        reason: "must be [N, C, …]".into(),
    })
}

/// `[C, 1, …, 1]`: a per-channel vector shaped to broadcast over `[N, C, …]`.
fn channel_view(channels: usize, ndim: usize) -> Vec<usize> {
    let mut view = vec![1; ndim - 1];
    view[0] = channels;
    view
}

impl<T: Float> Var<T> {
    /// The normalization of `self` over its trailing `normalized_shape` axes,
    /// for layer norm and RMS norm: `[1, rows, d]` views.
    fn trailing_norm(
        &self,
        op: &'static str,
        normalized_shape: &[usize],
        centering: Centering,
        eps: f64,
    ) -> Result<Var<T>> {
        check_eps(op, eps)?;
        let shape = self.shape();
        let k = normalized_shape.len();
        if k == 0 || k > shape.len() || shape[shape.len() - k..] != *normalized_shape {
            return Err(TapeError::InvalidShape {
                op,
                shape: shape.into(),
                reason: format!(
                    "the trailing axes must be normalized_shape {normalized_shape:?} (at least one axis)"
                ),
            });
        }
        let d: usize = normalized_shape.iter().product();
        let rows = self.numel() / d.max(1);
        let view = self.reshape(&[1, rows, d])?;
        let (y, _) = view.normalize_groups(centering, eps)?;
        y.reshape(shape)
    }

    /// Layer normalization over the trailing axes, as PyTorch's
    /// `F.layer_norm(x, normalized_shape, weight, bias, eps)`:
    ///
    /// `y = (x − μ) / √(σ² + ε) ⊙ γ + β`,
    ///
    /// with μ and σ² (biased) over the last `normalized_shape.len()` axes of
    /// each sample, and γ, β (optional) of shape `normalized_shape`.
    ///
    /// Gradient: `∂x = r ⊙ (ĝ − mean(ĝ) − x̂ ⊙ mean(ĝ ⊙ x̂))` with ĝ = g ⊙ γ and
    /// r = 1/√(σ² + ε); `∂γ = Σ g ⊙ x̂`, `∂β = Σ g` over the leading axes; every
    /// order differentiates again.
    ///
    /// Errors: trailing axes that are not `normalized_shape` (or an empty
    /// one), γ or β of another shape, ε negative or not finite.
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::parameter(Tensor::from_vec(vec![1.0f64, 2.0, 3.0], &[1, 3]).unwrap());
    /// let y = x.layer_norm(&[3], None, None, 0.0).unwrap();
    /// let r = 1.0 / (2.0f64 / 3.0).sqrt(); // 1/σ of [1, 2, 3]
    /// assert_eq!(y.value().data(), &[-r, 0.0, r]);
    /// ```
    pub fn layer_norm(
        &self,
        normalized_shape: &[usize],
        weight: Option<&Var<T>>,
        bias: Option<&Var<T>>,
        eps: f64,
    ) -> Result<Var<T>> {
        check_affine("layer_norm (weight)", weight, normalized_shape)?;
        check_affine("layer_norm (bias)", bias, normalized_shape)?;
        let y = self.trailing_norm("layer_norm", normalized_shape, Centering::Mean, eps)?;
        affine(y, weight, bias, normalized_shape)
    }

    /// Root-mean-square normalization over the trailing axes, as PyTorch's
    /// `F.rms_norm(x, normalized_shape, weight, eps)`:
    ///
    /// `y = x / √(mean(x²) + ε) ⊙ γ`,
    ///
    /// with the mean over the last `normalized_shape.len()` axes and ε by
    /// default the machine epsilon of `T` (PyTorch's `eps=None`).
    ///
    /// Gradient: `∂x = r ⊙ (ĝ − x̂ ⊙ mean(ĝ ⊙ x̂))` with ĝ = g ⊙ γ,
    /// r = 1/√(mean(x²) + ε); `∂γ = Σ g ⊙ x̂`.
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::constant(Tensor::from_vec(vec![3.0f64, 4.0], &[1, 2]).unwrap());
    /// let y = x.rms_norm(&[2], None, Some(0.0)).unwrap(); // rms = √12.5
    /// let rms = 12.5f64.sqrt();
    /// assert_eq!(y.value().data(), &[3.0 * (1.0 / rms), 4.0 * (1.0 / rms)]);
    /// ```
    pub fn rms_norm(
        &self,
        normalized_shape: &[usize],
        weight: Option<&Var<T>>,
        eps: Option<f64>,
    ) -> Result<Var<T>> {
        check_affine("rms_norm (weight)", weight, normalized_shape)?;
        let eps = eps.unwrap_or(T::EPSILON.to_f64());
        let y = self.trailing_norm("rms_norm", normalized_shape, Centering::None, eps)?;
        affine(y, weight, None, normalized_shape)
    }

    /// Group normalization, as PyTorch's `F.group_norm(x, num_groups, weight,
    /// bias, eps)`: the C channels of `x` `[N, C, …]` are split into
    /// `num_groups` groups of consecutive channels, each normalized with its
    /// own μ and σ² over its channels and spatial positions, per sample:
    ///
    /// `y[n, c, …] = (x − μ_{n,G(c)}) / √(σ²_{n,G(c)} + ε) · γ_c + β_c`,
    ///
    /// with γ, β (optional) of shape `[C]`. Gradients as layer norm's, on each
    /// group.
    ///
    /// Errors: an input of rank below 2, C not divisible by `num_groups` (or
    /// zero groups), γ or β not `[C]`, a bad ε.
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::constant(Tensor::<f64>::arange(8).reshape(&[1, 4, 2]).unwrap());
    /// let y = x.group_norm(2, None, None, 1e-5).unwrap(); // groups of 4 values
    /// let v = y.value();
    /// assert!((v.data()[0] - v.data()[4]).abs() < 1e-12); // the same place in each group
    /// assert!(v.data()[0] < 0.0 && v.data()[3] > 0.0);
    /// ```
    pub fn group_norm(
        &self,
        num_groups: usize,
        weight: Option<&Var<T>>,
        bias: Option<&Var<T>>,
        eps: f64,
    ) -> Result<Var<T>> {
        let op = "group_norm";
        check_eps(op, eps)?;
        let shape = channels_first(op, self.shape())?;
        let (n, c) = (shape[0], shape[1]);
        if num_groups == 0 || !c.is_multiple_of(num_groups) {
            let reason = format!("must divide the {c} channels");
            return Err(invalid(op, "num_groups", num_groups.to_string(), &reason));
        }
        check_affine("group_norm (weight)", weight, &[c])?;
        check_affine("group_norm (bias)", bias, &[c])?;
        let per_group = self.numel() / (n * num_groups).max(1);
        let view = self.reshape(&[1, n * num_groups, per_group])?;
        let (y, _) = view.normalize_groups(Centering::Mean, eps)?;
        affine(
            y.reshape(&shape)?,
            weight,
            bias,
            &channel_view(c, shape.len()),
        )
    }

    /// Batch normalization, as PyTorch's `F.batch_norm(x, running_mean,
    /// running_var, weight, bias, training, momentum, eps)` on `x` `[N, C, …]`:
    ///
    /// `y[n, c, …] = (x − μ_c) / √(σ²_c + ε) · γ_c + β_c`.
    ///
    /// In training (`training = true`) μ_c and σ²_c (biased) are the batch's,
    /// over the batch and spatial axes, and `running`, if given, moves toward
    /// them (the variance unbiased, see [`RunningStats`]); the gradient is
    /// layer norm's over each channel's elements. In evaluation the running
    /// estimates are used, as constants: `y` is affine in `x`.
    ///
    /// Errors: an input of rank below 2; training with one value per channel
    /// (PyTorch's "Expected more than 1 value per channel"); evaluation
    /// without running statistics; γ, β or a running statistic not `[C]`; a
    /// momentum outside [0, 1]; a bad ε.
    ///
    /// ```
    /// use tapegrad_tape::{RunningStats, Tensor, Var};
    /// let x = Var::constant(Tensor::from_vec(vec![1.0f64, 3.0], &[2, 1]).unwrap());
    /// let (mut mean, mut var) = (Tensor::zeros(&[1]), Tensor::ones(&[1]));
    /// let running = RunningStats { mean: &mut mean, var: &mut var, momentum: 0.1 };
    /// let y = x.batch_norm(None, None, Some(running), true, 0.0).unwrap();
    /// assert_eq!(y.value().data(), &[-1.0, 1.0]);
    /// assert!((mean.data()[0] - 0.2).abs() < 1e-15); // 0.9 · 0 + 0.1 · 2
    /// assert!((var.data()[0] - 1.1).abs() < 1e-15); // 0.9 · 1 + 0.1 · 2 (unbiased)
    /// ```
    pub fn batch_norm(
        &self,
        weight: Option<&Var<T>>,
        bias: Option<&Var<T>>,
        running: Option<RunningStats<'_, T>>,
        training: bool,
        eps: f64,
    ) -> Result<Var<T>> {
        let op = "batch_norm";
        check_eps(op, eps)?;
        let shape = channels_first(op, self.shape())?;
        let c = shape[1];
        check_affine("batch_norm (weight)", weight, &[c])?;
        check_affine("batch_norm (bias)", bias, &[c])?;
        if let Some(r) = &running {
            check_running(r, c)?;
        }
        let view = self.reshape(&[shape[0], c, self.numel() / (shape[0] * c).max(1)])?;
        let y = if training {
            batch_norm_train(&view, running, eps)?
        } else {
            let running = running.ok_or_else(|| {
                invalid(
                    op,
                    "running",
                    "None".into(),
                    "evaluation needs the running statistics",
                )
            })?;
            batch_norm_eval(&view, running, eps)?
        };
        affine(
            y.reshape(&shape)?,
            weight,
            bias,
            &channel_view(c, shape.len()),
        )
    }
}

/// Refuses running statistics not `[C]` or a momentum outside [0, 1].
fn check_running<T: Float>(r: &RunningStats<'_, T>, c: usize) -> Result<()> {
    for (op, stat) in [
        ("batch_norm (running_mean)", &r.mean),
        ("batch_norm (running_var)", &r.var),
    ] {
        if stat.shape() != [c] {
            return Err(TapeError::ShapeMismatch {
                op,
                lhs: [c].as_slice().into(),
                rhs: stat.shape().into(),
            });
        }
    }
    if (0.0..=1.0).contains(&r.momentum) {
        return Ok(());
    }
    Err(invalid(
        "batch_norm",
        "momentum",
        r.momentum.to_string(),
        "must be in [0, 1]",
    ))
}

/// The training-mode normalization of `view` `[N, C, S]`, updating `running`.
fn batch_norm_train<T: Float>(
    view: &Var<T>,
    running: Option<RunningStats<'_, T>>,
    eps: f64,
) -> Result<Var<T>> {
    let n = view.shape()[0] * view.shape()[2];
    if n <= 1 {
        return Err(TapeError::InvalidShape {
            op: "batch_norm",
            shape: view.shape().into(),
            reason: "training needs more than 1 value per channel".into(),
        });
    }
    let (y, m) = view.normalize_groups(Centering::Mean, eps)?;
    if let Some(r) = running {
        let unbiased = n as f64 / (n - 1) as f64;
        blend(r.mean, &m.mean, 1.0, r.momentum);
        blend(r.var, &m.var, unbiased, r.momentum);
    }
    Ok(y)
}

/// running ← (1 − momentum) · running + momentum · scale · batch, in f64.
fn blend<T: Float>(running: &mut Tensor<T>, batch: &[f64], scale: f64, momentum: f64) {
    for (r, &b) in running.data_mut().iter_mut().zip(batch) {
        *r = T::from_f64((1.0 - momentum) * r.to_f64() + momentum * scale * b);
    }
}

/// (x − running mean) / √(running var + ε) on `view` `[N, C, S]`.
fn batch_norm_eval<T: Float>(
    view: &Var<T>,
    running: RunningStats<'_, T>,
    eps: f64,
) -> Result<Var<T>> {
    let c = view.shape()[1];
    let r: Vec<T> = (running.var.data().iter())
        .map(|&v| T::from_f64(1.0 / (v.to_f64() + eps).sqrt()))
        .collect();
    let mean = Var::constant(running.mean.reshape(&[1, c, 1])?);
    let r = Var::constant(Tensor::from_vec(r, &[1, c, 1])?);
    view.sub(&mean)?.mul(&r)
}
