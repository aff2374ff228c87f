//! Averaged stochastic gradient descent (Polyak and Juditsky, 1992), as
//! PyTorch's `torch.optim.ASGD`.

use tapegrad_tape::Float;

use crate::declare::config;
use crate::par::{self, Kernel};
use crate::rule::{Optim, Rule, StepData};

config! {
    /// Options of [`Asgd`]; `Default` gives PyTorch's defaults.
    ///
    /// ```
    /// let cfg = tapegrad_optim::AsgdConfig::default();
    /// assert_eq!((cfg.lr, cfg.lambd, cfg.alpha, cfg.t0), (1e-2, 1e-4, 0.75, 1e6));
    /// ```
    pub struct AsgdConfig for "ASGD" {
        /// Learning rate η₀ (≥ 0).
        group lr: f64 = 1e-2, "η₀", non_negative;
        /// Decay term λ of the learning rate and of the weights (≥ 0).
        option lambd: f64 = 1e-4, "λ", non_negative;
        /// Power of the learning-rate decay η_t = η₀ / (1 + λ η₀ t)^α (≥ 0).
        option alpha: f64 = 0.75, "α", non_negative;
        /// The step from which the average starts (≥ 0).
        option t0: f64 = 1e6, "t₀", non_negative;
        /// Weight decay 1/C (≥ 0), θ/C added to g.
        group weight_decay: f64 = 0.0, "1/C", non_negative;
        /// Ascend the objective instead of descending it (g ← −g).
        option maximize: bool = false, "", any;
    }
}

/// ASGD, step for step as PyTorch's `ASGD`: SGD with a decaying learning rate
/// that also keeps a running average θ̄ of the iterates.
///
/// At step t, with η and μ the parameter's current step size and averaging
/// weight (η = η₀ and μ = 1 at the first step):
///
/// ```text
/// g ← −g                          if maximize
/// g ← g + θ/C
/// θ ← θ (1 − λ η) − η g
/// θ̄ ← θ̄ + μ (θ − θ̄)               (θ̄ ← θ while μ = 1)
/// η ← η₀ / (1 + λ η₀ t)^α ;  μ ← 1 / max(1, t − t₀)
/// ```
///
/// The average θ̄ is the state buffer `ax`: it is what ASGD's theory
/// evaluates, and what a user swaps in for evaluation. State per parameter:
/// `step`, `eta` (η), `mu` (μ), each one value in the parameter's
/// precision, and `ax` (θ̄).
///
/// ```
/// use tapegrad_optim::{Asgd, AsgdConfig, Optimizer};
/// use tapegrad_tape::{Tensor, Var};
/// let w = Var::parameter(Tensor::<f64>::zeros(&[1]));
/// let cfg = AsgdConfig { lr: 0.1, t0: 0.0, ..Default::default() };
/// let mut opt = Asgd::new(vec![w.clone()], cfg).unwrap();
/// w.set_grad(Some(Tensor::from_vec(vec![1.0], &[1]).unwrap()));
/// opt.step().unwrap(); // θ = −0.1 = θ̄
/// let state = opt.state_dict();
/// assert_eq!(state.state[0][0].as_ref().unwrap().buffer("ax").unwrap(), &[-0.1]);
/// ```
pub type Asgd<T> = Optim<T, AsgdConfig>;

impl Rule for AsgdConfig {
    fn name(&self) -> &'static str {
        "ASGD"
    }

    const BUFFERS: &'static [&'static str] = &["eta", "mu", "ax"];

    fn buffer_len(&self, index: usize, shape: &[usize]) -> usize {
        if index < 2 { 1 } else { shape.iter().product() }
    }

    fn initial(&self, index: usize) -> f64 {
        if index == 1 { 1.0 } else { 0.0 }
    }

    fn update<T: Float>(&self, step: StepData<'_, T>) {
        let [eta, mu, ax] = step.state else {
            unreachable!("ASGD's state has three buffers")
        };
        if step.first {
            eta[0] = T::from_f64(step.lr);
        }
        let eta_now = eta[0].to_f64();
        let k = AsgdKernel {
            sign: T::from_f64(if self.maximize { -1.0 } else { 1.0 }),
            weight_decay: T::from_f64(step.weight_decay),
            shrink: T::from_f64(1.0 - self.lambd * eta_now),
            neg_eta: T::from_f64(-eta_now),
            mu: mu[0],
        };
        let averaging = mu[0] != T::ONE;
        let chunk = (step.param, step.grad, ax.as_mut_slice());
        match (step.weight_decay != 0.0, averaging) {
            (false, false) => par::run(&Fused::<'_, T, false, false>(&k), chunk),
            (false, true) => par::run(&Fused::<'_, T, false, true>(&k), chunk),
            (true, false) => par::run(&Fused::<'_, T, true, false>(&k), chunk),
            (true, true) => par::run(&Fused::<'_, T, true, true>(&k), chunk),
        }
        let t = step.t as f64;
        let lr = step.lr;
        eta[0] = T::from_f64(lr / (1.0 + self.lambd * lr * t).powf(self.alpha));
        mu[0] = T::from_f64(1.0 / f64::max(1.0, t - self.t0));
    }
}

struct AsgdKernel<T> {
    sign: T,
    weight_decay: T,
    shrink: T,
    neg_eta: T,
    mu: T,
}

/// θ, g, θ̄.
type Chunk<'a, T> = (&'a mut [T], &'a [T], &'a mut [T]);

struct Fused<'k, T, const WD: bool, const AVERAGING: bool>(&'k AsgdKernel<T>);

impl<'a, T: Float, const WD: bool, const AVERAGING: bool> Kernel<Chunk<'a, T>>
    for Fused<'_, T, WD, AVERAGING>
{
    #[inline(always)]
    fn run(&self, (p, g, ax): Chunk<'a, T>) {
        let k = self.0;
        let n = p.len();
        let (g, ax) = (&g[..n], &mut ax[..n]);
        for i in 0..n {
            let mut gi = k.sign * g[i];
            if WD {
                gi += k.weight_decay * p[i];
            }
            let theta = p[i] * k.shrink + k.neg_eta * gi;
            p[i] = theta;
            ax[i] = if AVERAGING {
                ax[i] + (theta - ax[i]) * k.mu
            } else {
                theta
            };
        }
    }
}
