//! The sizes of one convolution or pooling and the checks that produce them:
//! every user-given size is validated here, so the kernels never index out of
//! bounds.

use crate::error::{Result, TapeError};
use crate::ops::Conv2dOptions;

/// The sizes of one convolution or pooling, all checked against each other.
/// `c` and `o` count every channel; a group holds `c/groups` input and
/// `o/groups` output channels, consecutive ones.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Geometry {
    pub(crate) n: usize,
    pub(crate) c: usize,
    pub(crate) h: usize,
    pub(crate) w: usize,
    pub(crate) o: usize,
    pub(crate) kh: usize,
    pub(crate) kw: usize,
    pub(crate) sh: usize,
    pub(crate) sw: usize,
    pub(crate) ph: usize,
    pub(crate) pw: usize,
    pub(crate) dh: usize,
    pub(crate) dw: usize,
    pub(crate) groups: usize,
    pub(crate) ho: usize,
    pub(crate) wo: usize,
}

impl Geometry {
    /// Input channels of one group.
    pub(crate) fn group_c(&self) -> usize {
        self.c / self.groups
    }
    /// Output channels of one group.
    pub(crate) fn group_o(&self) -> usize {
        self.o / self.groups
    }
    /// Rows of one group's column matrix: `(C/groups)·kh·kw`.
    pub(crate) fn k(&self) -> usize {
        self.group_c() * self.kh * self.kw
    }
    /// Output positions per image.
    pub(crate) fn p(&self) -> usize {
        self.ho * self.wo
    }
    pub(crate) fn image_len(&self) -> usize {
        self.c * self.h * self.w
    }
    pub(crate) fn out_len(&self) -> usize {
        self.o * self.p()
    }
    /// Elements of one group's channels in an image.
    pub(crate) fn group_image_len(&self) -> usize {
        self.group_c() * self.h * self.w
    }
    /// Elements of one group's channels in an output image.
    pub(crate) fn group_out_len(&self) -> usize {
        self.group_o() * self.p()
    }
    /// Elements of one group's block of the weight, `[O/groups, K]`.
    pub(crate) fn group_weight_len(&self) -> usize {
        self.group_o() * self.k()
    }
    /// Multiply-adds of the whole convolution.
    pub(crate) fn macs(&self) -> usize {
        self.n * self.o * self.k() * self.p()
    }
    /// A 1×1 kernel with stride 1 and no padding (dilation does not matter for
    /// one tap): an image is its own column matrix.
    pub(crate) fn is_pointwise(&self) -> bool {
        (self.kh, self.kw, self.sh, self.sw, self.ph, self.pw) == (1, 1, 1, 1, 0, 0)
    }
}

pub(crate) fn invalid(
    op: &'static str,
    name: &'static str,
    value: String,
    reason: String,
) -> TapeError {
    TapeError::InvalidArgument {
        op,
        name,
        value,
        reason,
    }
}

pub(crate) fn require_rank(
    op: &'static str,
    what: &'static str,
    shape: &[usize],
    rank: usize,
) -> Result<()> {
    if shape.len() == rank {
        return Ok(());
    }
    Err(TapeError::InvalidShape {
        op,
        shape: shape.into(),
        reason: format!("{what} must have rank {rank}, got rank {}", shape.len()),
    })
}

pub(crate) fn require_rank4(op: &'static str, what: &'static str, shape: &[usize]) -> Result<()> {
    require_rank(op, what, shape, 4)
}

/// Refuses a zero stride or dilation (`name` says which).
pub(crate) fn require_positive(op: &'static str, name: &'static str, value: usize) -> Result<()> {
    if value > 0 {
        return Ok(());
    }
    Err(invalid(op, name, "0".into(), "must be at least 1".into()))
}

/// Output extent of a sliding window: `(len + 2·pad − dilation·(kernel − 1) − 1)/stride + 1`,
/// or an error when the dilated kernel does not fit in the padded input or the
/// stride, dilation or kernel is 0.
pub(crate) fn out_extent(
    op: &'static str,
    len: usize,
    kernel: usize,
    stride: usize,
    pad: usize,
    dilation: usize,
) -> Result<usize> {
    require_positive(op, "stride", stride)?;
    require_positive(op, "dilation", dilation)?;
    require_positive(op, "kernel", kernel)?;
    let span = dilation * (kernel - 1) + 1;
    if span > len + 2 * pad {
        let padded = format!("the padded input extent {len} + 2·{pad}");
        let reason = if dilation > 1 {
            format!("dilated to {span}, larger than {padded}")
        } else {
            format!("larger than {padded}")
        };
        return Err(invalid(op, "kernel", kernel.to_string(), reason));
    }
    Ok((len + 2 * pad - span) / stride + 1)
}

/// Checks the channel axes (axis 1 of each shape, axis 0 of the weight) of a
/// convolution of an `x_shape` input by a `w_shape` weight `[O, C/groups, …]`
/// in `groups` groups: the input has `groups · w_shape[1]` channels and
/// `groups` divides O. The shapes have at least two axes.
pub(crate) fn check_channels(
    op: &'static str,
    x_shape: &[usize],
    w_shape: &[usize],
    groups: usize,
) -> Result<()> {
    require_positive(op, "groups", groups)?;
    let (c, per_group, o) = (x_shape[1], w_shape[1], w_shape[0]);
    if per_group * groups != c {
        let reason = if groups == 1 {
            format!("has {per_group} input channels, the input {x_shape:?} has {c}")
        } else {
            format!(
                "has {per_group} input channels per group, so {groups} groups need {} \
                 input channels, the input {x_shape:?} has {c}",
                per_group * groups
            )
        };
        return Err(invalid(op, "weight", format!("{w_shape:?}"), reason));
    }
    if !o.is_multiple_of(groups) {
        return Err(invalid(
            op,
            "groups",
            groups.to_string(),
            format!("does not divide the weight's {o} output channels ({w_shape:?})"),
        ));
    }
    Ok(())
}

/// Checks a convolution of an `x_shape` input by a `w_shape` weight
/// `[O, C/groups, kh, kw]`.
pub(crate) fn conv_geometry(
    op: &'static str,
    x_shape: &[usize],
    w_shape: &[usize],
    opts: Conv2dOptions,
) -> Result<Geometry> {
    require_rank4(op, "input", x_shape)?;
    require_rank4(op, "weight", w_shape)?;
    check_channels(op, x_shape, w_shape, opts.groups)?;
    let Conv2dOptions {
        stride,
        padding,
        dilation,
        groups,
    } = opts;
    let ho = out_extent(op, x_shape[2], w_shape[2], stride.0, padding.0, dilation.0)?;
    let wo = out_extent(op, x_shape[3], w_shape[3], stride.1, padding.1, dilation.1)?;
    Ok(Geometry {
        n: x_shape[0],
        c: x_shape[1],
        h: x_shape[2],
        w: x_shape[3],
        o: w_shape[0],
        kh: w_shape[2],
        kw: w_shape[3],
        sh: stride.0,
        sw: stride.1,
        ph: padding.0,
        pw: padding.1,
        dh: dilation.0,
        dw: dilation.1,
        groups,
        ho,
        wo,
    })
}

/// Checks that a gradient of the output has the shape the geometry gives.
pub(crate) fn check_grad_shape(op: &'static str, geo: &Geometry, g_shape: &[usize]) -> Result<()> {
    let expected = [geo.n, geo.o, geo.ho, geo.wo];
    if g_shape == expected {
        return Ok(());
    }
    Err(TapeError::ShapeMismatch {
        op,
        lhs: g_shape.into(),
        rhs: expected.as_slice().into(),
    })
}

/// The output positions `lo..hi` along one axis whose input coordinate
/// `pos·stride + offset − pad` falls inside `0..len` (`offset` is a tap's
/// dilated position in its window).
pub(crate) fn valid_range(
    out: usize,
    stride: usize,
    offset: usize,
    pad: usize,
    len: usize,
) -> (usize, usize) {
    let lo = pad.saturating_sub(offset).div_ceil(stride).min(out);
    let hi = (len + pad).saturating_sub(offset).div_ceil(stride).min(out);
    (lo, hi.max(lo))
}
