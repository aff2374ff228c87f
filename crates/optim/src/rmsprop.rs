//! RMSprop (PyTorch's `torch.optim.RMSprop`).

use tapegrad_tape::{Float, Var};

use crate::core::{Core, SlotState, next_step};
use crate::error::Result;
use crate::group::ParamGroup;
use crate::optimizer::impl_optimizer;
use crate::par::{self, Kernel};
use crate::state::ParamState;
use crate::validate;

/// Options of [`RmsProp`]; `Default` gives PyTorch's defaults.
///
/// | option | symbol | default |
/// |---|---|---|
/// | `lr` | ε | 1e-2 |
/// | `alpha` | ρ | 0.99 |
/// | `eps` | δ | 1e-8 |
/// | `weight_decay` | 1/C | 0 |
/// | `momentum` | α | 0 |
/// | `centered` | | false |
/// | `maximize` | | false |
///
/// ```
/// let cfg = tapegrad_optim::RmsPropConfig::default();
/// assert_eq!((cfg.lr, cfg.alpha, cfg.eps), (1e-2, 0.99, 1e-8));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RmsPropConfig {
    /// Learning rate ε (≥ 0).
    pub lr: f64,
    /// Decay ρ of the moving average of g ⊙ g, in [0, 1].
    pub alpha: f64,
    /// δ, added to the root (≥ 0).
    pub eps: f64,
    /// Weight decay 1/C (≥ 0), added to g.
    pub weight_decay: f64,
    /// Momentum α (≥ 0) on the scaled step.
    pub momentum: f64,
    /// Divide by an estimate of the standard deviation of g instead of its root mean square.
    pub centered: bool,
    /// Ascend the objective instead of descending it (g ← −g).
    pub maximize: bool,
}

impl Default for RmsPropConfig {
    fn default() -> Self {
        Self {
            lr: 1e-2,
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: false,
            maximize: false,
        }
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
pub struct RmsProp<T: Float> {
    core: Core<T, RmsPropState<T>>,
    cfg: RmsPropConfig,
}

pub(crate) struct RmsPropState<T> {
    step: u64,
    square_avg: Vec<T>,
    momentum_buffer: Option<Vec<T>>,
    grad_avg: Option<Vec<T>>,
}

impl<T: Float> SlotState<T> for RmsPropState<T> {
    type Config = RmsPropConfig;
    const COUNTS_STEPS: bool = true;
    fn step(&self) -> u64 {
        self.step
    }
    fn save(&self) -> ParamState<T> {
        let mut buffers = vec![("square_avg".to_string(), self.square_avg.clone())];
        if let Some(b) = &self.momentum_buffer {
            buffers.push(("momentum_buffer".into(), b.clone()));
        }
        if let Some(a) = &self.grad_avg {
            buffers.push(("grad_avg".into(), a.clone()));
        }
        ParamState {
            step: self.step,
            buffers,
        }
    }
    fn restore(
        saved: &ParamState<T>,
        numel: usize,
        cfg: &RmsPropConfig,
    ) -> std::result::Result<Self, String> {
        saved.only(&["square_avg", "momentum_buffer", "grad_avg"])?;
        Ok(Self {
            step: saved.step,
            square_avg: saved.take("square_avg", numel)?,
            momentum_buffer: saved.take_if("momentum_buffer", cfg.momentum > 0.0, numel)?,
            grad_avg: saved.take_if("grad_avg", cfg.centered, numel)?,
        })
    }
}

const NAME: &str = "RMSprop";

impl<T: Float> RmsProp<T> {
    /// RMSprop over `params`, refusing invalid options.
    pub fn new(params: Vec<Var<T>>, cfg: RmsPropConfig) -> Result<Self> {
        Self::with_groups(vec![ParamGroup::new(params)], cfg)
    }

    /// RMSprop over parameter groups, each with optional lr and weight-decay overrides.
    pub fn with_groups(groups: Vec<ParamGroup<T>>, cfg: RmsPropConfig) -> Result<Self> {
        validate::non_negative(NAME, "lr", cfg.lr)?;
        validate::unit_closed(NAME, "alpha", cfg.alpha)?;
        validate::non_negative(NAME, "eps", cfg.eps)?;
        validate::non_negative(NAME, "weight_decay", cfg.weight_decay)?;
        validate::non_negative(NAME, "momentum", cfg.momentum)?;
        let core = Core::new(NAME, groups, cfg.lr, cfg.weight_decay)?;
        Ok(Self { core, cfg })
    }

    /// The options given at construction.
    pub fn config(&self) -> &RmsPropConfig {
        &self.cfg
    }

    fn options(&self) -> Vec<(&'static str, f64)> {
        let c = &self.cfg;
        vec![
            ("alpha", c.alpha),
            ("eps", c.eps),
            ("momentum", c.momentum),
            ("centered", f64::from(u8::from(c.centered))),
            ("maximize", f64::from(u8::from(c.maximize))),
        ]
    }

    fn update(&mut self) -> Result<()> {
        let cfg = self.cfg;
        self.core.for_each_with_grad(|group, param, grad, slot| {
            let n = param.numel();
            let state = slot.get_or_insert_with(|| RmsPropState {
                step: 0,
                square_avg: vec![T::ZERO; n],
                momentum_buffer: (cfg.momentum > 0.0).then(|| vec![T::ZERO; n]),
                grad_avg: cfg.centered.then(|| vec![T::ZERO; n]),
            });
            state.step = next_step(NAME, param, state.step)?;
            let k = RmsPropKernel {
                sign: T::from_f64(if cfg.maximize { -1.0 } else { 1.0 }),
                weight_decay: T::from_f64(group.weight_decay),
                lr: T::from_f64(group.lr),
                alpha: T::from_f64(cfg.alpha),
                one_minus_alpha: T::from_f64(1.0 - cfg.alpha),
                eps: T::from_f64(cfg.eps),
                momentum: T::from_f64(cfg.momentum),
            };
            let wd = group.weight_decay != 0.0;
            // The kernel variant follows the buffers present, so it always fits them.
            let (centered, momentum) = (state.grad_avg.is_some(), state.momentum_buffer.is_some());
            param.update(|p| {
                let chunk = (
                    p,
                    grad.data(),
                    state.square_avg.as_mut_slice(),
                    state.grad_avg.as_deref_mut(),
                    state.momentum_buffer.as_deref_mut(),
                );
                k.dispatch(wd, centered, momentum, chunk);
            });
            Ok(())
        })
    }
}

impl_optimizer!(RmsProp);

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
