//! L-BFGS as an [`Optimizer`]: stepped through a closure, and its state (the
//! direction, the curvature pairs and the counters) in the state dict, so
//! that it is saved, restored and checkpointed like every other optimizer.
//!
//! The flat vectors are cut into one piece per parameter, as buffers of that
//! parameter (`d`, `prev_flat_grad`, `old_dirs.i`, `old_stps.i`); the scalars
//! are options after the configuration's (`state.func_evals`, `state.n_iter`,
//! `state.t`, `state.h_diag`, `state.prev_loss`, `state.ro.i`).

use std::collections::VecDeque;

use tapegrad_tape::Float;

use crate::core::check_options;
use crate::declare::Options;
use crate::error::{OptimError, Result};
use crate::group::{Group, ParamGroup};
use crate::lbfgs::{Lbfgs, LbfgsState, NAME};
use crate::optimizer::Optimizer;
use crate::state::{GroupDict, ParamState, StateDict};
use crate::validate;

/// The prefix of the state's scalars among the options.
const PREFIX: &str = "state.";

fn mismatch(reason: impl Into<String>) -> OptimError {
    OptimError::StateMismatch {
        optimizer: NAME,
        reason: reason.into(),
    }
}

impl<T: Float> Optimizer<T> for Lbfgs<T> {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Refused: L-BFGS evaluates the objective several times per step; call
    /// [`Optimizer::step_with`].
    fn step(&mut self) -> Result<()> {
        Err(OptimError::UnsupportedOption {
            optimizer: NAME,
            option: "step without a closure",
            reason: "L-BFGS re-evaluates the objective: call step_with(closure)".into(),
        })
    }

    fn step_with(
        &mut self,
        closure: &mut dyn FnMut() -> tapegrad_tape::Result<f64>,
    ) -> Result<f64> {
        Lbfgs::step(self, closure)
    }

    fn groups(&self) -> &[Group<T>] {
        &self.group
    }

    /// Refused: one group, as PyTorch's.
    fn add_param_group(&mut self, group: ParamGroup<T>) -> Result<()> {
        let _ = group;
        Err(OptimError::UnsupportedOption {
            optimizer: NAME,
            option: "add_param_group",
            reason: "L-BFGS has one parameter group, as PyTorch's".into(),
        })
    }

    fn set_group_lr(&mut self, index: usize, lr: f64) -> Result<()> {
        if index != 0 {
            return Err(OptimError::NoSuchGroup {
                optimizer: NAME,
                index,
                count: 1,
            });
        }
        validate::non_negative(NAME, "lr", lr)?;
        self.cfg.lr = lr;
        self.group[0].lr = lr;
        Ok(())
    }

    fn state_dict(&self) -> StateDict<T> {
        let mut options = self.cfg.saved_options();
        let params = self.params();
        let state = match &self.state {
            None => params.iter().map(|_| None).collect(),
            Some(st) => {
                options.extend(scalars(st));
                let mut offset = 0;
                let mut slots = Vec::new();
                for p in params {
                    let range = offset..offset + p.numel();
                    slots.push(Some(ParamState {
                        step: st.n_iter as u64,
                        buffers: pieces(st, range),
                    }));
                    offset += p.numel();
                }
                slots
            }
        };
        StateDict {
            optimizer: NAME.to_owned(),
            options,
            groups: vec![GroupDict {
                lr: self.cfg.lr,
                weight_decay: 0.0,
                shapes: params.iter().map(|p| p.shape().to_vec()).collect(),
            }],
            state: vec![state],
        }
    }

    /// Everything is checked before anything changes.
    fn load_state_dict(&mut self, saved: &StateDict<T>) -> Result<()> {
        if saved.optimizer != NAME {
            return Err(mismatch(format!(
                "the state was saved by {}",
                saved.optimizer
            )));
        }
        let shapes: Vec<Vec<usize>> = self.params().iter().map(|p| p.shape().to_vec()).collect();
        let ([group], [slots]) = (&saved.groups[..], &saved.state[..]) else {
            return Err(mismatch("L-BFGS has one group"));
        };
        if group.shapes != shapes || slots.len() != shapes.len() {
            return Err(mismatch("the state is for parameters of other shapes"));
        }
        validate::non_negative(NAME, "lr", group.lr)?;
        let own = self.cfg.saved_options();
        let (cfg, extra) = saved.options.split_at(own.len().min(saved.options.len()));
        check_options(cfg, &own).map_err(mismatch)?;
        let state = match slots.iter().all(Option::is_none) {
            true if extra.is_empty() => None,
            _ => Some(self.rebuild(extra, slots)?),
        };
        if let Some(st) = &state {
            self.check_fits(st)?;
        }
        self.state = state;
        self.cfg.lr = group.lr;
        self.group[0].lr = group.lr;
        Ok(())
    }
}

/// The scalars, as options.
fn scalars<T: Float>(st: &LbfgsState<T>) -> Vec<(String, f64)> {
    let mut out = vec![
        (format!("{PREFIX}func_evals"), st.func_evals as f64),
        (format!("{PREFIX}n_iter"), st.n_iter as f64),
        (format!("{PREFIX}t"), st.t),
        (format!("{PREFIX}h_diag"), st.h_diag.to_f64()),
        (format!("{PREFIX}prev_loss"), st.prev_loss),
    ];
    let ro = st.ro.iter().enumerate();
    out.extend(ro.map(|(i, r)| (format!("{PREFIX}ro.{i}"), r.to_f64())));
    out
}

/// One parameter's pieces of the flat vectors (`range` of each).
fn pieces<T: Float>(st: &LbfgsState<T>, range: std::ops::Range<usize>) -> Vec<(String, Vec<T>)> {
    let cut = |v: &[T]| v.get(range.clone()).map(<[T]>::to_vec).unwrap_or_default();
    let mut out = vec![
        ("d".to_owned(), cut(&st.d)),
        ("prev_flat_grad".to_owned(), cut(&st.prev_flat_grad)),
    ];
    for (i, y) in st.old_dirs.iter().enumerate() {
        out.push((format!("old_dirs.{i}"), cut(y)));
    }
    for (i, s) in st.old_stps.iter().enumerate() {
        out.push((format!("old_stps.{i}"), cut(s)));
    }
    out
}

impl<T: Float> Lbfgs<T> {
    /// The state from its scalars and every parameter's pieces.
    fn rebuild(
        &self,
        extra: &[(String, f64)],
        slots: &[Option<ParamState<T>>],
    ) -> Result<LbfgsState<T>> {
        let get = |name: &str| -> Result<f64> {
            let key = format!("{PREFIX}{name}");
            let found = extra.iter().find(|(k, _)| *k == key);
            found
                .map(|o| o.1)
                .ok_or_else(|| mismatch(format!("no option {key}")))
        };
        let count = |name: &str| -> Result<usize> {
            let v = get(name)?;
            let whole = v >= 0.0 && v.fract() == 0.0 && v <= (1u64 << 53) as f64;
            whole
                .then_some(v as usize)
                .ok_or_else(|| mismatch(format!("{PREFIX}{name} = {v} is not a count")))
        };
        let ro: VecDeque<T> = (extra.iter())
            .filter(|(k, _)| k.starts_with(&format!("{PREFIX}ro.")))
            .map(|(_, v)| T::from_f64(*v))
            .collect();
        if extra.len() != 5 + ro.len() {
            return Err(mismatch("unknown state options"));
        }
        let joined = |name: &str| -> Result<Vec<T>> {
            let mut out = Vec::new();
            for slot in slots {
                let slot = slot
                    .as_ref()
                    .ok_or_else(|| mismatch("a parameter has no state"))?;
                let piece = slot
                    .buffer(name)
                    .ok_or_else(|| mismatch(format!("no buffer {name}")))?;
                out.extend_from_slice(piece);
            }
            Ok(out)
        };
        let history = |name: &str| -> Result<VecDeque<Vec<T>>> {
            (0..ro.len())
                .map(|i| joined(&format!("{name}.{i}")))
                .collect()
        };
        let buffers = 2 + 2 * ro.len();
        if slots.iter().flatten().any(|s| s.buffers.len() != buffers) {
            return Err(mismatch(format!(
                "each parameter's state must have {buffers} buffers"
            )));
        }
        Ok(LbfgsState {
            func_evals: count("func_evals")?,
            n_iter: count("n_iter")?,
            d: joined("d")?,
            t: get("t")?,
            old_dirs: history("old_dirs")?,
            old_stps: history("old_stps")?,
            h_diag: T::from_f64(get("h_diag")?),
            prev_flat_grad: joined("prev_flat_grad")?,
            prev_loss: get("prev_loss")?,
            ro,
        })
    }
}
