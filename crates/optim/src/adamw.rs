//! AdamW (Loshchilov and Hutter, 2019), as PyTorch's `torch.optim.AdamW`.

use tapegrad_tape::{Float, Var};

use crate::adam::{Adam, AdamConfig};
use crate::error::Result;
use crate::group::{Group, ParamGroup};
use crate::optimizer::Optimizer;
use crate::state::StateDict;

/// Options of [`AdamW`]; `Default` gives PyTorch's defaults (those of Adam,
/// except weight_decay = 1e-2).
///
/// | option | symbol | default |
/// |---|---|---|
/// | `lr` | ε | 1e-3 |
/// | `betas` | (ρ₁, ρ₂) | (0.9, 0.999) |
/// | `eps` | δ | 1e-8 |
/// | `weight_decay` | 1/C | 1e-2 |
/// | `amsgrad` | | false |
/// | `maximize` | | false |
/// | `bias_correction` | | true |
///
/// ```
/// let cfg = tapegrad_optim::AdamWConfig::default();
/// assert_eq!((cfg.lr, cfg.weight_decay), (1e-3, 1e-2));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamWConfig {
    /// Learning rate ε (≥ 0).
    pub lr: f64,
    /// Decay rates (ρ₁, ρ₂), each in [0, 1).
    pub betas: (f64, f64),
    /// δ, added to √r̂ (≥ 0).
    pub eps: f64,
    /// Decoupled weight decay 1/C (≥ 0): θ ← θ (1 − ε/C) each step.
    pub weight_decay: f64,
    /// AMSGrad: divide by the running maximum of r.
    pub amsgrad: bool,
    /// Ascend the objective instead of descending it (g ← −g).
    pub maximize: bool,
    /// Divide s and r by (1 − ρ₁ᵗ) and (1 − ρ₂ᵗ).
    pub bias_correction: bool,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 1e-2,
            amsgrad: false,
            maximize: false,
            bias_correction: true,
        }
    }
}

impl From<AdamWConfig> for AdamConfig {
    fn from(c: AdamWConfig) -> Self {
        AdamConfig {
            lr: c.lr,
            betas: c.betas,
            eps: c.eps,
            weight_decay: c.weight_decay,
            amsgrad: c.amsgrad,
            maximize: c.maximize,
            bias_correction: c.bias_correction,
            decoupled_weight_decay: true,
        }
    }
}

/// AdamW: Adam with decoupled weight decay, step for step as PyTorch's `AdamW`.
///
/// In the lecture's symbols (lr = ε, betas = (ρ₁, ρ₂), eps = δ,
/// weight_decay = 1/C), with g the gradient of the loss alone (no θ/C):
///
/// ```text
/// θ ← θ − ε θ/C                   (with the current ε, before the Adam step)
/// s ← ρ₁ s + (1 − ρ₁) g
/// r ← ρ₂ r + (1 − ρ₂) g ⊙ g
/// ŝ ← s / (1 − ρ₁ᵗ) ;  r̂ ← r / (1 − ρ₂ᵗ)
/// θ ← θ − ε ŝ / (√r̂ + δ)
/// ```
///
/// PyTorch (and optax) decay by lr · weight_decay = ε/C. The paper writes
/// θ ← θ − η_t (α ŝ/(√r̂ + δ) + λ θ) with η_t the schedule multiplier alone, so
/// its decay λ is not multiplied by the base learning rate α. With lr = η_t α the
/// two agree when weight_decay = λ/α; the difference is that in PyTorch's form
/// changing the base lr also changes the decay. The lecture's form
/// θ ← θ − ε ŝ/(√r̂ + δ) − ε θ/C is PyTorch's, with weight_decay = 1/C.
///
/// With weight_decay = 0 this is Adam exactly. State: as [`Adam`].
///
/// ```
/// use tapegrad_optim::{AdamW, AdamWConfig, Optimizer};
/// use tapegrad_tape::{Tensor, Var};
/// let w = Var::parameter(Tensor::from_vec(vec![2.0f64], &[1]).unwrap());
/// let cfg = AdamWConfig { lr: 0.1, weight_decay: 0.5, ..Default::default() };
/// let mut opt = AdamW::new(vec![w.clone()], cfg).unwrap();
/// w.set_grad(Some(Tensor::from_vec(vec![1.0], &[1]).unwrap()));
/// opt.step().unwrap();
/// // θ (1 − ε/C) − ε ŝ/(√r̂ + δ) = 2 · 0.95 − 0.1 · 1/(1 + 1e-8)
/// assert!((w.item().unwrap() - 1.8).abs() < 1e-8);
/// ```
#[derive(Debug)]
pub struct AdamW<T: Float>(Adam<T>);

impl<T: Float> AdamW<T> {
    /// AdamW over `params`, refusing invalid options.
    pub fn new(params: Vec<Var<T>>, cfg: AdamWConfig) -> Result<Self> {
        Self::with_groups(vec![ParamGroup::new(params)], cfg)
    }

    /// AdamW over parameter groups, each with optional lr and weight-decay overrides
    /// (biases and normalization scales usually get weight decay 0).
    pub fn with_groups(groups: Vec<ParamGroup<T>>, cfg: AdamWConfig) -> Result<Self> {
        Adam::build("AdamW", groups, cfg.into()).map(Self)
    }

    /// The options, as the Adam options they amount to (`decoupled_weight_decay` set).
    pub fn config(&self) -> &AdamConfig {
        self.0.config()
    }
}

impl<T: Float> Optimizer<T> for AdamW<T> {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn step(&mut self) -> Result<()> {
        self.0.step()
    }
    fn groups(&self) -> &[Group<T>] {
        self.0.groups()
    }
    fn add_param_group(&mut self, group: ParamGroup<T>) -> Result<()> {
        self.0.add_param_group(group)
    }
    fn set_group_lr(&mut self, index: usize, lr: f64) -> Result<()> {
        self.0.set_group_lr(index, lr)
    }
    fn state_dict(&self) -> StateDict<T> {
        self.0.state_dict()
    }
    fn load_state_dict(&mut self, state: &StateDict<T>) -> Result<()> {
        self.0.load_state_dict(state)
    }
}
