//! The 2-d transposed convolution layer over images [N, C, H, W].

use rand::Rng;
use tapegrad_tape::{ConvTranspose2dOptions, Float, Var};

use crate::conv::{WeightLayout, check_groups, conv_layer};
use crate::error::Result;
use crate::init;
use crate::module::{IntoPair, Module};

/// 2-d transposed convolution, as `torch.nn.ConvTranspose2d`: each input
/// element spreads over a kernel-sized block of the output,
///
/// ```text
/// y[n, g·out/G + c, s_h i + d_h u − p_h, s_w j + d_w v − p_w] += W[m, c, u, v] · x[n, m, i, j]
/// ```
///
/// summed over the input channels m of group g (and over i, j, u, v), plus
/// b[o]; W has shape [in, out/G, kh, kw]. It is the adjoint (the input
/// gradient) of the [`crate::Conv2d`] with the same stride s, padding p,
/// dilation d and groups G, so it maps that convolution's output size back
/// to its input size: the output is [N, out, H_o, W_o] with
/// H_o = (H − 1)s_h − 2p_h + d_h(kh − 1) + op_h + 1, where the output padding
/// op (smaller than the stride or the dilation) picks one of the input sizes
/// the convolution maps to H. Builder methods set s, p, op and d (defaults as
/// PyTorch: 1, 0, 0, 1); G is 1 with [`ConvTranspose2d::new`] and chosen with
/// [`ConvTranspose2d::grouped`].
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapegrad_nn::{ConvTranspose2d, Module};
/// use tapegrad_tape::{Tensor, Var};
/// // Doubles the resolution: (4 − 1)·2 − 2 + 2 + 1 + 1 = 8.
/// let up = ConvTranspose2d::<f64>::new(8, 4, 3, &mut StdRng::seed_from_u64(0))
///     .stride(2)
///     .padding(1)
///     .output_padding(1);
/// assert_eq!(up.weight().shape(), &[8, 4, 3, 3]);
/// let y = up.forward(&Var::constant(Tensor::zeros(&[2, 8, 4, 4]))).unwrap();
/// assert_eq!(y.shape(), &[2, 4, 8, 8]);
/// ```
pub struct ConvTranspose2d<T: Float = f32> {
    weight: Var<T>,
    bias: Option<Var<T>>,
    options: ConvTranspose2dOptions,
}

const LAYOUT: WeightLayout = WeightLayout {
    op: "ConvTranspose2d",
    pair: "ConvTranspose2d (weight, bias)",
    axes: &["in_channels", "out_channels/groups", "kh", "kw"],
    bias_len: |shape, groups| shape[1] * groups,
};

impl<T: Float> ConvTranspose2d<T> {
    /// A layer with PyTorch's default initialization: W and b from
    /// U(−1/√fan_in, 1/√fan_in), where PyTorch's fan_in of the
    /// [in, out, kh, kw] weight is its second axis times the kernel:
    /// fan_in = out_channels · kh · kw.
    pub fn new<R: Rng + ?Sized>(
        in_channels: usize,
        out_channels: usize,
        kernel_size: impl IntoPair,
        rng: &mut R,
    ) -> Self {
        Self::init(in_channels, out_channels, kernel_size.into_pair(), 1, rng)
    }

    /// A layer in `groups` groups, as PyTorch's `groups=` argument: W is
    /// [in, out/groups, kh, kw] and fan_in = (out_channels/groups) · kh · kw.
    /// Errors unless `groups` ≥ 1 divides both channel counts.
    ///
    /// ```
    /// use rand::{SeedableRng, rngs::StdRng};
    /// use tapegrad_nn::ConvTranspose2d;
    /// let up = ConvTranspose2d::<f32>::grouped(4, 6, 2, 2, &mut StdRng::seed_from_u64(0)).unwrap();
    /// assert_eq!(up.weight().shape(), &[4, 3, 2, 2]);
    /// assert_eq!(up.bias().unwrap().shape(), &[6]);
    /// ```
    pub fn grouped<R: Rng + ?Sized>(
        in_channels: usize,
        out_channels: usize,
        kernel_size: impl IntoPair,
        groups: usize,
        rng: &mut R,
    ) -> Result<Self> {
        let op = "ConvTranspose2d";
        check_groups(op, "input channels", in_channels, groups)?;
        check_groups(op, "output channels", out_channels, groups)?;
        let kernel = kernel_size.into_pair();
        Ok(Self::init(in_channels, out_channels, kernel, groups, rng))
    }

    fn init<R: Rng + ?Sized>(
        in_channels: usize,
        out_channels: usize,
        (kh, kw): (usize, usize),
        groups: usize,
        rng: &mut R,
    ) -> Self {
        let shape = [in_channels, out_channels / groups, kh, kw];
        let bound = init::default_bound(shape[1] * kh * kw);
        let weight = init::uniform(&shape, bound, rng);
        let bias = init::uniform(&[out_channels], bound, rng);
        Self {
            weight: Var::parameter(weight),
            bias: Some(Var::parameter(bias)),
            options: ConvTranspose2dOptions {
                groups,
                ..ConvTranspose2dOptions::default()
            },
        }
    }

    /// A layer over given vars; W must be [in, out, kh, kw] and b `[out]`.
    pub fn from_parameters(weight: Var<T>, bias: Option<Var<T>>) -> Result<Self> {
        Self::from_grouped_parameters(weight, bias, 1)
    }

    /// A layer in `groups` groups over given vars; W must be
    /// [in, out/groups, kh, kw] with `groups` dividing in, and b
    /// `[groups · W.shape[1]]`.
    ///
    /// ```
    /// use tapegrad_nn::ConvTranspose2d;
    /// use tapegrad_tape::{Tensor, Var};
    /// let w = Var::parameter(Tensor::<f64>::zeros(&[4, 3, 2, 2]));
    /// let b = Var::parameter(Tensor::zeros(&[6]));
    /// assert!(ConvTranspose2d::from_grouped_parameters(w.clone(), Some(b.clone()), 2).is_ok());
    /// assert!(ConvTranspose2d::from_parameters(w, Some(b)).is_err()); // one group: b is [3]
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
            options: ConvTranspose2dOptions {
                groups,
                ..ConvTranspose2dOptions::default()
            },
        })
    }
}

conv_layer!(ConvTranspose2d, ConvTranspose2dOptions, conv_transpose2d, weight: "[in, out/groups, kh, kw]", setters: {
    /// Sets the stride (one value for both axes, or (s_h, s_w)).
    stride: impl IntoPair => IntoPair::into_pair;
    /// Sets the padding, taken off each side of the output.
    padding: impl IntoPair => IntoPair::into_pair;
    /// Sets the output padding, rows (columns) added at the bottom (right) of
    /// the output; each must be smaller than the stride or the dilation of its
    /// axis, which the forward pass checks.
    output_padding: impl IntoPair => IntoPair::into_pair;
    /// Sets the dilation, the spacing between kernel taps.
    dilation: impl IntoPair => IntoPair::into_pair;
});
