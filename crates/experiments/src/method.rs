//! The optimizers the experiments compare, built by name.

use std::fmt;

use tapegrad_optim::{
    Adagrad, AdagradConfig, Adam, AdamConfig, AdamW, AdamWConfig, Optimizer, Sgd, SgdConfig,
};
use tapegrad_tape::{Float, Var};

use super::error::Result;

/// The momentum α of [`Method::Momentum`].
pub const MOMENTUM: f64 = 0.9;

/// An optimizer with PyTorch's defaults except the learning rate, the weight
/// decay and what the variant names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Plain stochastic gradient θ ← θ − η g.
    Sgd,
    /// Stochastic gradient with momentum α = [`MOMENTUM`].
    Momentum,
    /// AdaGrad.
    Adagrad,
    /// Adam, weight decay as θ/C in g (coupled).
    Adam,
    /// Adam without the bias correction (BERT's optimizer).
    AdamNoCorrection,
    /// AdamW: the decay θ ← θ − ε θ/C outside the adaptive step.
    AdamW,
}

impl Method {
    /// The optimizer over `params` with learning rate `lr` and weight decay
    /// `weight_decay` (1/C).
    ///
    /// ```
    /// use tapegrad_experiments::Method;
    /// use tapegrad_tape::{Tensor, Var};
    /// let w = Var::parameter(Tensor::<f64>::ones(&[2]));
    /// let opt = Method::AdamW.build(vec![w], 0.01, 0.1).unwrap();
    /// assert_eq!((opt.name(), opt.lr()), ("AdamW", 0.01));
    /// ```
    pub fn build<T: Float>(
        self,
        params: Vec<Var<T>>,
        lr: f64,
        weight_decay: f64,
    ) -> Result<Box<dyn Optimizer<T>>> {
        let adam = AdamConfig {
            lr,
            weight_decay,
            ..Default::default()
        };
        Ok(match self {
            Method::Sgd | Method::Momentum => {
                let momentum = if self == Method::Momentum {
                    MOMENTUM
                } else {
                    0.0
                };
                let cfg = SgdConfig {
                    lr,
                    momentum,
                    weight_decay,
                    ..Default::default()
                };
                Box::new(Sgd::new(params, cfg)?)
            }
            Method::Adagrad => {
                let cfg = AdagradConfig {
                    lr,
                    weight_decay,
                    ..Default::default()
                };
                Box::new(Adagrad::new(params, cfg)?)
            }
            Method::Adam => Box::new(Adam::new(params, adam)?),
            Method::AdamNoCorrection => {
                let cfg = AdamConfig {
                    bias_correction: false,
                    ..adam
                };
                Box::new(Adam::new(params, cfg)?)
            }
            Method::AdamW => {
                let cfg = AdamWConfig {
                    lr,
                    weight_decay,
                    ..Default::default()
                };
                Box::new(AdamW::new(params, cfg)?)
            }
        })
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Method::Sgd => "SGD",
            Method::Momentum => "SGD+momentum",
            Method::Adagrad => "AdaGrad",
            Method::Adam => "Adam",
            Method::AdamNoCorrection => "Adam (no bias correction)",
            Method::AdamW => "AdamW",
        })
    }
}
