//! Learning-rate schedules, as PyTorch's `torch.optim.lr_scheduler`.
//!
//! A schedule is a closed form lr(base, t) ([`LrScheduler`]); a [`Scheduler`]
//! applies it to an optimizer's groups, each from its own base lr, through
//! [`Optimizer::set_group_lr`], so every schedule works with every optimizer.
//! As in PyTorch, call `scheduler.step(&mut opt)` after `opt.step()`: the lr
//! used by optimizer step t (counting from 0) is lr(base, t).

use std::f64::consts::PI;

use tapegrad_tape::Float;

use crate::error::{OptimError, Result};
use crate::optimizer::Optimizer;
use crate::validate;

/// A learning-rate schedule in closed form.
///
/// ```
/// use tapegrad_optim::{LrScheduler, StepLr};
/// let s = StepLr::new(2, 0.5).unwrap();
/// let lrs: Vec<f64> = (0..5).map(|t| s.lr_at(1.0, t)).collect();
/// assert_eq!(lrs, [1.0, 1.0, 0.5, 0.5, 0.25]);
/// ```
pub trait LrScheduler: Send + Sync {
    /// The name used in errors (`"StepLR"`, …, as in PyTorch).
    fn name(&self) -> &'static str;
    /// The learning rate after `t` scheduler steps, for a group whose learning
    /// rate was `base` when the schedule started.
    fn lr_at(&self, base: f64, t: usize) -> f64;
    /// The last valid t, for schedules of fixed length.
    fn total_steps(&self) -> Option<usize> {
        None
    }
    /// The lr of step `t` (≥ 1) from the lr `current` the group has after step
    /// t − 1: [`LrScheduler::lr_at`] by default; a schedule defined by a
    /// recurrence ([`crate::MultiplicativeLr`]) takes one step of it, as
    /// PyTorch does, so a long run costs O(1) per step.
    fn next_lr(&self, base: f64, t: usize, current: f64) -> f64 {
        let _ = current;
        self.lr_at(base, t)
    }
    /// The momentum after `t` steps, for a schedule that cycles it
    /// ([`crate::CyclicLr`], [`crate::OneCycleLr`]); the [`Scheduler`] sets it
    /// with [`Optimizer::set_momentum`].
    fn momentum_at(&self, t: usize) -> Option<f64> {
        let _ = t;
        None
    }
}

/// A boxed schedule is a schedule, so the choice can be made at run time.
impl<S: LrScheduler + ?Sized> LrScheduler for Box<S> {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn lr_at(&self, base: f64, t: usize) -> f64 {
        (**self).lr_at(base, t)
    }
    fn total_steps(&self) -> Option<usize> {
        (**self).total_steps()
    }
    fn next_lr(&self, base: f64, t: usize, current: f64) -> f64 {
        (**self).next_lr(base, t, current)
    }
    fn momentum_at(&self, t: usize) -> Option<f64> {
        (**self).momentum_at(t)
    }
}

/// Decays by `gamma` every `step_size` steps: lr = base · gamma^⌊t / step_size⌋
/// (PyTorch's `StepLR`, gamma default 0.1).
///
/// ```
/// use tapegrad_optim::{LrScheduler, StepLr};
/// let s = StepLr::new(3, 0.5).unwrap();
/// assert_eq!((s.lr_at(0.05, 2), s.lr_at(0.05, 3), s.lr_at(0.05, 6)), (0.05, 0.025, 0.0125));
/// ```
#[derive(Clone, Debug)]
pub struct StepLr {
    step_size: usize,
    gamma: f64,
}

impl StepLr {
    /// Refuses `step_size` = 0 and a negative or non-finite `gamma`.
    pub fn new(step_size: usize, gamma: f64) -> Result<Self> {
        validate::at_least_one("StepLR", "step_size", step_size)?;
        validate::non_negative("StepLR", "gamma", gamma)?;
        Ok(Self { step_size, gamma })
    }
}

impl LrScheduler for StepLr {
    fn name(&self) -> &'static str {
        "StepLR"
    }
    fn lr_at(&self, base: f64, t: usize) -> f64 {
        base * self.gamma.powi((t / self.step_size) as i32)
    }
}

/// Cosine from base down to `eta_min` over `t_max` steps (PyTorch's
/// `CosineAnnealingLR`, closed form, without restarts):
///
/// lr = η_min + (base − η_min) (1 + cos(π t / T_max)) / 2
///
/// Not clamped past T_max: the cosine climbs back up, as in PyTorch.
///
/// ```
/// use tapegrad_optim::{CosineAnnealingLr, LrScheduler};
/// let s = CosineAnnealingLr::new(8, 0.001).unwrap();
/// assert!((s.lr_at(0.05, 4) - 0.0255).abs() < 1e-15);
/// assert!((s.lr_at(0.05, 8) - 0.001).abs() < 1e-15);
/// assert!(s.lr_at(0.05, 12) > 0.02);
/// ```
#[derive(Clone, Debug)]
pub struct CosineAnnealingLr {
    t_max: usize,
    eta_min: f64,
}

impl CosineAnnealingLr {
    /// Refuses `t_max` = 0 and a negative `eta_min`.
    pub fn new(t_max: usize, eta_min: f64) -> Result<Self> {
        validate::at_least_one("CosineAnnealingLR", "t_max", t_max)?;
        validate::non_negative("CosineAnnealingLR", "eta_min", eta_min)?;
        Ok(Self { t_max, eta_min })
    }
}

impl LrScheduler for CosineAnnealingLr {
    fn name(&self) -> &'static str {
        "CosineAnnealingLR"
    }
    fn lr_at(&self, base: f64, t: usize) -> f64 {
        let phase = PI * t as f64 / self.t_max as f64;
        self.eta_min + (base - self.eta_min) * (1.0 + phase.cos()) / 2.0
    }
}

/// Linear change of the factor from `start_factor` to `end_factor` over
/// `total_iters` steps, then constant (PyTorch's `LinearLR`; the usual warm-up):
///
/// lr = base (s + (e − s) min(t, T) / T)
///
/// PyTorch's defaults are s = 1/3, e = 1, T = 5 ([`LinearLr::default`]).
///
/// ```
/// use tapegrad_optim::{LinearLr, LrScheduler};
/// let warmup = LinearLr::new(0.25, 1.0, 3).unwrap();
/// let lrs: Vec<f64> = (0..5).map(|t| warmup.lr_at(0.4, t)).collect();
/// assert_eq!(lrs, [0.1, 0.2, 0.30000000000000004, 0.4, 0.4]);
/// ```
#[derive(Clone, Debug)]
pub struct LinearLr {
    start_factor: f64,
    end_factor: f64,
    total_iters: usize,
}

impl LinearLr {
    /// Refuses a start factor outside (0, 1], an end factor outside [0, 1] (as
    /// PyTorch) and `total_iters` = 0.
    pub fn new(start_factor: f64, end_factor: f64, total_iters: usize) -> Result<Self> {
        const NAME: &str = "LinearLR";
        if !(start_factor > 0.0 && start_factor <= 1.0) {
            let reason = "must be in (0, 1]";
            return Err(validate::refuse(NAME, "start_factor", start_factor, reason));
        }
        validate::unit_closed(NAME, "end_factor", end_factor)?;
        validate::at_least_one(NAME, "total_iters", total_iters)?;
        Ok(Self {
            start_factor,
            end_factor,
            total_iters,
        })
    }
}

impl Default for LinearLr {
    fn default() -> Self {
        Self {
            start_factor: 1.0 / 3.0,
            end_factor: 1.0,
            total_iters: 5,
        }
    }
}

impl LrScheduler for LinearLr {
    fn name(&self) -> &'static str {
        "LinearLR"
    }
    fn lr_at(&self, base: f64, t: usize) -> f64 {
        let (s, e) = (self.start_factor, self.end_factor);
        let done = t.min(self.total_iters) as f64 / self.total_iters as f64;
        base * (s + (e - s) * done)
    }
}

/// Prints the schedule's name, the base lrs and the steps taken.
impl<S: LrScheduler> std::fmt::Debug for Scheduler<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("schedule", &self.schedule.name())
            .field("base_lrs", &self.base_lrs)
            .field("steps", &self.t)
            .finish()
    }
}

/// The state of a [`Scheduler`]: the schedule's name, the base lr of each
/// group and the steps taken (PyTorch's `base_lrs` and `last_epoch`).
#[derive(Clone, Debug, PartialEq)]
pub struct SchedulerState {
    /// The schedule's name (`"StepLR"`, …), checked on restore.
    pub schedule: String,
    /// The base lr of each group.
    pub base_lrs: Vec<f64>,
    /// The scheduler steps taken.
    pub steps: usize,
}

/// Applies a schedule to an optimizer: remembers each group's base lr and the
/// number of steps taken, and sets every group's lr on each step.
///
/// ```
/// use tapegrad_optim::{Optimizer, Scheduler, Sgd, SgdConfig, StepLr};
/// use tapegrad_tape::{Tensor, Var};
/// let w = Var::parameter(Tensor::<f32>::zeros(&[3]));
/// let mut opt = Sgd::new(vec![w], SgdConfig { lr: 0.1, ..Default::default() }).unwrap();
/// let mut sched = Scheduler::new(StepLr::new(2, 0.1).unwrap(), &mut opt).unwrap();
/// for _ in 0..2 {
///     opt.step().unwrap(); // lr 0.1
///     sched.step(&mut opt).unwrap();
/// }
/// assert!((opt.lr() - 0.01).abs() < 1e-15);
/// ```
pub struct Scheduler<S> {
    schedule: S,
    base_lrs: Vec<f64>,
    t: usize,
}

impl<S: LrScheduler> Scheduler<S> {
    /// Takes the groups' current lrs as the base lrs and sets lr(base, 0).
    ///
    /// To continue a saved run, use [`Scheduler::restore`] with the saved
    /// [`Scheduler::state`]: after `opt.load(..)` the groups hold the lr of the
    /// step where the run stopped, not the base lrs, so `new` would start a
    /// new schedule from the wrong base.
    pub fn new<T: Float, O: Optimizer<T> + ?Sized>(schedule: S, opt: &mut O) -> Result<Self> {
        let base_lrs = opt.groups().iter().map(|g| g.lr).collect();
        Self::resume(schedule, base_lrs, 0, opt)
    }

    /// What [`Scheduler::restore`] needs to continue this schedule exactly.
    ///
    /// ```
    /// use tapegrad_optim::{Optimizer, Scheduler, Sgd, SgdConfig, StepLr};
    /// use tapegrad_tape::{Tensor, Var};
    /// let w = Var::parameter(Tensor::<f64>::zeros(&[1]));
    /// let mut opt = Sgd::new(vec![w.clone()], SgdConfig { lr: 1.0, ..Default::default() }).unwrap();
    /// let mut sched = Scheduler::new(StepLr::new(2, 0.5).unwrap(), &mut opt).unwrap();
    /// for _ in 0..3 {
    ///     sched.step(&mut opt).unwrap();
    /// }
    /// let saved = (opt.state_dict(), sched.state());
    ///
    /// let mut fresh = Sgd::new(vec![w], SgdConfig { lr: 1.0, ..Default::default() }).unwrap();
    /// fresh.load_state_dict(&saved.0).unwrap();
    /// let sched = Scheduler::restore(StepLr::new(2, 0.5).unwrap(), &saved.1, &mut fresh).unwrap();
    /// assert_eq!((sched.base_lrs(), sched.steps_taken(), fresh.lr()), (&[1.0][..], 3, 0.5));
    /// ```
    pub fn state(&self) -> SchedulerState {
        SchedulerState {
            schedule: self.schedule.name().to_string(),
            base_lrs: self.base_lrs.clone(),
            steps: self.t,
        }
    }

    /// Continues from a saved [`Scheduler::state`]; sets lr(base, t) on every
    /// group. A state of another schedule, or with base lrs that are not
    /// finite and ≥ 0, is [`OptimError::StateMismatch`]; one for another
    /// number of groups too, and then the optimizer is left unchanged.
    pub fn restore<T: Float, O: Optimizer<T> + ?Sized>(
        schedule: S,
        state: &SchedulerState,
        opt: &mut O,
    ) -> Result<Self> {
        let mismatch = |reason: String| OptimError::StateMismatch {
            optimizer: schedule.name(),
            reason,
        };
        if state.schedule != schedule.name() {
            return Err(mismatch(format!(
                "the state was saved by {}",
                state.schedule
            )));
        }
        if let Some(bad) = state
            .base_lrs
            .iter()
            .find(|lr| !(lr.is_finite() && **lr >= 0.0))
        {
            return Err(mismatch(format!(
                "a saved base lr is {bad}, not finite and >= 0"
            )));
        }
        if let Some(total) = schedule.total_steps()
            && state.steps > total
        {
            return Err(mismatch(format!(
                "the state has taken {} steps of the {total} the schedule has",
                state.steps
            )));
        }
        Self::resume(schedule, state.base_lrs.clone(), state.steps, opt)
    }

    /// Continues a schedule from step `t` with the given base lrs (for resuming a
    /// run from saved state); sets lr(base, t) on every group.
    pub fn resume<T: Float, O: Optimizer<T> + ?Sized>(
        schedule: S,
        base_lrs: Vec<f64>,
        t: usize,
        opt: &mut O,
    ) -> Result<Self> {
        let s = Self {
            schedule,
            base_lrs,
            t,
        };
        s.apply(opt)?;
        Ok(s)
    }

    /// Advances one step and sets each group's lr to lr(base, t) (through
    /// [`LrScheduler::next_lr`]) and the momentum of a schedule that cycles it.
    pub fn step<T: Float, O: Optimizer<T> + ?Sized>(&mut self, opt: &mut O) -> Result<()> {
        let t = self.t + 1;
        if let Some(total) = self.schedule.total_steps()
            && t > total
        {
            return Err(OptimError::ScheduleFinished {
                schedule: self.schedule.name(),
                step: t,
                total,
            });
        }
        self.check_groups(opt)?;
        let lrs: Vec<f64> = (self.base_lrs.iter().zip(opt.groups()))
            .map(|(&base, group)| self.schedule.next_lr(base, t, group.lr))
            .collect();
        self.set(opt, &lrs, t)?;
        self.t = t;
        Ok(())
    }

    /// Sets lr(base, t) on every group and the momentum at t.
    fn apply<T: Float, O: Optimizer<T> + ?Sized>(&self, opt: &mut O) -> Result<()> {
        self.check_groups(opt)?;
        self.set(opt, &self.last_lrs(), self.t)
    }

    /// The momentum first, as it is the setting that can be refused.
    fn set<T: Float, O: Optimizer<T> + ?Sized>(
        &self,
        opt: &mut O,
        lrs: &[f64],
        t: usize,
    ) -> Result<()> {
        if let Some(momentum) = self.schedule.momentum_at(t) {
            opt.set_momentum(momentum)?;
        }
        for (i, &lr) in lrs.iter().enumerate() {
            opt.set_group_lr(i, lr)?;
        }
        Ok(())
    }

    fn check_groups<T: Float, O: Optimizer<T> + ?Sized>(&self, opt: &O) -> Result<()> {
        let count = opt.groups().len();
        if count == self.base_lrs.len() {
            return Ok(());
        }
        Err(OptimError::StateMismatch {
            optimizer: opt.name(),
            reason: format!(
                "{} has base lrs for {} groups, the optimizer has {count}",
                self.schedule.name(),
                self.base_lrs.len()
            ),
        })
    }

    /// Scheduler steps taken so far.
    pub fn steps_taken(&self) -> usize {
        self.t
    }

    /// Each group's lr when the schedule started.
    pub fn base_lrs(&self) -> &[f64] {
        &self.base_lrs
    }

    /// The lrs the schedule set last (those of the next optimizer step).
    pub fn last_lrs(&self) -> Vec<f64> {
        self.base_lrs
            .iter()
            .map(|&b| self.schedule.lr_at(b, self.t))
            .collect()
    }

    /// The schedule.
    pub fn schedule(&self) -> &S {
        &self.schedule
    }
}
