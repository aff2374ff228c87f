//! The 2-d convolution layer over images [N, C, H, W], and the parameter
//! checks the convolution layers share.

use rand::Rng;
use tapegrad_tape::{Conv2dOptions, Float, TapeError, Var};

use crate::error::{NnError, Result};
use crate::init;
use crate::module::{IntoPair, Module};

/// Refuses zero groups, or groups that do not divide `channels` (`what` says
/// which channels), for the layer `op`.
pub(crate) fn check_groups(
    op: &'static str,
    what: &str,
    channels: usize,
    groups: usize,
) -> Result<()> {
    if groups > 0 && channels.is_multiple_of(groups) {
        return Ok(());
    }
    Err(NnError::InvalidArgument {
        op,
        name: "groups",
        value: groups.to_string(),
        reason: format!("must be at least 1 and divide the {channels} {what}"),
    })
}

/// How a convolution layer's weight is laid out, for the checks of
/// parameters given to it.
pub(crate) struct WeightLayout {
    /// The layer's name.
    pub(crate) op: &'static str,
    /// The name of the weight–bias pair in a shape mismatch.
    pub(crate) pair: &'static str,
    /// The weight's axes.
    pub(crate) axes: &'static [&'static str],
    /// The bias length of a weight of this shape in this many groups.
    pub(crate) bias_len: fn(&[usize], usize) -> usize,
}

impl WeightLayout {
    /// Checks a weight of the layout's rank, `groups` dividing the weight's
    /// first axis, and a bias of `bias_len` elements.
    pub(crate) fn check<T: Float>(
        &self,
        weight: &Var<T>,
        bias: Option<&Var<T>>,
        groups: usize,
    ) -> Result<()> {
        if weight.ndim() != self.axes.len() {
            return Err(NnError::InvalidArgument {
                op: self.op,
                name: "weight",
                value: format!("shape {:?}", weight.shape()),
                reason: format!("must be [{}]", self.axes.join(", ")),
            });
        }
        let what = format!("{} of the weight {:?}", self.axes[0], weight.shape());
        check_groups(self.op, &what, weight.shape()[0], groups)?;
        let out = (self.bias_len)(weight.shape(), groups);
        if let Some(b) = bias
            && b.shape() != [out]
        {
            return Err(TapeError::ShapeMismatch {
                op: self.pair,
                lhs: weight.shape().into(),
                rhs: b.shape().into(),
            }
            .into());
        }
        Ok(())
    }
}

/// 2-d cross-correlation, as `torch.nn.Conv2d`:
///
/// ```text
/// y[n, o, i, j] = b[o] + Σ_c Σ_u Σ_v W[o, c, u, v] · x[n, g·C/G + c, s_h i + d_h u − p_h, s_w j + d_w v − p_w]
/// ```
///
/// with W of shape [out, in/G, kh, kw], zero padding p, stride s and
/// dilation d (builder methods, defaults as PyTorch: stride 1, padding 0,
/// dilation 1), and G groups (g = ⌊o/(out/G)⌋ the group of output channel o;
/// G = 1 with [`Conv2d::new`], chosen with [`Conv2d::grouped`]). The output
/// is [N, out, (H + 2p_h − d_h(kh − 1) − 1)/s_h + 1, (W + 2p_w − d_w(kw − 1) − 1)/s_w + 1].
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapegrad_nn::{Conv2d, Module};
/// use tapegrad_tape::{Tensor, Var};
/// let mut rng = StdRng::seed_from_u64(0);
/// let conv = Conv2d::<f64>::new(1, 4, 3, &mut rng).stride(2).padding(1);
/// assert_eq!(conv.weight().shape(), &[4, 1, 3, 3]);
/// let y = conv.forward(&Var::constant(Tensor::zeros(&[2, 1, 8, 8]))).unwrap();
/// assert_eq!(y.shape(), &[2, 4, 4, 4]);
/// // Depthwise (one group per channel), taps two apart.
/// let depthwise = Conv2d::<f64>::grouped(8, 8, 3, 8, &mut rng).unwrap().dilation(2).padding(2);
/// assert_eq!(depthwise.weight().shape(), &[8, 1, 3, 3]);
/// let y = depthwise.forward(&Var::constant(Tensor::zeros(&[1, 8, 5, 5]))).unwrap();
/// assert_eq!(y.shape(), &[1, 8, 5, 5]);
/// ```
pub struct Conv2d<T: Float = f32> {
    weight: Var<T>,
    bias: Option<Var<T>>,
    options: Conv2dOptions,
}

const LAYOUT: WeightLayout = WeightLayout {
    op: "Conv2d",
    pair: "Conv2d (weight, bias)",
    axes: &["out_channels", "in_channels/groups", "kh", "kw"],
    bias_len: |shape, _| shape[0],
};

impl<T: Float> Conv2d<T> {
    /// A layer with PyTorch's default initialization: W and b from U(−1/√fan_in,
    /// 1/√fan_in), fan_in = in_channels · kh · kw.
    pub fn new<R: Rng + ?Sized>(
        in_channels: usize,
        out_channels: usize,
        kernel_size: impl IntoPair,
        rng: &mut R,
    ) -> Self {
        Self::init(in_channels, out_channels, kernel_size.into_pair(), 1, rng)
    }

    /// A layer in `groups` groups, as PyTorch's `groups=` argument: W is
    /// [out, in/groups, kh, kw], output channels of group g see only input
    /// channels of group g, and fan_in = (in_channels/groups) · kh · kw.
    /// Errors unless `groups` ≥ 1 divides both channel counts.
    ///
    /// ```
    /// use rand::{SeedableRng, rngs::StdRng};
    /// use tapegrad_nn::Conv2d;
    /// let mut rng = StdRng::seed_from_u64(0);
    /// assert_eq!(Conv2d::<f32>::grouped(4, 6, 3, 2, &mut rng).unwrap().weight().shape(), &[6, 2, 3, 3]);
    /// assert!(Conv2d::<f32>::grouped(4, 6, 3, 4, &mut rng).is_err());
    /// ```
    pub fn grouped<R: Rng + ?Sized>(
        in_channels: usize,
        out_channels: usize,
        kernel_size: impl IntoPair,
        groups: usize,
        rng: &mut R,
    ) -> Result<Self> {
        check_groups("Conv2d", "input channels", in_channels, groups)?;
        check_groups("Conv2d", "output channels", out_channels, groups)?;
        let kernel = kernel_size.into_pair();
        Ok(Self::init(in_channels, out_channels, kernel, groups, rng))
    }

    /// The layer with PyTorch's initialization, `groups` dividing both counts.
    fn init<R: Rng + ?Sized>(
        in_channels: usize,
        out_channels: usize,
        (kh, kw): (usize, usize),
        groups: usize,
        rng: &mut R,
    ) -> Self {
        let shape = [out_channels, in_channels / groups, kh, kw];
        let fan_in = shape[1] * kh * kw;
        let (w, b) = init::default_weight_and_bias(&shape, fan_in, true, rng);
        Self {
            weight: Var::parameter(w),
            bias: b.map(Var::parameter),
            options: Conv2dOptions {
                groups,
                ..Conv2dOptions::default()
            },
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
        Self::from_grouped_parameters(weight, bias, 1)
    }

    /// A layer in `groups` groups over given vars; W must be
    /// [out, in/groups, kh, kw] with `groups` dividing out, and b `[out]`.
    ///
    /// ```
    /// use tapegrad_nn::{Conv2d, Module};
    /// use tapegrad_tape::{Tensor, Var};
    /// let w = Var::parameter(Tensor::<f64>::ones(&[3, 1, 1, 1]));
    /// let conv = Conv2d::from_grouped_parameters(w, None, 3).unwrap();
    /// let y = conv.forward(&Var::constant(Tensor::ones(&[1, 3, 2, 2]))).unwrap();
    /// assert_eq!(y.value().data(), &[1.0; 12]); // each channel passes alone
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
            options: Conv2dOptions {
                groups,
                ..Conv2dOptions::default()
            },
        })
    }
}

conv_layer!(Conv2d, Conv2dOptions, conv2d_with, weight: "[out, in/groups, kh, kw]", setters: {
    /// Sets the stride (one value for both axes, or (s_h, s_w)).
    stride: impl IntoPair => IntoPair::into_pair;
    /// Sets the zero padding added on each side (one value, or (p_h, p_w)).
    padding: impl IntoPair => IntoPair::into_pair;
    /// Sets the dilation, the spacing between kernel taps (one value, or
    /// (d_h, d_w)).
    dilation: impl IntoPair => IntoPair::into_pair;
});

/// The parts every convolution layer shares, declared once: the option
/// setters (one line each: name, argument type, conversion), `without_bias`,
/// the accessors, the [`Module`] impl (forward through the named `Var` op) and
/// `Debug`.
macro_rules! conv_layer {
    (
        $layer:ident, $options:ident, $op:ident, weight: $weight_doc:literal,
        setters: { $($(#[$doc:meta])* $name:ident: $arg:ty => $convert:expr;)* }
    ) => {
        impl<T: Float> $layer<T> {
            $(
                $(#[$doc])*
                pub fn $name(mut self, value: $arg) -> Self {
                    self.options.$name = $convert(value);
                    self
                }
            )*

            /// Drops the bias.
            pub fn without_bias(mut self) -> Self {
                self.bias = None;
                self
            }

            #[doc = concat!("W, of shape ", $weight_doc, ".")]
            pub fn weight(&self) -> &Var<T> {
                &self.weight
            }

            /// b, of shape `[out]`, if the layer has one.
            pub fn bias(&self) -> Option<&Var<T>> {
                self.bias.as_ref()
            }

            /// The layer's options (stride, padding, dilation, groups, …).
            pub fn options(&self) -> $options {
                self.options
            }
        }

        impl<T: Float> Module<T> for $layer<T> {
            fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
                Ok(x.$op(&self.weight, self.bias.as_ref(), self.options)?)
            }

            fn visit_own_parameters(&self, visit: &mut dyn FnMut(&str, &Var<T>)) {
                crate::norm::visit_affine(Some(&self.weight), self.bias.as_ref(), visit);
            }
        }

        crate::norm::debug_as_module!($layer);
    };
}
pub(crate) use conv_layer;
