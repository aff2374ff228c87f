//! Parameter-free layers: elementwise activations and Flatten.

use tapegrad_tape::{Float, TapeError, Var};

use crate::error::Result;
use crate::module::Module;

/// max(x, 0) elementwise (gradient 0 at x = 0, as PyTorch).
///
/// ```
/// use tapegrad_nn::{Module, Relu};
/// use tapegrad_tape::{Tensor, Var};
/// let x = Var::constant(Tensor::from_vec(vec![-1.0f64, 2.0], &[2]).unwrap());
/// assert_eq!(Relu.forward(&x).unwrap().value().data(), &[0.0, 2.0]);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Relu;

impl<T: Float> Module<T> for Relu {
    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        Ok(x.relu())
    }
}

/// σ(x) = 1 / (1 + e⁻ˣ) elementwise.
///
/// ```
/// use tapegrad_nn::{Module, Sigmoid};
/// use tapegrad_tape::{Tensor, Var};
/// let x = Var::constant(Tensor::from_vec(vec![0.0f64], &[1]).unwrap());
/// assert_eq!(Sigmoid.forward(&x).unwrap().value().data(), &[0.5]);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sigmoid;

impl<T: Float> Module<T> for Sigmoid {
    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        Ok(x.sigmoid())
    }
}

/// tanh x elementwise.
///
/// ```
/// use tapegrad_nn::{Module, Tanh};
/// use tapegrad_tape::{Tensor, Var};
/// let x = Var::constant(Tensor::from_vec(vec![0.0f64], &[1]).unwrap());
/// assert_eq!(Tanh.forward(&x).unwrap().value().data(), &[0.0]);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tanh;

impl<T: Float> Module<T> for Tanh {
    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        Ok(x.tanh())
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
