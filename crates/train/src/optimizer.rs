//! The optimizer of a run, built from its spec.

use tapegrad_optim::{
    Adagrad, AdagradConfig, Adam, AdamConfig, AdamW, AdamWConfig, Optimizer, RmsProp,
    RmsPropConfig, Sgd, SgdConfig,
};
use tapegrad_tape::Var;

use super::config::{OptimizerKind, RunSpec};
use super::error::{Result, TrainError};

/// The momentum α of `--optimizer momentum`.
pub const MOMENTUM: f64 = 0.9;

/// The optimizer `spec.optimizer` over `params`, with `spec.lr` and
/// `spec.weight_decay`, every other option at PyTorch's default (momentum: α =
/// [`MOMENTUM`]). `--no-bias-correction` applies to Adam and AdamW only and is
/// refused with another optimizer.
///
/// ```
/// use tapegrad_train::{OptimizerKind, RunSpec, build_optimizer};
/// use tapegrad_tape::{Tensor, Var};
/// let w = Var::parameter(Tensor::<f32>::zeros(&[3]));
/// let spec = RunSpec { optimizer: OptimizerKind::Momentum, lr: 0.1, ..RunSpec::default() };
/// let opt = build_optimizer(&spec, vec![w]).unwrap();
/// assert_eq!((opt.name(), opt.lr()), ("SGD", 0.1));
/// ```
pub fn build_optimizer(spec: &RunSpec, params: Vec<Var<f32>>) -> Result<Box<dyn Optimizer<f32>>> {
    let (lr, weight_decay) = (spec.lr, spec.weight_decay);
    let adam_like = matches!(spec.optimizer, OptimizerKind::Adam | OptimizerKind::Adamw);
    if !spec.bias_correction && !adam_like {
        return Err(TrainError::InvalidArgument {
            name: "--no-bias-correction",
            value: "given".into(),
            reason: "only Adam and AdamW have a bias correction".into(),
        });
    }
    let sgd = |momentum| SgdConfig {
        lr,
        momentum,
        weight_decay,
        ..SgdConfig::default()
    };
    Ok(match spec.optimizer {
        OptimizerKind::Sgd => Box::new(Sgd::new(params, sgd(0.0))?),
        OptimizerKind::Momentum => Box::new(Sgd::new(params, sgd(MOMENTUM))?),
        OptimizerKind::Adagrad => Box::new(Adagrad::new(
            params,
            AdagradConfig {
                lr,
                weight_decay,
                ..AdagradConfig::default()
            },
        )?),
        OptimizerKind::Rmsprop => Box::new(RmsProp::new(
            params,
            RmsPropConfig {
                lr,
                weight_decay,
                ..RmsPropConfig::default()
            },
        )?),
        OptimizerKind::Adam => Box::new(Adam::new(
            params,
            AdamConfig {
                lr,
                weight_decay,
                bias_correction: spec.bias_correction,
                ..AdamConfig::default()
            },
        )?),
        OptimizerKind::Adamw => Box::new(AdamW::new(
            params,
            AdamWConfig {
                lr,
                weight_decay,
                bias_correction: spec.bias_correction,
                ..AdamWConfig::default()
            },
        )?),
    })
}
