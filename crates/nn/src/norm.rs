//! Normalization layers over trailing axes and groups: LayerNorm, RmsNorm and
//! GroupNorm, with PyTorch's defaults, initialization and parameter names
//! (`weight` = γ, ones; `bias` = β, zeros). Batch normalization, which keeps
//! running statistics, is in `batch_norm`.

use tapegrad_tape::{Float, Tensor, Var};

use crate::error::{NnError, Result};
use crate::module::Module;

/// γ = 1 and β = 0 of the given shape, as PyTorch initializes them.
pub(crate) fn unit_affine<T: Float>(shape: &[usize]) -> (Var<T>, Var<T>) {
    (
        Var::parameter(Tensor::ones(shape)),
        Var::parameter(Tensor::zeros(shape)),
    )
}

/// Visits γ and β under PyTorch's names, those that exist.
pub(crate) fn visit_affine<T: Float>(
    weight: Option<&Var<T>>,
    bias: Option<&Var<T>>,
    visit: &mut dyn FnMut(&str, &Var<T>),
) {
    if let Some(w) = weight {
        visit("weight", w);
    }
    if let Some(b) = bias {
        visit("bias", b);
    }
}

/// Refuses an input of rank 2 or more whose axis 1 is not `channels`.
pub(crate) fn check_channels<T: Float>(
    op: &'static str,
    x: &Var<T>,
    channels: usize,
) -> Result<()> {
    match x.shape() {
        [_, c, ..] if *c != channels => Err(NnError::InvalidArgument {
            op,
            name: "input",
            value: format!("shape {:?}", x.shape()),
            reason: format!("axis 1 must hold the layer's {channels} channels"),
        }),
        _ => Ok(()),
    }
}

/// Layer normalization over the trailing `normalized_shape` axes, as
/// `torch.nn.LayerNorm`:
///
/// ```text
/// y = (x − μ) / √(σ² + ε) ⊙ γ + β
/// ```
///
/// with μ and the biased σ² over the normalized axes of each sample, ε = 1e-5,
/// and γ (`weight`, ones) and β (`bias`, zeros) of shape `normalized_shape`.
///
/// ```
/// use tapegrad_nn::{LayerNorm, Module};
/// use tapegrad_tape::{Tensor, Var};
/// let norm = LayerNorm::<f64>::new(&[4]);
/// let x = Var::constant(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[1, 4]).unwrap());
/// let y = norm.forward(&x).unwrap().value();
/// assert!(y.data().iter().sum::<f64>().abs() < 1e-12); // mean 0
/// assert_eq!(norm.named_parameters().len(), 2);
/// ```
pub struct LayerNorm<T: Float = f32> {
    normalized_shape: Vec<usize>,
    weight: Option<Var<T>>,
    bias: Option<Var<T>>,
    eps: f64,
}

impl<T: Float> LayerNorm<T> {
    /// A layer over the trailing axes `normalized_shape`, with γ and β.
    pub fn new(normalized_shape: &[usize]) -> Self {
        let (w, b) = unit_affine(normalized_shape);
        Self {
            normalized_shape: normalized_shape.to_vec(),
            weight: Some(w),
            bias: Some(b),
            eps: 1e-5,
        }
    }

    /// ε in the denominator (default 1e-5).
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    /// Without β (PyTorch's `bias=False`).
    pub fn without_bias(mut self) -> Self {
        self.bias = None;
        self
    }

    /// Without γ and β (PyTorch's `elementwise_affine=False`).
    pub fn without_affine(mut self) -> Self {
        self.weight = None;
        self.bias = None;
        self
    }

    /// γ, if the layer has it.
    pub fn weight(&self) -> Option<&Var<T>> {
        self.weight.as_ref()
    }

    /// β, if the layer has it.
    pub fn bias(&self) -> Option<&Var<T>> {
        self.bias.as_ref()
    }
}

impl<T: Float> Module<T> for LayerNorm<T> {
    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        Ok(x.layer_norm(
            &self.normalized_shape,
            self.weight.as_ref(),
            self.bias.as_ref(),
            self.eps,
        )?)
    }

    fn visit_own_parameters(&self, visit: &mut dyn FnMut(&str, &Var<T>)) {
        visit_affine(self.weight.as_ref(), self.bias.as_ref(), visit);
    }
}

/// Root-mean-square normalization over the trailing axes, as `torch.nn.RMSNorm`:
///
/// ```text
/// y = x / √(mean(x²) + ε) ⊙ γ
/// ```
///
/// with ε by default the machine epsilon of `T` (PyTorch's `eps=None`) and γ
/// (`weight`, ones) of shape `normalized_shape`.
///
/// ```
/// use tapegrad_nn::{Module, RmsNorm};
/// use tapegrad_tape::{Tensor, Var};
/// let norm = RmsNorm::<f64>::new(&[2]).eps(0.0);
/// let x = Var::constant(Tensor::from_vec(vec![3.0, 4.0], &[1, 2]).unwrap());
/// let y = norm.forward(&x).unwrap().value();
/// assert!((y.data()[0] * y.data()[0] + y.data()[1] * y.data()[1] - 2.0).abs() < 1e-12);
/// ```
pub struct RmsNorm<T: Float = f32> {
    normalized_shape: Vec<usize>,
    weight: Option<Var<T>>,
    eps: Option<f64>,
}

impl<T: Float> RmsNorm<T> {
    /// A layer over the trailing axes `normalized_shape`, with γ.
    pub fn new(normalized_shape: &[usize]) -> Self {
        Self {
            normalized_shape: normalized_shape.to_vec(),
            weight: Some(Var::parameter(Tensor::ones(normalized_shape))),
            eps: None,
        }
    }

    /// ε in the denominator (default: the machine epsilon of `T`).
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = Some(eps);
        self
    }

    /// Without γ (PyTorch's `elementwise_affine=False`).
    pub fn without_affine(mut self) -> Self {
        self.weight = None;
        self
    }

    /// γ, if the layer has it.
    pub fn weight(&self) -> Option<&Var<T>> {
        self.weight.as_ref()
    }
}

impl<T: Float> Module<T> for RmsNorm<T> {
    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        Ok(x.rms_norm(&self.normalized_shape, self.weight.as_ref(), self.eps)?)
    }

    fn visit_own_parameters(&self, visit: &mut dyn FnMut(&str, &Var<T>)) {
        visit_affine(self.weight.as_ref(), None, visit);
    }
}

/// Group normalization, as `torch.nn.GroupNorm`: the C channels of `[N, C, …]`
/// in `num_groups` groups of consecutive channels, each normalized per sample
/// over its channels and positions, then scaled per channel:
///
/// ```text
/// y[n, c, …] = (x − μ_{n,G(c)}) / √(σ²_{n,G(c)} + ε) · γ_c + β_c
/// ```
///
/// with ε = 1e-5 and γ (`weight`, ones), β (`bias`, zeros) of shape `[C]`.
///
/// ```
/// use tapegrad_nn::{GroupNorm, Module};
/// use tapegrad_tape::{Tensor, Var};
/// let norm = GroupNorm::<f64>::new(2, 4).unwrap();
/// let y = norm.forward(&Var::constant(Tensor::ones(&[3, 4, 5]))).unwrap();
/// assert_eq!(y.shape(), &[3, 4, 5]);
/// assert!(GroupNorm::<f64>::new(3, 4).is_err()); // 3 does not divide 4
/// ```
pub struct GroupNorm<T: Float = f32> {
    num_groups: usize,
    num_channels: usize,
    weight: Option<Var<T>>,
    bias: Option<Var<T>>,
    eps: f64,
}

impl<T: Float> GroupNorm<T> {
    /// A layer of `num_groups` groups over `num_channels` channels, with γ and
    /// β. Errors when `num_groups` is 0 or does not divide `num_channels`.
    pub fn new(num_groups: usize, num_channels: usize) -> Result<Self> {
        if num_groups == 0 || !num_channels.is_multiple_of(num_groups) {
            return Err(NnError::InvalidArgument {
                op: "GroupNorm",
                name: "num_groups",
                value: num_groups.to_string(),
                reason: format!("must divide num_channels = {num_channels}"),
            });
        }
        let (w, b) = unit_affine(&[num_channels]);
        Ok(Self {
            num_groups,
            num_channels,
            weight: Some(w),
            bias: Some(b),
            eps: 1e-5,
        })
    }

    /// ε in the denominator (default 1e-5).
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    /// Without γ and β (PyTorch's `affine=False`).
    pub fn without_affine(mut self) -> Self {
        self.weight = None;
        self.bias = None;
        self
    }
}

impl<T: Float> Module<T> for GroupNorm<T> {
    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        check_channels("GroupNorm", x, self.num_channels)?;
        Ok(x.group_norm(
            self.num_groups,
            self.weight.as_ref(),
            self.bias.as_ref(),
            self.eps,
        )?)
    }

    fn visit_own_parameters(&self, visit: &mut dyn FnMut(&str, &Var<T>)) {
        visit_affine(self.weight.as_ref(), self.bias.as_ref(), visit);
    }
}

/// Their name, parameter shapes and children (see `dyn Module`'s `Debug`).
macro_rules! debug_as_module {
    ($($layer:ident),*) => {$(
        impl<T: Float> std::fmt::Debug for $layer<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(self as &dyn Module<T>, f)
            }
        }
    )*};
}
pub(crate) use debug_as_module;

debug_as_module!(LayerNorm, RmsNorm, GroupNorm);
