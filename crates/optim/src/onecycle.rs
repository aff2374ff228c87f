//! The one-cycle policy (Smith and Topin, 2019), as PyTorch's `OneCycleLR`.

use std::f64::consts::PI;

use crate::error::Result;
use crate::schedule::LrScheduler;
use crate::validate;

/// How [`OneCycleLr`] moves between two learning rates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Anneal {
    /// end + (start − end)(1 + cos(π p))/2 (PyTorch's default `"cos"`).
    #[default]
    Cos,
    /// start + (end − start) p (`"linear"`).
    Linear,
}

impl Anneal {
    /// The lr a fraction `pct` of the way from `start` to `end`.
    ///
    /// ```
    /// use tapegrad_optim::Anneal;
    /// assert_eq!(Anneal::Linear.at(1.0, 3.0, 0.5), 2.0);
    /// assert!((Anneal::Cos.at(1.0, 3.0, 0.5) - 2.0).abs() < 1e-15);
    /// ```
    pub fn at(self, start: f64, end: f64, pct: f64) -> f64 {
        match self {
            Anneal::Cos => end + (start - end) / 2.0 * ((PI * pct).cos() + 1.0),
            Anneal::Linear => (end - start) * pct + start,
        }
    }
}

/// One cycle: from max_lr/div_factor up to `max_lr` over the first `pct_start` of
/// `total_steps`, then down to max_lr/(div_factor · final_div_factor)
/// (PyTorch's `OneCycleLR`; with `three_phase`, back down to the initial lr
/// first, then to the minimum). The groups' own lrs are ignored: `max_lr` is
/// absolute, as in PyTorch. Stepping past `total_steps` is an error, as in
/// PyTorch. The momentum (ρ₁ of `betas`, or `momentum`) moves against the lr,
/// from `max_momentum` down to `base_momentum` at the peak and back (PyTorch's
/// default `cycle_momentum`, 0.85–0.95); `cycle_momentum: None` leaves it alone,
/// and is needed for an optimizer without momentum.
///
/// ```
/// use tapegrad_optim::{LrScheduler, OneCycleLr};
/// let s = OneCycleLr::new(1.0, 10).unwrap(); // pct_start 0.3, div 25, final_div 1e4
/// assert!((s.lr_at(0.0, 0) - 0.04).abs() < 1e-15); // max_lr / div_factor
/// assert_eq!(s.lr_at(0.0, 2), 1.0); // the peak, at step 0.3 · 10 − 1
/// assert!((s.lr_at(0.0, 9) - 0.04e-4).abs() < 1e-18);
/// assert_eq!((s.momentum_at(0), s.momentum_at(2), s.momentum_at(9)), (Some(0.95), Some(0.85), Some(0.95)));
/// ```
#[derive(Clone, Debug)]
pub struct OneCycleLr {
    /// The peak learning rate.
    pub max_lr: f64,
    /// The length of the cycle.
    pub total_steps: usize,
    /// Fraction of the steps spent rising (default 0.3).
    pub pct_start: f64,
    /// Initial lr = max_lr / div_factor (default 25).
    pub div_factor: f64,
    /// Minimum lr = initial lr / final_div_factor (default 1e4).
    pub final_div_factor: f64,
    /// Cosine or linear (default cosine).
    pub anneal: Anneal,
    /// Fall back to the initial lr before annealing to the minimum (default false).
    pub three_phase: bool,
    /// (base_momentum, max_momentum), the momentum at the peak and at the ends
    /// (default (0.85, 0.95)); `None` leaves the momentum alone.
    pub cycle_momentum: Option<(f64, f64)>,
}

impl OneCycleLr {
    /// PyTorch's defaults for everything but the peak and the length.
    pub fn new(max_lr: f64, total_steps: usize) -> Result<Self> {
        Self {
            max_lr,
            total_steps,
            pct_start: 0.3,
            div_factor: 25.0,
            final_div_factor: 1e4,
            anneal: Anneal::Cos,
            three_phase: false,
            cycle_momentum: Some((0.85, 0.95)),
        }
        .validated()
    }

    /// Checks the fields (after setting some by hand).
    pub fn validated(self) -> Result<Self> {
        const NAME: &str = "OneCycleLR";
        validate::non_negative(NAME, "max_lr", self.max_lr)?;
        validate::at_least_one(NAME, "total_steps", self.total_steps)?;
        validate::unit_closed(NAME, "pct_start", self.pct_start)?;
        validate::positive(NAME, "div_factor", self.div_factor)?;
        validate::positive(NAME, "final_div_factor", self.final_div_factor)?;
        if let Some((base, max)) = self.cycle_momentum {
            validate::unit_closed(NAME, "base_momentum", base)?;
            validate::unit_closed(NAME, "max_momentum", max)?;
        }
        Ok(self)
    }

    /// (end step, start lr, end lr) of each phase, as PyTorch lays them out; the
    /// count says how many of the three are used.
    fn phases(&self) -> ([(f64, f64, f64); 3], usize) {
        let initial = self.max_lr / self.div_factor;
        let min = initial / self.final_div_factor;
        let steps = self.total_steps as f64;
        let rise = (self.pct_start * steps - 1.0, initial, self.max_lr);
        let last = steps - 1.0;
        if self.three_phase {
            let fall = (2.0 * self.pct_start * steps - 2.0, self.max_lr, initial);
            ([rise, fall, (last, initial, min)], 3)
        } else {
            ([rise, (last, self.max_lr, min), (0.0, 0.0, 0.0)], 2)
        }
    }
}

impl OneCycleLr {
    /// The phase holding step t and how far through it t is. The step after
    /// the last (t = total_steps, which the scheduler reaches after the last
    /// optimizer step) keeps the last step's values, where PyTorch extrapolates
    /// to an lr no step uses (below zero for the linear anneal).
    fn locate(&self, t: usize) -> (usize, f64) {
        let (phases, count) = self.phases();
        let t = t.min(self.total_steps - 1) as f64;
        let mut start_step = 0.0;
        for (i, &(end_step, _, _)) in phases[..count].iter().enumerate() {
            if t <= end_step || i == count - 1 {
                return (i, (t - start_step) / (end_step - start_step));
            }
            start_step = end_step;
        }
        unreachable!("the last phase answers every step")
    }
}

impl LrScheduler for OneCycleLr {
    fn name(&self) -> &'static str {
        "OneCycleLR"
    }
    fn lr_at(&self, _base: f64, t: usize) -> f64 {
        let (phases, _) = self.phases();
        let (i, pct) = self.locate(t);
        let (_, start, end) = phases[i];
        self.anneal.at(start, end, pct)
    }
    /// max → base over the rise, then back to max (and staying there in the
    /// third phase), as PyTorch's phases.
    fn momentum_at(&self, t: usize) -> Option<f64> {
        let (base, max) = self.cycle_momentum?;
        let (i, pct) = self.locate(t);
        let (start, end) = match i {
            0 => (max, base),
            1 => (base, max),
            _ => (max, max),
        };
        Some(self.anneal.at(start, end, pct))
    }
    fn total_steps(&self) -> Option<usize> {
        Some(self.total_steps)
    }
}
