//! What every optimizer holds: its groups and one state slot per parameter.

use tapegrad_tape::{Float, Tensor, Var};

use crate::error::{OptimError, Result};
use crate::group::{Group, ParamGroup};
use crate::state::{GroupDict, MAX_STEP, ParamState, StateDict};
use crate::validate;

/// The state of one parameter: its step count t (0 for an optimizer that does
/// not count steps) and one buffer per buffer its optimizer declares, empty
/// where the configuration keeps none.
pub(crate) struct Slot<T> {
    pub(crate) step: u64,
    pub(crate) buffers: Vec<Vec<T>>,
}

/// Groups and the per-parameter state slots (`None` until the parameter's first
/// step with a gradient).
pub(crate) struct Core<T: Float> {
    pub(crate) name: &'static str,
    pub(crate) groups: Vec<Group<T>>,
    pub(crate) slots: Vec<Vec<Option<Slot<T>>>>,
    counts_steps: bool,
    default_lr: f64,
    default_weight_decay: f64,
}

impl<T: Float> Core<T> {
    pub(crate) fn new(
        name: &'static str,
        groups: Vec<ParamGroup<T>>,
        default_lr: f64,
        default_weight_decay: f64,
        counts_steps: bool,
    ) -> Result<Self> {
        if groups.iter().all(|g| g.params.is_empty()) {
            return Err(OptimError::NoParameters { optimizer: name });
        }
        let mut core = Self {
            name,
            groups: Vec::with_capacity(groups.len()),
            slots: Vec::with_capacity(groups.len()),
            default_lr,
            default_weight_decay,
            counts_steps,
        };
        for group in groups {
            core.add_group(group)?;
        }
        Ok(core)
    }

    /// Validates and appends a group; its new parameters start without state.
    pub(crate) fn add_group(&mut self, group: ParamGroup<T>) -> Result<()> {
        let lr = group.lr.unwrap_or(self.default_lr);
        let weight_decay = group.weight_decay.unwrap_or(self.default_weight_decay);
        validate::non_negative(self.name, "lr", lr)?;
        validate::non_negative(self.name, "weight_decay", weight_decay)?;
        check_parameters(self.name, &group.params)?;
        if let Some(p) = (group.params.iter()).find(|p| self.params().any(|q| q.same(p))) {
            return Err(OptimError::DuplicateParameter {
                optimizer: self.name,
                name: p.name(),
            });
        }
        self.slots
            .push((0..group.params.len()).map(|_| None).collect());
        self.groups.push(Group {
            params: group.params,
            lr,
            weight_decay,
        });
        Ok(())
    }

    fn params(&self) -> impl Iterator<Item = &Var<T>> {
        self.groups.iter().flat_map(|g| g.params.iter())
    }

    pub(crate) fn set_group_lr(&mut self, index: usize, lr: f64) -> Result<()> {
        validate::non_negative(self.name, "lr", lr)?;
        let count = self.groups.len();
        let group = self.groups.get_mut(index).ok_or(OptimError::NoSuchGroup {
            optimizer: self.name,
            index,
            count,
        })?;
        group.lr = lr;
        Ok(())
    }

    /// Refuses a step before touching anything if some gradient has the wrong
    /// shape. Allocates nothing unless it fails.
    pub(crate) fn check_grad_shapes(&self) -> Result<()> {
        for p in self.params() {
            let wrong = p.with_grad_mut(|g| g.as_ref().is_some_and(|g| g.shape() != p.shape()));
            if wrong {
                let grad = p.with_grad_mut(|g| g.as_ref().map(|g| g.shape().to_vec()));
                return Err(OptimError::GradientShape {
                    optimizer: self.name,
                    name: p.name(),
                    param: p.shape().to_vec(),
                    grad: grad.unwrap_or_default(),
                });
            }
        }
        Ok(())
    }

    /// Refuses a step before touching anything if a parameter about to step has
    /// already taken [`MAX_STEP`] steps, so that the checked increments in the
    /// updates cannot fail halfway through a step.
    fn check_step_limits(&self) -> Result<()> {
        for (group, slots) in self.groups.iter().zip(&self.slots) {
            for (p, slot) in group.params.iter().zip(slots) {
                let at_limit = slot.as_ref().is_some_and(|s| s.step >= MAX_STEP);
                if at_limit && p.with_grad_mut(|g| g.is_some()) {
                    return Err(step_limit(self.name, p));
                }
            }
        }
        Ok(())
    }

    /// Calls `f(group, param, grad, slot)` for every parameter that has a gradient,
    /// after checking all gradient shapes and step counts.
    pub(crate) fn for_each_with_grad(
        &mut self,
        mut f: impl FnMut(&Group<T>, &Var<T>, &Tensor<T>, &mut Option<Slot<T>>) -> Result<()>,
    ) -> Result<()> {
        self.check_grad_shapes()?;
        self.check_step_limits()?;
        for (group, slots) in self.groups.iter().zip(self.slots.iter_mut()) {
            for (p, slot) in group.params.iter().zip(slots.iter_mut()) {
                if let Some(grad) = p.grad() {
                    f(group, p, &grad, slot)?;
                }
            }
        }
        Ok(())
    }

    /// The state, with `save` turning the slot of a parameter of a shape into
    /// named buffers.
    pub(crate) fn state_dict(
        &self,
        options: Vec<(String, f64)>,
        save: impl Fn(&Slot<T>, &[usize]) -> ParamState<T>,
    ) -> StateDict<T> {
        StateDict {
            optimizer: self.name.to_string(),
            options,
            groups: self
                .groups
                .iter()
                .map(|g| GroupDict {
                    lr: g.lr,
                    weight_decay: g.weight_decay,
                    shapes: g.params.iter().map(|p| p.shape().to_vec()).collect(),
                })
                .collect(),
            state: self
                .slots
                .iter()
                .zip(&self.groups)
                .map(|(slots, group)| {
                    (slots.iter().zip(&group.params))
                        .map(|(s, p)| s.as_ref().map(|s| save(s, p.shape())))
                        .collect()
                })
                .collect(),
        }
    }

    /// Checks everything first, so that a refused state leaves the optimizer as
    /// it was; `restore` rebuilds the slot of a parameter of the given shape
    /// from its saved buffers, or says what is wrong.
    pub(crate) fn load_state_dict(
        &mut self,
        saved: &StateDict<T>,
        options: &[(String, f64)],
        restore: impl Fn(&ParamState<T>, &[usize]) -> std::result::Result<Slot<T>, String>,
    ) -> Result<()> {
        let mismatch = |reason: String| OptimError::StateMismatch {
            optimizer: self.name,
            reason,
        };
        if saved.optimizer != self.name {
            return Err(mismatch(format!(
                "the state was saved by {}",
                saved.optimizer
            )));
        }
        check_options(&saved.options, options).map_err(mismatch)?;
        check_groups(saved, &self.groups).map_err(mismatch)?;
        let mut slots = Vec::with_capacity(self.groups.len());
        for (gi, (group, states)) in self.groups.iter().zip(&saved.state).enumerate() {
            let mut restored = Vec::with_capacity(states.len());
            for (pi, (p, state)) in group.params.iter().zip(states).enumerate() {
                let slot = match state {
                    None => None,
                    Some(s) => {
                        check_saved_step(self.name, self.counts_steps, gi, pi, s.step)?;
                        Some(restore(s, p.shape()).map_err(|reason| {
                            mismatch(format!("state of group {gi}, parameter {pi}: {reason}"))
                        })?)
                    }
                };
                restored.push(slot);
            }
            slots.push(restored);
        }
        for (group, saved) in self.groups.iter_mut().zip(&saved.groups) {
            group.lr = saved.lr;
            group.weight_decay = saved.weight_decay;
        }
        self.slots = slots;
        Ok(())
    }
}

/// t + 1, or [`OptimError::CounterLimit`] past [`MAX_STEP`] (never reached after
/// [`Core::for_each_with_grad`]'s check; the increment is checked all the same).
pub(crate) fn next_step<T: Float>(optimizer: &'static str, param: &Var<T>, t: u64) -> Result<u64> {
    match t.checked_add(1) {
        Some(next) if next <= MAX_STEP => Ok(next),
        _ => Err(step_limit(optimizer, param)),
    }
}

fn step_limit<T: Float>(optimizer: &'static str, param: &Var<T>) -> OptimError {
    OptimError::CounterLimit {
        optimizer,
        counter: format!("the step count of `{}`", param.name()),
        limit: MAX_STEP,
    }
}

/// A saved step count t that a run of this optimizer can produce: 1 ≤ t ≤
/// [`MAX_STEP`] for a state that counts steps (its first step sets t = 1), 0
/// for one that does not.
fn check_saved_step(
    optimizer: &'static str,
    counts_steps: bool,
    group: usize,
    param: usize,
    step: u64,
) -> Result<()> {
    let reason = if !counts_steps && step != 0 {
        format!("{optimizer} does not count steps, its saved step is always 0")
    } else if counts_steps && step == 0 {
        "a parameter with state has taken at least one step".to_string()
    } else if step > MAX_STEP {
        format!("the largest step count kept exactly is 2^53 = {MAX_STEP}")
    } else {
        return Ok(());
    };
    Err(OptimError::ImpossibleCounter {
        optimizer,
        counter: format!("step of group {group}, parameter {param}"),
        value: step.to_string(),
        reason,
    })
}

pub(crate) fn check_options(
    saved: &[(String, f64)],
    current: &[(String, f64)],
) -> std::result::Result<(), String> {
    if saved.len() != current.len() {
        return Err(format!(
            "the state has {} options, this optimizer has {}",
            saved.len(),
            current.len()
        ));
    }
    for ((saved_name, saved_value), (name, value)) in saved.iter().zip(current) {
        if saved_name != name {
            return Err(format!(
                "the state has option {saved_name} where this optimizer has {name}"
            ));
        }
        if saved_value.to_bits() != value.to_bits() {
            return Err(format!(
                "option {name} was {saved_value} when saved, this optimizer has {value}"
            ));
        }
    }
    Ok(())
}

fn check_groups<T: Float>(
    saved: &StateDict<T>,
    groups: &[Group<T>],
) -> std::result::Result<(), String> {
    if saved.groups.len() != groups.len() || saved.state.len() != groups.len() {
        return Err(format!(
            "the state has {} parameter groups, this optimizer has {}",
            saved.groups.len(),
            groups.len()
        ));
    }
    for (gi, (s, g)) in saved.groups.iter().zip(groups).enumerate() {
        if s.shapes.len() != g.params.len() || saved.state[gi].len() != g.params.len() {
            return Err(format!(
                "group {gi} has {} parameters in the state, {} in this optimizer",
                s.shapes.len(),
                g.params.len()
            ));
        }
        for (pi, (shape, p)) in s.shapes.iter().zip(&g.params).enumerate() {
            if shape.as_slice() != p.shape() {
                return Err(format!(
                    "group {gi}, parameter {pi} has shape {shape:?} in the state, {:?} in this optimizer",
                    p.shape()
                ));
            }
        }
        if !s.lr.is_finite() || s.lr < 0.0 || !s.weight_decay.is_finite() || s.weight_decay < 0.0 {
            return Err(format!(
                "group {gi} has lr = {}, weight_decay = {} in the state; both must be finite and >= 0",
                s.lr, s.weight_decay
            ));
        }
    }
    Ok(())
}

/// Refuses a var that is not a parameter and one given twice.
pub(crate) fn check_parameters<T: Float>(optimizer: &'static str, params: &[Var<T>]) -> Result<()> {
    for (i, p) in params.iter().enumerate() {
        if !p.is_parameter() {
            return Err(OptimError::NotAParameter {
                optimizer,
                name: p.name(),
            });
        }
        if params[..i].iter().any(|q| q.same(p)) {
            return Err(OptimError::DuplicateParameter {
                optimizer,
                name: p.name(),
            });
        }
    }
    Ok(())
}
