//! Reduce the lr when a metric stops improving, as PyTorch's
//! `ReduceLROnPlateau`.

use tapegrad_tape::Float;

use crate::error::{OptimError, Result};
use crate::optimizer::Optimizer;
use crate::validate;

const NAME: &str = "ReduceLROnPlateau";

/// Whether a smaller or a larger metric is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PlateauMode {
    /// A loss: smaller is better (PyTorch's default `"min"`).
    #[default]
    Min,
    /// An accuracy: larger is better (`"max"`).
    Max,
}

/// How the threshold δ counts as an improvement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ThresholdMode {
    /// Better than best · (1 ∓ δ) (PyTorch's default `"rel"`).
    #[default]
    Rel,
    /// Better than best ∓ δ (`"abs"`).
    Abs,
}

/// What [`ReduceLrOnPlateau`] has counted, saved and restored with the run.
#[derive(Clone, Debug, PartialEq)]
pub struct PlateauState {
    /// The best metric so far (+∞ in min mode, −∞ in max mode, before any).
    pub best: f64,
    /// Steps since the best without improvement.
    pub num_bad_epochs: usize,
    /// Steps of cooldown left.
    pub cooldown_counter: usize,
    /// Steps taken.
    pub steps: usize,
}

/// Multiplies every group's lr by `factor` when the metric given to
/// [`ReduceLrOnPlateau::step`] has not improved for more than `patience` steps
/// (PyTorch's `ReduceLROnPlateau`): with best the best metric so far,
/// a metric m improves in min mode if m < best (1 − δ) (`rel`) or m < best − δ
/// (`abs`), in max mode if m > best (1 + δ) or m > best + δ. A reduction sets
/// lr ← max(lr · factor, min_lr) unless that changes lr by no more than `eps`,
/// then waits `cooldown` steps before counting again. A NaN metric never
/// improves. Unlike the other schedules, it reads the metric, not the step.
///
/// ```
/// use tapegrad_optim::{Optimizer, ReduceLrOnPlateau, Sgd, SgdConfig};
/// use tapegrad_tape::{Tensor, Var};
/// let w = Var::parameter(Tensor::<f64>::zeros(&[1]));
/// let mut opt = Sgd::new(vec![w], SgdConfig { lr: 1.0, ..Default::default() }).unwrap();
/// let mut plateau = ReduceLrOnPlateau { patience: 1, ..Default::default() }.validated(&opt).unwrap();
/// for loss in [3.0, 2.0, 2.0, 2.0] {
///     plateau.step(loss, &mut opt).unwrap();
/// }
/// assert_eq!(opt.lr(), 0.1); // two steps without improvement, more than the patience
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ReduceLrOnPlateau {
    /// Min or max (default min).
    pub mode: PlateauMode,
    /// The factor of a reduction, in [0, 1) (default 0.1).
    pub factor: f64,
    /// Steps without improvement tolerated (default 10).
    pub patience: usize,
    /// δ (≥ 0; default 1e-4).
    pub threshold: f64,
    /// Relative or absolute δ (default relative).
    pub threshold_mode: ThresholdMode,
    /// Steps to wait after a reduction (default 0).
    pub cooldown: usize,
    /// The lowest lr: one value for every group, or one per group (default [0]).
    pub min_lrs: Vec<f64>,
    /// The smallest change of lr made (default 1e-8).
    pub eps: f64,
    /// What has been counted.
    pub state: PlateauState,
}

impl Default for ReduceLrOnPlateau {
    /// PyTorch's defaults.
    fn default() -> Self {
        Self {
            mode: PlateauMode::Min,
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            threshold_mode: ThresholdMode::Rel,
            cooldown: 0,
            min_lrs: vec![0.0],
            eps: 1e-8,
            state: PlateauState {
                best: f64::INFINITY,
                num_bad_epochs: 0,
                cooldown_counter: 0,
                steps: 0,
            },
        }
    }
}

impl ReduceLrOnPlateau {
    /// Checks the fields against PyTorch's rules and the optimizer's groups
    /// (one `min_lr`, or one per group), and starts from the worst metric of
    /// the mode when nothing has been counted yet.
    pub fn validated<T: Float, O: Optimizer<T> + ?Sized>(mut self, opt: &O) -> Result<Self> {
        if !(self.factor >= 0.0 && self.factor < 1.0) {
            return Err(validate::refuse(
                NAME,
                "factor",
                self.factor,
                "must be in [0, 1)",
            ));
        }
        validate::non_negative(NAME, "threshold", self.threshold)?;
        validate::non_negative(NAME, "eps", self.eps)?;
        let groups = opt.groups().len();
        if self.min_lrs.len() != 1 && self.min_lrs.len() != groups {
            let reason = format!("needs 1 value or one per group ({groups})");
            let count = self.min_lrs.len() as f64;
            return Err(validate::refuse(NAME, "min_lrs.len", count, &reason));
        }
        for &min_lr in &self.min_lrs {
            validate::non_negative(NAME, "min_lr", min_lr)?;
        }
        if self.state.steps == 0 {
            self.state.best = self.worst();
        }
        Ok(self)
    }

    /// Counts one metric and reduces the lr of every group after more than
    /// `patience` steps without improvement.
    pub fn step<T: Float, O: Optimizer<T> + ?Sized>(
        &mut self,
        metric: f64,
        opt: &mut O,
    ) -> Result<()> {
        let groups = opt.groups().len();
        if self.min_lrs.len() != 1 && self.min_lrs.len() != groups {
            return Err(OptimError::StateMismatch {
                optimizer: opt.name(),
                reason: format!(
                    "{NAME} has min_lrs for {} groups, the optimizer has {groups}",
                    self.min_lrs.len()
                ),
            });
        }
        let s = &mut self.state;
        s.steps += 1;
        if self.improves(metric) {
            self.state.best = metric;
            self.state.num_bad_epochs = 0;
        } else {
            self.state.num_bad_epochs += 1;
        }
        let s = &mut self.state;
        if s.cooldown_counter > 0 {
            s.cooldown_counter -= 1;
            s.num_bad_epochs = 0;
        }
        if s.num_bad_epochs > self.patience {
            s.cooldown_counter = self.cooldown;
            s.num_bad_epochs = 0;
            self.reduce(opt)?;
        }
        Ok(())
    }

    fn reduce<T: Float, O: Optimizer<T> + ?Sized>(&self, opt: &mut O) -> Result<()> {
        for i in 0..opt.groups().len() {
            let old = opt.groups()[i].lr;
            let min_lr = self.min_lrs[if self.min_lrs.len() == 1 { 0 } else { i }];
            let new = f64::max(old * self.factor, min_lr);
            if old - new > self.eps {
                opt.set_group_lr(i, new)?;
            }
        }
        Ok(())
    }

    fn improves(&self, metric: f64) -> bool {
        let (best, delta) = (self.state.best, self.threshold);
        match (self.mode, self.threshold_mode) {
            (PlateauMode::Min, ThresholdMode::Rel) => metric < best * (1.0 - delta),
            (PlateauMode::Min, ThresholdMode::Abs) => metric < best - delta,
            (PlateauMode::Max, ThresholdMode::Rel) => metric > best * (delta + 1.0),
            (PlateauMode::Max, ThresholdMode::Abs) => metric > best + delta,
        }
    }

    fn worst(&self) -> f64 {
        match self.mode {
            PlateauMode::Min => f64::INFINITY,
            PlateauMode::Max => f64::NEG_INFINITY,
        }
    }
}
