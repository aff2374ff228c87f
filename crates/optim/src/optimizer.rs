//! The interface every optimizer offers.

use std::path::Path;

use tapegrad_tape::Float;

use crate::error::Result;
use crate::finite::NonFiniteCounts;
use crate::group::{Group, ParamGroup};
use crate::state::StateDict;

/// An optimizer: updates its parameters in place from their gradients.
///
/// A training step is `zero_grad`, forward, `backward`, `step`. A parameter whose
/// gradient is absent (not reached by `backward` since the last `zero_grad`) is
/// skipped entirely: no update, no decay, no state.
///
/// ```
/// use tapegrad_optim::{Optimizer, Sgd, SgdConfig};
/// use tapegrad_tape::{Tensor, Var};
/// // minimize (w - 3)²
/// let w = Var::parameter(Tensor::<f64>::zeros(&[1]));
/// let mut opt = Sgd::new(vec![w.clone()], SgdConfig { lr: 0.1, ..Default::default() }).unwrap();
/// for _ in 0..100 {
///     opt.zero_grad();
///     let d = w.add_scalar(-3.0);
///     d.mul(&d).unwrap().sum().backward().unwrap();
///     opt.step().unwrap();
/// }
/// assert!((w.item().unwrap() - 3.0).abs() < 1e-8);
/// ```
pub trait Optimizer<T: Float> {
    /// The optimizer's name as in PyTorch (`"SGD"`, `"Adagrad"`, `"RMSprop"`, `"Adam"`, `"AdamW"`).
    fn name(&self) -> &'static str;

    /// Updates every parameter that has a gradient. Refuses (changing nothing) when
    /// a gradient's shape differs from its parameter's.
    fn step(&mut self) -> Result<()>;

    /// PyTorch's `step(closure)`: `closure` clears the gradients, computes the
    /// objective f, runs backward and returns f; the step calls it as often as
    /// it needs (once here, then [`Optimizer::step`]; several times for
    /// [`crate::Lbfgs`]) and returns f at the starting point. The closure
    /// returns the tape's `Result`, into which layer and loss errors convert
    /// with `?`; its error comes back as [`crate::OptimError::Tape`].
    ///
    /// ```
    /// use tapegrad_optim::{Optimizer, Sgd, SgdConfig};
    /// use tapegrad_tape::{Tensor, Var};
    /// let w = Var::parameter(Tensor::<f64>::ones(&[1]));
    /// let mut opt = Sgd::new(vec![w.clone()], SgdConfig { lr: 0.25, ..Default::default() }).unwrap();
    /// let f = opt.step_with(&mut || {
    ///     w.zero_grad();
    ///     let f = w.mul(&w)?.sum();
    ///     f.backward()?;
    ///     f.item()
    /// });
    /// assert_eq!((f.unwrap(), w.item().unwrap()), (1.0, 0.5));
    /// ```
    fn step_with(
        &mut self,
        closure: &mut dyn FnMut() -> tapegrad_tape::Result<f64>,
    ) -> Result<f64> {
        let f = closure()?;
        self.step()?;
        Ok(f)
    }

    /// The parameter groups, with their current learning rates.
    fn groups(&self) -> &[Group<T>];

    /// Adds a group; `None` overrides take the optimizer's options.
    fn add_param_group(&mut self, group: ParamGroup<T>) -> Result<()>;

    /// Sets the learning rate of one group (what schedules call).
    fn set_group_lr(&mut self, index: usize, lr: f64) -> Result<()>;

    /// The state needed to resume exactly (see [`StateDict`]).
    fn state_dict(&self) -> StateDict<T>;

    /// Restores a state from [`Optimizer::state_dict`]: the per-parameter state and
    /// each group's learning rate and weight decay. The other options must equal
    /// the saved ones. Nothing changes when the state is refused.
    fn load_state_dict(&mut self, state: &StateDict<T>) -> Result<()>;

    /// Forgets every parameter's gradient (PyTorch's `zero_grad(set_to_none=True)`).
    fn zero_grad(&self) {
        for group in self.groups() {
            group.params.iter().for_each(|p| p.zero_grad());
        }
    }

    /// The learning rate of the first group.
    fn lr(&self) -> f64 {
        self.groups()[0].lr
    }

    /// Sets the learning rate of every group.
    fn set_lr(&mut self, lr: f64) -> Result<()> {
        for i in 0..self.groups().len() {
            self.set_group_lr(i, lr)?;
        }
        Ok(())
    }

    /// The momentum a schedule cycles (PyTorch's `CyclicLR` and `OneCycleLR`):
    /// ρ₁ of `betas` where the optimizer has them, else its `momentum`; `None`
    /// for an optimizer with neither.
    fn momentum(&self) -> Option<f64> {
        None
    }

    /// Sets [`Optimizer::momentum`] for every group. Refused, with the
    /// optimizer unchanged, where it has none, where the value is out of range,
    /// and where the change would change which state buffers it keeps (SGD's
    /// momentum from 0, as no buffer exists yet).
    fn set_momentum(&mut self, momentum: f64) -> Result<()> {
        let _ = momentum;
        Err(crate::OptimError::UnsupportedOption {
            optimizer: self.name(),
            option: "momentum",
            reason: "it has neither momentum nor betas to cycle".into(),
        })
    }

    /// Runs `f` with the parameters at the point to evaluate, then puts the
    /// training point back: the average x for the schedule-free optimizers
    /// ([`crate::ScheduleFreeAdamW`]), the parameters as they are for every other.
    fn with_eval_weights(&mut self, f: &mut dyn FnMut()) {
        f()
    }

    /// Writes [`Optimizer::state_dict`] to `path` atomically: to a temporary file
    /// in the same directory, flushed, then renamed over `path`.
    fn save(&self, path: &Path) -> Result<()> {
        crate::file::save(&self.state_dict(), path)
    }

    /// Reads a file written by [`Optimizer::save`] and loads it. A truncated,
    /// damaged or foreign file is [`crate::OptimError::CorruptFile`]; a file for
    /// other parameters, options or dtype is [`crate::OptimError::StateMismatch`].
    fn load(&mut self, path: &Path) -> Result<()> {
        let state = crate::file::load(path, self.name())?;
        self.load_state_dict(&state)
    }

    /// The skipped-step counters of an optimizer wrapped in
    /// [`crate::ApplyIfFinite`]; `None` for one that applies every step.
    fn nonfinite_counts(&self) -> Option<NonFiniteCounts> {
        None
    }
}

/// A run-time choice of optimizer prints its name, groups and skip counts, so
/// that `Result<Box<dyn Optimizer<T>>>` can be unwrapped like any result.
impl<T: Float> std::fmt::Debug for dyn Optimizer<T> + '_ {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(self.name())
            .field("groups", &self.groups())
            .field("nonfinite_counts", &self.nonfinite_counts())
            .finish()
    }
}

/// A boxed optimizer is an optimizer, so that a choice made at run time
/// ([`crate::OptimizerSettings::build`]) can be wrapped like a concrete one.
///
/// ```
/// use tapegrad_optim::{ApplyIfFinite, Optimizer, OptimizerKind, OptimizerSettings};
/// use tapegrad_tape::{Tensor, Var};
/// let w = Var::parameter(Tensor::<f32>::zeros(&[2]));
/// let boxed = OptimizerSettings::new(OptimizerKind::Adam).build(vec![w]).unwrap();
/// let guarded = ApplyIfFinite::new(boxed, None).unwrap();
/// assert_eq!(guarded.name(), "Adam");
/// ```
impl<T: Float, O: Optimizer<T> + ?Sized> Optimizer<T> for Box<O> {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn step(&mut self) -> Result<()> {
        (**self).step()
    }
    fn step_with(
        &mut self,
        closure: &mut dyn FnMut() -> tapegrad_tape::Result<f64>,
    ) -> Result<f64> {
        (**self).step_with(closure)
    }
    fn groups(&self) -> &[Group<T>] {
        (**self).groups()
    }
    fn add_param_group(&mut self, group: ParamGroup<T>) -> Result<()> {
        (**self).add_param_group(group)
    }
    fn set_group_lr(&mut self, index: usize, lr: f64) -> Result<()> {
        (**self).set_group_lr(index, lr)
    }
    fn state_dict(&self) -> StateDict<T> {
        (**self).state_dict()
    }
    fn load_state_dict(&mut self, state: &StateDict<T>) -> Result<()> {
        (**self).load_state_dict(state)
    }
    fn zero_grad(&self) {
        (**self).zero_grad()
    }
    fn lr(&self) -> f64 {
        (**self).lr()
    }
    fn set_lr(&mut self, lr: f64) -> Result<()> {
        (**self).set_lr(lr)
    }
    fn momentum(&self) -> Option<f64> {
        (**self).momentum()
    }
    fn set_momentum(&mut self, momentum: f64) -> Result<()> {
        (**self).set_momentum(momentum)
    }
    fn with_eval_weights(&mut self, f: &mut dyn FnMut()) {
        (**self).with_eval_weights(f)
    }
    fn save(&self, path: &Path) -> Result<()> {
        (**self).save(path)
    }
    fn load(&mut self, path: &Path) -> Result<()> {
        (**self).load(path)
    }
    fn nonfinite_counts(&self) -> Option<NonFiniteCounts> {
        (**self).nonfinite_counts()
    }
}
