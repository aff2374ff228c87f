//! Skipping steps whose gradients are not all finite (optax's `apply_if_finite`).

use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};

use tapegrad_tape::{Float, Var};

use crate::error::{OptimError, Result};
use crate::group::{Group, ParamGroup};
use crate::optimizer::Optimizer;
use crate::par::{self, Kernel};
use crate::state::{MAX_STEP, StateDict};

mod counts;

pub use counts::NonFiniteCounts;

/// What [`ApplyIfFinite::step_if_finite`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    /// Every gradient was finite: the wrapped optimizer stepped.
    Applied,
    /// Some gradient held a NaN or ±∞: θ and the optimizer's state are as before.
    Skipped,
}

/// Wraps an optimizer so that a step whose gradients are not all finite is
/// skipped and counted instead of writing NaN into θ and the state (optax's
/// `apply_if_finite`; a loss scaler's overflow check).
///
/// Each step first checks every gradient present (one fused pass per
/// gradient, split across threads for large ones, allocating nothing). If all
/// are finite, the wrapped optimizer steps and the consecutive count returns to
/// 0. If one holds a NaN or ±∞, nothing changes but the counters
/// ([`NonFiniteCounts`], optax's `notfinite_count`, `last_finite` and
/// `total_notfinite`): θ, the state and each parameter's step count t stay as
/// they were, so the next finite step is the one the skipped step would have been.
///
/// `max_consecutive_errors = Some(n)` skips at most n steps in a row: the
/// next non-finite step returns [`OptimError::TooManyNonFiniteSteps`] and
/// changes nothing, counters included, so a diverging run stops with intact
/// weights. This differs from optax, which applies the non-finite update after
/// n skips. `None` skips without limit.
///
/// The caller learns of a skip from [`ApplyIfFinite::step_if_finite`]'s
/// [`StepOutcome`], or from [`Optimizer::nonfinite_counts`] behind a
/// `Box<dyn Optimizer>`. A [`crate::Scheduler`] advances on every call of its
/// own `step`; to make a schedule count applied steps only (as optax's inner
/// count does), step it on [`StepOutcome::Applied`] alone.
///
/// The counters are part of the state: [`Optimizer::state_dict`] appends them to
/// the options as `apply_if_finite.max_consecutive_errors` (∞ for no limit,
/// which must match on load like any option), `apply_if_finite.notfinite_count`,
/// `apply_if_finite.last_finite` and `apply_if_finite.total_notfinite` (restored;
/// values no run can produce are refused with [`OptimError::ImpossibleCounter`]).
///
/// ```
/// use tapegrad_optim::{Adam, AdamConfig, ApplyIfFinite, Optimizer, StepOutcome};
/// use tapegrad_tape::{Tensor, Var};
/// let w = Var::parameter(Tensor::from_vec(vec![1.0f64, 2.0], &[2]).unwrap());
/// let adam = Adam::new(vec![w.clone()], AdamConfig::default()).unwrap();
/// let mut opt = ApplyIfFinite::new(adam, Some(3)).unwrap();
/// w.set_grad(Some(Tensor::from_vec(vec![0.5, f64::NAN], &[2]).unwrap()));
/// assert_eq!(opt.step_if_finite().unwrap(), StepOutcome::Skipped);
/// assert_eq!(w.value().data(), &[1.0, 2.0]);
/// assert_eq!(opt.counts().notfinite_count, 1);
/// w.set_grad(Some(Tensor::from_vec(vec![0.5, -0.5], &[2]).unwrap()));
/// assert_eq!(opt.step_if_finite().unwrap(), StepOutcome::Applied);
/// let c = opt.counts();
/// assert_eq!((c.notfinite_count, c.last_finite, c.total_notfinite), (0, true, 1));
/// ```
pub struct ApplyIfFinite<T: Float, O> {
    inner: O,
    max_consecutive_errors: Option<u64>,
    counts: NonFiniteCounts,
    dtype: PhantomData<fn() -> T>,
}

impl<T: Float, O: Optimizer<T>> ApplyIfFinite<T, O> {
    /// Wraps `inner`, with no step skipped yet. Refuses a `max_consecutive_errors`
    /// above [`MAX_STEP`] (the state keeps it as an f64; `None` is no limit).
    pub fn new(inner: O, max_consecutive_errors: Option<u64>) -> Result<Self> {
        if let Some(n) = max_consecutive_errors
            && n > MAX_STEP
        {
            return Err(OptimError::InvalidHyperParameter {
                optimizer: "ApplyIfFinite",
                name: "max_consecutive_errors",
                value: n.to_string(),
                reason: format!("must be at most 2^53 = {MAX_STEP}; None means no limit"),
            });
        }
        Ok(Self {
            inner,
            max_consecutive_errors,
            counts: NonFiniteCounts::default(),
            dtype: PhantomData,
        })
    }

    /// Steps the wrapped optimizer if every gradient is finite, and says whether
    /// it did. A gradient of the wrong shape is refused first
    /// ([`OptimError::GradientShape`]), finite or not.
    pub fn step_if_finite(&mut self) -> Result<StepOutcome> {
        check_grad_shapes(self.inner.name(), self.inner.groups())?;
        if grads_are_finite(self.inner.groups()) {
            self.inner.step()?;
            self.counts = self.counts.applied();
            return Ok(StepOutcome::Applied);
        }
        let skipped = self.counts.skipped(self.inner.name())?;
        if let Some(limit) = self.max_consecutive_errors
            && skipped.notfinite_count > limit
        {
            return Err(OptimError::TooManyNonFiniteSteps {
                optimizer: self.inner.name(),
                consecutive: skipped.notfinite_count,
                limit,
            });
        }
        self.counts = skipped;
        Ok(StepOutcome::Skipped)
    }

    /// The skipped-step counters.
    pub fn counts(&self) -> NonFiniteCounts {
        self.counts
    }

    /// The most consecutive steps skipped before a step is refused.
    pub fn max_consecutive_errors(&self) -> Option<u64> {
        self.max_consecutive_errors
    }

    /// The wrapped optimizer.
    pub fn inner(&self) -> &O {
        &self.inner
    }

    /// The wrapped optimizer, unwrapped.
    pub fn into_inner(self) -> O {
        self.inner
    }
}

impl<T: Float, O: Optimizer<T>> Optimizer<T> for ApplyIfFinite<T, O> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    /// [`ApplyIfFinite::step_if_finite`], without the outcome.
    fn step(&mut self) -> Result<()> {
        self.step_if_finite().map(drop)
    }
    fn groups(&self) -> &[Group<T>] {
        self.inner.groups()
    }
    fn add_param_group(&mut self, group: ParamGroup<T>) -> Result<()> {
        self.inner.add_param_group(group)
    }
    fn set_group_lr(&mut self, index: usize, lr: f64) -> Result<()> {
        self.inner.set_group_lr(index, lr)
    }
    fn momentum(&self) -> Option<f64> {
        self.inner.momentum()
    }
    fn with_eval_weights(&mut self, f: &mut dyn FnMut()) {
        self.inner.with_eval_weights(f)
    }
    fn set_momentum(&mut self, momentum: f64) -> Result<()> {
        self.inner.set_momentum(momentum)
    }
    fn state_dict(&self) -> StateDict<T> {
        let mut state = self.inner.state_dict();
        let options = self.counts.options(self.max_consecutive_errors);
        state.options.extend(options);
        state
    }
    fn load_state_dict(&mut self, state: &StateDict<T>) -> Result<()> {
        let name = self.inner.name();
        let (inner, counts) = counts::split(state, name, self.max_consecutive_errors)?;
        self.inner.load_state_dict(&inner)?;
        self.counts = counts;
        Ok(())
    }
    fn nonfinite_counts(&self) -> Option<NonFiniteCounts> {
        Some(self.counts)
    }
}

impl<T: Float, O: Optimizer<T>> std::fmt::Debug for ApplyIfFinite<T, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApplyIfFinite")
            .field("inner", &self.inner.name())
            .field("max_consecutive_errors", &self.max_consecutive_errors)
            .field("counts", &self.counts)
            .finish()
    }
}

/// The inner optimizer would refuse these too, but only after the finiteness
/// check, which must not hide a shape error behind a skip.
fn check_grad_shapes<T: Float>(optimizer: &'static str, groups: &[Group<T>]) -> Result<()> {
    for p in groups.iter().flat_map(|g| &g.params) {
        let grad = p.with_grad_mut(|g| match g {
            Some(g) if g.shape() != p.shape() => Some(g.shape().to_vec()),
            _ => None,
        });
        if let Some(grad) = grad {
            return Err(OptimError::GradientShape {
                optimizer,
                name: p.name(),
                param: p.shape().to_vec(),
                grad,
            });
        }
    }
    Ok(())
}

/// Whether every gradient present is free of NaN and ±∞.
fn grads_are_finite<T: Float>(groups: &[Group<T>]) -> bool {
    groups
        .iter()
        .flat_map(|g| &g.params)
        .all(|p: &Var<T>| p.with_grad_mut(|g| g.as_ref().is_none_or(|g| is_finite(g.data()))))
}

/// One pass over `data`, in parallel chunks for a large gradient.
fn is_finite<T: Float>(data: &[T]) -> bool {
    let check = FiniteCheck(AtomicBool::new(false));
    par::run(&check, data);
    !check.0.into_inner()
}

/// Sets its flag when a chunk holds a non-finite element.
struct FiniteCheck(AtomicBool);

impl<'a, T: Float> Kernel<&'a [T]> for FiniteCheck {
    #[inline(always)]
    fn run(&self, chunk: &'a [T]) {
        if !chunk_is_finite(chunk) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

/// 0 · x is ±0 for finite x and NaN for NaN and ±∞, and a sum of zeros is ±0,
/// so the sums all equal 0 exactly when every element is finite. Sixteen
/// independent sums let the loop run in vector registers without a branch.
#[inline(always)]
fn chunk_is_finite<T: Float>(chunk: &[T]) -> bool {
    const LANES: usize = 16;
    let mut sums = [T::ZERO; LANES];
    let blocks = chunk.chunks_exact(LANES);
    let tail = blocks.remainder();
    for block in blocks {
        for (s, &x) in sums.iter_mut().zip(block) {
            *s += x * T::ZERO;
        }
    }
    for (s, &x) in sums.iter_mut().zip(tail) {
        *s += x * T::ZERO;
    }
    sums.iter().all(|&s| s == T::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_check_finds_every_kind_of_non_finite_at_every_position() {
        for n in [1, 15, 16, 17, 40] {
            let finite: Vec<f32> = (0..n).map(|i| i as f32 - 7.5).collect();
            assert!(chunk_is_finite(&finite), "n = {n}");
            for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                for i in 0..n {
                    let mut v = finite.clone();
                    v[i] = bad;
                    assert!(!chunk_is_finite(&v), "{bad} at {i} of {n}");
                }
            }
        }
        assert!(chunk_is_finite::<f64>(&[
            f64::MAX,
            -f64::MAX,
            f64::MIN_POSITIVE,
            -0.0
        ]));
        assert!(chunk_is_finite::<f64>(&[]));
    }

    #[test]
    fn split_check_of_a_large_gradient_sees_the_last_element() {
        let mut v = vec![1.0f64; 3 * par::PAR_THRESHOLD + 5];
        assert!(is_finite(&v));
        *v.last_mut().unwrap() = f64::NAN;
        assert!(!is_finite(&v));
    }
}
