//! RMSprop (PyTorch's `torch.optim.RMSprop`).

use tapegrad_tape::Float;

use crate::declare::config;
use crate::par::{self, Kernel};
use crate::rule::{Optim, Rule, StepData};

config! {
    /// Options of [`RmsProp`]; `Default` gives PyTorch's defaults.
    ///
    /// ```
    /// let cfg = tapegrad_optim::RmsPropConfig::default();
    /// assert_eq!((cfg.lr, cfg.alpha, cfg.eps), (1e-2, 0.99, 1e-8));
    /// ```
    pub struct RmsPropConfig for "RMSprop" {
        /// Learning rate ε (≥ 0).
        group lr: f64 = 1e-2, "ε", non_negative;
        /// Decay ρ of the moving average of g ⊙ g, in [0, 1].
        option alpha: f64 = 0.99, "ρ", unit_closed;
        /// δ, added to the root (≥ 0).
        option eps: f64 = 1e-8, "δ", non_negative;
        /// Weight decay 1/C (≥ 0), added to g.
        group weight_decay: f64 = 0.0, "1/C", non_negative;
        /// Momentum α (≥ 0) on the scaled step.
        option momentum: f64 = 0.0, "α", non_negative;
        /// Divide by an estimate of the standard deviation of g instead of its root mean square.
        option centered: bool = false, "", any;
        /// Ascend the objective instead of descending it (g ← −g).
        option maximize: bool = false, "", any;
    }
}

/// RMSprop, step for step as PyTorch's `RMSprop`.
///
/// In the lecture's symbols (lr = ε, alpha = ρ, eps = δ, weight_decay = 1/C,
/// momentum = α):
///
/// ```text
/// g ← −g                              if maximize
/// g ← g + θ/C
/// r ← ρ r + (1 − ρ) g ⊙ g
/// a ← ρ a + (1 − ρ) g ;  D = √(r − a ⊙ a) + δ     if centered
///                        D = √r + δ               otherwise
/// b ← α b + g / D ;  θ ← θ − ε b                  if α > 0
/// θ ← θ − ε g / D                                 otherwise
/// ```
///
/// With no momentum, not centered and no decay this is the lecture's RMSprop.
/// Unlike Adam there is no bias correction: r starts at 0, so the first steps
/// are large (about ε/√(1 − ρ) in each coordinate). State per parameter: `step`,
/// `square_avg` (r), and `momentum_buffer` (b), `grad_avg` (a) when used.
///
/// ```
/// use tapegrad_optim::{Optimizer, RmsProp, RmsPropConfig};
/// use tapegrad_tape::{Tensor, Var};
/// let w = Var::parameter(Tensor::from_vec(vec![1.0f64], &[1]).unwrap());
/// let cfg = RmsPropConfig { lr: 0.01, alpha: 0.75, eps: 0.0, ..Default::default() };
/// let mut opt = RmsProp::new(vec![w.clone()], cfg).unwrap();
/// w.set_grad(Some(Tensor::from_vec(vec![3.0], &[1]).unwrap()));
/// opt.step().unwrap(); // r = 0.25 · 9, θ = 1 − 0.01 · 3 / 1.5
/// assert!((w.item().unwrap() - 0.98).abs() < 1e-15);
/// ```
pub type RmsProp<T> = Optim<T, RmsPropConfig>;

impl Rule for RmsPropConfig {
    fn name(&self) -> &'static str {
        "RMSprop"
    }

    const BUFFERS: &'static [&'static str] = &["square_avg", "momentum_buffer", "grad_avg"];

    fn keeps(&self, index: usize) -> bool {
        match index {
            1 => self.momentum > 0.0,
            2 => self.centered,
            _ => true,
        }
    }

    fn update<T: Float>(&self, step: StepData<'_, T>) {
        let k = RmsPropKernel {
            sign: T::from_f64(if self.maximize { -1.0 } else { 1.0 }),
            weight_decay: T::from_f64(step.weight_decay),
            lr: T::from_f64(step.lr),
            alpha: T::from_f64(self.alpha),
            one_minus_alpha: T::from_f64(1.0 - self.alpha),
            eps: T::from_f64(self.eps),
            momentum: T::from_f64(self.momentum),
        };
        let wd = step.weight_decay != 0.0;
        let [sq, buf, ga] = step.state else {
            unreachable!("RMSprop's state has three buffers")
        };
        let (centered, momentum) = (self.centered, self.momentum > 0.0);
        let chunk = (
            step.param,
            step.grad,
            sq.as_mut_slice(),
            centered.then_some(ga.as_mut_slice()),
            momentum.then_some(buf.as_mut_slice()),
        );
        k.dispatch(wd, centered, momentum, chunk);
    }
}

struct RmsPropKernel<T> {
    sign: T,
    weight_decay: T,
    lr: T,
    alpha: T,
    one_minus_alpha: T,
    eps: T,
    momentum: T,
}

/// θ, g, r, a (centered only), b (momentum only).
type Chunk<'a, T> = (
    &'a mut [T],
    &'a [T],
    &'a mut [T],
    Option<&'a mut [T]>,
    Option<&'a mut [T]>,
);

impl<T: Float> RmsPropKernel<T> {
    fn dispatch(&self, wd: bool, centered: bool, momentum: bool, chunk: Chunk<'_, T>) {
        macro_rules! go {
            ($wd:literal, $c:literal, $m:literal) => {
                par::run(&Fused::<'_, T, $wd, $c, $m>(self), chunk)
            };
        }
        match (wd, centered, momentum) {
            (false, false, false) => go!(false, false, false),
            (false, false, true) => go!(false, false, true),
            (false, true, false) => go!(false, true, false),
            (false, true, true) => go!(false, true, true),
            (true, false, false) => go!(true, false, false),
            (true, false, true) => go!(true, false, true),
            (true, true, false) => go!(true, true, false),
            (true, true, true) => go!(true, true, true),
        }
    }
}

struct Fused<'k, T, const WD: bool, const CENTERED: bool, const MOMENTUM: bool>(
    &'k RmsPropKernel<T>,
);

impl<'a, T: Float, const WD: bool, const CENTERED: bool, const MOMENTUM: bool> Kernel<Chunk<'a, T>>
    for Fused<'_, T, WD, CENTERED, MOMENTUM>
{
    #[inline(always)]
    fn run(&self, (p, g, sq, ga, buf): Chunk<'a, T>) {
        let k = self.0;
        let n = p.len();
        let (g, sq) = (&g[..n], &mut sq[..n]);
        // Absent buffers are never indexed: the const flags say which exist.
        let mut no_ga: Vec<T> = Vec::new();
        let mut no_buf: Vec<T> = Vec::new();
        let ga = ga.map_or(&mut no_ga[..], |a| &mut a[..n]);
        let buf = buf.map_or(&mut no_buf[..], |b| &mut b[..n]);
        for i in 0..n {
            let mut gi = k.sign * g[i];
            if WD {
                gi += k.weight_decay * p[i];
            }
            let s = k.alpha * sq[i] + k.one_minus_alpha * (gi * gi);
            sq[i] = s;
            let avg = if CENTERED {
                let a = k.alpha * ga[i] + k.one_minus_alpha * gi;
                ga[i] = a;
                (s - a * a).sqrt() + k.eps
            } else {
                s.sqrt() + k.eps
            };
            if MOMENTUM {
                let b = k.momentum * buf[i] + gi / avg;
                buf[i] = b;
                p[i] -= k.lr * b;
            } else {
                p[i] -= k.lr * (gi / avg);
            }
        }
    }
}
