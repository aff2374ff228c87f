//! Stochastic gradient descent with momentum (PyTorch's `torch.optim.SGD`).

use tapegrad_tape::Float;

use crate::declare::config;
use crate::error::Result;
use crate::par::{self, Kernel};
use crate::rule::{Optim, Rule, StepData};
use crate::validate;

config! {
    /// Options of [`Sgd`]; `Default` gives PyTorch's defaults.
    ///
    /// ```
    /// let cfg = tapegrad_optim::SgdConfig::default();
    /// assert_eq!((cfg.lr, cfg.momentum, cfg.nesterov), (1e-3, 0.0, false));
    /// ```
    pub struct SgdConfig for "SGD" {
        /// Learning rate η (≥ 0).
        group lr: f64 = 1e-3, "η", non_negative;
        /// Momentum α (≥ 0); 0 is plain stochastic gradient.
        option momentum: f64 = 0.0, "α", non_negative;
        /// Dampening: the new gradient enters the buffer with weight 1 − dampening.
        option dampening: f64 = 0.0, "", unit_closed;
        /// Weight decay 1/C (≥ 0): coupled (added to g) unless `decoupled_weight_decay`.
        group weight_decay: f64 = 0.0, "1/C", non_negative;
        /// Nesterov momentum: step along g + α b instead of b. Needs α > 0 and no dampening.
        option nesterov: bool = false, "", any;
        /// Ascend the objective instead of descending it (g ← −g).
        option maximize: bool = false, "", any;
        /// Decay the weights directly, θ ← θ (1 − η/C), instead of adding θ/C to g.
        option decoupled_weight_decay: bool = false, "", any;
    }
}

/// Stochastic gradient descent, step for step as PyTorch's `SGD`.
///
/// With g the gradient, in the lecture's symbols (lr = η, momentum = α,
/// weight_decay = 1/C):
///
/// ```text
/// g ← −g                                   if maximize
/// g ← g + θ/C                              (coupled weight decay: the regularization term)
/// b ← g at the first step, else α b + (1 − dampening) g      (if α > 0)
/// d ← g + α b if nesterov, else b          (d ← g if α = 0)
/// θ ← θ − η d
/// ```
///
/// The lecture writes momentum as v ← α v − η g, θ ← θ + v. With a constant η
/// and no dampening this is the same method with v = −η b; PyTorch's form keeps
/// η outside the buffer, so that a schedule changing η applies at once.
///
/// With `decoupled_weight_decay`, θ/C is not added to g; instead
/// θ ← θ (1 − η/C) − η d, the lecture's decoupled momentum form
/// θ ← θ + v − η θ/C.
///
/// State per parameter: `momentum_buffer` (only when α > 0).
///
/// ```
/// use tapegrad_optim::{Optimizer, Sgd, SgdConfig};
/// use tapegrad_tape::{Tensor, Var};
/// let w = Var::parameter(Tensor::from_vec(vec![1.0f64, 2.0], &[2]).unwrap());
/// let cfg = SgdConfig { lr: 0.1, momentum: 0.9, ..Default::default() };
/// let mut opt = Sgd::new(vec![w.clone()], cfg).unwrap();
/// w.set_grad(Some(Tensor::from_vec(vec![1.0, -1.0], &[2]).unwrap()));
/// opt.step().unwrap(); // b = g
/// opt.step().unwrap(); // b = 0.9 g + g
/// assert_eq!(w.value().data(), &[1.0 - 0.1 - 0.1 * 1.9, 2.0 + 0.1 + 0.1 * 1.9]);
/// ```
pub type Sgd<T> = Optim<T, SgdConfig>;

impl Rule for SgdConfig {
    fn name(&self) -> &'static str {
        "SGD"
    }

    const BUFFERS: &'static [&'static str] = &["momentum_buffer"];

    const COUNTS_STEPS: bool = false;

    fn check_combination(&self) -> Result<()> {
        if self.nesterov && self.momentum <= 0.0 {
            let reason = "nesterov momentum needs momentum > 0";
            return Err(validate::refuse("SGD", "momentum", self.momentum, reason));
        }
        if self.nesterov && self.dampening != 0.0 {
            let reason = "nesterov momentum needs dampening = 0";
            return Err(validate::refuse("SGD", "dampening", self.dampening, reason));
        }
        Ok(())
    }

    fn keeps(&self, _: usize) -> bool {
        self.momentum != 0.0
    }

    fn update<T: Float>(&self, step: StepData<'_, T>) {
        let k = SgdKernel::new(self, step.lr, step.weight_decay);
        let buf = step.state.first_mut().map(Vec::as_mut_slice);
        let mode = match (self.momentum != 0.0, step.first) {
            (false, _) => Mode::Plain,
            (true, true) => Mode::FirstMomentum,
            (true, false) => Mode::Momentum,
        };
        k.dispatch(mode, self.nesterov, (step.param, step.grad, buf));
    }
}

#[derive(Clone, Copy)]
enum Mode {
    Plain,
    FirstMomentum,
    Momentum,
}

/// The step's constants, converted once to the parameter's type.
struct SgdKernel<T> {
    sign: T,
    lr: T,
    weight_decay: T,
    decay: T,
    momentum: T,
    one_minus_dampening: T,
}

impl<T: Float> SgdKernel<T> {
    fn new(cfg: &SgdConfig, lr: f64, weight_decay: f64) -> Self {
        let (coupled, decoupled) = if cfg.decoupled_weight_decay {
            (0.0, weight_decay)
        } else {
            (weight_decay, 0.0)
        };
        Self {
            sign: T::from_f64(if cfg.maximize { -1.0 } else { 1.0 }),
            lr: T::from_f64(lr),
            weight_decay: T::from_f64(coupled),
            decay: T::from_f64(1.0 - lr * decoupled),
            momentum: T::from_f64(cfg.momentum),
            one_minus_dampening: T::from_f64(1.0 - cfg.dampening),
        }
    }

    fn dispatch(&self, mode: Mode, nesterov: bool, chunk: Chunk<'_, T>) {
        let wd = self.weight_decay != T::ZERO;
        macro_rules! go {
            ($wd:literal, $mode:literal, $nest:literal) => {
                par::run(&Fused::<'_, T, $wd, $mode, $nest>(self), chunk)
            };
        }
        match (wd, mode, nesterov) {
            (false, Mode::Plain, _) => go!(false, 0, false),
            (true, Mode::Plain, _) => go!(true, 0, false),
            (false, Mode::FirstMomentum, false) => go!(false, 1, false),
            (false, Mode::FirstMomentum, true) => go!(false, 1, true),
            (true, Mode::FirstMomentum, false) => go!(true, 1, false),
            (true, Mode::FirstMomentum, true) => go!(true, 1, true),
            (false, Mode::Momentum, false) => go!(false, 2, false),
            (false, Mode::Momentum, true) => go!(false, 2, true),
            (true, Mode::Momentum, false) => go!(true, 2, false),
            (true, Mode::Momentum, true) => go!(true, 2, true),
        }
    }
}

/// θ, g and the momentum buffer (absent without momentum).
type Chunk<'a, T> = (&'a mut [T], &'a [T], Option<&'a mut [T]>);

/// The update specialized on coupled decay, momentum mode (0 none, 1 first step,
/// 2 later steps) and Nesterov, so the loop has no branches and vectorizes.
struct Fused<'k, T, const WD: bool, const MODE: u8, const NESTEROV: bool>(&'k SgdKernel<T>);

impl<'a, T: Float, const WD: bool, const MODE: u8, const NESTEROV: bool> Kernel<Chunk<'a, T>>
    for Fused<'_, T, WD, MODE, NESTEROV>
{
    #[inline(always)]
    fn run(&self, (p, g, buf): Chunk<'a, T>) {
        let k = self.0;
        let n = p.len();
        let g = &g[..n];
        let Some(buf) = buf else {
            for (pi, &gi) in p.iter_mut().zip(g) {
                let gi = k.grad::<WD>(gi, *pi);
                *pi = *pi * k.decay - k.lr * gi;
            }
            return;
        };
        let buf = &mut buf[..n];
        for i in 0..n {
            let gi = k.grad::<WD>(g[i], p[i]);
            let b = if MODE == 1 {
                gi
            } else {
                k.momentum * buf[i] + k.one_minus_dampening * gi
            };
            buf[i] = b;
            let d = if NESTEROV { gi + k.momentum * b } else { b };
            p[i] = p[i] * k.decay - k.lr * d;
        }
    }
}

impl<T: Float> SgdKernel<T> {
    /// g after maximize and coupled weight decay.
    #[inline(always)]
    fn grad<const WD: bool>(&self, g: T, p: T) -> T {
        let g = self.sign * g;
        if WD { g + self.weight_decay * p } else { g }
    }
}
