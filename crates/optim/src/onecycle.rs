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
/// (PyTorch's `OneCycleLR` with `cycle_momentum = False`; with `three_phase`,
/// back down to the initial lr first, then to the minimum). The groups' own lrs
/// are ignored: `max_lr` is absolute, as in PyTorch. Stepping past
/// `total_steps` is an error, as in PyTorch.
///
/// ```
/// use tapegrad_optim::{LrScheduler, OneCycleLr};
/// let s = OneCycleLr::new(1.0, 10).unwrap(); // pct_start 0.3, div 25, final_div 1e4
/// assert!((s.lr_at(0.0, 0) - 0.04).abs() < 1e-15); // max_lr / div_factor
/// assert_eq!(s.lr_at(0.0, 2), 1.0); // the peak, at step 0.3 · 10 − 1
/// assert!((s.lr_at(0.0, 9) - 0.04e-4).abs() < 1e-18);
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

impl LrScheduler for OneCycleLr {
    fn name(&self) -> &'static str {
        "OneCycleLR"
    }
    /// The phase holding t answers; the last phase also answers past its end.
    fn lr_at(&self, _base: f64, t: usize) -> f64 {
        let (phases, count) = self.phases();
        let t = t as f64;
        let mut start_step = 0.0;
        for (i, &(end_step, start, end)) in phases[..count].iter().enumerate() {
            if t <= end_step || i == count - 1 {
                let pct = (t - start_step) / (end_step - start_step);
                return self.anneal.at(start, end, pct);
            }
            start_step = end_step;
        }
        self.max_lr
    }
    fn total_steps(&self) -> Option<usize> {
        Some(self.total_steps)
    }
}
