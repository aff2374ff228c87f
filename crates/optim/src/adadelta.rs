//! Adadelta (Zeiler, 2012), as PyTorch's `torch.optim.Adadelta`.

use tapegrad_tape::Float;

use crate::declare::config;
use crate::par::{self, Kernel};
use crate::rule::{Optim, Rule, StepData};

config! {
    /// Options of [`Adadelta`]; `Default` gives PyTorch's defaults.
    ///
    /// ```
    /// let cfg = tapegrad_optim::AdadeltaConfig::default();
    /// assert_eq!((cfg.lr, cfg.rho, cfg.eps), (1.0, 0.9, 1e-6));
    /// ```
    pub struct AdadeltaConfig for "Adadelta" {
        /// Learning rate ε, a factor on the step (≥ 0).
        group lr: f64 = 1.0, "ε", non_negative;
        /// Decay ρ of both running averages, in [0, 1].
        option rho: f64 = 0.9, "ρ", unit_closed;
        /// δ, added inside both square roots (≥ 0).
        option eps: f64 = 1e-6, "δ", non_negative;
        /// Weight decay 1/C (≥ 0), the regularization term θ/C added to g.
        group weight_decay: f64 = 0.0, "1/C", non_negative;
        /// Ascend the objective instead of descending it (g ← −g).
        option maximize: bool = false, "", any;
    }
}

/// Adadelta, step for step as PyTorch's `Adadelta`.
///
/// In the lecture's symbols, at step t:
///
/// ```text
/// g ← −g                          if maximize
/// g ← g + θ/C
/// r ← ρ r + (1 − ρ) g ⊙ g
/// Δ = √(u + δ) / √(r + δ) ⊙ g
/// u ← ρ u + (1 − ρ) Δ ⊙ Δ
/// θ ← θ − ε Δ
/// ```
///
/// State per parameter: `step`, `square_avg` (r) and `acc_delta` (u).
///
/// ```
/// use tapegrad_optim::{Adadelta, AdadeltaConfig, Optimizer};
/// use tapegrad_tape::{Tensor, Var};
/// let w = Var::parameter(Tensor::<f64>::zeros(&[1]));
/// let mut opt = Adadelta::new(vec![w.clone()], AdadeltaConfig::default()).unwrap();
/// w.set_grad(Some(Tensor::from_vec(vec![1.0], &[1]).unwrap()));
/// opt.step().unwrap(); // Δ = √δ / √(0.1 + δ)
/// let delta = 1e-6f64.sqrt() / (0.1f64 + 1e-6).sqrt();
/// assert!((w.item().unwrap() + delta).abs() < 1e-15);
/// ```
pub type Adadelta<T> = Optim<T, AdadeltaConfig>;

impl Rule for AdadeltaConfig {
    fn name(&self) -> &'static str {
        "Adadelta"
    }

    const BUFFERS: &'static [&'static str] = &["square_avg", "acc_delta"];

    fn update<T: Float>(&self, step: StepData<'_, T>) {
        let [r, u] = step.state else {
            unreachable!("Adadelta's state has two buffers")
        };
        let k = AdadeltaKernel {
            sign: T::from_f64(if self.maximize { -1.0 } else { 1.0 }),
            weight_decay: T::from_f64(step.weight_decay),
            rho: T::from_f64(self.rho),
            one_minus_rho: T::from_f64(1.0 - self.rho),
            eps: T::from_f64(self.eps),
            lr: T::from_f64(step.lr),
        };
        let chunk = (step.param, step.grad, r.as_mut_slice(), u.as_mut_slice());
        if step.weight_decay != 0.0 {
            par::run(&Fused::<'_, T, true>(&k), chunk);
        } else {
            par::run(&Fused::<'_, T, false>(&k), chunk);
        }
    }
}

struct AdadeltaKernel<T> {
    sign: T,
    weight_decay: T,
    rho: T,
    one_minus_rho: T,
    eps: T,
    lr: T,
}

/// θ, g, r, u.
type Chunk<'a, T> = (&'a mut [T], &'a [T], &'a mut [T], &'a mut [T]);

struct Fused<'k, T, const WD: bool>(&'k AdadeltaKernel<T>);

impl<'a, T: Float, const WD: bool> Kernel<Chunk<'a, T>> for Fused<'_, T, WD> {
    #[inline(always)]
    fn run(&self, (p, g, r, u): Chunk<'a, T>) {
        let k = self.0;
        let n = p.len();
        let (g, r, u) = (&g[..n], &mut r[..n], &mut u[..n]);
        for i in 0..n {
            let mut gi = k.sign * g[i];
            if WD {
                gi += k.weight_decay * p[i];
            }
            r[i] = k.rho * r[i] + k.one_minus_rho * (gi * gi);
            let std = (r[i] + k.eps).sqrt();
            let delta = (u[i] + k.eps).sqrt() / std * gi;
            u[i] = k.rho * u[i] + k.one_minus_rho * (delta * delta);
            p[i] -= k.lr * delta;
        }
    }
}
