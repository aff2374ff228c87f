//! Adamax (Kingma and Ba, 2015, §7.1), as PyTorch's `torch.optim.Adamax`.

use tapegrad_tape::Float;

use crate::declare::config;
use crate::par::{self, Kernel};
use crate::rule::{Optim, Rule, StepData};

config! {
    /// Options of [`Adamax`]; `Default` gives PyTorch's defaults.
    ///
    /// ```
    /// let cfg = tapegrad_optim::AdamaxConfig::default();
    /// assert_eq!((cfg.lr, cfg.betas, cfg.eps), (2e-3, (0.9, 0.999), 1e-8));
    /// ```
    pub struct AdamaxConfig for "Adamax" {
        /// Learning rate ε (≥ 0).
        group lr: f64 = 2e-3, "ε", non_negative;
        /// Decay rates (ρ₁, ρ₂) of the first moment and of the infinity norm, each in [0, 1).
        option betas: (f64, f64) = (0.9, 0.999), "(ρ₁, ρ₂)", unit_half_open;
        /// δ, added to |g| before the maximum (≥ 0).
        option eps: f64 = 1e-8, "δ", non_negative;
        /// Weight decay 1/C (≥ 0), the regularization term θ/C added to g.
        group weight_decay: f64 = 0.0, "1/C", non_negative;
        /// Ascend the objective instead of descending it (g ← −g).
        option maximize: bool = false, "", any;
    }
}

/// Adamax, step for step as PyTorch's `Adamax`: Adam with the second moment
/// replaced by an exponentially weighted infinity norm.
///
/// In the lecture's symbols, at step t:
///
/// ```text
/// g ← −g                          if maximize
/// g ← g + θ/C
/// s ← ρ₁ s + (1 − ρ₁) g
/// u ← max(ρ₂ u, |g| + δ)
/// θ ← θ − (ε / (1 − ρ₁ᵗ)) s / u
/// ```
///
/// The maximum propagates NaN, as `torch.amax`. State per parameter: `step`,
/// `exp_avg` (s) and `exp_inf` (u).
///
/// ```
/// use tapegrad_optim::{Adamax, AdamaxConfig, Optimizer};
/// use tapegrad_tape::{Tensor, Var};
/// let w = Var::parameter(Tensor::from_vec(vec![1.0f64, 1.0], &[2]).unwrap());
/// let mut opt = Adamax::new(vec![w.clone()], AdamaxConfig { lr: 0.1, ..Default::default() }).unwrap();
/// w.set_grad(Some(Tensor::from_vec(vec![4.0, -0.5], &[2]).unwrap()));
/// opt.step().unwrap();
/// // at t = 1, s / (1 − ρ₁) = g and u = |g| + δ: each coordinate moves by about ε
/// let v = w.value();
/// assert!((v.data()[0] - 0.9).abs() < 1e-8 && (v.data()[1] - 1.1).abs() < 1e-7);
/// ```
pub type Adamax<T> = Optim<T, AdamaxConfig>;

impl Rule for AdamaxConfig {
    fn name(&self) -> &'static str {
        "Adamax"
    }

    const BUFFERS: &'static [&'static str] = &["exp_avg", "exp_inf"];

    fn update<T: Float>(&self, step: StepData<'_, T>) {
        let (beta1, beta2) = self.betas;
        let k = AdamaxKernel {
            sign: T::from_f64(if self.maximize { -1.0 } else { 1.0 }),
            weight_decay: T::from_f64(step.weight_decay),
            one_minus_beta1: T::from_f64(1.0 - beta1),
            beta2: T::from_f64(beta2),
            eps: T::from_f64(self.eps),
            clr: T::from_f64(step.lr / (1.0 - beta1.powf(step.t as f64))),
        };
        let [s, u] = step.state else {
            unreachable!("Adamax's state has two buffers")
        };
        let chunk = (step.param, step.grad, s.as_mut_slice(), u.as_mut_slice());
        if step.weight_decay != 0.0 {
            par::run(&Fused::<'_, T, true>(&k), chunk);
        } else {
            par::run(&Fused::<'_, T, false>(&k), chunk);
        }
    }
}

struct AdamaxKernel<T> {
    sign: T,
    weight_decay: T,
    one_minus_beta1: T,
    beta2: T,
    eps: T,
    clr: T,
}

/// θ, g, s, u.
type Chunk<'a, T> = (&'a mut [T], &'a [T], &'a mut [T], &'a mut [T]);

struct Fused<'k, T, const WD: bool>(&'k AdamaxKernel<T>);

impl<'a, T: Float, const WD: bool> Kernel<Chunk<'a, T>> for Fused<'_, T, WD> {
    #[inline(always)]
    fn run(&self, (p, g, s, u): Chunk<'a, T>) {
        let k = self.0;
        let n = p.len();
        let (g, s, u) = (&g[..n], &mut s[..n], &mut u[..n]);
        for i in 0..n {
            let mut gi = k.sign * g[i];
            if WD {
                gi += k.weight_decay * p[i];
            }
            s[i] = crate::adam::lerp(s[i], gi, k.one_minus_beta1);
            u[i] = nan_max(k.beta2 * u[i], gi.abs() + k.eps);
            p[i] -= k.clr * (s[i] / u[i]);
        }
    }
}

/// The larger of `a` and `b`, NaN if either is (`torch.amax`, `torch.maximum`).
#[inline(always)]
pub(crate) fn nan_max<T: Float>(a: T, b: T) -> T {
    if a > b || a.is_nan() { a } else { b }
}
