//! The cyclical learning rate (Smith, 2017), as PyTorch's `CyclicLR`, with its
//! momentum cycled against the lr.

use std::sync::Arc;

use crate::error::Result;
use crate::schedule::LrScheduler;
use crate::validate;

/// What a custom cycle scale is a function of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScaleMode {
    /// The cycle number, counting from 1.
    Cycle,
    /// The steps taken.
    Iterations,
}

/// The amplitude of each cycle: a scale s of the height max − base.
#[derive(Clone)]
pub enum CyclicMode {
    /// s = 1: every cycle the same (PyTorch's default `"triangular"`).
    Triangular,
    /// s = 1 / 2^(cycle − 1): the height halves every cycle (`"triangular2"`).
    Triangular2,
    /// s = γ^t, t the steps taken (`"exp_range"`).
    ExpRange {
        /// γ (≥ 0; PyTorch's default 1).
        gamma: f64,
    },
    /// s = f(cycle) or f(t), a function the user gives (PyTorch's `scale_fn`
    /// with `scale_mode`).
    Custom {
        /// f.
        scale: Arc<dyn Fn(f64) -> f64 + Send + Sync>,
        /// Whether f takes the cycle or the steps taken.
        of: ScaleMode,
    },
}

impl CyclicMode {
    /// The scale at step t of cycle `cycle`.
    fn scale(&self, cycle: f64, t: usize) -> f64 {
        match self {
            CyclicMode::Triangular => 1.0,
            CyclicMode::Triangular2 => 1.0 / 2f64.powf(cycle - 1.0),
            CyclicMode::ExpRange { gamma } => gamma.powf(t as f64),
            CyclicMode::Custom { scale, of } => match of {
                ScaleMode::Cycle => scale(cycle),
                ScaleMode::Iterations => scale(t as f64),
            },
        }
    }
}

impl std::fmt::Debug for CyclicMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CyclicMode::Triangular => f.write_str("Triangular"),
            CyclicMode::Triangular2 => f.write_str("Triangular2"),
            CyclicMode::ExpRange { gamma } => write!(f, "ExpRange {{ gamma: {gamma} }}"),
            CyclicMode::Custom { of, .. } => write!(f, "Custom {{ of: {of:?} }}"),
        }
    }
}

/// Cycles the lr between `base_lr` and `max_lr`: up over `step_size_up` steps,
/// down over `step_size_down`, the height scaled by the mode (PyTorch's
/// `CyclicLR`). With L = up + down, at step t:
///
/// cycle = ⌊1 + t/L⌋, x = 1 + t/L − cycle,
/// f = x / r if x ≤ r else (x − 1)/(r − 1)  with r = up/L,
///
/// lr = base + (max − base) f s,  momentum = max_m − (max_m − base_m) f s
///
/// (s the [`CyclicMode`] scale). Like PyTorch, `base_lr` and `max_lr` are
/// absolute: the groups' own lrs are replaced. The momentum (ρ₁ of `betas`, or
/// `momentum`) cycles against the lr, from `max_momentum` at the bottom of a
/// cycle to `base_momentum` at its top, unless `cycle_momentum` is `None`; an
/// optimizer with neither is then refused by [`crate::Scheduler::new`], as in
/// PyTorch. One value for every group: PyTorch's per-group lists are not taken.
///
/// ```
/// use tapegrad_optim::{CyclicLr, LrScheduler};
/// let s = CyclicLr::new(0.1, 0.5, 4).unwrap(); // down 4, triangular, momentum 0.8–0.9
/// let lrs: Vec<f64> = (0..9).map(|t| s.lr_at(0.0, t)).collect();
/// assert_eq!(lrs[..5], [0.1, 0.2, 0.30000000000000004, 0.4, 0.5]);
/// assert_eq!(lrs[8], 0.1);
/// assert_eq!((s.momentum_at(0), s.momentum_at(4)), (Some(0.9), Some(0.8)));
/// ```
#[derive(Clone, Debug)]
pub struct CyclicLr {
    /// The lr at the bottom of every cycle.
    pub base_lr: f64,
    /// The lr at the top of the first cycle.
    pub max_lr: f64,
    /// Steps from bottom to top (PyTorch's default 2000).
    pub step_size_up: usize,
    /// Steps from top to bottom (default: `step_size_up`).
    pub step_size_down: usize,
    /// The amplitude of each cycle (default triangular).
    pub mode: CyclicMode,
    /// (base_momentum, max_momentum), the momentum at the top and the bottom of a
    /// cycle (default (0.8, 0.9)); `None` leaves the momentum alone.
    pub cycle_momentum: Option<(f64, f64)>,
}

impl CyclicLr {
    /// PyTorch's defaults for everything but the two lrs and the rise.
    pub fn new(base_lr: f64, max_lr: f64, step_size_up: usize) -> Result<Self> {
        Self {
            base_lr,
            max_lr,
            step_size_up,
            step_size_down: step_size_up,
            mode: CyclicMode::Triangular,
            cycle_momentum: Some((0.8, 0.9)),
        }
        .validated()
    }

    /// Checks the fields (after setting some by hand).
    pub fn validated(self) -> Result<Self> {
        const NAME: &str = "CyclicLR";
        validate::non_negative(NAME, "base_lr", self.base_lr)?;
        validate::non_negative(NAME, "max_lr", self.max_lr)?;
        validate::at_least_one(NAME, "step_size_up", self.step_size_up)?;
        if let CyclicMode::ExpRange { gamma } = self.mode {
            validate::non_negative(NAME, "gamma", gamma)?;
        }
        if let Some((base, max)) = self.cycle_momentum {
            validate::unit_closed(NAME, "base_momentum", base)?;
            validate::unit_closed(NAME, "max_momentum", max)?;
        }
        Ok(self)
    }

    /// (f, s): how far up its cycle step t is, and the cycle's scale.
    fn height(&self, t: usize) -> (f64, f64) {
        let total = (self.step_size_up + self.step_size_down) as f64;
        let ratio = self.step_size_up as f64 / total;
        let cycle = (1.0 + t as f64 / total).floor();
        let x = 1.0 + t as f64 / total - cycle;
        let up = if x <= ratio {
            x / ratio
        } else {
            (x - 1.0) / (ratio - 1.0)
        };
        (up, self.mode.scale(cycle, t))
    }
}

impl LrScheduler for CyclicLr {
    fn name(&self) -> &'static str {
        "CyclicLR"
    }
    fn lr_at(&self, _base: f64, t: usize) -> f64 {
        let (up, scale) = self.height(t);
        self.base_lr + (self.max_lr - self.base_lr) * up * scale
    }
    fn momentum_at(&self, t: usize) -> Option<f64> {
        let (base, max) = self.cycle_momentum?;
        let (up, scale) = self.height(t);
        Some(max - (max - base) * up * scale)
    }
}
