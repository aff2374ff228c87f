//! Parameter groups: sets of parameters sharing a learning rate and weight decay.

use tapegrad_tape::{Float, Var};

/// Parameters to optimize together, with optional overrides of the optimizer's
/// learning rate and weight decay (PyTorch's `param_groups` entries).
///
/// The usual use is to exempt biases and normalization scales from weight decay:
///
/// ```
/// use tapegrad_optim::{AdamConfig, AdamW, Optimizer, ParamGroup};
/// use tapegrad_tape::{Tensor, Var};
/// let weight = Var::parameter(Tensor::<f32>::ones(&[3, 2]));
/// let bias = Var::parameter(Tensor::<f32>::zeros(&[3]));
/// let groups = vec![
///     ParamGroup::new(vec![weight]),
///     ParamGroup::new(vec![bias]).with_weight_decay(0.0),
/// ];
/// let opt = AdamW::with_groups(groups, AdamConfig::adamw()).unwrap();
/// assert_eq!(opt.groups()[0].weight_decay, 1e-2);
/// assert_eq!(opt.groups()[1].weight_decay, 0.0);
/// ```
#[derive(Clone, Debug)]
pub struct ParamGroup<T: Float> {
    /// The parameters of the group.
    pub params: Vec<Var<T>>,
    /// The group's learning rate ε; `None` takes the optimizer's `lr`.
    pub lr: Option<f64>,
    /// The group's weight decay 1/C; `None` takes the optimizer's `weight_decay`.
    pub weight_decay: Option<f64>,
}

impl<T: Float> ParamGroup<T> {
    /// A group with the optimizer's learning rate and weight decay.
    pub fn new(params: Vec<Var<T>>) -> Self {
        Self {
            params,
            lr: None,
            weight_decay: None,
        }
    }

    /// The same group with its own learning rate.
    pub fn with_lr(mut self, lr: f64) -> Self {
        self.lr = Some(lr);
        self
    }

    /// The same group with its own weight decay.
    pub fn with_weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = Some(weight_decay);
        self
    }
}

impl<T: Float> From<Vec<Var<T>>> for ParamGroup<T> {
    fn from(params: Vec<Var<T>>) -> Self {
        Self::new(params)
    }
}

/// A parameter group as the optimizer holds it: overrides resolved against the
/// optimizer's options, learning rate as last set by a schedule.
///
/// ```
/// use tapegrad_optim::{Optimizer, Sgd, SgdConfig};
/// use tapegrad_tape::{Tensor, Var};
/// let w = Var::parameter(Tensor::<f64>::ones(&[2]));
/// let opt = Sgd::new(vec![w], SgdConfig { lr: 0.1, ..Default::default() }).unwrap();
/// let group = &opt.groups()[0];
/// assert_eq!((group.lr, group.weight_decay, group.params.len()), (0.1, 0.0, 1));
/// ```
#[derive(Clone, Debug)]
pub struct Group<T: Float> {
    /// The parameters of the group.
    pub params: Vec<Var<T>>,
    /// The learning rate ε used by the next step.
    pub lr: f64,
    /// The weight decay 1/C.
    pub weight_decay: f64,
}
