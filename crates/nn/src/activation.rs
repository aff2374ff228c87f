//! Parameter-free layers: elementwise activations and Flatten.

use tapegrad_tape::{Float, GeluApproximate, TapeError, Var};

use crate::error::Result;
use crate::module::Module;

/// A parameter-free activation module: the struct, `Default`, and its forward
/// as one tape op.
macro_rules! activation_module {
    ($(#[$meta:meta])* $name:ident, |$x:ident| $forward:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct $name;

        impl<T: Float> Module<T> for $name {
            fn forward(&self, $x: &Var<T>) -> Result<Var<T>> {
                Ok($forward)
            }
        }
    };
}

activation_module!(
    /// max(x, 0) elementwise (gradient 0 at x = 0, as PyTorch).
    ///
    /// ```
    /// use tapegrad_nn::{Module, Relu};
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::constant(Tensor::from_vec(vec![-1.0f64, 2.0], &[2]).unwrap());
    /// assert_eq!(Relu.forward(&x).unwrap().value().data(), &[0.0, 2.0]);
    /// ```
    Relu,
    |x| x.relu()
);

activation_module!(
    /// σ(x) = 1 / (1 + e⁻ˣ) elementwise.
    ///
    /// ```
    /// use tapegrad_nn::{Module, Sigmoid};
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::constant(Tensor::from_vec(vec![0.0f64], &[1]).unwrap());
    /// assert_eq!(Sigmoid.forward(&x).unwrap().value().data(), &[0.5]);
    /// ```
    Sigmoid,
    |x| x.sigmoid()
);

activation_module!(
    /// tanh x elementwise.
    ///
    /// ```
    /// use tapegrad_nn::{Module, Tanh};
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::constant(Tensor::from_vec(vec![0.0f64], &[1]).unwrap());
    /// assert_eq!(Tanh.forward(&x).unwrap().value().data(), &[0.0]);
    /// ```
    Tanh,
    |x| x.tanh()
);

activation_module!(
    /// SiLU (swish), x σ(x) (as `torch.nn.SiLU`).
    ///
    /// ```
    /// use tapegrad_nn::{Module, Silu};
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::constant(Tensor::from_vec(vec![0.0f64, 1.0], &[2]).unwrap());
    /// let y = Silu.forward(&x).unwrap().value();
    /// assert!((y.data()[1] - 0.7310585786300049).abs() < 1e-15);
    /// ```
    Silu,
    |x| x.silu()
);

activation_module!(
    /// Mish, x tanh(softplus(x)) (as `torch.nn.Mish`).
    Mish,
    |x| x.mish()
);

activation_module!(
    /// Hardswish, x · relu6(x + 3) / 6 (as `torch.nn.Hardswish`).
    Hardswish,
    |x| x.hardswish()
);

/// GELU, x Φ(x) (as `torch.nn.GELU`; `approximate` `None`, the default, or
/// `Tanh`).
///
/// ```
/// use tapegrad_nn::{Gelu, Module};
/// use tapegrad_tape::{GeluApproximate, Tensor, Var};
/// let x = Var::constant(Tensor::from_vec(vec![1.0f64], &[1]).unwrap());
/// let exact = Gelu::default().forward(&x).unwrap().item().unwrap();
/// let tanh = Gelu { approximate: GeluApproximate::Tanh }.forward(&x).unwrap().item().unwrap();
/// assert!((exact - 0.8413447460685429).abs() < 1e-15 && (tanh - exact).abs() < 2e-4);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gelu {
    /// Φ exactly (erf) or by its tanh approximation.
    pub approximate: GeluApproximate,
}

impl<T: Float> Module<T> for Gelu {
    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        Ok(x.gelu(self.approximate))
    }
}

/// Softplus, (1/β) ln(1 + e^(βx)), linear where βx > threshold (as
/// `torch.nn.Softplus`; β = 1, threshold = 20 by default).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Softplus {
    /// β.
    pub beta: f64,
    /// Above βx = threshold the output is x.
    pub threshold: f64,
}

impl Default for Softplus {
    fn default() -> Self {
        Self {
            beta: 1.0,
            threshold: 20.0,
        }
    }
}

impl<T: Float> Module<T> for Softplus {
    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        Ok(x.softplus(T::from_f64(self.beta), T::from_f64(self.threshold)))
    }
}

/// ELU, x for x > 0 and α (eˣ − 1) otherwise (as `torch.nn.ELU`; α = 1 by
/// default).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Elu {
    /// α.
    pub alpha: f64,
}

impl Default for Elu {
    fn default() -> Self {
        Self { alpha: 1.0 }
    }
}

impl<T: Float> Module<T> for Elu {
    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        Ok(x.elu(T::from_f64(self.alpha)))
    }
}

/// LeakyReLU, x for x > 0 and `negative_slope` · x otherwise (as
/// `torch.nn.LeakyReLU`; slope 0.01 by default).
///
/// ```
/// use tapegrad_nn::{LeakyRelu, Module};
/// use tapegrad_tape::{Tensor, Var};
/// let x = Var::constant(Tensor::from_vec(vec![-2.0f64, 3.0], &[2]).unwrap());
/// assert_eq!(LeakyRelu::default().forward(&x).unwrap().value().data(), &[-0.02, 3.0]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeakyRelu {
    /// The slope below 0.
    pub negative_slope: f64,
}

impl Default for LeakyRelu {
    fn default() -> Self {
        Self {
            negative_slope: 0.01,
        }
    }
}

impl<T: Float> Module<T> for LeakyRelu {
    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        Ok(x.leaky_relu(T::from_f64(self.negative_slope)))
    }
}

activation_module!(
    /// The identity, y = x (as `torch.nn.Identity`): a placeholder in a model.
    ///
    /// ```
    /// use tapegrad_nn::{Identity, Module};
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::constant(Tensor::<f32>::ones(&[2]));
    /// assert_eq!(Identity.forward(&x).unwrap().value(), x.value());
    /// ```
    Identity,
    |x| x.clone()
);

/// softmax along `dim` (as `torch.nn.Softmax(dim)`; a negative `dim` counts
/// from the end).
///
/// ```
/// use tapegrad_nn::{Module, Softmax};
/// use tapegrad_tape::{Tensor, Var};
/// let x = Var::constant(Tensor::from_vec(vec![0.0f64, 0.0], &[1, 2]).unwrap());
/// assert_eq!(Softmax { dim: -1 }.forward(&x).unwrap().value().data(), &[0.5, 0.5]);
/// assert!(Softmax { dim: 2 }.forward(&x).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Softmax {
    /// The axis that sums to 1.
    pub dim: isize,
}

impl<T: Float> Module<T> for Softmax {
    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        Ok(x.softmax(self.dim)?)
    }
}

/// log softmax along `dim` (as `torch.nn.LogSoftmax(dim)`), computed stably
/// in one op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogSoftmax {
    /// The axis normalized.
    pub dim: isize,
}

impl<T: Float> Module<T> for LogSoftmax {
    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        Ok(x.log_softmax(self.dim)?)
    }
}

/// Keeps the batch axis and merges all others: [N, d₁, …, d_k] → [N, d₁ ⋯ d_k]
/// (as `torch.nn.Flatten()`, start_dim = 1). The input needs at least 2 axes.
///
/// ```
/// use tapegrad_nn::{Flatten, Module};
/// use tapegrad_tape::{Tensor, Var};
/// let x = Var::constant(Tensor::<f32>::zeros(&[4, 8, 13, 13]));
/// assert_eq!(Flatten.forward(&x).unwrap().shape(), &[4, 1352]);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flatten;

impl<T: Float> Module<T> for Flatten {
    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        if x.ndim() < 2 {
            return Err(TapeError::InvalidShape {
                op: "Flatten",
                shape: x.shape().into(),
                reason: "needs a batch axis and at least one more".into(),
            }
            .into());
        }
        let batch = x.shape()[0];
        let rest: usize = x.shape()[1..].iter().product();
        Ok(x.reshape(&[batch, rest])?)
    }
}
