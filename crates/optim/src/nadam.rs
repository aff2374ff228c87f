//! NAdam (Dozat, 2016), as PyTorch's `torch.optim.NAdam`; NAdamW with
//! decoupled weight decay.

use tapegrad_tape::Float;

use crate::adam::Moments;
use crate::declare::config;
use crate::par::{self, Kernel};
use crate::rule::{Optim, Rule, StepData};

config! {
    /// Options of [`NAdam`]; `Default` gives PyTorch's defaults.
    ///
    /// ```
    /// let cfg = tapegrad_optim::NAdamConfig::default();
    /// assert_eq!((cfg.lr, cfg.momentum_decay), (2e-3, 4e-3));
    /// ```
    pub struct NAdamConfig for "NAdam" {
        /// Learning rate ε (≥ 0).
        group lr: f64 = 2e-3, "ε", non_negative;
        /// Decay rates (ρ₁, ρ₂) of the moment estimates, each in [0, 1).
        option betas: (f64, f64) = (0.9, 0.999), "(ρ₁, ρ₂)", unit_half_open;
        /// δ, added to √r̂ (≥ 0).
        option eps: f64 = 1e-8, "δ", non_negative;
        /// Weight decay 1/C (≥ 0): θ/C added to g unless `decoupled_weight_decay`.
        group weight_decay: f64 = 0.0, "1/C", non_negative;
        /// ψ of the momentum schedule μ_t = ρ₁ (1 − ½ · 0.96^(t ψ)) (≥ 0).
        option momentum_decay: f64 = 4e-3, "ψ", non_negative;
        /// Decay the weights directly, θ ← θ (1 − ε/C) (NAdamW).
        option decoupled_weight_decay: bool = false, "", any;
        /// Ascend the objective instead of descending it (g ← −g).
        option maximize: bool = false, "", any;
    }
}

/// NAdam, step for step as PyTorch's `NAdam`: Adam with Nesterov momentum.
///
/// In the lecture's symbols, at step t, with μ_t = ρ₁ (1 − ½ · 0.96^(t ψ)) and
/// Π_t = μ₁ ⋯ μ_t:
///
/// ```text
/// g ← −g                                  if maximize
/// θ ← θ (1 − ε/C)                         if decoupled_weight_decay, else g ← g + θ/C
/// s ← ρ₁ s + (1 − ρ₁) g
/// r ← ρ₂ r + (1 − ρ₂) g ⊙ g
/// d = √(r / (1 − ρ₂ᵗ)) + δ
/// θ ← θ − ε (1 − μ_t) / (1 − Π_t) · g / d − ε μ_{t+1} / (1 − Π_t μ_{t+1}) · s / d
/// ```
///
/// State per parameter: `step`, `mu_product` (Π_t, one value kept in the
/// parameter's precision, as PyTorch keeps it in its default dtype),
/// `exp_avg` (s) and `exp_avg_sq` (r).
///
/// ```
/// use tapegrad_optim::{NAdam, NAdamConfig, Optimizer};
/// use tapegrad_tape::{Tensor, Var};
/// let w = Var::parameter(Tensor::<f64>::zeros(&[1]));
/// let mut opt = NAdam::new(vec![w.clone()], NAdamConfig::default()).unwrap();
/// w.set_grad(Some(Tensor::from_vec(vec![1.0], &[1]).unwrap()));
/// opt.step().unwrap();
/// assert!(w.item().unwrap() < 0.0);
/// assert_eq!(opt.state_dict().state[0][0].as_ref().unwrap().buffer("mu_product").unwrap().len(), 1);
/// ```
pub type NAdam<T> = Optim<T, NAdamConfig>;

impl Rule for NAdamConfig {
    fn name(&self) -> &'static str {
        "NAdam"
    }

    const BUFFERS: &'static [&'static str] = &["exp_avg", "exp_avg_sq", "mu_product"];

    fn buffer_len(&self, index: usize, shape: &[usize]) -> usize {
        if index == 2 {
            1
        } else {
            shape.iter().product()
        }
    }

    fn initial(&self, index: usize) -> f64 {
        if index == 2 { 1.0 } else { 0.0 }
    }

    fn update<T: Float>(&self, step: StepData<'_, T>) {
        let [s, r, mu_product] = step.state else {
            unreachable!("NAdam's state has three buffers")
        };
        let (beta1, beta2) = self.betas;
        let t = step.t as f64;
        let mu = beta1 * (1.0 - 0.5 * 0.96f64.powf(t * self.momentum_decay));
        let mu_next = beta1 * (1.0 - 0.5 * 0.96f64.powf((t + 1.0) * self.momentum_decay));
        // Π_t in the parameter's precision, as PyTorch's `mu_product *= mu`.
        let product = (mu_product[0] * T::from_f64(mu)).to_f64();
        mu_product[0] = T::from_f64(product);
        let product_next = product * mu_next;
        let lr = step.lr;
        let decoupled = if self.decoupled_weight_decay {
            step.weight_decay
        } else {
            0.0
        };
        let k = NAdamKernel {
            moments: Moments::new(self.betas, self.maximize, step.weight_decay),
            decay: T::from_f64(1.0 - lr * decoupled),
            bias_correction2: T::from_f64(1.0 - beta2.powf(t)),
            eps: T::from_f64(self.eps),
            grad_step: T::from_f64(-lr * (1.0 - mu) / (1.0 - product)),
            moment_step: T::from_f64((-lr * mu_next) / (1.0 - product_next)),
        };
        let coupled = step.weight_decay != 0.0 && !self.decoupled_weight_decay;
        let chunk = (step.param, step.grad, s.as_mut_slice(), r.as_mut_slice());
        if coupled {
            par::run(&Fused::<'_, T, true>(&k), chunk);
        } else {
            par::run(&Fused::<'_, T, false>(&k), chunk);
        }
    }
}

struct NAdamKernel<T> {
    moments: Moments<T>,
    decay: T,
    bias_correction2: T,
    eps: T,
    grad_step: T,
    moment_step: T,
}

/// θ, g, s, r.
type Chunk<'a, T> = (&'a mut [T], &'a [T], &'a mut [T], &'a mut [T]);

struct Fused<'k, T, const WD: bool>(&'k NAdamKernel<T>);

impl<'a, T: Float, const WD: bool> Kernel<Chunk<'a, T>> for Fused<'_, T, WD> {
    #[inline(always)]
    fn run(&self, (p, g, s, r): Chunk<'a, T>) {
        let k = self.0;
        let n = p.len();
        let (g, s, r) = (&g[..n], &mut s[..n], &mut r[..n]);
        for i in 0..n {
            let theta = p[i] * k.decay;
            let gi = k.moments.update::<WD>(g[i], theta, &mut s[i], &mut r[i]);
            let denom = (r[i] / k.bias_correction2).sqrt() + k.eps;
            let theta = theta + k.grad_step * (gi / denom);
            p[i] = theta + k.moment_step * (s[i] / denom);
        }
    }
}
