//! Lion (Chen et al., 2023, "Symbolic discovery of optimization algorithms"),
//! as optax's `optax.lion`.

use tapegrad_tape::Float;

use crate::declare::config;
use crate::par::{self, Kernel};
use crate::rule::{Optim, Rule, StepData};

config! {
    /// Options of [`Lion`]; `Default` gives the paper's ρ₁, ρ₂ and lr and
    /// optax's weight decay.
    ///
    /// ```
    /// let cfg = tapegrad_optim::LionConfig::default();
    /// assert_eq!((cfg.lr, cfg.betas, cfg.weight_decay), (1e-4, (0.9, 0.99), 1e-3));
    /// ```
    pub struct LionConfig for "Lion" {
        /// Learning rate ε (≥ 0); the paper uses 3–10 times less than AdamW's.
        group lr: f64 = 1e-4, "ε", non_negative;
        /// (ρ₁, ρ₂): the interpolation of the step's sign and the decay of the
        /// momentum, each in [0, 1).
        option betas: (f64, f64) = (0.9, 0.99), "(ρ₁, ρ₂)", unit_half_open;
        /// Weight decay λ (≥ 0), decoupled: θ ← θ − ε λ θ.
        group weight_decay: f64 = 1e-3, "λ", non_negative;
        /// Ascend the objective instead of descending it (g ← −g).
        option maximize: bool = false, "", any;
    }
}

/// Lion, step for step as `optax.lion`: a momentum method whose step is the
/// sign of an interpolation, so every coordinate moves by exactly ε (plus the
/// decay).
///
/// At step t:
///
/// ```text
/// g ← −g                          if maximize
/// c = ρ₁ m + (1 − ρ₁) g
/// θ ← θ − ε (sign(c) + λ θ)
/// m ← ρ₂ m + (1 − ρ₂) g
/// ```
///
/// sign(0) = 0 and sign(NaN) = NaN (`jnp.sign`). It keeps one buffer, half of
/// Adam's state. State per parameter: `step` and `exp_avg` (m).
///
/// ```
/// use tapegrad_optim::{Lion, LionConfig, Optimizer};
/// use tapegrad_tape::{Tensor, Var};
/// let w = Var::parameter(Tensor::from_vec(vec![1.0f64, 1.0], &[2]).unwrap());
/// let cfg = LionConfig { lr: 0.1, weight_decay: 0.0, ..Default::default() };
/// let mut opt = Lion::new(vec![w.clone()], cfg).unwrap();
/// w.set_grad(Some(Tensor::from_vec(vec![4.0, -0.5], &[2]).unwrap()));
/// opt.step().unwrap(); // each coordinate moves by ε against its gradient's sign
/// assert_eq!(w.value().data(), &[0.9, 1.1]);
/// ```
pub type Lion<T> = Optim<T, LionConfig>;

impl Rule for LionConfig {
    fn name(&self) -> &'static str {
        "Lion"
    }

    const BUFFERS: &'static [&'static str] = &["exp_avg"];

    fn update<T: Float>(&self, step: StepData<'_, T>) {
        let (beta1, beta2) = self.betas;
        let k = LionKernel {
            sign: T::from_f64(if self.maximize { -1.0 } else { 1.0 }),
            beta1: T::from_f64(beta1),
            one_minus_beta1: T::from_f64(1.0 - beta1),
            beta2: T::from_f64(beta2),
            one_minus_beta2: T::from_f64(1.0 - beta2),
            weight_decay: T::from_f64(step.weight_decay),
            neg_lr: T::from_f64(-step.lr),
        };
        let chunk = (step.param, step.grad, step.state[0].as_mut_slice());
        if step.weight_decay != 0.0 {
            par::run(&Fused::<'_, T, true>(&k), chunk);
        } else {
            par::run(&Fused::<'_, T, false>(&k), chunk);
        }
    }
}

struct LionKernel<T> {
    sign: T,
    beta1: T,
    one_minus_beta1: T,
    beta2: T,
    one_minus_beta2: T,
    weight_decay: T,
    neg_lr: T,
}

/// θ, g, m.
type Chunk<'a, T> = (&'a mut [T], &'a [T], &'a mut [T]);

struct Fused<'k, T, const WD: bool>(&'k LionKernel<T>);

impl<'a, T: Float, const WD: bool> Kernel<Chunk<'a, T>> for Fused<'_, T, WD> {
    #[inline(always)]
    fn run(&self, (p, g, m): Chunk<'a, T>) {
        let k = self.0;
        let n = p.len();
        let (g, m) = (&g[..n], &mut m[..n]);
        for i in 0..n {
            let gi = k.sign * g[i];
            // optax's order: sign((1 − ρ₁) g + ρ₁ m), then + λ θ, then · (−ε).
            let mut u = crate::rprop::signum(k.one_minus_beta1 * gi + k.beta1 * m[i]);
            if WD {
                u += k.weight_decay * p[i];
            }
            p[i] += k.neg_lr * u;
            m[i] = k.one_minus_beta2 * gi + k.beta2 * m[i];
        }
    }
}
