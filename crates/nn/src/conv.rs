//! 2-d convolution and pooling layers over images [N, C, H, W].

use rand::Rng;
use tapegrad_tape::{Float, TapeError, Var};

use crate::error::{NnError, Result};
use crate::init;
use crate::module::{IntoPair, Module};

/// 2-d cross-correlation, as `torch.nn.Conv2d`:
///
/// ```text
/// y[n, o, i, j] = b[o] + Σ_c Σ_u Σ_v W[o, c, u, v] · x[n, c, s_h i + u − p_h, s_w j + v − p_w]
/// ```
///
/// with W of shape [out, in, kh, kw], zero padding p and stride s (builder
/// methods, both default as PyTorch: stride 1, padding 0). The output is
/// [N, out, (H + 2p_h − kh)/s_h + 1, (W + 2p_w − kw)/s_w + 1].
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapegrad_nn::{Conv2d, Module};
/// use tapegrad_tape::{Tensor, Var};
/// let conv = Conv2d::<f64>::new(1, 4, 3, &mut StdRng::seed_from_u64(0)).stride(2).padding(1);
/// assert_eq!(conv.weight().shape(), &[4, 1, 3, 3]);
/// let y = conv.forward(&Var::constant(Tensor::zeros(&[2, 1, 8, 8]))).unwrap();
/// assert_eq!(y.shape(), &[2, 4, 4, 4]);
/// ```
pub struct Conv2d<T: Float = f32> {
    weight: Var<T>,
    bias: Option<Var<T>>,
    stride: (usize, usize),
    padding: (usize, usize),
}

impl<T: Float> Conv2d<T> {
    /// A layer with PyTorch's default initialization: W and b from U(−1/√fan_in,
    /// 1/√fan_in), fan_in = in_channels · kh · kw.
    pub fn new<R: Rng + ?Sized>(
        in_channels: usize,
        out_channels: usize,
        kernel_size: impl IntoPair,
        rng: &mut R,
    ) -> Self {
        let (kh, kw) = kernel_size.into_pair();
        let shape = [out_channels, in_channels, kh, kw];
        let (w, b) = init::default_weight_and_bias(&shape, in_channels * kh * kw, true, rng);
        Self {
            weight: Var::parameter(w),
            bias: b.map(Var::parameter),
            stride: (1, 1),
            padding: (0, 0),
        }
    }

    /// A layer over given vars; W must be [out, in, kh, kw] and b `[out]`.
    ///
    /// ```
    /// use tapegrad_nn::Conv2d;
    /// use tapegrad_tape::{Tensor, Var};
    /// let w = Var::parameter(Tensor::<f64>::zeros(&[2, 1, 3, 3]));
    /// assert!(Conv2d::from_parameters(w, None).is_ok());
    /// ```
    pub fn from_parameters(weight: Var<T>, bias: Option<Var<T>>) -> Result<Self> {
        if weight.ndim() != 4 {
            return Err(NnError::InvalidArgument {
                op: "Conv2d",
                name: "weight",
                value: format!("shape {:?}", weight.shape()),
                reason: "must be [out_channels, in_channels, kh, kw]".into(),
            });
        }
        if let Some(b) = &bias
            && b.shape() != [weight.shape()[0]]
        {
            return Err(TapeError::ShapeMismatch {
                op: "Conv2d (weight, bias)",
                lhs: weight.shape().into(),
                rhs: b.shape().into(),
            }
            .into());
        }
        Ok(Self {
            weight,
            bias,
            stride: (1, 1),
            padding: (0, 0),
        })
    }

    /// Sets the stride (one value for both axes, or (s_h, s_w)).
    pub fn stride(mut self, stride: impl IntoPair) -> Self {
        self.stride = stride.into_pair();
        self
    }

    /// Sets the zero padding added on each side (one value, or (p_h, p_w)).
    pub fn padding(mut self, padding: impl IntoPair) -> Self {
        self.padding = padding.into_pair();
        self
    }

    /// Drops the bias: y = W ⋆ x.
    pub fn without_bias(mut self) -> Self {
        self.bias = None;
        self
    }

    /// W, of shape [out, in, kh, kw].
    pub fn weight(&self) -> &Var<T> {
        &self.weight
    }

    /// b, of shape `[out]`, if the layer has one.
    pub fn bias(&self) -> Option<&Var<T>> {
        self.bias.as_ref()
    }
}

impl<T: Float> Module<T> for Conv2d<T> {
    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        Ok(x.conv2d(&self.weight, self.bias.as_ref(), self.stride, self.padding)?)
    }

    fn visit_own_parameters(&self, visit: &mut dyn FnMut(&str, &Var<T>)) {
        visit("weight", &self.weight);
        if let Some(b) = &self.bias {
            visit("bias", b);
        }
    }
}

/// Window, stride and padding of a pooling layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PoolGeometry {
    kernel: (usize, usize),
    stride: (usize, usize),
    padding: (usize, usize),
}

impl PoolGeometry {
    /// PyTorch's defaults: the stride equals the window, no padding.
    fn new(kernel: (usize, usize)) -> Self {
        Self {
            kernel,
            stride: kernel,
            padding: (0, 0),
        }
    }
}

/// Max pooling, as `torch.nn.MaxPool2d`: y[n, c, i, j] is the largest
/// x[n, c, s_h i + u − p_h, s_w j + v − p_w] over the k_h × k_w window (padding
/// counts as −∞). The gradient goes to the position of the maximum.
///
/// ```
/// use tapegrad_nn::{MaxPool2d, Module};
/// use tapegrad_tape::{Tensor, Var};
/// let x = Var::constant(Tensor::<f64>::arange(16).reshape(&[1, 1, 4, 4]).unwrap());
/// let y = MaxPool2d::new(2).forward(&x).unwrap();
/// assert_eq!(y.value().data(), &[5.0, 7.0, 13.0, 15.0]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxPool2d(PoolGeometry);

/// The builder and `Module` impl shared by the two pooling layers: they differ
/// only in the op their forward calls.
macro_rules! pooling_layer {
    ($layer:ident, $op:ident, $padding_doc:literal) => {
        impl $layer {
            /// A window of `kernel` (one value or (k_h, k_w)), stride = kernel, no padding.
            pub fn new(kernel: impl IntoPair) -> Self {
                Self(PoolGeometry::new(kernel.into_pair()))
            }

            /// Sets the stride.
            pub fn stride(mut self, stride: impl IntoPair) -> Self {
                self.0.stride = stride.into_pair();
                self
            }

            #[doc = $padding_doc]
            pub fn padding(mut self, padding: impl IntoPair) -> Self {
                self.0.padding = padding.into_pair();
                self
            }
        }

        impl<T: Float> Module<T> for $layer {
            fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
                let PoolGeometry {
                    kernel,
                    stride,
                    padding,
                } = self.0;
                Ok(x.$op(kernel, stride, padding)?)
            }
        }
    };
}

pooling_layer!(
    MaxPool2d,
    max_pool2d,
    "Sets the padding (implicit −∞ on each side)."
);

/// Average pooling, as `torch.nn.AvgPool2d` (padding zeros count in the
/// average): y[n, c, i, j] = (1 / (k_h k_w)) Σ_u Σ_v x[n, c, s_h i + u − p_h,
/// s_w j + v − p_w].
///
/// ```
/// use tapegrad_nn::{AvgPool2d, Module};
/// use tapegrad_tape::{Tensor, Var};
/// let x = Var::constant(Tensor::<f64>::arange(16).reshape(&[1, 1, 4, 4]).unwrap());
/// let y = AvgPool2d::new(2).forward(&x).unwrap();
/// assert_eq!(y.value().data(), &[2.5, 4.5, 10.5, 12.5]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AvgPool2d(PoolGeometry);

pooling_layer!(AvgPool2d, avg_pool2d, "Sets the zero padding.");

/// Its name, its parameters' shapes and its children (see `dyn Module`'s `Debug`).
impl<T: Float> std::fmt::Debug for Conv2d<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self as &dyn Module<T>, f)
    }
}
