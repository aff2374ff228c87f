//! Several optimizers over disjoint sets of parameters, stepped as one (optax's
//! `multi_transform`; Muon for the matrices and AdamW for the rest).

use tapegrad_tape::Float;

use crate::error::{OptimError, Result};
use crate::group::{Group, ParamGroup};
use crate::optimizer::Optimizer;
use crate::state::StateDict;

const NAME: &str = "Partitioned";

/// Optimizers over disjoint parameter sets behaving as one: a step steps each
/// part, the groups are the parts' groups in order (so a schedule sets every
/// part's lr), the momentum a schedule cycles is set in every part that has
/// one, and the state is the parts' states side by side under one name,
/// `Partitioned(Muon, AdamW)`, saved to and restored from one file.
///
/// The registry's `muon` is one ([`crate::OptimizerKind::Muon`]): Muon on the
/// 2-D weights and AdamW on the others, as PyTorch's documentation of `Muon`
/// advises.
///
/// ```
/// use tapegrad_optim::{Adam, AdamConfig, Optimizer, Partitioned, Sgd, SgdConfig};
/// use tapegrad_tape::{Tensor, Var};
/// let (w, b) = (Var::parameter(Tensor::<f64>::ones(&[2, 2])), Var::parameter(Tensor::zeros(&[2])));
/// let sgd = Sgd::new(vec![w.clone()], SgdConfig { lr: 0.5, ..Default::default() }).unwrap();
/// let adam = Adam::new(vec![b.clone()], AdamConfig::default()).unwrap();
/// let mut opt = Partitioned::new(vec![Box::new(sgd), Box::new(adam)]).unwrap();
/// w.set_grad(Some(Tensor::ones(&[2, 2])));
/// b.set_grad(Some(Tensor::ones(&[2])));
/// opt.step().unwrap();
/// assert_eq!(w.value().data(), &[0.5; 4]);
/// assert_eq!(opt.groups().len(), 2);
/// assert_eq!(opt.state_dict().optimizer, "Partitioned(SGD, Adam)");
/// ```
pub struct Partitioned<T: Float> {
    parts: Vec<Box<dyn Optimizer<T>>>,
    groups: Vec<Group<T>>,
}

impl<T: Float> Partitioned<T> {
    /// The parts, in order. Refuses no parts and a parameter held by two of them.
    pub fn new(parts: Vec<Box<dyn Optimizer<T>>>) -> Result<Self> {
        if parts.is_empty() {
            return Err(OptimError::NoParameters { optimizer: NAME });
        }
        let params: Vec<_> = (parts.iter())
            .flat_map(|p| p.groups().iter().flat_map(|g| g.params.iter()))
            .collect();
        for (i, p) in params.iter().enumerate() {
            if params[..i].iter().any(|q| q.same(p)) {
                return Err(OptimError::DuplicateParameter {
                    optimizer: NAME,
                    name: p.name(),
                });
            }
        }
        let mut s = Self {
            parts,
            groups: Vec::new(),
        };
        s.refresh();
        Ok(s)
    }

    /// The parts.
    pub fn parts(&self) -> &[Box<dyn Optimizer<T>>] {
        &self.parts
    }

    /// The saved name: `Partitioned(` the parts' names `)`.
    pub fn full_name(&self) -> String {
        let names: Vec<&str> = self.parts.iter().map(|p| p.name()).collect();
        format!("{NAME}({})", names.join(", "))
    }

    fn refresh(&mut self) {
        self.groups = (self.parts.iter())
            .flat_map(|p| p.groups().iter().cloned())
            .collect();
    }

    /// The part holding group `index`, and the group's index inside it.
    fn locate(&self, index: usize) -> Option<(usize, usize)> {
        let mut first = 0;
        for (i, part) in self.parts.iter().enumerate() {
            let count = part.groups().len();
            if index < first + count {
                return Some((i, index - first));
            }
            first += count;
        }
        None
    }

    /// `state` cut into one state per part, each under the part's own name.
    fn split(&self, state: &StateDict<T>) -> Result<Vec<StateDict<T>>> {
        let mismatch = |reason: String| OptimError::StateMismatch {
            optimizer: NAME,
            reason,
        };
        if state.optimizer != self.full_name() {
            let reason = format!("the state was saved by {}", state.optimizer);
            return Err(mismatch(reason));
        }
        if state.groups.len() != self.groups.len() || state.state.len() != self.groups.len() {
            let reason = format!(
                "the state has {} groups, the optimizer {}",
                state.groups.len(),
                self.groups.len()
            );
            return Err(mismatch(reason));
        }
        let mut first = 0;
        let mut out = Vec::new();
        for (i, part) in self.parts.iter().enumerate() {
            let count = part.groups().len();
            let prefix = format!("{i}.");
            let options = (state.options.iter())
                .filter_map(|(k, v)| Some((k.strip_prefix(&prefix)?.to_owned(), *v)))
                .collect();
            out.push(StateDict {
                optimizer: part.name().to_owned(),
                options,
                groups: state.groups[first..first + count].to_vec(),
                state: state.state[first..first + count].to_vec(),
            });
            first += count;
        }
        let known = |k: &str| (0..self.parts.len()).any(|i| k.starts_with(&format!("{i}.")));
        if let Some((k, _)) = state.options.iter().find(|(k, _)| !known(k)) {
            return Err(mismatch(format!("unknown option {k}")));
        }
        Ok(out)
    }
}

/// Runs `f` inside every part's [`Optimizer::with_eval_weights`], nested.
fn nest<T: Float>(parts: &mut [Box<dyn Optimizer<T>>], f: &mut dyn FnMut()) {
    match parts.split_first_mut() {
        None => f(),
        Some((first, rest)) => first.with_eval_weights(&mut || nest(rest, f)),
    }
}

impl<T: Float> Optimizer<T> for Partitioned<T> {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Steps every part in order (a part that refuses its step leaves the
    /// earlier parts stepped).
    fn step(&mut self) -> Result<()> {
        self.parts.iter_mut().try_for_each(|p| p.step())
    }

    fn groups(&self) -> &[Group<T>] {
        &self.groups
    }

    /// Refused: add the group to one of the parts before partitioning.
    fn add_param_group(&mut self, group: ParamGroup<T>) -> Result<()> {
        let _ = group;
        Err(OptimError::UnsupportedOption {
            optimizer: NAME,
            option: "add_param_group",
            reason: "add the group to one of its parts before partitioning".into(),
        })
    }

    fn set_group_lr(&mut self, index: usize, lr: f64) -> Result<()> {
        let (part, local) = self.locate(index).ok_or(OptimError::NoSuchGroup {
            optimizer: NAME,
            index,
            count: self.groups.len(),
        })?;
        self.parts[part].set_group_lr(local, lr)?;
        self.refresh();
        Ok(())
    }

    /// The first part's momentum that exists.
    fn momentum(&self) -> Option<f64> {
        self.parts.iter().find_map(|p| p.momentum())
    }

    /// Sets the momentum of every part that has one (refused when none has;
    /// each part checks the value before any changes).
    fn set_momentum(&mut self, momentum: f64) -> Result<()> {
        let with: Vec<usize> = (0..self.parts.len())
            .filter(|&i| self.parts[i].momentum().is_some())
            .collect();
        if with.is_empty() {
            return Err(OptimError::UnsupportedOption {
                optimizer: NAME,
                option: "momentum",
                reason: "none of its parts has momentum or betas to cycle".into(),
            });
        }
        with.into_iter()
            .try_for_each(|i| self.parts[i].set_momentum(momentum))
    }

    fn with_eval_weights(&mut self, f: &mut dyn FnMut()) {
        nest(&mut self.parts, f)
    }

    fn state_dict(&self) -> StateDict<T> {
        let mut out = StateDict {
            optimizer: self.full_name(),
            options: Vec::new(),
            groups: Vec::new(),
            state: Vec::new(),
        };
        for (i, part) in self.parts.iter().enumerate() {
            let s = part.state_dict();
            out.options
                .extend(s.options.into_iter().map(|(k, v)| (format!("{i}.{k}"), v)));
            out.groups.extend(s.groups);
            out.state.extend(s.state);
        }
        out
    }

    /// Loads every part's state, or none: a part that refuses its state puts
    /// the parts loaded before it back as they were.
    fn load_state_dict(&mut self, state: &StateDict<T>) -> Result<()> {
        let pieces = self.split(state)?;
        let before: Vec<StateDict<T>> = self.parts.iter().map(|p| p.state_dict()).collect();
        for (i, piece) in pieces.iter().enumerate() {
            if let Err(e) = self.parts[i].load_state_dict(piece) {
                for (part, old) in self.parts[..i].iter_mut().zip(&before) {
                    part.load_state_dict(old)?;
                }
                return Err(e);
            }
        }
        self.refresh();
        Ok(())
    }
}

impl<T: Float> std::fmt::Debug for Partitioned<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(NAME)
            .field("parts", &self.full_name())
            .field("groups", &self.groups)
            .finish()
    }
}
