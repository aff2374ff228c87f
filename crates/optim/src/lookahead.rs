//! Lookahead (Zhang et al., 2019, "Lookahead optimizer: k steps forward, 1
//! step back") around any optimizer, as optax's `lookahead`.

use tapegrad_tape::{Float, Var};

use crate::error::{OptimError, Result};
use crate::group::{Group, ParamGroup};
use crate::optimizer::Optimizer;
use crate::state::{ParamState, StateDict};
use crate::validate;

const NAME: &str = "Lookahead";
/// The buffer of a parameter's saved state that holds its slow weights.
const SLOW: &str = "lookahead_slow";
const OPTIONS: [&str; 3] = [
    "lookahead.sync_period",
    "lookahead.slow_step_size",
    "lookahead.steps_since_sync",
];

/// Runs an inner ("fast") optimizer and every `sync_period` steps pulls slow
/// weights φ towards the fast ones θ and restarts θ from them:
///
/// ```text
/// every step:        θ ← inner step
/// every k-th step:   φ ← φ + α (θ − φ) ;  θ ← φ
/// ```
///
/// (optax's `lookahead(fast, sync_period = k, slow_step_size = α)`, without
/// `reset_state`: the inner state carries on.) The parameters hold θ; right
/// after a synchronization θ = φ. Its state is the inner optimizer's, with the
/// slow weights as a buffer `lookahead_slow` of every parameter and k, α and
/// the steps since the last synchronization among the options; it saves and
/// restores through the same state file.
///
/// ```
/// use tapegrad_optim::{Lookahead, Optimizer, Sgd, SgdConfig};
/// use tapegrad_tape::{Tensor, Var};
/// let w = Var::parameter(Tensor::<f64>::zeros(&[1]));
/// let sgd = Sgd::new(vec![w.clone()], SgdConfig { lr: 1.0, ..Default::default() }).unwrap();
/// let mut opt = Lookahead::new(sgd, 2, 0.5).unwrap();
/// for _ in 0..2 {
///     w.set_grad(Some(Tensor::from_vec(vec![-1.0], &[1]).unwrap()));
///     opt.step().unwrap(); // θ: 1, then 2
/// }
/// assert_eq!(w.value().data(), [1.0]); // φ = 0 + 0.5 (2 − 0), and θ restarts there
/// ```
pub struct Lookahead<T: Float, O: Optimizer<T>> {
    inner: O,
    sync_period: usize,
    slow_step_size: f64,
    steps_since_sync: usize,
    /// φ of every parameter, in the order of the groups.
    slow: Vec<Vec<T>>,
}

impl<T: Float, O: Optimizer<T>> Lookahead<T, O> {
    /// Wraps `inner`, its parameters' current values as the slow weights;
    /// refuses k = 0 and α outside [0, 1].
    pub fn new(inner: O, sync_period: usize, slow_step_size: f64) -> Result<Self> {
        validate::at_least_one(NAME, "sync_period", sync_period)?;
        validate::unit_closed(NAME, "slow_step_size", slow_step_size)?;
        let slow = params(inner.groups())
            .map(|p| p.value().data().to_vec())
            .collect();
        Ok(Self {
            inner,
            sync_period,
            slow_step_size,
            steps_since_sync: 0,
            slow,
        })
    }

    /// The slow weights φ, one per parameter in the order of the groups.
    pub fn slow_weights(&self) -> &[Vec<T>] {
        &self.slow
    }

    /// The wrapped optimizer.
    pub fn inner(&self) -> &O {
        &self.inner
    }

    fn synchronize(&mut self) {
        let alpha = T::from_f64(self.slow_step_size);
        for (p, slow) in params(self.inner.groups()).zip(&mut self.slow) {
            p.update(|fast| {
                for (f, s) in fast.iter_mut().zip(slow.iter_mut()) {
                    *s += alpha * (*f - *s);
                    *f = *s;
                }
            });
        }
    }

    fn options(&self) -> [(String, f64); 3] {
        let values = [
            self.sync_period as f64,
            self.slow_step_size,
            self.steps_since_sync as f64,
        ];
        std::array::from_fn(|i| (OPTIONS[i].to_string(), values[i]))
    }

    /// The inner optimizer's state, the slow weights and the step count since
    /// the last synchronization, from a state this wrapper saved.
    fn split(&self, state: &StateDict<T>) -> Result<(StateDict<T>, Vec<Vec<T>>, usize)> {
        let mismatch = |reason: String| OptimError::StateMismatch {
            optimizer: NAME,
            reason,
        };
        let mut inner = state.clone();
        let n = inner.options.len();
        let ours = n
            .checked_sub(3)
            .map(|start| inner.options.split_off(start))
            .unwrap_or_default();
        let names: Vec<&str> = ours.iter().map(|(n, _)| n.as_str()).collect();
        if names != OPTIONS {
            return Err(mismatch(format!(
                "the state has no {} options: it was not saved by Lookahead",
                OPTIONS.join(", ")
            )));
        }
        let (k, alpha, since) = (ours[0].1, ours[1].1, ours[2].1);
        if k != self.sync_period as f64 || alpha.to_bits() != self.slow_step_size.to_bits() {
            return Err(mismatch(format!(
                "saved with sync_period {k} and slow_step_size {alpha}, this one has {} and {}",
                self.sync_period, self.slow_step_size
            )));
        }
        if !(since >= 0.0 && since < k && since.fract() == 0.0) {
            return Err(mismatch(format!(
                "{since} steps since the last synchronization, of a period of {k}"
            )));
        }
        let mut slow = Vec::new();
        for (gi, group) in inner.state.iter_mut().enumerate() {
            for (pi, entry) in group.iter_mut().enumerate() {
                let taken = entry.as_mut().and_then(|s| take_slow(s));
                let phi = taken.ok_or_else(|| {
                    mismatch(format!("group {gi}, parameter {pi} has no {SLOW} buffer"))
                })?;
                if entry
                    .as_ref()
                    .is_some_and(|s| s.step == 0 && s.buffers.is_empty())
                {
                    *entry = None; // only the slow weights were saved for it
                }
                slow.push(phi);
            }
        }
        Ok((inner, slow, since as usize))
    }
}

fn params<T: Float>(groups: &[Group<T>]) -> impl Iterator<Item = &Var<T>> {
    groups.iter().flat_map(|g| &g.params)
}

impl<T: Float, O: Optimizer<T>> Lookahead<T, O> {
    /// Counts an inner step; every k-th synchronizes.
    fn count_step(&mut self) {
        self.steps_since_sync += 1;
        if self.steps_since_sync == self.sync_period {
            self.synchronize();
            self.steps_since_sync = 0;
        }
    }
}

fn take_slow<T>(state: &mut ParamState<T>) -> Option<Vec<T>> {
    let i = state.buffers.iter().position(|(n, _)| n == SLOW)?;
    Some(state.buffers.remove(i).1)
}

impl<T: Float, O: Optimizer<T>> Optimizer<T> for Lookahead<T, O> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn step(&mut self) -> Result<()> {
        self.inner.step()?;
        self.count_step();
        Ok(())
    }
    /// The inner optimizer's closure step (L-BFGS's too), then the count.
    fn step_with(
        &mut self,
        closure: &mut dyn FnMut() -> tapegrad_tape::Result<f64>,
    ) -> Result<f64> {
        let f = self.inner.step_with(closure)?;
        self.count_step();
        Ok(f)
    }
    fn groups(&self) -> &[Group<T>] {
        self.inner.groups()
    }
    fn add_param_group(&mut self, group: ParamGroup<T>) -> Result<()> {
        let added: Vec<Vec<T>> = group
            .params
            .iter()
            .map(|p| p.value().data().to_vec())
            .collect();
        self.inner.add_param_group(group)?;
        self.slow.extend(added);
        Ok(())
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
        state.options.extend(self.options());
        let mut slow = self.slow.iter();
        for entry in state.state.iter_mut().flatten() {
            let phi = slow.next().expect("one slow weight per parameter").clone();
            entry
                .get_or_insert_with(|| ParamState {
                    step: 0,
                    buffers: Vec::new(),
                })
                .buffers
                .push((SLOW.to_string(), phi));
        }
        state
    }
    fn load_state_dict(&mut self, state: &StateDict<T>) -> Result<()> {
        let (inner, slow, since) = self.split(state)?;
        let sizes = params(self.inner.groups()).map(Var::numel);
        if slow.len() != self.slow.len() || slow.iter().map(Vec::len).ne(sizes) {
            let reason = "the slow weights do not fit the parameters".to_string();
            return Err(OptimError::StateMismatch {
                optimizer: NAME,
                reason,
            });
        }
        self.inner.load_state_dict(&inner)?;
        self.slow = slow;
        self.steps_since_sync = since;
        Ok(())
    }
}

impl<T: Float, O: Optimizer<T>> std::fmt::Debug for Lookahead<T, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(NAME)
            .field("inner", &self.inner.name())
            .field("sync_period", &self.sync_period)
            .field("slow_step_size", &self.slow_step_size)
            .field("steps_since_sync", &self.steps_since_sync)
            .finish()
    }
}
