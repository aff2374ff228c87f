//! The 1-d convolution layer over sequences [N, C, L].

use rand::Rng;
use tapegrad_tape::{Conv1dOptions, Float, Var};

use crate::conv::{WeightLayout, check_groups, conv_layer};
use crate::error::Result;
use crate::init;
use crate::module::Module;

/// 1-d cross-correlation, as `torch.nn.Conv1d`:
///
/// ```text
/// y[n, o, i] = b[o] + Σ_c Σ_u W[o, c, u] · x[n, g·C/G + c, s i + d u − p]
/// ```
///
/// with W of shape [out, in/G, k], zero padding p, stride s and dilation d
/// (builder methods, defaults as PyTorch: 1, 0, 1), and G groups (g the group
/// of output channel o; G = 1 with [`Conv1d::new`], chosen with
/// [`Conv1d::grouped`]). The output is [N, out, (L + 2p − d(k − 1) − 1)/s + 1].
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapegrad_nn::{Conv1d, Module};
/// use tapegrad_tape::{Tensor, Var};
/// let conv = Conv1d::<f64>::new(2, 4, 3, &mut StdRng::seed_from_u64(0)).stride(2).padding(1);
/// assert_eq!(conv.weight().shape(), &[4, 2, 3]);
/// let y = conv.forward(&Var::constant(Tensor::zeros(&[5, 2, 16]))).unwrap();
/// assert_eq!(y.shape(), &[5, 4, 8]);
/// ```
pub struct Conv1d<T: Float = f32> {
    weight: Var<T>,
    bias: Option<Var<T>>,
    options: Conv1dOptions,
}

const LAYOUT: WeightLayout = WeightLayout {
    op: "Conv1d",
    pair: "Conv1d (weight, bias)",
    axes: &["out_channels", "in_channels/groups", "k"],
    bias_len: |shape, _| shape[0],
};

impl<T: Float> Conv1d<T> {
    /// A layer with PyTorch's default initialization: W and b from
    /// U(−1/√fan_in, 1/√fan_in), fan_in = in_channels · k.
    pub fn new<R: Rng + ?Sized>(
        in_channels: usize,
        out_channels: usize,
        kernel_size: usize,
        rng: &mut R,
    ) -> Self {
        Self::init(in_channels, out_channels, kernel_size, 1, rng)
    }

    /// A layer in `groups` groups, as PyTorch's `groups=` argument: W is
    /// [out, in/groups, k] and fan_in = (in_channels/groups) · k. Errors unless
    /// `groups` ≥ 1 divides both channel counts.
    ///
    /// ```
    /// use rand::{SeedableRng, rngs::StdRng};
    /// use tapegrad_nn::Conv1d;
    /// let conv = Conv1d::<f32>::grouped(6, 6, 5, 6, &mut StdRng::seed_from_u64(0)).unwrap();
    /// assert_eq!(conv.weight().shape(), &[6, 1, 5]);
    /// ```
    pub fn grouped<R: Rng + ?Sized>(
        in_channels: usize,
        out_channels: usize,
        kernel_size: usize,
        groups: usize,
        rng: &mut R,
    ) -> Result<Self> {
        check_groups("Conv1d", "input channels", in_channels, groups)?;
        check_groups("Conv1d", "output channels", out_channels, groups)?;
        Ok(Self::init(
            in_channels,
            out_channels,
            kernel_size,
            groups,
            rng,
        ))
    }

    fn init<R: Rng + ?Sized>(
        in_channels: usize,
        out_channels: usize,
        kernel_size: usize,
        groups: usize,
        rng: &mut R,
    ) -> Self {
        let shape = [out_channels, in_channels / groups, kernel_size];
        let (w, b) = init::default_weight_and_bias(&shape, shape[1] * kernel_size, true, rng);
        Self {
            weight: Var::parameter(w),
            bias: b.map(Var::parameter),
            options: Conv1dOptions {
                groups,
                ..Conv1dOptions::default()
            },
        }
    }

    /// A layer over given vars; W must be [out, in, k] and b `[out]`.
    pub fn from_parameters(weight: Var<T>, bias: Option<Var<T>>) -> Result<Self> {
        Self::from_grouped_parameters(weight, bias, 1)
    }

    /// A layer in `groups` groups over given vars; W must be [out, in/groups, k]
    /// with `groups` dividing out, and b `[out]`.
    ///
    /// ```
    /// use tapegrad_nn::Conv1d;
    /// use tapegrad_tape::{Tensor, Var};
    /// let w = Var::parameter(Tensor::<f64>::zeros(&[4, 1, 3]));
    /// assert!(Conv1d::from_grouped_parameters(w.clone(), None, 2).is_ok());
    /// assert!(Conv1d::from_grouped_parameters(w, None, 3).is_err());
    /// ```
    pub fn from_grouped_parameters(
        weight: Var<T>,
        bias: Option<Var<T>>,
        groups: usize,
    ) -> Result<Self> {
        LAYOUT.check(&weight, bias.as_ref(), groups)?;
        Ok(Self {
            weight,
            bias,
            options: Conv1dOptions {
                groups,
                ..Conv1dOptions::default()
            },
        })
    }
}

conv_layer!(Conv1d, Conv1dOptions, conv1d, weight: "[out, in/groups, k]", setters: {
    /// Sets the stride.
    stride: usize => std::convert::identity;
    /// Sets the zero padding added on each side.
    padding: usize => std::convert::identity;
    /// Sets the dilation, the spacing between kernel taps.
    dilation: usize => std::convert::identity;
});
