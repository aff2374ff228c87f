//! LAMB (You et al., 2020, "Large batch optimization for deep learning"), as
//! optax's `optax.lamb`.

use tapegrad_tape::Float;

use crate::declare::config;
use crate::par::{self, Kernel};
use crate::rule::{Optim, Rule, StepData};

config! {
    /// Options of [`Lamb`]; `Default` gives optax's defaults (and Adam's lr,
    /// which optax leaves to the user).
    ///
    /// ```
    /// let cfg = tapegrad_optim::LambConfig::default();
    /// assert_eq!((cfg.lr, cfg.betas, cfg.eps, cfg.eps_root), (1e-3, (0.9, 0.999), 1e-6, 0.0));
    /// ```
    pub struct LambConfig for "LAMB" {
        /// Learning rate ε (≥ 0).
        group lr: f64 = 1e-3, "ε", non_negative;
        /// Decay rates (ρ₁, ρ₂) of Adam's moments, each in [0, 1).
        option betas: (f64, f64) = (0.9, 0.999), "(ρ₁, ρ₂)", unit_half_open;
        /// δ, added to √(r̂ + δ_root) (≥ 0).
        option eps: f64 = 1e-6, "δ", non_negative;
        /// δ_root, added to r̂ inside the root (≥ 0).
        option eps_root: f64 = 0.0, "δ_root", non_negative;
        /// Weight decay λ (≥ 0), added to the Adam direction before the trust ratio.
        group weight_decay: f64 = 0.0, "λ", non_negative;
        /// Ascend the objective instead of descending it (g ← −g).
        option maximize: bool = false, "", any;
    }
}

/// LAMB, step for step as `optax.lamb`: Adam's direction plus decoupled decay,
/// rescaled per parameter (per tensor) by the trust ratio ‖θ‖ / ‖u‖.
///
/// At step t, for one parameter tensor θ:
///
/// ```text
/// g ← −g                          if maximize
/// s ← ρ₁ s + (1 − ρ₁) g ;  r ← ρ₂ r + (1 − ρ₂) g ⊙ g
/// u = (s / (1 − ρ₁ᵗ)) / (√(r / (1 − ρ₂ᵗ) + δ_root) + δ) + λ θ
/// φ = ‖θ‖ / ‖u‖, or 1 if either norm is 0
/// θ ← θ − ε φ u
/// ```
///
/// The norms are over the whole tensor, so a step makes two passes: one
/// updating s and r and summing θ ⊙ θ and u ⊙ u, one applying the step (u is
/// recomputed from the new s and r, so nothing is stored). State per
/// parameter: `step`, `exp_avg` (s) and `exp_avg_sq` (r).
///
/// ```
/// use tapegrad_optim::{Lamb, LambConfig, Optimizer};
/// use tapegrad_tape::{Tensor, Var};
/// let w = Var::parameter(Tensor::from_vec(vec![3.0f64, 4.0], &[2]).unwrap());
/// let mut opt = Lamb::new(vec![w.clone()], LambConfig { lr: 0.1, ..Default::default() }).unwrap();
/// w.set_grad(Some(Tensor::from_vec(vec![1.0, 1.0], &[2]).unwrap()));
/// opt.step().unwrap(); // u ≈ (1, 1), φ = 5 / √2: the step has length ε ‖θ‖
/// let v = w.value();
/// let moved = ((3.0 - v.data()[0]).powi(2) + (4.0 - v.data()[1]).powi(2)).sqrt();
/// assert!((moved - 0.5).abs() < 1e-5);
/// ```
pub type Lamb<T> = Optim<T, LambConfig>;

impl Rule for LambConfig {
    fn name(&self) -> &'static str {
        "LAMB"
    }

    const BUFFERS: &'static [&'static str] = &["exp_avg", "exp_avg_sq"];

    fn update<T: Float>(&self, step: StepData<'_, T>) {
        let (beta1, beta2) = self.betas;
        let t = step.t as f64;
        let k = LambKernel {
            sign: T::from_f64(if self.maximize { -1.0 } else { 1.0 }),
            one_minus_beta1: T::from_f64(1.0 - beta1),
            beta1: T::from_f64(beta1),
            one_minus_beta2: T::from_f64(1.0 - beta2),
            beta2: T::from_f64(beta2),
            bias_correction1: T::from_f64(1.0 - beta1.powf(t)),
            bias_correction2: T::from_f64(1.0 - beta2.powf(t)),
            eps: T::from_f64(self.eps),
            eps_root: T::from_f64(self.eps_root),
            weight_decay: T::from_f64(step.weight_decay),
        };
        let [s, r] = step.state else {
            unreachable!("LAMB's state has two buffers")
        };
        par::run(
            &Moments(&k),
            (step.grad, s.as_mut_slice(), r.as_mut_slice()),
        );
        let [param_sq, update_sq] = par::sums(
            (&*step.param, s.as_slice(), r.as_slice()),
            &|(p, s, r): (&[T], &[T], &[T])| {
                // Eight accumulators each: independent chains of additions.
                let (mut param_sq, mut update_sq) = ([0.0f64; 8], [0.0f64; 8]);
                for (i, ((&p, &s), &r)) in p.iter().zip(s).zip(r).enumerate() {
                    let u = k.direction(p, s, r);
                    param_sq[i & 7] += p.to_f64() * p.to_f64();
                    update_sq[i & 7] += u.to_f64() * u.to_f64();
                }
                [param_sq.iter().sum(), update_sq.iter().sum()]
            },
        );
        let (param_norm, update_norm) = (param_sq.sqrt(), update_sq.sqrt());
        let ratio = if param_norm == 0.0 || update_norm == 0.0 {
            1.0
        } else {
            param_norm / update_norm
        };
        let apply = Apply {
            k: &k,
            ratio: T::from_f64(ratio),
            neg_lr: T::from_f64(-step.lr),
        };
        par::run(&apply, (step.param, s.as_slice(), r.as_slice()));
    }
}

struct LambKernel<T> {
    sign: T,
    one_minus_beta1: T,
    beta1: T,
    one_minus_beta2: T,
    beta2: T,
    bias_correction1: T,
    bias_correction2: T,
    eps: T,
    eps_root: T,
    weight_decay: T,
}

impl<T: Float> LambKernel<T> {
    /// u = ŝ / (√(r̂ + δ_root) + δ) + λ θ, in optax's order.
    #[inline(always)]
    fn direction(&self, p: T, s: T, r: T) -> T {
        let s_hat = s / self.bias_correction1;
        let r_hat = r / self.bias_correction2;
        s_hat / ((r_hat + self.eps_root).sqrt() + self.eps) + self.weight_decay * p
    }
}

/// The first pass: g, s, r.
struct Moments<'k, T>(&'k LambKernel<T>);

impl<'a, T: Float> Kernel<(&'a [T], &'a mut [T], &'a mut [T])> for Moments<'_, T> {
    #[inline(always)]
    fn run(&self, (g, s, r): (&'a [T], &'a mut [T], &'a mut [T])) {
        let k = self.0;
        let n = g.len();
        let (s, r) = (&mut s[..n], &mut r[..n]);
        for i in 0..n {
            let gi = k.sign * g[i];
            s[i] = k.one_minus_beta1 * gi + k.beta1 * s[i];
            r[i] = k.one_minus_beta2 * (gi * gi) + k.beta2 * r[i];
        }
    }
}

/// The second pass: θ, s, r.
struct Apply<'k, T> {
    k: &'k LambKernel<T>,
    ratio: T,
    neg_lr: T,
}

impl<'a, T: Float> Kernel<(&'a mut [T], &'a [T], &'a [T])> for Apply<'_, T> {
    #[inline(always)]
    fn run(&self, (p, s, r): (&'a mut [T], &'a [T], &'a [T])) {
        let n = p.len();
        let (s, r) = (&s[..n], &r[..n]);
        for i in 0..n {
            let u = self.k.direction(p[i], s[i], r[i]);
            p[i] += (u * self.ratio) * self.neg_lr;
        }
    }
}
