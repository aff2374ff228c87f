//! Schedules made of schedules: one after another ([`SequentialLr`]), one on
//! top of another ([`ChainedScheduler`]), and the usual linear warm-up followed
//! by cosine decay in one call ([`warmup_cosine`]).

use crate::error::Result;
use crate::schedule::{CosineAnnealingLr, LinearLr, LrScheduler};
use crate::validate;

/// One schedule after another (PyTorch's `SequentialLR`): schedule i runs from
/// milestone i − 1 (0 for the first) with its own count restarting at 0, all from
/// the same base lr. The usual warm-up-then-decay is
/// `SequentialLr::new(vec![Box::new(linear), Box::new(cosine)], vec![warmup_steps])`.
///
/// ```
/// use tapegrad_optim::{CosineAnnealingLr, LinearLr, LrScheduler, SequentialLr};
/// let warmup = LinearLr::new(0.1, 1.0, 2).unwrap();
/// let decay = CosineAnnealingLr::new(4, 0.0).unwrap();
/// let s = SequentialLr::new(vec![Box::new(warmup), Box::new(decay)], vec![2]).unwrap();
/// assert!((s.lr_at(1.0, 0) - 0.1).abs() < 1e-15);
/// assert_eq!(s.lr_at(1.0, 2), 1.0); // the cosine starts at the milestone
/// assert!((s.lr_at(1.0, 4) - 0.5).abs() < 1e-15);
/// ```
pub struct SequentialLr {
    schedules: Vec<Box<dyn LrScheduler>>,
    milestones: Vec<usize>,
}

impl SequentialLr {
    /// Needs one milestone fewer than schedules, strictly increasing and > 0.
    pub fn new(schedules: Vec<Box<dyn LrScheduler>>, milestones: Vec<usize>) -> Result<Self> {
        const NAME: &str = "SequentialLR";
        if schedules.is_empty() {
            return Err(validate::refuse(
                NAME,
                "schedules",
                0.0,
                "needs at least one schedule",
            ));
        }
        if milestones.len() + 1 != schedules.len() {
            let reason = format!(
                "needs {} milestones for {} schedules",
                schedules.len() - 1,
                schedules.len()
            );
            return Err(validate::refuse(
                NAME,
                "milestones.len",
                milestones.len() as f64,
                &reason,
            ));
        }
        let mut previous = 0;
        for &m in &milestones {
            if m <= previous {
                let reason = "milestones must be > 0 and strictly increasing";
                return Err(validate::refuse(NAME, "milestones", m as f64, reason));
            }
            previous = m;
        }
        Ok(Self {
            schedules,
            milestones,
        })
    }
}

impl SequentialLr {
    /// The index of the schedule running at step t and the step it started.
    fn position(&self, t: usize) -> (usize, usize) {
        let i = self.milestones.iter().take_while(|&&m| m <= t).count();
        (i, if i == 0 { 0 } else { self.milestones[i - 1] })
    }
}

impl LrScheduler for SequentialLr {
    fn name(&self) -> &'static str {
        "SequentialLR"
    }
    fn lr_at(&self, base: f64, t: usize) -> f64 {
        let (i, start) = self.position(t);
        self.schedules[i].lr_at(base, t - start)
    }
    /// The running schedule's own step; at a milestone the next starts afresh.
    fn next_lr(&self, base: f64, t: usize, current: f64) -> f64 {
        let (i, start) = self.position(t);
        match t - start {
            0 => self.schedules[i].lr_at(base, 0),
            own => self.schedules[i].next_lr(base, own, current),
        }
    }
    fn momentum_at(&self, t: usize) -> Option<f64> {
        let (i, start) = self.position(t);
        self.schedules[i].momentum_at(t - start)
    }
    fn total_steps(&self) -> Option<usize> {
        let last = self.schedules.last()?.total_steps()?;
        Some(self.milestones.last().copied().unwrap_or(0) + last)
    }
}

/// Schedules applied on top of each other at every step (PyTorch's
/// `ChainedScheduler`): each scales the lr the previous ones gave,
///
/// lr = s_n(… s_2(s_1(base, t), t) …, t).
///
/// For schedules that scale the lr by a factor of t (StepLR, MultiStepLR,
/// ExponentialLR, ConstantLR, LinearLR, PolynomialLR, LambdaLR, MultiplicativeLR)
/// this is PyTorch's chain exactly: lr = base · Π f_i(t). A schedule of absolute
/// lrs (OneCycleLR, CyclicLR) ignores what comes before it, as in PyTorch; a
/// cosine inside a chain is applied in closed form to the lr so far, where
/// PyTorch's recursive form gives a different curve. The chain's momentum is
/// the last cycled one; its length the shortest of fixed-length members.
///
/// ```
/// use tapegrad_optim::{ChainedScheduler, ConstantLr, ExponentialLr, LrScheduler};
/// let chain = ChainedScheduler::new(vec![
///     Box::new(ConstantLr::new(0.1, 2).unwrap()),
///     Box::new(ExponentialLr::new(0.5).unwrap()),
/// ])
/// .unwrap();
/// let lrs: Vec<f64> = (0..4).map(|t| chain.lr_at(1.0, t)).collect();
/// assert_eq!(lrs, [0.1, 0.05, 0.25, 0.125]);
/// ```
pub struct ChainedScheduler {
    schedules: Vec<Box<dyn LrScheduler>>,
}

impl ChainedScheduler {
    /// Needs at least one schedule.
    pub fn new(schedules: Vec<Box<dyn LrScheduler>>) -> Result<Self> {
        if schedules.is_empty() {
            let reason = "needs at least one schedule";
            return Err(validate::refuse(
                "ChainedScheduler",
                "schedules",
                0.0,
                reason,
            ));
        }
        Ok(Self { schedules })
    }
}

impl LrScheduler for ChainedScheduler {
    fn name(&self) -> &'static str {
        "ChainedScheduler"
    }
    fn lr_at(&self, base: f64, t: usize) -> f64 {
        self.schedules.iter().fold(base, |lr, s| s.lr_at(lr, t))
    }
    fn momentum_at(&self, t: usize) -> Option<f64> {
        self.schedules.iter().rev().find_map(|s| s.momentum_at(t))
    }
    fn total_steps(&self) -> Option<usize> {
        self.schedules.iter().filter_map(|s| s.total_steps()).min()
    }
}

/// A linear warm-up from `start_factor` · base to base over `warmup_steps`,
/// then a cosine from base down to `eta_min` at `total_steps`: PyTorch's
///
/// `SequentialLR([LinearLR(start_factor, 1, warmup_steps),
/// CosineAnnealingLR(total_steps − warmup_steps, eta_min)], [warmup_steps])`.
///
/// Refuses `warmup_steps` = 0 and `total_steps` ≤ `warmup_steps`, and what
/// [`LinearLr`] and [`CosineAnnealingLr`] refuse.
///
/// ```
/// use tapegrad_optim::{LrScheduler, warmup_cosine};
/// let s = warmup_cosine(0.01, 10, 110, 0.0).unwrap();
/// assert!((s.lr_at(1.0, 0) - 0.01).abs() < 1e-15);
/// assert_eq!(s.lr_at(1.0, 10), 1.0); // the peak, at the end of the warm-up
/// assert!((s.lr_at(1.0, 60) - 0.5).abs() < 1e-15);
/// assert!(s.lr_at(1.0, 110).abs() < 1e-15);
/// ```
pub fn warmup_cosine(
    start_factor: f64,
    warmup_steps: usize,
    total_steps: usize,
    eta_min: f64,
) -> Result<SequentialLr> {
    if total_steps <= warmup_steps {
        let reason = format!("must be more than warmup_steps = {warmup_steps}");
        return Err(validate::refuse(
            "warmup_cosine",
            "total_steps",
            total_steps as f64,
            &reason,
        ));
    }
    let warmup = LinearLr::new(start_factor, 1.0, warmup_steps)?;
    let decay = CosineAnnealingLr::new(total_steps - warmup_steps, eta_min)?;
    SequentialLr::new(vec![Box::new(warmup), Box::new(decay)], vec![warmup_steps])
}
