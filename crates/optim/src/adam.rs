//! Adam (Kingma and Ba, 2015), as PyTorch's `torch.optim.Adam`.

use tapegrad_tape::Float;

use crate::declare::config;
use crate::par::{self, Kernel};
use crate::rule::{Optim, Rule, StepData};

config! {
    /// Options of [`Adam`]; `Default` gives PyTorch's defaults, and
    /// [`AdamConfig::adamw`] those of PyTorch's `AdamW`.
    ///
    /// ```
    /// let cfg = tapegrad_optim::AdamConfig::default();
    /// assert_eq!((cfg.lr, cfg.betas, cfg.eps), (1e-3, (0.9, 0.999), 1e-8));
    /// assert!(cfg.bias_correction && !cfg.amsgrad);
    /// ```
    pub struct AdamConfig for "Adam" {
        /// Learning rate ε (≥ 0).
        group lr: f64 = 1e-3, "ε", non_negative;
        /// Decay rates (ρ₁, ρ₂) of the first and second moment estimates, each in [0, 1).
        option betas: (f64, f64) = (0.9, 0.999), "(ρ₁, ρ₂)", unit_half_open;
        /// δ, added to √r̂ (≥ 0).
        option eps: f64 = 1e-8, "δ", non_negative;
        /// Weight decay 1/C (≥ 0): the regularization term θ/C added to g (coupled),
        /// unless `decoupled_weight_decay`.
        group weight_decay: f64 = 0.0, "1/C", non_negative;
        /// AMSGrad: divide by the running maximum of r instead of r.
        option amsgrad: bool = false, "", any;
        /// Ascend the objective instead of descending it (g ← −g).
        option maximize: bool = false, "", any;
        /// Divide s and r by (1 − ρ₁ᵗ) and (1 − ρ₂ᵗ). `false` is the lecture's
        /// variant without the correction (BERT's optimizer).
        option bias_correction: bool = true, "", any;
        /// Decay the weights directly, θ ← θ (1 − ε/C), instead of adding θ/C to g:
        /// this is [`crate::AdamW`].
        option decoupled_weight_decay: bool = false, "", any;
    }
}

impl AdamConfig {
    /// PyTorch's `AdamW` defaults: decoupled weight decay 1/C = 1e-2.
    ///
    /// ```
    /// let cfg = tapegrad_optim::AdamConfig::adamw();
    /// assert_eq!((cfg.weight_decay, cfg.decoupled_weight_decay), (1e-2, true));
    /// ```
    pub fn adamw() -> Self {
        Self {
            weight_decay: 1e-2,
            decoupled_weight_decay: true,
            ..Self::default()
        }
    }
}

/// Adam, step for step as PyTorch's `Adam`.
///
/// In the lecture's symbols (lr = ε, betas = (ρ₁, ρ₂), eps = δ,
/// weight_decay = 1/C), at step t (t = 1 at the first step):
///
/// ```text
/// g ← −g                          if maximize
/// g ← g + θ/C                     (coupled: θ/C flows into s and r)
/// s ← ρ₁ s + (1 − ρ₁) g
/// r ← ρ₂ r + (1 − ρ₂) g ⊙ g
/// ŝ ← s / (1 − ρ₁ᵗ) ;  r̂ ← r / (1 − ρ₂ᵗ)
/// θ ← θ − ε ŝ / (√r̂ + δ)
/// ```
///
/// δ is added outside the square root, after the correction, as in PyTorch
/// (computed as θ − (ε/(1 − ρ₁ᵗ)) s / (√r · (1/√(1 − ρ₂ᵗ)) + δ), with the two
/// corrections in f64 even for f32 parameters). With `amsgrad`, r̂ uses
/// r_max ← max(r_max, r) (the raw r is maxed). With `bias_correction = false`
/// the update is θ ← θ − ε s / (√r + δ) (the lecture's variant, BERT's
/// optimizer). Then s ≈ (1 − ρ₁) g and r ≈ (1 − ρ₂) g ⊙ g at the first steps, so
/// the ratio s/√r is off by about (1 − ρ₁)/√(1 − ρ₂), 3.2 with the defaults,
/// until t is well past 1/(1 − ρ₂).
///
/// With `decoupled_weight_decay`, θ/C is not added to g; instead θ ← θ (1 − ε/C)
/// before the update — [`crate::AdamW`], which differs from the coupled form
/// because there θ/C passes through the component-wise scaling 1/(√r̂ + δ).
///
/// State per parameter: `step`, `exp_avg` (s), `exp_avg_sq` (r), and
/// `max_exp_avg_sq` with AMSGrad.
///
/// ```
/// use tapegrad_optim::{Adam, AdamConfig, Optimizer};
/// use tapegrad_tape::{Tensor, Var};
/// let w = Var::parameter(Tensor::from_vec(vec![1.0f64, 1.0], &[2]).unwrap());
/// let mut opt = Adam::new(vec![w.clone()], AdamConfig { lr: 0.1, ..Default::default() }).unwrap();
/// w.set_grad(Some(Tensor::from_vec(vec![4.0, -0.5], &[2]).unwrap()));
/// opt.step().unwrap();
/// // at t = 1, ŝ = g and √r̂ = |g|: each coordinate moves by about ε
/// let v = w.value();
/// assert!((v.data()[0] - 0.9).abs() < 1e-8 && (v.data()[1] - 1.1).abs() < 1e-8);
/// ```
pub type Adam<T> = Optim<T, AdamConfig>;

/// AdamW (Loshchilov and Hutter, 2019), as PyTorch's `torch.optim.AdamW`: Adam
/// with decoupled weight decay, configured by [`AdamConfig::adamw`].
///
/// ```
/// use tapegrad_optim::{AdamConfig, AdamW, Optimizer};
/// use tapegrad_tape::{Tensor, Var};
/// let w = Var::parameter(Tensor::<f64>::ones(&[2]));
/// let opt = AdamW::new(vec![w], AdamConfig { lr: 0.01, ..AdamConfig::adamw() }).unwrap();
/// assert_eq!((opt.name(), opt.groups()[0].weight_decay), ("AdamW", 1e-2));
/// ```
pub type AdamW<T> = Optim<T, AdamConfig>;

impl Rule for AdamConfig {
    fn name(&self) -> &'static str {
        if self.decoupled_weight_decay {
            "AdamW"
        } else {
            "Adam"
        }
    }

    const BUFFERS: &'static [&'static str] = &["exp_avg", "exp_avg_sq", "max_exp_avg_sq"];

    fn keeps(&self, index: usize) -> bool {
        index < 2 || self.amsgrad
    }

    fn update<T: Float>(&self, step: StepData<'_, T>) {
        let k = AdamKernel::new(self, step.lr, step.weight_decay, step.t);
        let coupled = step.weight_decay != 0.0 && !self.decoupled_weight_decay;
        let [s, r, r_max] = step.state else {
            unreachable!("Adam's state has three buffers")
        };
        let r_max = self.amsgrad.then_some(r_max.as_mut_slice());
        k.dispatch(
            coupled,
            (
                step.param,
                step.grad,
                s.as_mut_slice(),
                r.as_mut_slice(),
                r_max,
            ),
        );
    }
}

/// Adam's moment estimates, shared by the optimizers built on them (NAdam,
/// RAdam): the constants of one step, converted once to the parameter's type.
pub(crate) struct Moments<T> {
    sign: T,
    weight_decay: T,
    one_minus_beta1: T,
    beta2: T,
    one_minus_beta2: T,
}

impl<T: Float> Moments<T> {
    /// The moments of (ρ₁, ρ₂) = `betas`, for a group with `weight_decay` 1/C.
    pub(crate) fn new(betas: (f64, f64), maximize: bool, weight_decay: f64) -> Self {
        let (beta1, beta2) = betas;
        Self {
            sign: T::from_f64(if maximize { -1.0 } else { 1.0 }),
            weight_decay: T::from_f64(weight_decay),
            one_minus_beta1: T::from_f64(1.0 - beta1),
            beta2: T::from_f64(beta2),
            one_minus_beta2: T::from_f64(1.0 - beta2),
        }
    }

    /// g ← ±g (+ θ/C when `WD`, the coupled decay), s ← ρ₁ s + (1 − ρ₁) g,
    /// r ← ρ₂ r + (1 − ρ₂) g ⊙ g for one element; returns that g.
    #[inline(always)]
    pub(crate) fn update<const WD: bool>(&self, g: T, theta: T, s: &mut T, r: &mut T) -> T {
        let mut g = self.sign * g;
        if WD {
            g += self.weight_decay * theta;
        }
        // PyTorch's exp_avg.lerp_(g, 1 − ρ₁): s + w (g − s) for a weight below ½.
        *s = lerp(*s, g, self.one_minus_beta1);
        *r = self.beta2 * *r + self.one_minus_beta2 * (g * g);
        g
    }
}

/// The constants of one step, converted once to the parameter's type.
struct AdamKernel<T> {
    moments: Moments<T>,
    decay: T,
    step_size: T,
    bias_correction2_sqrt: T,
    eps: T,
}

impl<T: Float> AdamKernel<T> {
    fn new(cfg: &AdamConfig, lr: f64, weight_decay: f64, step: u64) -> Self {
        let (beta1, beta2) = cfg.betas;
        let t = step as f64;
        let (bc1, bc2) = if cfg.bias_correction {
            (1.0 - beta1.powf(t), 1.0 - beta2.powf(t))
        } else {
            (1.0, 1.0)
        };
        let decoupled = if cfg.decoupled_weight_decay {
            weight_decay
        } else {
            0.0
        };
        Self {
            moments: Moments::new(cfg.betas, cfg.maximize, weight_decay),
            decay: T::from_f64(1.0 - lr * decoupled),
            step_size: T::from_f64(lr / bc1),
            bias_correction2_sqrt: T::from_f64(bc2.sqrt()),
            eps: T::from_f64(cfg.eps),
        }
    }

    fn dispatch(&self, coupled: bool, chunk: Chunk<'_, T>) {
        match (coupled, chunk.4.is_some()) {
            (false, false) => par::run(&Fused::<'_, T, false, false>(self), chunk),
            (false, true) => par::run(&Fused::<'_, T, false, true>(self), chunk),
            (true, false) => par::run(&Fused::<'_, T, true, false>(self), chunk),
            (true, true) => par::run(&Fused::<'_, T, true, true>(self), chunk),
        }
    }
}

/// θ, g, s, r, r_max (AMSGrad only).
type Chunk<'a, T> = (
    &'a mut [T],
    &'a [T],
    &'a mut [T],
    &'a mut [T],
    Option<&'a mut [T]>,
);

/// `torch.lerp(start, end, weight)` with PyTorch's two-sided formula, which is
/// exact at both ends.
#[inline(always)]
pub(crate) fn lerp<T: Float>(start: T, end: T, weight: T) -> T {
    if weight.abs() < T::from_f64(0.5) {
        start + weight * (end - start)
    } else {
        end - (end - start) * (T::ONE - weight)
    }
}

/// One pass reading θ, g, s, r and writing θ, s, r: the update is bound by
/// memory traffic, so everything happens while the element is in a register.
struct Fused<'k, T, const WD: bool, const AMSGRAD: bool>(&'k AdamKernel<T>);

impl<T: Float, const WD: bool, const AMSGRAD: bool> Fused<'_, T, WD, AMSGRAD> {
    /// Updates s and r for one element and returns s and the r the step divides by.
    #[inline(always)]
    fn moments(&self, g: T, p: T, s: &mut T, r: &mut T) -> (T, T) {
        self.0.moments.update::<WD>(g, p, s, r);
        (*s, *r)
    }

    #[inline(always)]
    fn apply(&self, p: T, s: T, r: T) -> T {
        let k = self.0;
        // As PyTorch: (√r / √(1 − ρ₂ᵗ)) + δ, a division rather than a product by
        // the reciprocal, so results agree to the last bit. The pass is bound by
        // memory traffic, so the division costs nothing measurable.
        let denom = r.sqrt() / k.bias_correction2_sqrt + k.eps;
        p * k.decay - k.step_size * (s / denom)
    }
}

impl<'a, T: Float, const WD: bool, const AMSGRAD: bool> Kernel<Chunk<'a, T>>
    for Fused<'_, T, WD, AMSGRAD>
{
    #[inline(always)]
    fn run(&self, (p, g, s, r, r_max): Chunk<'a, T>) {
        let n = p.len();
        let (g, s, r) = (&g[..n], &mut s[..n], &mut r[..n]);
        match r_max {
            Some(r_max) if AMSGRAD => {
                let r_max = &mut r_max[..n];
                for i in 0..n {
                    let (si, ri) = self.moments(g[i], p[i], &mut s[i], &mut r[i]);
                    // NaN in r propagates into r_max, as torch.maximum does.
                    let m = if r_max[i] >= ri { r_max[i] } else { ri };
                    r_max[i] = m;
                    p[i] = self.apply(p[i], si, m);
                }
            }
            _ => {
                for i in 0..n {
                    let (si, ri) = self.moments(g[i], p[i], &mut s[i], &mut r[i]);
                    p[i] = self.apply(p[i], si, ri);
                }
            }
        }
    }
}
