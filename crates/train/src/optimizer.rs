//! The optimizer of a run, built from its spec.

use tapegrad_optim::{Lookahead, OptimError, Optimizer, OptimizerSettings};
use tapegrad_tape::Var;

use super::config::RunSpec;
use super::error::{Result, TrainError};

/// The optimizer `spec.optimizer` over `params`, with `spec.lr`,
/// `spec.weight_decay` and `spec.bias_correction`, every other option at
/// PyTorch's default (built by [`OptimizerSettings`], the one builder the
/// programs share), inside [`Lookahead`] when `spec.lookahead` is set.
/// `--no-bias-correction` with an optimizer that has no bias correction is
/// refused, naming the flag.
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
    let inner = settings.build(params).map_err(|e| match e {
        OptimError::UnsupportedOption { reason, .. } => TrainError::InvalidArgument {
            name: "--no-bias-correction",
            value: "given".into(),
            reason,
        },
        other => other.into(),
    })?;
    let Some((k, alpha)) = spec.lookahead else {
        return Ok(inner);
    };
    let wrapped = Lookahead::new(inner, k, alpha).map_err(|e| TrainError::InvalidArgument {
        name: "--lookahead",
        value: format!("{k},{alpha}"),
        reason: e.to_string(),
    })?;
    Ok(Box::new(wrapped))
}
