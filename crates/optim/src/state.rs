//! Optimizer state as plain data: what `state_dict` returns and `load_state_dict` takes.

use tapegrad_tape::Float;

/// Everything needed to resume an optimizer exactly: its name and options, each
/// group's learning rate, weight decay and parameter shapes, and each parameter's
/// step count and buffers (PyTorch's `state_dict()`).
///
/// Parameters are identified by position (group, then index in the group), so
/// the optimizer that loads a state must be built over the same parameters in
/// the same order.
///
/// ```
/// use tapegrad_optim::{Adam, AdamConfig, Optimizer};
/// use tapegrad_tape::{Tensor, Var};
/// let w = Var::parameter(Tensor::<f64>::ones(&[2]));
/// let mut opt = Adam::new(vec![w.clone()], AdamConfig::default()).unwrap();
/// w.set_grad(Some(Tensor::ones(&[2])));
/// opt.step().unwrap();
/// let state = opt.state_dict();
/// let slot = state.state[0][0].as_ref().unwrap();
/// assert_eq!(slot.step, 1);
/// let s = slot.buffer("exp_avg").unwrap(); // (1 − ρ₁) g
/// assert!(s.iter().all(|&x| (x - 0.1).abs() < 1e-15));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct StateDict<T> {
    /// The optimizer's name (`"Adam"`, `"SGD"`, …).
    pub optimizer: String,
    /// Options that are not per group (betas, eps, momentum, …), booleans as 0 or 1.
    pub options: Vec<(String, f64)>,
    /// One entry per parameter group.
    pub groups: Vec<GroupDict>,
    /// Per group, per parameter: the state, or `None` for a parameter that never
    /// had a gradient.
    pub state: Vec<Vec<Option<ParamState<T>>>>,
}

/// The saved part of a parameter group.
///
/// ```
/// let g = tapegrad_optim::GroupDict { lr: 0.1, weight_decay: 0.0, shapes: vec![vec![2, 3]] };
/// assert_eq!(g.shapes[0].iter().product::<usize>(), 6);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct GroupDict {
    /// The learning rate at the time of saving (schedules change it).
    pub lr: f64,
    /// The weight decay.
    pub weight_decay: f64,
    /// The shape of each parameter, to refuse a state saved for another model.
    pub shapes: Vec<Vec<usize>>,
}

/// The largest step count t a parameter's state may hold: 2⁵³.
///
/// t enters the update only as an f64 (Adam's ρ₁ᵗ and ρ₂ᵗ, AdaGrad's
/// (t − 1)·lr_decay). Every integer up to 2⁵³ is exact in f64; past it,
/// neighbouring counts round to the same f64, so t and t + 1 would take the same
/// step. A saved state with a larger t is refused
/// ([`crate::OptimError::ImpossibleCounter`]), and a step that would pass it is
/// refused before anything changes ([`crate::OptimError::CounterLimit`]).
///
/// ```
/// assert_eq!(tapegrad_optim::MAX_STEP as f64 as u64, tapegrad_optim::MAX_STEP);
/// assert_eq!((tapegrad_optim::MAX_STEP + 1) as f64 as u64, tapegrad_optim::MAX_STEP);
/// ```
pub const MAX_STEP: u64 = 1 << 53;

/// The state of one parameter: its step count t and named buffers
/// (`momentum_buffer`, `sum`, `square_avg`, `exp_avg`, `exp_avg_sq`, …, as PyTorch names them).
///
/// ```
/// let s = tapegrad_optim::ParamState { step: 3, buffers: vec![("sum".to_string(), vec![1.0f32])] };
/// assert_eq!(s.buffer("sum"), Some(&[1.0f32][..]));
/// assert_eq!(s.buffer("exp_avg"), None);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ParamState<T> {
    /// Steps taken with a gradient: 1 ≤ t ≤ [`MAX_STEP`] (0 for SGD, which does
    /// not count). `load_state_dict` refuses any other value.
    pub step: u64,
    /// Named buffers, each with one element per parameter element.
    pub buffers: Vec<(String, Vec<T>)>,
}

impl<T> ParamState<T> {
    /// The buffer of that name.
    pub fn buffer(&self, name: &str) -> Option<&[T]> {
        self.buffers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| b.as_slice())
    }
}

impl<T: Float> ParamState<T> {
    /// A copy of the buffer `name`, checked to hold `numel` elements.
    pub(crate) fn take(&self, name: &str, numel: usize) -> Result<Vec<T>, String> {
        let buf = self
            .buffer(name)
            .ok_or_else(|| format!("buffer {name} is missing"))?;
        if buf.len() != numel {
            return Err(format!(
                "buffer {name} has {} elements, the parameter has {numel}",
                buf.len()
            ));
        }
        Ok(buf.to_vec())
    }

    /// The buffer `name` if `used`; an error if it is missing while used, or
    /// present while the configuration has no use for it.
    pub(crate) fn take_if(
        &self,
        name: &str,
        used: bool,
        numel: usize,
    ) -> Result<Option<Vec<T>>, String> {
        match (used, self.buffer(name).is_some()) {
            (true, _) => self.take(name, numel).map(Some),
            (false, false) => Ok(None),
            (false, true) => Err(format!("buffer {name} is not used by this configuration")),
        }
    }

    /// Refuses buffers other than `allowed` (a state from another configuration).
    pub(crate) fn only(&self, allowed: &[&str]) -> Result<(), String> {
        match self
            .buffers
            .iter()
            .find(|(n, _)| !allowed.contains(&n.as_str()))
        {
            Some((n, _)) => Err(format!("unexpected buffer {n}")),
            None => Ok(()),
        }
    }
}
