//! More closed-form schedules of PyTorch's `torch.optim.lr_scheduler`: each an
//! lr(base, t) for [`crate::Scheduler`], t the optimizer steps taken.

use std::f64::consts::PI;

use crate::error::Result;
use crate::schedule::LrScheduler;
use crate::validate;

/// `MultiStepLR`: lr = base · γ^k, k the milestones ≤ t (a milestone given
/// twice counts twice, as PyTorch's `Counter`).
///
/// ```
/// use tapegrad_optim::{LrScheduler, MultiStepLr};
/// let s = MultiStepLr::new(vec![2, 5], 0.1).unwrap();
/// let lrs: Vec<f64> = (0..7).map(|t| s.lr_at(1.0, t)).collect();
/// assert_eq!(lrs, [1.0, 1.0, 0.1, 0.1, 0.1, 0.1 * 0.1, 0.1 * 0.1]);
/// ```
#[derive(Clone, Debug)]
pub struct MultiStepLr {
    milestones: Vec<usize>,
    gamma: f64,
}

impl MultiStepLr {
    /// Decay by `gamma` (≥ 0) at each of `milestones` (any order).
    pub fn new(mut milestones: Vec<usize>, gamma: f64) -> Result<Self> {
        validate::non_negative("MultiStepLR", "gamma", gamma)?;
        milestones.sort_unstable();
        Ok(Self { milestones, gamma })
    }
}

impl LrScheduler for MultiStepLr {
    fn name(&self) -> &'static str {
        "MultiStepLR"
    }
    fn lr_at(&self, base: f64, t: usize) -> f64 {
        let passed = self.milestones.partition_point(|&m| m <= t);
        base * self.gamma.powi(passed as i32)
    }
}

/// `ExponentialLR`: lr = base · γᵗ.
///
/// ```
/// use tapegrad_optim::{ExponentialLr, LrScheduler};
/// let s = ExponentialLr::new(0.5).unwrap();
/// assert_eq!((s.lr_at(1.0, 0), s.lr_at(1.0, 3)), (1.0, 0.125));
/// ```
#[derive(Clone, Debug)]
pub struct ExponentialLr {
    gamma: f64,
}

impl ExponentialLr {
    /// Decay by `gamma` (≥ 0) at every step.
    pub fn new(gamma: f64) -> Result<Self> {
        validate::non_negative("ExponentialLR", "gamma", gamma)?;
        Ok(Self { gamma })
    }
}

impl LrScheduler for ExponentialLr {
    fn name(&self) -> &'static str {
        "ExponentialLR"
    }
    fn lr_at(&self, base: f64, t: usize) -> f64 {
        base * self.gamma.powi(t.min(i32::MAX as usize) as i32)
    }
}

/// `ConstantLR`: lr = base · factor for t < total_iters, then base.
///
/// ```
/// use tapegrad_optim::{ConstantLr, LrScheduler};
/// let s = ConstantLr::new(0.5, 2).unwrap();
/// let lrs: Vec<f64> = (0..4).map(|t| s.lr_at(1.0, t)).collect();
/// assert_eq!(lrs, [0.5, 0.5, 1.0, 1.0]);
/// ```
#[derive(Clone, Debug)]
pub struct ConstantLr {
    factor: f64,
    total_iters: usize,
}

impl ConstantLr {
    /// `factor` in [0, 1] (PyTorch's default 1/3) for `total_iters` steps (5).
    pub fn new(factor: f64, total_iters: usize) -> Result<Self> {
        validate::unit_closed("ConstantLR", "factor", factor)?;
        Ok(Self {
            factor,
            total_iters,
        })
    }
}

impl LrScheduler for ConstantLr {
    fn name(&self) -> &'static str {
        "ConstantLR"
    }
    fn lr_at(&self, base: f64, t: usize) -> f64 {
        if t < self.total_iters {
            base * self.factor
        } else {
            base
        }
    }
}

/// `PolynomialLR`: lr = base · (1 − min(t, T)/T)^power, 0 from step T on.
///
/// ```
/// use tapegrad_optim::{LrScheduler, PolynomialLr};
/// let s = PolynomialLr::new(4, 2.0).unwrap();
/// assert_eq!((s.lr_at(1.0, 2), s.lr_at(1.0, 4), s.lr_at(1.0, 9)), (0.25, 0.0, 0.0));
/// ```
#[derive(Clone, Debug)]
pub struct PolynomialLr {
    total_iters: usize,
    power: f64,
}

impl PolynomialLr {
    /// Decay to 0 over `total_iters` (≥ 1; PyTorch's default 5) steps with
    /// exponent `power` (≥ 0; default 1, linear).
    pub fn new(total_iters: usize, power: f64) -> Result<Self> {
        validate::at_least_one("PolynomialLR", "total_iters", total_iters)?;
        validate::non_negative("PolynomialLR", "power", power)?;
        Ok(Self { total_iters, power })
    }
}

impl LrScheduler for PolynomialLr {
    fn name(&self) -> &'static str {
        "PolynomialLR"
    }
    fn lr_at(&self, base: f64, t: usize) -> f64 {
        let done = t.min(self.total_iters) as f64 / self.total_iters as f64;
        base * (1.0 - done).powf(self.power)
    }
}

/// `LambdaLR`: lr = base · f(t) for a function the user gives.
///
/// ```
/// use tapegrad_optim::{LambdaLr, LrScheduler};
/// let s = LambdaLr::new(|t| 1.0 / (1.0 + t as f64));
/// assert_eq!(s.lr_at(0.5, 3), 0.125);
/// ```
pub struct LambdaLr {
    factor: Box<dyn Fn(usize) -> f64 + Send + Sync>,
}

impl LambdaLr {
    /// The schedule base · `factor(t)`.
    pub fn new(factor: impl Fn(usize) -> f64 + Send + Sync + 'static) -> Self {
        Self {
            factor: Box::new(factor),
        }
    }
}

impl std::fmt::Debug for LambdaLr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LambdaLr")
    }
}

impl LrScheduler for LambdaLr {
    fn name(&self) -> &'static str {
        "LambdaLR"
    }
    fn lr_at(&self, base: f64, t: usize) -> f64 {
        base * (self.factor)(t)
    }
}

/// `CosineAnnealingWarmRestarts` (SGDR, Loshchilov and Hutter, 2017): cosine
/// annealing from base to η_min over T_i steps, then a restart at base, with
/// T₀, T₀·T_mult, T₀·T_mult², … as the periods.
///
/// lr = η_min + (base − η_min)(1 + cos(π T_cur / T_i))/2, T_cur the steps
/// since the last restart.
///
/// ```
/// use tapegrad_optim::{CosineAnnealingWarmRestarts, LrScheduler};
/// let s = CosineAnnealingWarmRestarts::new(2, 2, 0.0).unwrap();
/// let lrs: Vec<f64> = (0..7).map(|t| s.lr_at(1.0, t)).collect();
/// // periods 2 and 4: restarts at t = 2 and t = 6
/// assert_eq!((lrs[0], lrs[2], lrs[6]), (1.0, 1.0, 1.0));
/// assert!((lrs[1] - 0.5).abs() < 1e-15 && (lrs[4] - 0.5).abs() < 1e-15);
/// ```
#[derive(Clone, Debug)]
pub struct CosineAnnealingWarmRestarts {
    t_0: usize,
    t_mult: usize,
    eta_min: f64,
}

impl CosineAnnealingWarmRestarts {
    /// First period `t_0` (≥ 1), growth `t_mult` (≥ 1; 1 keeps the period),
    /// floor `eta_min` (≥ 0).
    pub fn new(t_0: usize, t_mult: usize, eta_min: f64) -> Result<Self> {
        const NAME: &str = "CosineAnnealingWarmRestarts";
        validate::at_least_one(NAME, "T_0", t_0)?;
        validate::at_least_one(NAME, "T_mult", t_mult)?;
        validate::non_negative(NAME, "eta_min", eta_min)?;
        Ok(Self {
            t_0,
            t_mult,
            eta_min,
        })
    }

    /// (T_cur, T_i) at step t, with PyTorch's integer bookkeeping.
    fn position(&self, t: usize) -> (usize, usize) {
        if self.t_mult == 1 {
            return (t % self.t_0, self.t_0);
        }
        let (mut t_cur, mut t_i) = (t, self.t_0);
        while t_cur >= t_i {
            t_cur -= t_i;
            t_i = t_i.saturating_mul(self.t_mult);
        }
        (t_cur, t_i)
    }
}

impl LrScheduler for CosineAnnealingWarmRestarts {
    fn name(&self) -> &'static str {
        "CosineAnnealingWarmRestarts"
    }
    fn lr_at(&self, base: f64, t: usize) -> f64 {
        let (t_cur, t_i) = self.position(t);
        let phase = PI * t_cur as f64 / t_i as f64;
        self.eta_min + (base - self.eta_min) * (1.0 + phase.cos()) / 2.0
    }
}

/// `MultiplicativeLR`: each step multiplies the lr by a factor the user gives,
///
/// lr_0 = base,  lr_t = lr_{t−1} · f(t),
///
/// taken one step at a time by the [`crate::Scheduler`] (O(1) per step, the
/// same products as PyTorch's); [`LrScheduler::lr_at`] multiplies out all t
/// factors, in the same order.
///
/// ```
/// use tapegrad_optim::{LrScheduler, MultiplicativeLr};
/// let s = MultiplicativeLr::new(|t| if t % 2 == 0 { 0.5 } else { 1.0 });
/// let lrs: Vec<f64> = (0..5).map(|t| s.lr_at(1.0, t)).collect();
/// assert_eq!(lrs, [1.0, 1.0, 0.5, 0.5, 0.25]);
/// assert_eq!(s.next_lr(1.0, 4, 0.5), 0.25);
/// ```
pub struct MultiplicativeLr {
    factor: Box<dyn Fn(usize) -> f64 + Send + Sync>,
}

impl MultiplicativeLr {
    /// The schedule that multiplies the lr by `factor(t)` at step t.
    pub fn new(factor: impl Fn(usize) -> f64 + Send + Sync + 'static) -> Self {
        Self {
            factor: Box::new(factor),
        }
    }
}

impl std::fmt::Debug for MultiplicativeLr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MultiplicativeLr")
    }
}

impl LrScheduler for MultiplicativeLr {
    fn name(&self) -> &'static str {
        "MultiplicativeLR"
    }
    fn lr_at(&self, base: f64, t: usize) -> f64 {
        (1..=t).fold(base, |lr, k| lr * (self.factor)(k))
    }
    fn next_lr(&self, _base: f64, t: usize, current: f64) -> f64 {
        current * (self.factor)(t)
    }
}
