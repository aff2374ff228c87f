//! L-BFGS (Nocedal, 1980; Liu and Nocedal, 1989), as PyTorch's `torch.optim.LBFGS`:
//! a quasi-Newton method that re-evaluates the objective through a closure.

use std::collections::VecDeque;

use tapegrad_tape::{Float, Var};

use crate::declare::{Options, config, indexed_option};
use crate::error::{OptimError, Result};
use crate::group::Group;
use crate::line_search::strong_wolfe;

/// PyTorch's name of the optimizer.
pub(crate) const NAME: &str = "LBFGS";

/// How [`Lbfgs`] chooses the step length along its direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LineSearch {
    /// A fixed step ε (after the first iteration; PyTorch's `None`).
    #[default]
    Fixed,
    /// Cubic interpolation until the strong Wolfe conditions hold
    /// (`"strong_wolfe"`: c₁ = 1e-4, c₂ = 0.9).
    StrongWolfe,
}

impl LineSearch {
    const ALL: [LineSearch; 2] = [LineSearch::Fixed, LineSearch::StrongWolfe];
}

indexed_option!(LineSearch);

config! {
    /// Options of [`Lbfgs`]; `Default` gives PyTorch's defaults.
    ///
    /// ```
    /// let cfg = tapegrad_optim::LbfgsConfig::default();
    /// assert_eq!((cfg.lr, cfg.max_iter, cfg.max_eval, cfg.history_size), (1.0, 20, None, 100));
    /// assert_eq!((cfg.tolerance_grad, cfg.tolerance_change), (1e-7, 1e-9));
    /// ```
    pub struct LbfgsConfig for "LBFGS" {
        /// Learning rate ε (≥ 0): the step length without a line search, the
        /// first trial step of one.
        group lr: f64 = 1.0, "ε", non_negative;
        /// Always 0: L-BFGS has no weight decay (PyTorch's has none); add
        /// θᵀθ/(2C) to the objective instead.
        group weight_decay: f64 = 0.0, "", zero;
        /// Iterations per [`Lbfgs::step`] (≥ 1).
        option max_iter: usize = 20, "", count_at_least_one;
        /// Objective evaluations per step; `None` for max_iter · 5/4.
        option max_eval: Option<usize> = None, "", count_at_least_one;
        /// Stop when max |g| ≤ this (≥ 0).
        option tolerance_grad: f64 = 1e-7, "", non_negative;
        /// Stop when the step or the change of the objective is below this (≥ 0).
        option tolerance_change: f64 = 1e-9, "", non_negative;
        /// The (s, y) pairs kept (≥ 1).
        option history_size: usize = 100, "m", count_at_least_one;
        /// Fixed step or strong Wolfe.
        option line_search: LineSearch = LineSearch::Fixed, "", any;
        /// Maximize the objective instead.
        option maximize: bool = false, "", any;
    }
}

impl LbfgsConfig {
    fn checked(self) -> Result<Self> {
        self.check_ranges(NAME)?;
        Ok(self)
    }

    /// max_eval, or PyTorch's default max_iter · 5/4.
    fn evaluations(&self) -> usize {
        self.max_eval.unwrap_or(self.max_iter * 5 / 4)
    }
}

/// What L-BFGS carries from one [`Lbfgs::step`] to the next (PyTorch's state
/// of the first parameter).
#[derive(Clone, Debug, PartialEq)]
pub struct LbfgsState<T> {
    /// Objective evaluations so far.
    pub func_evals: usize,
    /// Iterations so far.
    pub n_iter: usize,
    /// The last direction d and step length t.
    pub d: Vec<T>,
    /// The last step length.
    pub t: f64,
    /// The curvature pairs: y (gradient changes) and s (steps), oldest first,
    /// and ρ = 1/(yᵀs) of each.
    pub old_dirs: VecDeque<Vec<T>>,
    /// The steps s.
    pub old_stps: VecDeque<Vec<T>>,
    /// 1/(yᵀs).
    pub ro: VecDeque<T>,
    /// The scale γ = sᵀy / yᵀy of the initial inverse Hessian.
    pub h_diag: T,
    /// The gradient of the last iteration.
    pub prev_flat_grad: Vec<T>,
    /// The objective of the last iteration.
    pub prev_loss: f64,
}

/// L-BFGS, step for step as PyTorch's, over all parameters as one vector θ. Each
/// [`Lbfgs::step`] runs up to `max_iter` iterations, calling the closure (which
/// clears the gradients, computes f(θ), runs backward and returns f) whenever
/// it needs f and g:
///
/// ```text
/// d = −H g, H the two-loop product of the last m pairs (s, y) with H₀ = γ I,
///     γ = sᵀy / yᵀy; a pair is kept only when yᵀs > 1e-10
/// t = min(1, 1/‖g‖₁) ε at the first iteration, ε after (or strong Wolfe)
/// θ ← θ + t d
/// ```
///
/// stopping when max|g| ≤ tolerance_grad, gᵀd > −tolerance_change,
/// max|t d| ≤ tolerance_change, |Δf| < tolerance_change, or the iteration and
/// evaluation budgets are spent. It returns f at the start of the step. One
/// group only, as PyTorch's; memory (m + 2) times the parameters.
///
/// ```
/// use tapegrad_optim::{Lbfgs, LbfgsConfig};
/// use tapegrad_tape::{Tensor, Var};
/// // f(x) = Σ (x − 3)², minimized in one step of at most 20 iterations.
/// let x = Var::parameter(Tensor::<f64>::zeros(&[2]));
/// let mut opt = Lbfgs::new(vec![x.clone()], LbfgsConfig::default()).unwrap();
/// let first = opt
///     .step(|| {
///         x.zero_grad();
///         let d = x.add_scalar(-3.0);
///         let f = d.mul(&d)?.sum();
///         f.backward()?;
///         f.item()
///     })
///     .unwrap();
/// assert_eq!(first, 18.0);
/// assert!(x.value().data().iter().all(|v| (v - 3.0).abs() < 1e-6));
/// ```
pub struct Lbfgs<T: Float> {
    /// The one group: the parameters and ε (also `cfg.lr`).
    pub(crate) group: [Group<T>; 1],
    pub(crate) cfg: LbfgsConfig,
    pub(crate) state: Option<LbfgsState<T>>,
}

impl<T: Float> Lbfgs<T> {
    /// L-BFGS over `params`; refuses invalid options and an empty list.
    pub fn new(params: Vec<Var<T>>, cfg: LbfgsConfig) -> Result<Self> {
        if params.is_empty() {
            return Err(OptimError::NoParameters { optimizer: NAME });
        }
        let cfg = cfg.checked()?;
        crate::core::check_parameters(NAME, &params)?;
        let group = Group {
            params,
            lr: cfg.lr,
            weight_decay: 0.0,
        };
        Ok(Self {
            group: [group],
            cfg,
            state: None,
        })
    }

    /// The options.
    pub fn config(&self) -> &LbfgsConfig {
        &self.cfg
    }

    /// The carried state, `None` before the first iteration.
    pub fn state(&self) -> Option<&LbfgsState<T>> {
        self.state.as_ref()
    }

    /// Continues from a saved [`Lbfgs::state`]; refused, changing nothing,
    /// when its vectors do not have the parameters' total size.
    pub fn restore(&mut self, state: LbfgsState<T>) -> Result<()> {
        self.check_fits(&state)?;
        self.state = Some(state);
        Ok(())
    }

    /// Refuses a state whose vectors do not have the parameters' total size
    /// (d and the last gradient may be empty before the first iteration).
    pub(crate) fn check_fits(&self, state: &LbfgsState<T>) -> Result<()> {
        let n = self.numel();
        let pairs = state.old_dirs.iter().chain(&state.old_stps);
        let fresh = state.n_iter == 0 && state.d.is_empty() && state.prev_flat_grad.is_empty();
        let sizes_fit = (fresh || state.d.len() == n && state.prev_flat_grad.len() == n)
            && pairs.clone().all(|v| v.len() == n)
            && state.old_dirs.len() == state.old_stps.len()
            && state.ro.len() == state.old_dirs.len()
            && state.old_dirs.len() <= self.cfg.history_size;
        if !sizes_fit {
            return Err(OptimError::StateMismatch {
                optimizer: NAME,
                reason: format!(
                    "the state's vectors do not fit {n} parameters and a history of {}",
                    self.cfg.history_size
                ),
            });
        }
        Ok(())
    }

    /// The parameters, in order.
    pub(crate) fn params(&self) -> &[Var<T>] {
        &self.group[0].params
    }

    pub(crate) fn numel(&self) -> usize {
        self.params().iter().map(Var::numel).sum()
    }

    /// The gradient as one vector (zero where a parameter has none), negated
    /// when maximizing.
    fn flat_grad(&self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.numel());
        for p in self.params() {
            match p.grad() {
                Some(g) => out.extend_from_slice(g.data()),
                None => out.extend(std::iter::repeat_n(T::ZERO, p.numel())),
            }
        }
        if self.cfg.maximize {
            out.iter_mut().for_each(|g| *g = -*g);
        }
        out
    }

    /// θ ← θ + t d.
    fn add_step(&self, t: f64, d: &[T]) {
        let t = T::from_f64(t);
        let mut offset = 0;
        for p in self.params() {
            let n = p.numel();
            p.update(|v| {
                v.iter_mut()
                    .zip(&d[offset..offset + n])
                    .for_each(|(x, &di)| *x += t * di)
            });
            offset += n;
        }
    }

    fn values(&self) -> Vec<Vec<T>> {
        self.params()
            .iter()
            .map(|p| p.value().data().to_vec())
            .collect()
    }

    fn set_values(&self, values: &[Vec<T>]) {
        for (p, v) in self.params().iter().zip(values) {
            p.update(|d| d.copy_from_slice(v));
        }
    }

    /// f (negated when maximizing) from the closure.
    fn evaluate(&self, closure: &mut dyn FnMut() -> tapegrad_tape::Result<f64>) -> Result<f64> {
        let f = closure()?;
        Ok(if self.cfg.maximize { -f } else { f })
    }

    /// Up to `max_iter` iterations; returns f at the start (as the closure gave it).
    pub fn step(&mut self, mut closure: impl FnMut() -> tapegrad_tape::Result<f64>) -> Result<f64> {
        let closure: &mut dyn FnMut() -> tapegrad_tape::Result<f64> = &mut closure;
        let cfg = self.cfg;
        let max_eval = cfg.evaluations();
        let orig = closure()?;
        let mut loss = if cfg.maximize { -orig } else { orig };
        let mut current_evals = 1;
        let mut st = self.state.take().unwrap_or_else(|| LbfgsState {
            func_evals: 0,
            n_iter: 0,
            d: Vec::new(),
            t: 0.0,
            old_dirs: VecDeque::new(),
            old_stps: VecDeque::new(),
            ro: VecDeque::new(),
            h_diag: T::ONE,
            prev_flat_grad: Vec::new(),
            prev_loss: 0.0,
        });
        st.func_evals += 1;
        let mut flat_grad = self.flat_grad();
        if max_abs(&flat_grad) <= cfg.tolerance_grad {
            self.state = Some(st);
            return Ok(orig);
        }
        let mut n_iter = 0;
        while n_iter < cfg.max_iter {
            n_iter += 1;
            st.n_iter += 1;
            st.d = if st.n_iter == 1 {
                st.old_dirs.clear();
                st.old_stps.clear();
                st.ro.clear();
                st.h_diag = T::ONE;
                flat_grad.iter().map(|&g| -g).collect()
            } else {
                self.update_history(&mut st, &flat_grad);
                two_loop(&st, &flat_grad)
            };
            st.prev_flat_grad.clone_from(&flat_grad);
            st.prev_loss = loss;
            st.t = if st.n_iter == 1 {
                let sum = flat_grad.iter().fold(T::ZERO, |s, g| s + g.abs());
                (T::ONE / sum).to_f64().min(1.0) * cfg.lr
            } else {
                cfg.lr
            };
            let gtd = dot(&flat_grad, &st.d);
            if gtd.to_f64() > -cfg.tolerance_change {
                break;
            }
            let mut ls_func_evals = 0;
            let mut opt_cond = false;
            match cfg.line_search {
                LineSearch::StrongWolfe => {
                    let x_init = self.values();
                    let d = st.d.clone();
                    let mut obj = |t: f64| -> Result<(f64, Vec<T>)> {
                        self.add_step(t, &d);
                        let f = self.evaluate(closure)?;
                        let g = self.flat_grad();
                        self.set_values(&x_init);
                        Ok((f, g))
                    };
                    let budget = max_eval.saturating_sub(current_evals);
                    let found = strong_wolfe(
                        &mut obj,
                        st.t,
                        &d,
                        loss,
                        &flat_grad,
                        gtd,
                        cfg.tolerance_change,
                        budget,
                    )?;
                    (loss, flat_grad, st.t, ls_func_evals) = found;
                    self.add_step(st.t, &st.d);
                    opt_cond = max_abs(&flat_grad) <= cfg.tolerance_grad;
                }
                LineSearch::Fixed => {
                    self.add_step(st.t, &st.d);
                    if n_iter != cfg.max_iter {
                        loss = self.evaluate(closure)?;
                        flat_grad = self.flat_grad();
                        opt_cond = max_abs(&flat_grad) <= cfg.tolerance_grad;
                        ls_func_evals = 1;
                    }
                }
            }
            current_evals += ls_func_evals;
            st.func_evals += ls_func_evals;
            if n_iter == cfg.max_iter || current_evals >= max_eval || opt_cond {
                break;
            }
            let t = T::from_f64(st.t);
            if st
                .d
                .iter()
                .map(|&x| (x * t).abs().to_f64())
                .fold(0.0, f64::max)
                <= cfg.tolerance_change
            {
                break;
            }
            if (loss - st.prev_loss).abs() < cfg.tolerance_change {
                break;
            }
        }
        self.state = Some(st);
        Ok(orig)
    }

    /// Adds the pair (s, y) of the last iteration when yᵀs > 1e-10.
    fn update_history(&self, st: &mut LbfgsState<T>, flat_grad: &[T]) {
        let t = T::from_f64(st.t);
        let y: Vec<T> = flat_grad
            .iter()
            .zip(&st.prev_flat_grad)
            .map(|(&g, &p)| g - p)
            .collect();
        let s: Vec<T> = st.d.iter().map(|&d| d * t).collect();
        let ys = dot(&y, &s);
        if ys.to_f64() > 1e-10 {
            if st.old_dirs.len() == self.cfg.history_size {
                st.old_dirs.pop_front();
                st.old_stps.pop_front();
                st.ro.pop_front();
            }
            st.h_diag = ys / dot(&y, &y);
            st.old_dirs.push_back(y);
            st.old_stps.push_back(s);
            st.ro.push_back(T::ONE / ys);
        }
    }
}

/// d = −H g by the two-loop recursion.
fn two_loop<T: Float>(st: &LbfgsState<T>, flat_grad: &[T]) -> Vec<T> {
    let m = st.old_dirs.len();
    let mut al = vec![T::ZERO; m];
    let mut q: Vec<T> = flat_grad.iter().map(|&g| -g).collect();
    for i in (0..m).rev() {
        al[i] = dot(&st.old_stps[i], &q) * st.ro[i];
        axpy(&mut q, -al[i], &st.old_dirs[i]);
    }
    let mut r: Vec<T> = q.iter().map(|&x| x * st.h_diag).collect();
    for i in 0..m {
        let be_i = dot(&st.old_dirs[i], &r) * st.ro[i];
        axpy(&mut r, al[i] - be_i, &st.old_stps[i]);
    }
    r
}

pub(crate) fn dot<T: Float>(a: &[T], b: &[T]) -> T {
    a.iter().zip(b).fold(T::ZERO, |s, (&x, &y)| s + x * y)
}

fn axpy<T: Float>(y: &mut [T], a: T, x: &[T]) {
    y.iter_mut().zip(x).for_each(|(yi, &xi)| *yi += a * xi);
}

pub(crate) fn max_abs<T: Float>(x: &[T]) -> f64 {
    x.iter().map(|v| v.abs().to_f64()).fold(0.0, f64::max)
}
