//! AdaGrad (PyTorch's `torch.optim.Adagrad`).

use tapegrad_tape::{Float, Var};

use crate::core::{Core, SlotState, next_step};
use crate::error::Result;
use crate::group::ParamGroup;
use crate::optimizer::impl_optimizer;
use crate::par::{self, Kernel};
use crate::state::ParamState;
use crate::validate;

/// Options of [`Adagrad`]; `Default` gives PyTorch's defaults.
///
/// | option | symbol | default |
/// |---|---|---|
/// | `lr` | ε | 1e-2 |
/// | `lr_decay` | | 0 |
/// | `weight_decay` | 1/C | 0 |
/// | `initial_accumulator_value` | r₀ | 0 |
/// | `eps` | δ | 1e-10 |
/// | `maximize` | | false |
///
/// ```
/// let cfg = tapegrad_optim::AdagradConfig::default();
/// assert_eq!((cfg.lr, cfg.eps), (1e-2, 1e-10));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdagradConfig {
    /// Learning rate ε (≥ 0).
    pub lr: f64,
    /// The learning rate at step t is ε / (1 + (t − 1) lr_decay) (≥ 0).
    pub lr_decay: f64,
    /// Weight decay 1/C (≥ 0), added to g and so scaled component-wise like g.
    pub weight_decay: f64,
    /// Starting value of every element of r (≥ 0).
    pub initial_accumulator_value: f64,
    /// δ, added to √r (≥ 0).
    pub eps: f64,
    /// Ascend the objective instead of descending it (g ← −g).
    pub maximize: bool,
}

impl Default for AdagradConfig {
    fn default() -> Self {
        Self {
            lr: 1e-2,
            lr_decay: 0.0,
            weight_decay: 0.0,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
            maximize: false,
        }
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
pub struct Adagrad<T: Float> {
    core: Core<T, AdagradState<T>>,
    cfg: AdagradConfig,
}

pub(crate) struct AdagradState<T> {
    step: u64,
    sum: Vec<T>,
}

impl<T: Float> SlotState<T> for AdagradState<T> {
    type Config = AdagradConfig;
    const COUNTS_STEPS: bool = true;
    fn step(&self) -> u64 {
        self.step
    }
    fn save(&self) -> ParamState<T> {
        ParamState {
            step: self.step,
            buffers: vec![("sum".into(), self.sum.clone())],
        }
    }
    fn restore(
        saved: &ParamState<T>,
        numel: usize,
        _: &AdagradConfig,
    ) -> std::result::Result<Self, String> {
        saved.only(&["sum"])?;
        Ok(Self {
            step: saved.step,
            sum: saved.take("sum", numel)?,
        })
    }
}

const NAME: &str = "Adagrad";

impl<T: Float> Adagrad<T> {
    /// AdaGrad over `params`, refusing invalid options.
    pub fn new(params: Vec<Var<T>>, cfg: AdagradConfig) -> Result<Self> {
        Self::with_groups(vec![ParamGroup::new(params)], cfg)
    }

    /// AdaGrad over parameter groups, each with optional lr and weight-decay overrides.
    pub fn with_groups(groups: Vec<ParamGroup<T>>, cfg: AdagradConfig) -> Result<Self> {
        validate::non_negative(NAME, "lr", cfg.lr)?;
        validate::non_negative(NAME, "lr_decay", cfg.lr_decay)?;
        validate::non_negative(NAME, "weight_decay", cfg.weight_decay)?;
        let init = cfg.initial_accumulator_value;
        validate::non_negative(NAME, "initial_accumulator_value", init)?;
        validate::non_negative(NAME, "eps", cfg.eps)?;
        let core = Core::new(NAME, groups, cfg.lr, cfg.weight_decay)?;
        Ok(Self { core, cfg })
    }

    /// The options given at construction.
    pub fn config(&self) -> &AdagradConfig {
        &self.cfg
    }

    fn options(&self) -> Vec<(&'static str, f64)> {
        let c = &self.cfg;
        vec![
            ("lr_decay", c.lr_decay),
            ("initial_accumulator_value", c.initial_accumulator_value),
            ("eps", c.eps),
            ("maximize", f64::from(u8::from(c.maximize))),
        ]
    }

    fn update(&mut self) -> Result<()> {
        let cfg = self.cfg;
        self.core.for_each_with_grad(|group, param, grad, slot| {
            let state = slot.get_or_insert_with(|| AdagradState {
                step: 0,
                sum: vec![T::from_f64(cfg.initial_accumulator_value); param.numel()],
            });
            state.step = next_step(NAME, param, state.step)?;
            let clr = group.lr / (1.0 + (state.step - 1) as f64 * cfg.lr_decay);
            let k = AdagradKernel {
                sign: T::from_f64(if cfg.maximize { -1.0 } else { 1.0 }),
                weight_decay: T::from_f64(group.weight_decay),
                clr: T::from_f64(clr),
                eps: T::from_f64(cfg.eps),
            };
            let wd = group.weight_decay != 0.0;
            param.update(|p| {
                let chunk = (p, grad.data(), state.sum.as_mut_slice());
                if wd {
                    par::run(&Fused::<'_, T, true>(&k), chunk);
                } else {
                    par::run(&Fused::<'_, T, false>(&k), chunk);
                }
            });
            Ok(())
        })
    }
}

impl_optimizer!(Adagrad);

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
