//! The fully connected layer.

use rand::Rng;
use tapegrad_tape::{Float, TapeError, Var};

use crate::error::{NnError, Result};
use crate::init;
use crate::module::Module;

/// y = x Wᵀ + b, with W of shape [out, in] (PyTorch's layout) and b of shape `[out]`.
///
/// The input is `[…, in]`; leading axes are batch axes and are kept. One op,
/// [`Var::linear`]: the GEMM reads W as stored (no transpose is materialized)
/// and adds the product to the bias rows. Gradients: ∂L/∂x = g W,
/// ∂L/∂W = gᵀ x, ∂L/∂b = Σ_batch g.
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapegrad_nn::{Linear, Module};
/// use tapegrad_tape::{Tensor, Var};
/// let layer = Linear::<f64>::new(3, 2, &mut StdRng::seed_from_u64(0));
/// assert_eq!(layer.weight().shape(), &[2, 3]);
/// let y = layer.forward(&Var::constant(Tensor::ones(&[5, 3]))).unwrap();
/// assert_eq!(y.shape(), &[5, 2]);
/// ```
pub struct Linear<T: Float = f32> {
    weight: Var<T>,
    bias: Option<Var<T>>,
}

impl<T: Float> Linear<T> {
    /// A layer with PyTorch's default initialization: W and b from
    /// U(−1/√in, 1/√in).
    pub fn new<R: Rng + ?Sized>(in_features: usize, out_features: usize, rng: &mut R) -> Self {
        let (w, b) =
            init::default_weight_and_bias(&[out_features, in_features], in_features, true, rng);
        Self {
            weight: Var::parameter(w),
            bias: b.map(Var::parameter),
        }
    }

    /// The same layer without its bias: y = x Wᵀ.
    ///
    /// ```
    /// use rand::{SeedableRng, rngs::StdRng};
    /// use tapegrad_nn::{Linear, Module};
    /// let layer = Linear::<f32>::new(3, 2, &mut StdRng::seed_from_u64(0)).without_bias();
    /// assert_eq!(layer.parameters().len(), 1);
    /// ```
    pub fn without_bias(mut self) -> Self {
        self.bias = None;
        self
    }

    /// A layer over given vars (shared weights, weights read from elsewhere).
    /// Errors unless W is [out, in] and b is `[out]`.
    ///
    /// ```
    /// use tapegrad_nn::{Linear, Module};
    /// use tapegrad_tape::{Tensor, Var};
    /// let w = Var::parameter(Tensor::from_vec(vec![1.0f64, 2.0], &[1, 2]).unwrap());
    /// let b = Var::parameter(Tensor::from_vec(vec![0.5], &[1]).unwrap());
    /// let layer = Linear::from_parameters(w, Some(b)).unwrap();
    /// let y = layer.forward(&Var::constant(Tensor::from_vec(vec![3.0, 4.0], &[1, 2]).unwrap())).unwrap();
    /// assert_eq!(y.value().data(), &[11.5]); // 1·3 + 2·4 + 0.5
    /// ```
    pub fn from_parameters(weight: Var<T>, bias: Option<Var<T>>) -> Result<Self> {
        if weight.ndim() != 2 {
            return Err(NnError::InvalidArgument {
                op: "Linear",
                name: "weight",
                value: format!("shape {:?}", weight.shape()),
                reason: "must be [out_features, in_features]".into(),
            });
        }
        if let Some(b) = &bias
            && b.shape() != [weight.shape()[0]]
        {
            return Err(TapeError::ShapeMismatch {
                op: "Linear (weight, bias)",
                lhs: weight.shape().into(),
                rhs: b.shape().into(),
            }
            .into());
        }
        Ok(Self { weight, bias })
    }

    /// W, of shape [out, in].
    pub fn weight(&self) -> &Var<T> {
        &self.weight
    }

    /// b, of shape `[out]`, if the layer has one.
    pub fn bias(&self) -> Option<&Var<T>> {
        self.bias.as_ref()
    }
}

impl<T: Float> Module<T> for Linear<T> {
    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        let (out_features, in_features) = (self.weight.shape()[0], self.weight.shape()[1]);
        if x.ndim() == 0 || x.shape()[x.ndim() - 1] != in_features {
            return Err(TapeError::ShapeMismatch {
                op: "Linear (input, weight)",
                lhs: x.shape().into(),
                rhs: self.weight.shape().into(),
            }
            .into());
        }
        // Batch axes are folded into the rows of one product, then restored.
        let rows: usize = x.shape()[..x.ndim() - 1].iter().product();
        let mut out_shape = x.shape().to_vec();
        *out_shape.last_mut().expect("rank checked above") = out_features;
        let x2 = x.reshape(&[rows, in_features])?;
        let y = x2.linear(&self.weight, self.bias.as_ref())?;
        Ok(y.reshape(&out_shape)?)
    }

    fn visit_own_parameters(&self, visit: &mut dyn FnMut(&str, &Var<T>)) {
        visit("weight", &self.weight);
        if let Some(b) = &self.bias {
            visit("bias", b);
        }
    }
}

/// Its name, its parameters' shapes and its children (see `dyn Module`'s `Debug`).
impl<T: Float> std::fmt::Debug for Linear<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self as &dyn Module<T>, f)
    }
}
