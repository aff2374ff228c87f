//! The optimizer of a run, built from its spec.

use tapegrad_optim::{OptimError, Optimizer, OptimizerSettings};
use tapegrad_tape::Var;

use super::config::RunSpec;
use super::error::{Result, TrainError};

/// The optimizer `spec.optimizer` over `params`, with `spec.lr`,
/// `spec.weight_decay` and `spec.bias_correction`, every other option at
/// PyTorch's default (built by [`OptimizerSettings`], the one builder the
/// programs share). `--no-bias-correction` with an optimizer that has no bias
/// correction is refused, naming the flag.
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
    let settings = OptimizerSettings {
        lr: spec.lr,
        weight_decay: spec.weight_decay,
        bias_correction: spec.bias_correction,
        ..OptimizerSettings::new(spec.optimizer)
    };
    settings.build(params).map_err(|e| match e {
        OptimError::UnsupportedOption { reason, .. } => TrainError::InvalidArgument {
            name: "--no-bias-correction",
            value: "given".into(),
            reason,
        },
        other => other.into(),
    })
}
