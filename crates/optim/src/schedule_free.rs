//! Schedule-free SGD and AdamW (Defazio et al., 2024, "The road less
//! scheduled"), as optax's `contrib.schedule_free_sgd` and
//! `schedule_free_adamw`: no lr schedule, an average of the iterates instead.

use tapegrad_tape::Float;

use crate::declare::config;
use crate::rule::{Optim, Rule, StepData};

config! {
    /// Options of [`ScheduleFreeSgd`]; `Default` gives optax's defaults.
    ///
    /// ```
    /// let cfg = tapegrad_optim::ScheduleFreeSgdConfig::default();
    /// assert_eq!((cfg.lr, cfg.b1, cfg.weight_lr_power, cfg.warmup_steps), (1.0, 0.9, 2.0, 0));
    /// ```
    pub struct ScheduleFreeSgdConfig for "ScheduleFreeSGD" {
        /// Learning rate ε (≥ 0).
        group lr: f64 = 1.0, "ε", non_negative;
        /// β: the interpolation between the average x and the step z, in [0, 1).
        option b1: f64 = 0.9, "β", unit_half_open;
        /// Weight decay λ (≥ 0), added to g at y.
        group weight_decay: f64 = 0.0, "λ", non_negative;
        /// The power r of the averaging weight ε_max^r (≥ 0).
        option weight_lr_power: f64 = 2.0, "r", non_negative;
        /// Linear warm-up of ε over this many steps (0: none).
        option warmup_steps: usize = 0, "", any;
    }
}

config! {
    /// Options of [`ScheduleFreeAdamW`]; `Default` gives optax's defaults.
    ///
    /// ```
    /// let cfg = tapegrad_optim::ScheduleFreeAdamWConfig::default();
    /// assert_eq!((cfg.lr, cfg.b1, cfg.b2, cfg.eps), (0.0025, 0.9, 0.999, 1e-8));
    /// ```
    pub struct ScheduleFreeAdamWConfig for "ScheduleFreeAdamW" {
        /// Learning rate ε (≥ 0).
        group lr: f64 = 0.0025, "ε", non_negative;
        /// β: the interpolation between the average x and the step z, in [0, 1).
        option b1: f64 = 0.9, "β", unit_half_open;
        /// ρ₂, the decay of the second moment, in [0, 1).
        option b2: f64 = 0.999, "ρ₂", unit_half_open;
        /// δ, added to √r̂ (≥ 0).
        option eps: f64 = 1e-8, "δ", non_negative;
        /// Weight decay λ (≥ 0), decoupled: added to the scaled gradient at y.
        group weight_decay: f64 = 0.0, "λ", non_negative;
        /// The power r of the averaging weight ε_max^r (≥ 0).
        option weight_lr_power: f64 = 2.0, "r", non_negative;
        /// Linear warm-up of ε over this many steps (0: none).
        option warmup_steps: usize = 0, "", any;
    }
}

/// Schedule-free SGD, step for step as optax's. The parameters hold y, where
/// gradients are taken; the state holds the SGD iterate z, and the average x,
/// the point to evaluate, is y and z combined:
///
/// ```text
/// ε_t = ε min(t, W)/W (warm-up W, else ε) ;  ε_max ← max(ε_max, ε_t)
/// w = ε_max^r ;  Σw ← Σw + w ;  c = w / Σw
/// z' = z − ε_{t−1} (g + λ y)
/// x = (y − (1 − β) z)/β ;  x' = (1 − c) x + c z'
/// y ← β x' + (1 − β) z' ;  z ← z'
/// ```
///
/// With a warm-up the step takes ε_{t−1} (0 at the first step) and the weight
/// ε_t, as in optax, whose inner optimizer counts from 0 and whose average
/// counts from 1; without one both are ε. Evaluate at x with
/// [`Optim::with_eval_weights`]. State per parameter: `z`,
/// and `schedule_free` (Σw, ε_max); optax keeps those two per optimizer, which
/// is the same while every parameter gets a gradient at every step.
pub type ScheduleFreeSgd<T> = Optim<T, ScheduleFreeSgdConfig>;

/// Schedule-free AdamW, step for step as optax's: [`ScheduleFreeSgd`] with
/// the step z' = z − ε_t (g / (√(r/(1 − ρ₂ᵗ)) + δ) + λ y), r ← ρ₂ r + (1 − ρ₂) g².
/// State per parameter: `z`, `exp_avg_sq` (r) and `schedule_free`.
///
/// ```
/// use tapegrad_optim::{Optimizer, ScheduleFreeAdamW, ScheduleFreeAdamWConfig};
/// use tapegrad_tape::{Tensor, Var};
/// let w = Var::parameter(Tensor::<f64>::from_vec(vec![1.0, -1.0], &[2]).unwrap());
/// let mut opt = ScheduleFreeAdamW::new(vec![w.clone()], ScheduleFreeAdamWConfig::default()).unwrap();
/// for _ in 0..3 {
///     w.set_grad(Some(Tensor::from_vec(vec![1.0, -1.0], &[2]).unwrap()));
///     opt.step().unwrap();
/// }
/// let y = w.value().data().to_vec();
/// let x = opt.with_eval_weights(|| w.value().data().to_vec());
/// assert_ne!(x, y); // the average lags behind y
/// assert_eq!(w.value().data(), y); // and y is back for training
/// ```
pub type ScheduleFreeAdamW<T> = Optim<T, ScheduleFreeAdamWConfig>;

/// The indices of the scalars in the `schedule_free` buffer.
const WEIGHT_SUM: usize = 0;
const MAX_LR: usize = 1;

/// What both variants share: the warm-up, the averaging weight and the
/// interpolation of x, y and z.
struct Averaging {
    b1: f64,
    weight_lr_power: f64,
    warmup_steps: usize,
}

impl Averaging {
    /// ε at count c of optax's `warmup_constant_schedule(0, ε, W)`:
    /// (0 − ε)(1 − min(c, W)/W) + ε.
    fn lr(&self, lr: f64, c: u64) -> f64 {
        match self.warmup_steps {
            0 => lr,
            w => (0.0 - lr) * (1.0 - c.min(w as u64) as f64 / w as f64) + lr,
        }
    }

    /// ε_{t−1} for the inner step and c for the average, updating (Σw, ε_max).
    fn begin<T: Float>(&self, lr: f64, t: u64, scalars: &mut [T]) -> (f64, T) {
        let c = self.weight(self.lr(lr, t), scalars);
        (self.lr(lr, t - 1), c)
    }

    /// Updates (Σw, ε_max) and returns c, as optax (NaN stays NaN, 0/0 is 0).
    fn weight<T: Float>(&self, lr: f64, scalars: &mut [T]) -> T {
        let max_lr = scalars[MAX_LR].max(T::from_f64(lr));
        let weight = max_lr.powf(T::from_f64(self.weight_lr_power));
        let total = scalars[WEIGHT_SUM] + weight;
        scalars[MAX_LR] = max_lr;
        scalars[WEIGHT_SUM] = total;
        if weight.is_nan() || total.is_nan() {
            return T::from_f64(f64::NAN);
        }
        let c = weight / total;
        if c.is_nan() { T::ZERO } else { c }
    }

    /// y and z from the step u of the base optimizer (z' = z + u).
    #[inline(always)]
    fn apply<T: Float>(&self, y: &mut T, z: &mut T, u: T, c: T) {
        let b1 = T::from_f64(self.b1);
        let one_minus_b1 = T::from_f64(1.0 - self.b1);
        let z_new = *z + u;
        let x = (*y - one_minus_b1 * *z) / b1;
        let x_new = (T::ONE - c) * x + c * z_new;
        let y_new = b1 * x_new + one_minus_b1 * z_new;
        *y += y_new - *y;
        *z = z_new;
    }
}

/// The first step starts z at y.
fn start_z<T: Float>(step: &mut StepData<'_, T>) {
    if step.first {
        step.state[0].copy_from_slice(step.param);
    }
}

impl Rule for ScheduleFreeSgdConfig {
    fn name(&self) -> &'static str {
        "ScheduleFreeSGD"
    }

    const BUFFERS: &'static [&'static str] = &["z", "schedule_free"];

    fn buffer_len(&self, index: usize, shape: &[usize]) -> usize {
        if index == 1 {
            2
        } else {
            shape.iter().product()
        }
    }

    fn eval_interpolation(&self) -> Option<f64> {
        Some(self.b1)
    }

    fn update<T: Float>(&self, mut step: StepData<'_, T>) {
        start_z(&mut step);
        let avg = Averaging {
            b1: self.b1,
            weight_lr_power: self.weight_lr_power,
            warmup_steps: self.warmup_steps,
        };
        let [z, scalars] = step.state else {
            unreachable!("schedule-free SGD keeps two buffers")
        };
        let (lr, c) = avg.begin(step.lr, step.t, scalars);
        let (neg_lr, wd) = (T::from_f64(-lr), T::from_f64(step.weight_decay));
        for ((y, z), &g) in step.param.iter_mut().zip(z.iter_mut()).zip(step.grad) {
            let u = neg_lr * (g + wd * *y);
            avg.apply(y, z, u, c);
        }
    }
}

impl Rule for ScheduleFreeAdamWConfig {
    fn name(&self) -> &'static str {
        "ScheduleFreeAdamW"
    }

    const BUFFERS: &'static [&'static str] = &["z", "exp_avg_sq", "schedule_free"];

    fn buffer_len(&self, index: usize, shape: &[usize]) -> usize {
        if index == 2 {
            2
        } else {
            shape.iter().product()
        }
    }

    fn eval_interpolation(&self) -> Option<f64> {
        Some(self.b1)
    }

    fn update<T: Float>(&self, mut step: StepData<'_, T>) {
        start_z(&mut step);
        let avg = Averaging {
            b1: self.b1,
            weight_lr_power: self.weight_lr_power,
            warmup_steps: self.warmup_steps,
        };
        let [z, r, scalars] = step.state else {
            unreachable!("schedule-free AdamW keeps three buffers")
        };
        let (lr, c) = avg.begin(step.lr, step.t, scalars);
        let (b2, one_minus_b2) = (T::from_f64(self.b2), T::from_f64(1.0 - self.b2));
        let correction = T::from_f64(1.0 - self.b2.powf(step.t as f64));
        let (eps, neg_lr, wd) = (
            T::from_f64(self.eps),
            T::from_f64(-lr),
            T::from_f64(step.weight_decay),
        );
        let cells = step.param.iter_mut().zip(z.iter_mut()).zip(r.iter_mut());
        for (((y, z), r), &g) in cells.zip(step.grad) {
            *r = one_minus_b2 * (g * g) + b2 * *r;
            let scaled = T::ONE / ((*r / correction).sqrt() + eps) * g;
            let u = neg_lr * (scaled + wd * *y);
            avg.apply(y, z, u, c);
        }
    }
}

/// The schedule-free rules, whose parameters hold y and whose point to
/// evaluate is x.
pub trait ScheduleFree: Rule {}

impl ScheduleFree for ScheduleFreeSgdConfig {}

impl ScheduleFree for ScheduleFreeAdamWConfig {}

impl<T: Float, R: ScheduleFree> Optim<T, R> {
    /// Runs `f` with every parameter that has taken a step set to the average
    /// x = (y − (1 − β) z)/β, the point schedule-free training means to
    /// evaluate, then puts the training point y back exactly; a parameter
    /// without a step yet is its own average. The switch cannot be left on.
    /// (Through `dyn Optimizer`, [`crate::Optimizer::with_eval_weights`] does
    /// the same.)
    pub fn with_eval_weights<O>(&mut self, f: impl FnOnce() -> O) -> O {
        let mut f = Some(f);
        let mut out = None;
        crate::Optimizer::with_eval_weights(self, &mut || out = f.take().map(|f| f()));
        out.expect("the closure ran")
    }
}
