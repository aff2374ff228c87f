//! AdaGrad (PyTorch's `torch.optim.Adagrad`).

use tapegrad_tape::Float;

use crate::declare::config;
use crate::par::{self, Kernel};
use crate::rule::{Optim, Rule, StepData};

config! {
    /// Options of [`Adagrad`]; `Default` gives PyTorch's defaults.
    ///
    /// ```
    /// let cfg = tapegrad_optim::AdagradConfig::default();
    /// assert_eq!((cfg.lr, cfg.eps), (1e-2, 1e-10));
    /// ```
    pub struct AdagradConfig for "Adagrad" {
        /// Learning rate ε (≥ 0).
        group lr: f64 = 1e-2, "ε", non_negative;
        /// The learning rate at step t is ε / (1 + (t − 1) lr_decay) (≥ 0).
        option lr_decay: f64 = 0.0, "", non_negative;
        /// Weight decay 1/C (≥ 0), added to g and so scaled component-wise like g.
        group weight_decay: f64 = 0.0, "1/C", non_negative;
        /// Starting value of every element of r (≥ 0).
        option initial_accumulator_value: f64 = 0.0, "r₀", non_negative;
        /// δ, added to √r (≥ 0).
        option eps: f64 = 1e-10, "δ", non_negative;
        /// Ascend the objective instead of descending it (g ← −g).
        option maximize: bool = false, "", any;
    }
}

/// AdaGrad, step for step as PyTorch's `Adagrad`.
///
/// In the lecture's symbols (lr = ε, eps = δ, weight_decay = 1/C), at step t:
///
/// ```text
/// g ← −g                          if maximize
/// g ← g + θ/C                     (the regularization term, scaled below like g)
/// ε_t = ε / (1 + (t − 1) lr_decay)
/// r ← r + g ⊙ g                   (r starts at initial_accumulator_value)
/// θ ← θ − ε_t g / (√r + δ)
/// ```
///
/// With lr_decay = 0 and r₀ = 0 this is the lecture's AdaGrad exactly. State per
/// parameter: `step` and `sum` (r).
///
/// ```
/// use tapegrad_optim::{Adagrad, AdagradConfig, Optimizer};
/// use tapegrad_tape::{Tensor, Var};
/// let w = Var::parameter(Tensor::from_vec(vec![1.0f64], &[1]).unwrap());
/// let mut opt = Adagrad::new(vec![w.clone()], AdagradConfig { lr: 0.5, ..Default::default() }).unwrap();
/// w.set_grad(Some(Tensor::from_vec(vec![2.0], &[1]).unwrap()));
/// opt.step().unwrap(); // r = 4, θ = 1 − 0.5 · 2 / (2 + 1e-10)
/// assert!((w.item().unwrap() - 0.5).abs() < 1e-9);
/// ```
pub type Adagrad<T> = Optim<T, AdagradConfig>;

impl Rule for AdagradConfig {
    fn name(&self) -> &'static str {
        "Adagrad"
    }

    const BUFFERS: &'static [&'static str] = &["sum"];

    fn initial(&self, _: usize) -> f64 {
        self.initial_accumulator_value
    }

    fn update<T: Float>(&self, step: StepData<'_, T>) {
        let clr = step.lr / (1.0 + (step.t - 1) as f64 * self.lr_decay);
        let k = AdagradKernel {
            sign: T::from_f64(if self.maximize { -1.0 } else { 1.0 }),
            weight_decay: T::from_f64(step.weight_decay),
            clr: T::from_f64(clr),
            eps: T::from_f64(self.eps),
        };
        let chunk = (step.param, step.grad, step.state[0].as_mut_slice());
        if step.weight_decay != 0.0 {
            par::run(&Fused::<'_, T, true>(&k), chunk);
        } else {
            par::run(&Fused::<'_, T, false>(&k), chunk);
        }
    }
}

struct AdagradKernel<T> {
    sign: T,
    weight_decay: T,
    clr: T,
    eps: T,
}

type Chunk<'a, T> = (&'a mut [T], &'a [T], &'a mut [T]);

struct Fused<'k, T, const WD: bool>(&'k AdagradKernel<T>);

impl<'a, T: Float, const WD: bool> Kernel<Chunk<'a, T>> for Fused<'_, T, WD> {
    #[inline(always)]
    fn run(&self, (p, g, sum): Chunk<'a, T>) {
        let k = self.0;
        let n = p.len();
        let (g, sum) = (&g[..n], &mut sum[..n]);
        for i in 0..n {
            let mut gi = k.sign * g[i];
            if WD {
                gi += k.weight_decay * p[i];
            }
            let s = sum[i] + gi * gi;
            sum[i] = s;
            p[i] -= k.clr * (gi / (s.sqrt() + k.eps));
        }
    }
}
