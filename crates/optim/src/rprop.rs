//! Rprop (Riedmiller and Braun, 1993), as PyTorch's `torch.optim.Rprop`.

use tapegrad_tape::Float;

use crate::declare::config;
use crate::error::Result;
use crate::par::{self, Kernel};
use crate::rule::{Optim, Rule, StepData};
use crate::validate;

config! {
    /// Options of [`Rprop`]; `Default` gives PyTorch's defaults.
    ///
    /// ```
    /// let cfg = tapegrad_optim::RpropConfig::default();
    /// assert_eq!((cfg.lr, cfg.etas, cfg.step_sizes), (1e-2, (0.5, 1.2), (1e-6, 50.0)));
    /// ```
    pub struct RpropConfig for "Rprop" {
        /// The first step size Δ₀ of every element (≥ 0).
        group lr: f64 = 1e-2, "Δ₀", non_negative;
        /// (η⁻, η⁺): the factors of the step size when the sign of g flips or
        /// stays, 0 < η⁻ < 1 < η⁺.
        option etas: (f64, f64) = (0.5, 1.2), "(η⁻, η⁺)", positive;
        /// (Δ_min, Δ_max): the range the step sizes are clamped to, 0 ≤ Δ_min ≤ Δ_max.
        option step_sizes: (f64, f64) = (1e-6, 50.0), "(Δ_min, Δ_max)", non_negative;
        /// Weight decay 1/C (≥ 0), θ/C added to g. PyTorch's Rprop has no
        /// weight decay: 0 is PyTorch's algorithm.
        group weight_decay: f64 = 0.0, "1/C", non_negative;
        /// Ascend the objective instead of descending it (g ← −g).
        option maximize: bool = false, "", any;
    }
}

/// Rprop, step for step as PyTorch's `Rprop`: each element moves by its own
/// step size Δ against the sign of its gradient, Δ growing while the sign
/// stays and shrinking when it flips.
///
/// At step t, element by element, with g' the gradient kept from the last step:
///
/// ```text
/// g ← −g                       if maximize
/// Δ ← clamp(Δ η⁺, Δ_min, Δ_max)    if g g' > 0
/// Δ ← clamp(Δ η⁻, Δ_min, Δ_max); g ← 0   if g g' < 0 (no step after a flip)
/// θ ← θ − sign(g) Δ ;  g' ← g
/// ```
///
/// Δ starts at the group's lr at the parameter's first step; a schedule that
/// changes lr later changes nothing (as in PyTorch). State per parameter:
/// `step`, `prev` (g') and `step_size` (Δ).
///
/// ```
/// use tapegrad_optim::{Optimizer, Rprop, RpropConfig};
/// use tapegrad_tape::{Tensor, Var};
/// let w = Var::parameter(Tensor::<f64>::zeros(&[1]));
/// let mut opt = Rprop::new(vec![w.clone()], RpropConfig { lr: 0.1, ..Default::default() }).unwrap();
/// for _ in 0..2 {
///     w.set_grad(Some(Tensor::from_vec(vec![3.0], &[1]).unwrap()));
///     opt.step().unwrap(); // Δ = 0.1, then 0.12: the sign stayed
/// }
/// assert!((w.item().unwrap() + 0.22).abs() < 1e-15);
/// ```
pub type Rprop<T> = Optim<T, RpropConfig>;

impl Rule for RpropConfig {
    fn name(&self) -> &'static str {
        "Rprop"
    }

    const BUFFERS: &'static [&'static str] = &["prev", "step_size"];

    fn check_combination(&self) -> Result<()> {
        let (minus, plus) = self.etas;
        if !(minus < 1.0 && 1.0 < plus) {
            let reason = "needs 0 < etas.0 < 1 < etas.1";
            return Err(validate::refuse("Rprop", "etas.0", minus, reason));
        }
        let (low, high) = self.step_sizes;
        if low > high {
            let reason = "needs step_sizes.0 <= step_sizes.1";
            return Err(validate::refuse("Rprop", "step_sizes.0", low, reason));
        }
        Ok(())
    }

    fn update<T: Float>(&self, step: StepData<'_, T>) {
        let [prev, step_size] = step.state else {
            unreachable!("Rprop's state has two buffers")
        };
        if step.first {
            step_size.fill(T::from_f64(step.lr));
        }
        let k = RpropKernel {
            sign: T::from_f64(if self.maximize { -1.0 } else { 1.0 }),
            weight_decay: T::from_f64(step.weight_decay),
            eta_minus: T::from_f64(self.etas.0),
            eta_plus: T::from_f64(self.etas.1),
            low: T::from_f64(self.step_sizes.0),
            high: T::from_f64(self.step_sizes.1),
        };
        let chunk = (
            step.param,
            step.grad,
            prev.as_mut_slice(),
            step_size.as_mut_slice(),
        );
        if step.weight_decay != 0.0 {
            par::run(&Fused::<'_, T, true>(&k), chunk);
        } else {
            par::run(&Fused::<'_, T, false>(&k), chunk);
        }
    }
}

struct RpropKernel<T> {
    sign: T,
    weight_decay: T,
    eta_minus: T,
    eta_plus: T,
    low: T,
    high: T,
}

/// θ, g, g', Δ.
type Chunk<'a, T> = (&'a mut [T], &'a [T], &'a mut [T], &'a mut [T]);

struct Fused<'k, T, const WD: bool>(&'k RpropKernel<T>);

impl<'a, T: Float, const WD: bool> Kernel<Chunk<'a, T>> for Fused<'_, T, WD> {
    #[inline(always)]
    fn run(&self, (p, g, prev, size): Chunk<'a, T>) {
        let k = self.0;
        let n = p.len();
        let (g, prev, size) = (&g[..n], &mut prev[..n], &mut size[..n]);
        for i in 0..n {
            let mut gi = k.sign * g[i];
            if WD {
                gi += k.weight_decay * p[i];
            }
            let product = gi * prev[i];
            // PyTorch's sign(g g') mapped to η⁺, η⁻ or 1; NaN stays NaN.
            let factor = if product > T::ZERO {
                k.eta_plus
            } else if product < T::ZERO {
                k.eta_minus
            } else if product == T::ZERO {
                T::ONE
            } else {
                product
            };
            size[i] = clamp(size[i] * factor, k.low, k.high);
            if factor == k.eta_minus {
                gi = T::ZERO;
            }
            p[i] -= signum(gi) * size[i];
            prev[i] = gi;
        }
    }
}

/// `torch.clamp`: NaN stays NaN.
#[inline(always)]
fn clamp<T: Float>(x: T, low: T, high: T) -> T {
    if x < low {
        low
    } else if x > high {
        high
    } else {
        x
    }
}

/// `torch.sign`: −1, 0 or 1, NaN for NaN.
#[inline(always)]
pub(crate) fn signum<T: Float>(x: T) -> T {
    if x > T::ZERO {
        T::ONE
    } else if x < T::ZERO {
        -T::ONE
    } else {
        x
    }
}
