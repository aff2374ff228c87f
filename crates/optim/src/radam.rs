//! RAdam (Liu et al., 2020), as PyTorch's `torch.optim.RAdam`.

use tapegrad_tape::Float;

use crate::adam::Moments;
use crate::declare::config;
use crate::par::{self, Kernel};
use crate::rule::{Optim, Rule, StepData};

config! {
    /// Options of [`RAdam`]; `Default` gives PyTorch's defaults.
    ///
    /// ```
    /// let cfg = tapegrad_optim::RAdamConfig::default();
    /// assert_eq!((cfg.lr, cfg.betas, cfg.eps), (1e-3, (0.9, 0.999), 1e-8));
    /// ```
    pub struct RAdamConfig for "RAdam" {
        /// Learning rate ε (≥ 0).
        group lr: f64 = 1e-3, "ε", non_negative;
        /// Decay rates (ρ₁, ρ₂) of the moment estimates, each in [0, 1).
        option betas: (f64, f64) = (0.9, 0.999), "(ρ₁, ρ₂)", unit_half_open;
        /// δ, added to √r (≥ 0).
        option eps: f64 = 1e-8, "δ", non_negative;
        /// Weight decay 1/C (≥ 0): θ/C added to g unless `decoupled_weight_decay`.
        group weight_decay: f64 = 0.0, "1/C", non_negative;
        /// Decay the weights directly, θ ← θ (1 − ε/C).
        option decoupled_weight_decay: bool = false, "", any;
        /// Ascend the objective instead of descending it (g ← −g).
        option maximize: bool = false, "", any;
    }
}

/// RAdam, step for step as PyTorch's `RAdam`: Adam whose adaptive step is
/// switched on only once the variance of r is tractable, and rectified then.
///
/// In the lecture's symbols, at step t, with ρ_∞ = 2/(1 − ρ₂) − 1 and
/// ρ_t = ρ_∞ − 2 t ρ₂ᵗ / (1 − ρ₂ᵗ):
///
/// ```text
/// g ← −g                                  if maximize
/// θ ← θ (1 − ε/C)                         if decoupled_weight_decay, else g ← g + θ/C
/// s ← ρ₁ s + (1 − ρ₁) g
/// r ← ρ₂ r + (1 − ρ₂) g ⊙ g
/// ŝ = s / (1 − ρ₁ᵗ)
/// θ ← θ − ε ŝ · √(1 − ρ₂ᵗ) / (√r + δ) · ρ     if ρ_t > 5, where
///     ρ = √((ρ_t − 4)(ρ_t − 2) ρ_∞ / ((ρ_∞ − 4)(ρ_∞ − 2) ρ_t))
/// θ ← θ − ε ŝ                             otherwise (SGD with momentum)
/// ```
///
/// With the default ρ₂ = 0.999 the first five steps are momentum steps. State
/// per parameter: `step`, `exp_avg` (s) and `exp_avg_sq` (r).
///
/// ```
/// use tapegrad_optim::{Optimizer, RAdam, RAdamConfig};
/// use tapegrad_tape::{Tensor, Var};
/// let w = Var::parameter(Tensor::<f64>::zeros(&[1]));
/// let mut opt = RAdam::new(vec![w.clone()], RAdamConfig { lr: 0.1, ..Default::default() }).unwrap();
/// w.set_grad(Some(Tensor::from_vec(vec![3.0], &[1]).unwrap()));
/// opt.step().unwrap(); // ρ₁ ≤ 5: θ ← θ − ε ŝ = −0.1 · 3
/// assert!((w.item().unwrap() + 0.3).abs() < 1e-15);
/// ```
pub type RAdam<T> = Optim<T, RAdamConfig>;

impl Rule for RAdamConfig {
    fn name(&self) -> &'static str {
        "RAdam"
    }

    const BUFFERS: &'static [&'static str] = &["exp_avg", "exp_avg_sq"];

    fn update<T: Float>(&self, step: StepData<'_, T>) {
        let [s, r] = step.state else {
            unreachable!("RAdam's state has two buffers")
        };
        let (beta1, beta2) = self.betas;
        let t = step.t as f64;
        let bias_correction1 = 1.0 - beta1.powf(t);
        let bias_correction2 = 1.0 - beta2.powf(t);
        let rho_inf = 2.0 / (1.0 - beta2) - 1.0;
        let rho_t = rho_inf - 2.0 * t * beta2.powf(t) / bias_correction2;
        let rect = (((rho_t - 4.0) * (rho_t - 2.0) * rho_inf)
            / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
            .sqrt();
        let decoupled = if self.decoupled_weight_decay {
            step.weight_decay
        } else {
            0.0
        };
        let k = RAdamKernel {
            moments: Moments::new(self.betas, self.maximize, step.weight_decay),
            decay: T::from_f64(1.0 - step.lr * decoupled),
            bias_correction1: T::from_f64(bias_correction1),
            bias_correction2_sqrt: T::from_f64(bias_correction2.sqrt()),
            lr: T::from_f64(step.lr),
            eps: T::from_f64(self.eps),
            rect: T::from_f64(rect),
        };
        let coupled = step.weight_decay != 0.0 && !self.decoupled_weight_decay;
        let chunk = (step.param, step.grad, s.as_mut_slice(), r.as_mut_slice());
        match (coupled, rho_t > 5.0) {
            (false, false) => par::run(&Fused::<'_, T, false, false>(&k), chunk),
            (false, true) => par::run(&Fused::<'_, T, false, true>(&k), chunk),
            (true, false) => par::run(&Fused::<'_, T, true, false>(&k), chunk),
            (true, true) => par::run(&Fused::<'_, T, true, true>(&k), chunk),
        }
    }
}

struct RAdamKernel<T> {
    moments: Moments<T>,
    decay: T,
    bias_correction1: T,
    bias_correction2_sqrt: T,
    lr: T,
    eps: T,
    rect: T,
}

/// θ, g, s, r.
type Chunk<'a, T> = (&'a mut [T], &'a [T], &'a mut [T], &'a mut [T]);

struct Fused<'k, T, const WD: bool, const ADAPTIVE: bool>(&'k RAdamKernel<T>);

impl<'a, T: Float, const WD: bool, const ADAPTIVE: bool> Kernel<Chunk<'a, T>>
    for Fused<'_, T, WD, ADAPTIVE>
{
    #[inline(always)]
    fn run(&self, (p, g, s, r): Chunk<'a, T>) {
        let k = self.0;
        let n = p.len();
        let (g, s, r) = (&g[..n], &mut s[..n], &mut r[..n]);
        for i in 0..n {
            let theta = p[i] * k.decay;
            k.moments.update::<WD>(g[i], theta, &mut s[i], &mut r[i]);
            // PyTorch's order: ((ŝ · ε) · √(1 − ρ₂ᵗ) / (√r + δ)) · ρ.
            let corrected = (s[i] / k.bias_correction1) * k.lr;
            p[i] = if ADAPTIVE {
                let adaptive = k.bias_correction2_sqrt / (r[i].sqrt() + k.eps);
                theta - corrected * adaptive * k.rect
            } else {
                theta - corrected
            };
        }
    }
}
