//! An optimizer is a [`Rule`] (its options, its state buffers and its update)
//! run by the one generic [`Optim`], which holds the groups and the state,
//! validates, steps, saves and restores for every rule alike.

use tapegrad_tape::{Float, Var};

use crate::core::{Core, Slot, next_step};
use crate::declare::Options;
use crate::error::Result;
use crate::group::{Group, ParamGroup};
use crate::state::{ParamState, StateDict};

/// What one step of one parameter sees: the group's lr ε and weight decay 1/C,
/// the step count t (1 at the first step; 0 for a rule that does not count
/// steps), whether the state was just created, θ, g and the state buffers in
/// the order of [`Rule::BUFFERS`] (empty where the configuration keeps none).
pub struct StepData<'a, T> {
    /// The group's learning rate ε.
    pub lr: f64,
    /// The group's weight decay 1/C.
    pub weight_decay: f64,
    /// The step count t after this step.
    pub t: u64,
    /// θ's shape (for rules that factor or orthogonalize a matrix).
    pub shape: &'a [usize],
    /// Whether this is the parameter's first step (its state was just made).
    pub first: bool,
    /// θ, updated in place.
    pub param: &'a mut [T],
    /// g.
    pub grad: &'a [T],
    /// The state buffers.
    pub state: &'a mut [Vec<T>],
}

/// The declaration of an optimizer: implemented by its configuration struct
/// (made with the crate's `config!`), it names the optimizer, declares its
/// state buffers and does the per-element arithmetic of one step.
pub trait Rule: Options {
    /// PyTorch's name of the optimizer this configuration is (`"Adam"`, or
    /// `"AdamW"` with decoupled weight decay).
    fn name(&self) -> &'static str;

    /// The state buffers of a parameter, PyTorch's names, in order.
    const BUFFERS: &'static [&'static str];

    /// Whether the state counts steps t (every optimizer but SGD).
    const COUNTS_STEPS: bool = true;

    /// Checks between options, after each option's own range (none by default).
    fn check_combination(&self) -> Result<()> {
        Ok(())
    }

    /// Whether this configuration keeps the buffer `BUFFERS[index]`.
    fn keeps(&self, index: usize) -> bool {
        let _ = index;
        true
    }

    /// Whether a parameter of this shape keeps `BUFFERS[index]` (Adafactor
    /// factors matrices only): [`Rule::keeps`] by default.
    fn keeps_for(&self, index: usize, shape: &[usize]) -> bool {
        let _ = shape;
        self.keeps(index)
    }

    /// Refuses a parameter of a shape the rule cannot update (Muon takes
    /// matrices only), with the reason; every shape by default.
    fn check_shape(&self, shape: &[usize]) -> std::result::Result<(), String> {
        let _ = shape;
        Ok(())
    }

    /// The kind the registry ([`crate::OptimizerSettings::build`]) gives the
    /// parameters [`Rule::check_shape`] refuses, beside this rule in a
    /// [`crate::Partitioned`] (Muon: AdamW); `None` where every shape is taken
    /// or a refused one stays an error.
    fn companion(&self) -> Option<crate::OptimizerKind> {
        None
    }

    /// The length of `BUFFERS[index]` for a parameter of this shape: its
    /// size, or 1 for a scalar the optimizer keeps per parameter (NAdam's μ
    /// product), or the size of a factor.
    fn buffer_len(&self, index: usize, shape: &[usize]) -> usize {
        let _ = index;
        shape.iter().product()
    }

    /// The value every element of `BUFFERS[index]` starts from.
    fn initial(&self, index: usize) -> f64 {
        let _ = index;
        0.0
    }

    /// β of a schedule-free rule, whose point to evaluate is
    /// (θ − (1 − β) b₀)/β with b₀ its first buffer; `None` for every other.
    fn eval_interpolation(&self) -> Option<f64> {
        None
    }

    /// One step of one parameter: updates θ and the state from g, fused in one
    /// pass and allocating nothing.
    fn update<T: Float>(&self, step: StepData<'_, T>);
}

/// The optimizer of a [`Rule`]: `Adam<T>` is `Optim<T, AdamConfig>`.
pub struct Optim<T: Float, R: Rule> {
    core: Core<T>,
    cfg: R,
}

impl<T: Float, R: Rule> Optim<T, R> {
    /// The optimizer over `params`, refusing invalid options.
    pub fn new(params: Vec<Var<T>>, cfg: R) -> Result<Self> {
        Self::with_groups(vec![ParamGroup::new(params)], cfg)
    }

    /// The optimizer over parameter groups, each with optional lr and
    /// weight-decay overrides.
    pub fn with_groups(groups: Vec<ParamGroup<T>>, cfg: R) -> Result<Self> {
        let name = cfg.name();
        cfg.check_ranges(name)?;
        cfg.check_combination()?;
        groups.iter().try_for_each(|g| check_shapes(&cfg, g))?;
        let (lr, wd) = (cfg.lr(), cfg.weight_decay());
        let core = Core::new(name, groups, lr, wd, R::COUNTS_STEPS)?;
        Ok(Self { core, cfg })
    }

    /// The options given at construction.
    pub fn config(&self) -> &R {
        &self.cfg
    }

    /// Sets every parameter with state to (θ − (1 − β) b₀)/β, b₀ its first
    /// buffer (schedule-free's z), and returns the parameters' values before.
    pub(crate) fn swap_in_average(&mut self, b1: f64) -> Vec<(Var<T>, Vec<T>)> {
        let (scale, weight) = (T::from_f64(b1), T::from_f64(1.0 - b1));
        let mut saved = Vec::new();
        for (group, slots) in self.core.groups.iter().zip(&self.core.slots) {
            for (p, slot) in group.params.iter().zip(slots) {
                let Some(slot) = slot else { continue };
                saved.push((p.clone(), p.value().data().to_vec()));
                let z = &slot.buffers[0];
                p.update(|y| {
                    y.iter_mut()
                        .zip(z)
                        .for_each(|(y, &z)| *y = (*y - weight * z) / scale)
                });
            }
        }
        saved
    }

    fn update(&mut self) -> Result<()> {
        let (cfg, name) = (self.cfg, self.core.name);
        let keeps_state = keeps_state(&cfg);
        let mut stateless: [Vec<T>; 0] = [];
        self.core.for_each_with_grad(|group, param, grad, slot| {
            let first = slot.is_none();
            let (t, state) = if keeps_state {
                let state = slot.get_or_insert_with(|| new_slot(&cfg, param.shape()));
                if R::COUNTS_STEPS {
                    state.step = next_step(name, param, state.step)?;
                }
                (state.step, state.buffers.as_mut_slice())
            } else {
                (0, &mut stateless[..])
            };
            let shape = param.shape();
            param.update(|p| {
                cfg.update(StepData {
                    lr: group.lr,
                    weight_decay: group.weight_decay,
                    t,
                    shape,
                    first,
                    param: p,
                    grad: grad.data(),
                    state,
                })
            });
            Ok(())
        })
    }
}

/// Refuses a group holding a parameter of a shape the rule cannot update.
fn check_shapes<T: Float, R: Rule>(cfg: &R, group: &ParamGroup<T>) -> Result<()> {
    for p in &group.params {
        cfg.check_shape(p.shape())
            .map_err(|reason| crate::OptimError::UnsupportedShape {
                optimizer: cfg.name(),
                shape: p.shape().to_vec(),
                reason,
            })?;
    }
    Ok(())
}

/// The option a cycled momentum sets: ρ₁ of `betas` where the rule has them,
/// else `momentum` (PyTorch's `CyclicLR` looks for them in that order).
fn momentum_option<R: Rule>() -> Option<&'static str> {
    let names = R::option_names();
    ["betas.0", "momentum"]
        .into_iter()
        .find(|n| names.contains(n))
}

/// Whether a parameter of this configuration has state at all (SGD without
/// momentum has none).
fn keeps_state<R: Rule>(cfg: &R) -> bool {
    R::COUNTS_STEPS || (0..R::BUFFERS.len()).any(|i| cfg.keeps(i))
}

fn new_slot<T: Float, R: Rule>(cfg: &R, shape: &[usize]) -> Slot<T> {
    let buffers = (0..R::BUFFERS.len())
        .map(|i| match cfg.keeps_for(i, shape) {
            true => vec![T::from_f64(cfg.initial(i)); cfg.buffer_len(i, shape)],
            false => Vec::new(),
        })
        .collect();
    Slot { step: 0, buffers }
}

/// The slot as named buffers, those the configuration keeps for the
/// parameter's shape, in declared order.
fn save<T: Float, R: Rule>(cfg: &R, slot: &Slot<T>, shape: &[usize]) -> ParamState<T> {
    let buffers = R::BUFFERS
        .iter()
        .zip(&slot.buffers)
        .enumerate()
        .filter(|(i, _)| cfg.keeps_for(*i, shape))
        .map(|(_, (name, b))| (name.to_string(), b.clone()))
        .collect();
    ParamState {
        step: slot.step,
        buffers,
    }
}

/// The slot of a parameter of this shape: exactly the buffers the
/// configuration keeps for it, each of its length.
fn restore<T: Float, R: Rule>(
    cfg: &R,
    saved: &ParamState<T>,
    shape: &[usize],
) -> std::result::Result<Slot<T>, String> {
    if !keeps_state(cfg) {
        return Err(format!("{} keeps no state with these options", cfg.name()));
    }
    saved.only(R::BUFFERS)?;
    let buffers = R::BUFFERS
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let len = cfg.buffer_len(i, shape);
            Ok(saved
                .take_if(name, cfg.keeps_for(i, shape), len)?
                .unwrap_or_default())
        })
        .collect::<std::result::Result<_, String>>()?;
    Ok(Slot {
        step: saved.step,
        buffers,
    })
}

impl<T: Float, R: Rule> crate::Optimizer<T> for Optim<T, R> {
    fn name(&self) -> &'static str {
        self.core.name
    }
    fn step(&mut self) -> Result<()> {
        self.update()
    }
    fn groups(&self) -> &[Group<T>] {
        &self.core.groups
    }
    fn add_param_group(&mut self, group: ParamGroup<T>) -> Result<()> {
        check_shapes(&self.cfg, &group)?;
        self.core.add_group(group)
    }
    fn set_group_lr(&mut self, index: usize, lr: f64) -> Result<()> {
        self.core.set_group_lr(index, lr)
    }
    fn momentum(&self) -> Option<f64> {
        let name = momentum_option::<R>()?;
        let saved = self.cfg.saved_options();
        saved.into_iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
    fn set_momentum(&mut self, momentum: f64) -> Result<()> {
        let refuse = |reason: String| crate::OptimError::UnsupportedOption {
            optimizer: self.core.name,
            option: "momentum",
            reason,
        };
        let name = momentum_option::<R>()
            .ok_or_else(|| refuse("it has neither momentum nor betas to cycle".into()))?;
        let mut cfg = self.cfg;
        cfg.set(name, momentum)?;
        cfg.check_ranges(self.core.name)?;
        cfg.check_combination()?;
        if (0..R::BUFFERS.len()).any(|i| cfg.keeps(i) != self.cfg.keeps(i)) {
            let was = self.momentum().unwrap_or(f64::NAN);
            return Err(refuse(format!(
                "{name} from {was} to {momentum} would change the state buffers it keeps; \
                 construct it with a non-zero {name}"
            )));
        }
        self.cfg = cfg;
        Ok(())
    }
    fn with_eval_weights(&mut self, f: &mut dyn FnMut()) {
        match self.cfg.eval_interpolation() {
            Some(b1) => {
                let saved = self.swap_in_average(b1);
                f();
                for (p, y) in saved {
                    p.update(|d| d.copy_from_slice(&y));
                }
            }
            None => f(),
        }
    }
    fn state_dict(&self) -> StateDict<T> {
        let cfg = &self.cfg;
        self.core
            .state_dict(cfg.saved_options(), |slot, shape| save(cfg, slot, shape))
    }
    fn load_state_dict(&mut self, state: &StateDict<T>) -> Result<()> {
        let cfg = self.cfg;
        let options = cfg.saved_options();
        self.core
            .load_state_dict(state, &options, |s, n| restore(&cfg, s, n))
    }
}

impl<T: Float, R: Rule> std::fmt::Debug for Optim<T, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(self.core.name)
            .field("config", &self.cfg)
            .field("groups", &self.core.groups)
            .finish()
    }
}
