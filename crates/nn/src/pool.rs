//! Pooling layers over images [N, C, H, W]: max, average and adaptive
//! average pooling (no parameters).

use tapegrad_tape::{Float, Var};

use crate::error::Result;
use crate::module::{IntoPair, Module};

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

/// Adaptive average pooling, as `torch.nn.AdaptiveAvgPool2d`: the output has
/// the given size (H_o, W_o) whatever the input's, and y[n, c, i, j] is the
/// mean of x[n, c, r, q] over the rows ⌊i·H/H_o⌋ ≤ r < ⌈(i + 1)·H/H_o⌉ and
/// the columns ⌊j·W/W_o⌋ ≤ q < ⌈(j + 1)·W/W_o⌉. Bins overlap when the sizes
/// do not divide, and repeat elements when the output is the larger.
///
/// ```
/// use tapegrad_nn::{AdaptiveAvgPool2d, Module};
/// use tapegrad_tape::{Tensor, Var};
/// let x = Var::constant(Tensor::<f64>::arange(16).reshape(&[1, 1, 4, 4]).unwrap());
/// assert_eq!(AdaptiveAvgPool2d::new(2).forward(&x).unwrap().value().data(), &[2.5, 4.5, 10.5, 12.5]);
/// // Global average pooling, as before a classifier.
/// assert_eq!(AdaptiveAvgPool2d::new(1).forward(&x).unwrap().value().data(), &[7.5]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdaptiveAvgPool2d {
    output_size: (usize, usize),
}

impl AdaptiveAvgPool2d {
    /// Pools to `output_size` (one value for both axes, or (H_o, W_o)).
    pub fn new(output_size: impl IntoPair) -> Self {
        Self {
            output_size: output_size.into_pair(),
        }
    }

    /// (H_o, W_o).
    pub fn output_size(&self) -> (usize, usize) {
        self.output_size
    }
}

impl<T: Float> Module<T> for AdaptiveAvgPool2d {
    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        Ok(x.adaptive_avg_pool2d(self.output_size)?)
    }
}
