//! One builder from a run-time choice of optimizer to the optimizer itself.

use tapegrad_tape::{Float, Var};

use crate::error::{OptimError, Result};
use crate::group::ParamGroup;
use crate::kind::OptimizerKind;
use crate::optimizer::Optimizer;

/// An optimizer kind with the settings a program exposes: learning rate, weight
/// decay 1/C and Adam's bias correction. Every other option keeps PyTorch's
/// default (momentum: α = [`crate::MOMENTUM`]).
///
/// Weight decay is coupled (θ/C added to g) for every kind but AdamW, which
/// decays θ ← θ (1 − ε/C) outside the adaptive step.
///
/// [`build`](OptimizerSettings::build) validates the combination first: turning
/// off the bias correction of an optimizer that has none is
/// [`OptimError::UnsupportedOption`], an lr or weight decay out of range is the
/// optimizer's own [`OptimError::InvalidHyperParameter`].
///
/// ```
/// use tapegrad_optim::{OptimizerKind, OptimizerSettings};
/// use tapegrad_tape::{Tensor, Var};
/// let w = Var::parameter(Tensor::<f32>::zeros(&[3]));
/// let settings = OptimizerSettings::new(OptimizerKind::Momentum).with_lr(0.1);
/// let opt = settings.build(vec![w.clone()]).unwrap();
/// assert_eq!((opt.name(), opt.lr()), ("SGD", 0.1));
///
/// let bert = OptimizerSettings { bias_correction: false, ..OptimizerSettings::new(OptimizerKind::Adam) };
/// assert_eq!(bert.label(), "Adam (no bias correction)");
/// assert!(bert.build(vec![w.clone()]).is_ok());
///
/// let wrong = OptimizerSettings { bias_correction: false, ..OptimizerSettings::new(OptimizerKind::Sgd) };
/// assert_eq!(
///     wrong.build(vec![w]).unwrap_err().to_string(),
///     "sgd: bias_correction = false is not supported: only adam and adamw have a bias correction"
/// );
/// ```
///
/// To skip steps whose gradients are not finite, wrap the result:
/// `ApplyIfFinite::new(settings.build(params)?, None)?` (see [`crate::ApplyIfFinite`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptimizerSettings {
    /// Which optimizer.
    pub kind: OptimizerKind,
    /// Learning rate (ε, or η for SGD), ≥ 0.
    pub lr: f64,
    /// Weight decay 1/C, ≥ 0.
    pub weight_decay: f64,
    /// Adam and AdamW: divide the moments by (1 − ρᵗ). Must stay `true` for the
    /// other kinds.
    pub bias_correction: bool,
}

impl OptimizerSettings {
    /// The kind with PyTorch's defaults: [`OptimizerKind::default_lr`],
    /// [`OptimizerKind::default_weight_decay`], bias correction on.
    ///
    /// ```
    /// use tapegrad_optim::{OptimizerKind, OptimizerSettings};
    /// let s = OptimizerSettings::new(OptimizerKind::AdamW);
    /// assert_eq!((s.lr, s.weight_decay, s.bias_correction), (1e-3, 1e-2, true));
    /// ```
    pub fn new(kind: OptimizerKind) -> Self {
        Self {
            kind,
            lr: kind.default_lr(),
            weight_decay: kind.default_weight_decay(),
            bias_correction: true,
        }
    }

    /// The same settings with learning rate `lr`.
    pub fn with_lr(self, lr: f64) -> Self {
        Self { lr, ..self }
    }

    /// The same settings with weight decay 1/C = `weight_decay`.
    pub fn with_weight_decay(self, weight_decay: f64) -> Self {
        Self {
            weight_decay,
            ..self
        }
    }

    /// The kind's [`OptimizerKind::label`], with " (no bias correction)" when
    /// the correction is off.
    ///
    /// ```
    /// use tapegrad_optim::{OptimizerKind, OptimizerSettings};
    /// assert_eq!(OptimizerSettings::new(OptimizerKind::Adagrad).label(), "AdaGrad");
    /// ```
    pub fn label(&self) -> String {
        if self.bias_correction {
            self.kind.label().to_string()
        } else {
            format!("{} (no bias correction)", self.kind.label())
        }
    }

    /// Refuses a combination the kind does not have (the optimizer's
    /// constructor checks the ranges of lr and weight decay).
    pub fn validate(&self) -> Result<()> {
        if !self.bias_correction && !self.kind.has_bias_correction() {
            let with: Vec<&str> = OptimizerKind::ALL
                .iter()
                .copied()
                .filter(|k| k.has_bias_correction())
                .map(OptimizerKind::name)
                .collect();
            return Err(OptimError::UnsupportedOption {
                optimizer: self.kind.name(),
                option: "bias_correction = false",
                reason: format!("only {} have a bias correction", with.join(" and ")),
            });
        }
        Ok(())
    }

    /// The optimizer over `params`.
    pub fn build<T: Float>(&self, params: Vec<Var<T>>) -> Result<Box<dyn Optimizer<T>>> {
        self.build_with_groups(vec![ParamGroup::new(params)])
    }

    /// The optimizer over parameter groups; a group's own lr or weight decay
    /// overrides the settings' (see [`ParamGroup`]).
    pub fn build_with_groups<T: Float>(
        &self,
        groups: Vec<ParamGroup<T>>,
    ) -> Result<Box<dyn Optimizer<T>>> {
        self.validate()?;
        self.kind.build(self, groups)
    }
}

impl From<OptimizerKind> for OptimizerSettings {
    /// [`OptimizerSettings::new`]: the kind with PyTorch's defaults.
    fn from(kind: OptimizerKind) -> Self {
        Self::new(kind)
    }
}

impl std::fmt::Display for OptimizerSettings {
    /// Writes [`OptimizerSettings::label`] (`"Adam (no bias correction)"`).
    ///
    /// ```
    /// use tapegrad_optim::{OptimizerKind, OptimizerSettings};
    /// assert_eq!(OptimizerSettings::from(OptimizerKind::Momentum).to_string(), "SGD+momentum");
    /// ```
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label())
    }
}
