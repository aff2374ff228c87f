//! The options of the convolutions, with PyTorch's defaults: stride 1, no
//! padding, dilation 1, one group (and for the transposed convolution no
//! output padding).

/// Stride, zero padding, dilation and groups of [`Var::conv2d_with`]
/// (`(rows, columns)` pairs), as the keyword arguments of PyTorch's `conv2d`.
///
/// A tap `(p, q)` of the kernel reads the input at
/// `(i·sh + p·dh − ph, j·sw + q·dw − pw)` for output `(i, j)`; the channels are
/// split into `groups` consecutive blocks, and output channel block `k` only
/// sees input channel block `k`.
///
/// ```
/// use tapegrad_tape::Conv2dOptions;
/// let depthwise = Conv2dOptions { padding: (1, 1), groups: 8, ..Default::default() };
/// assert_eq!(depthwise.stride, (1, 1));
/// assert_eq!(depthwise.dilation, (1, 1));
/// ```
///
/// [`Var::conv2d_with`]: crate::Var::conv2d_with
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2dOptions {
    /// Step between output positions, ≥ 1 (default `(1, 1)`).
    pub stride: (usize, usize),
    /// Zeros added on each side (default `(0, 0)`).
    pub padding: (usize, usize),
    /// Spacing between kernel taps, ≥ 1 (default `(1, 1)`).
    pub dilation: (usize, usize),
    /// Number of channel groups, ≥ 1, dividing the input and output channel
    /// counts (default 1; the channel count gives a depthwise convolution).
    pub groups: usize,
}

impl Default for Conv2dOptions {
    fn default() -> Self {
        Self {
            stride: (1, 1),
            padding: (0, 0),
            dilation: (1, 1),
            groups: 1,
        }
    }
}

/// Stride, zero padding, dilation and groups of [`Var::conv1d`], as the
/// keyword arguments of PyTorch's `conv1d`: the [`Conv2dOptions`] of one axis.
///
/// ```
/// use tapegrad_tape::Conv1dOptions;
/// let opts = Conv1dOptions { dilation: 2, ..Default::default() };
/// assert_eq!((opts.stride, opts.padding, opts.groups), (1, 0, 1));
/// ```
///
/// [`Var::conv1d`]: crate::Var::conv1d
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv1dOptions {
    /// Step between output positions, ≥ 1 (default 1).
    pub stride: usize,
    /// Zeros added on each side (default 0).
    pub padding: usize,
    /// Spacing between kernel taps, ≥ 1 (default 1).
    pub dilation: usize,
    /// Number of channel groups (default 1).
    pub groups: usize,
}

impl Default for Conv1dOptions {
    fn default() -> Self {
        Self {
            stride: 1,
            padding: 0,
            dilation: 1,
            groups: 1,
        }
    }
}

impl Conv1dOptions {
    /// The same convolution on `[N, C, 1, L]` images: the height axis is a
    /// unit axis with stride 1, no padding and dilation 1.
    pub(crate) fn as_2d(self) -> Conv2dOptions {
        Conv2dOptions {
            stride: (1, self.stride),
            padding: (0, self.padding),
            dilation: (1, self.dilation),
            groups: self.groups,
        }
    }
}

/// Stride, padding, output padding, dilation and groups of
/// [`Var::conv_transpose2d`], as the keyword arguments of PyTorch's
/// `conv_transpose2d`. `stride`, `padding`, `dilation` and `groups` are those
/// of the convolution it transposes; `output_padding` adds rows (columns) at
/// the bottom (right) of the output, to pick one of the input sizes that
/// convolution maps to the same output size. Each must be smaller than the
/// stride or the dilation of its axis.
///
/// ```
/// use tapegrad_tape::ConvTranspose2dOptions;
/// let up = ConvTranspose2dOptions { stride: (2, 2), padding: (1, 1), output_padding: (1, 1), ..Default::default() };
/// assert_eq!(up.conv().stride, (2, 2));
/// ```
///
/// [`Var::conv_transpose2d`]: crate::Var::conv_transpose2d
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvTranspose2dOptions {
    /// The stride of the transposed convolution (default `(1, 1)`).
    pub stride: (usize, usize),
    /// Its zero padding, taken off each side of the output (default `(0, 0)`).
    pub padding: (usize, usize),
    /// Extra rows and columns of the output (default `(0, 0)`).
    pub output_padding: (usize, usize),
    /// Spacing between kernel taps (default `(1, 1)`).
    pub dilation: (usize, usize),
    /// Number of channel groups (default 1).
    pub groups: usize,
}

impl Default for ConvTranspose2dOptions {
    fn default() -> Self {
        Self {
            stride: (1, 1),
            padding: (0, 0),
            output_padding: (0, 0),
            dilation: (1, 1),
            groups: 1,
        }
    }
}

impl ConvTranspose2dOptions {
    /// The options of the convolution this one transposes (everything but the
    /// output padding).
    pub fn conv(&self) -> Conv2dOptions {
        Conv2dOptions {
            stride: self.stride,
            padding: self.padding,
            dilation: self.dilation,
            groups: self.groups,
        }
    }
}
