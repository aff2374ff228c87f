//! Direct loops for convolutions with every option, written from PyTorch's
//! formulas (no im2col, no GEMM), for the tests to compare the kernels with.
#![allow(dead_code)]

use tapegrad_tape::{Conv2dOptions, ConvTranspose2dOptions};

/// A convolution's sizes and options: input `[n, c, h, w]`, weight
/// `[o, c/groups, kh, kw]`.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub o: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: (usize, usize),
    pub padding: (usize, usize),
    pub dilation: (usize, usize),
    pub groups: usize,
}

/// One axis of a sliding window: `(len + 2p − d(k − 1) − 1)/s + 1`.
fn extent(len: usize, k: usize, s: usize, p: usize, d: usize) -> usize {
    (len + 2 * p - d * (k - 1) - 1) / s + 1
}

/// The input coordinate `i·s + q·d − p` if it lies in `0..len`.
fn source(i: usize, q: usize, s: usize, d: usize, p: usize, len: usize) -> Option<usize> {
    (i * s + q * d).checked_sub(p).filter(|&v| v < len)
}

impl Spec {
    pub fn out_hw(&self) -> (usize, usize) {
        (
            extent(
                self.h,
                self.kh,
                self.stride.0,
                self.padding.0,
                self.dilation.0,
            ),
            extent(
                self.w,
                self.kw,
                self.stride.1,
                self.padding.1,
                self.dilation.1,
            ),
        )
    }
    pub fn x_shape(&self) -> [usize; 4] {
        [self.n, self.c, self.h, self.w]
    }
    pub fn w_shape(&self) -> [usize; 4] {
        [self.o, self.c / self.groups, self.kh, self.kw]
    }
    pub fn y_shape(&self) -> [usize; 4] {
        let (ho, wo) = self.out_hw();
        [self.n, self.o, ho, wo]
    }
    pub fn opts(&self) -> Conv2dOptions {
        Conv2dOptions {
            stride: self.stride,
            padding: self.padding,
            dilation: self.dilation,
            groups: self.groups,
        }
    }

    /// Calls `f(x index, w index, y index)` for every product term of the
    /// convolution sum, skipping the padding.
    pub fn for_each_term(&self, mut f: impl FnMut(usize, usize, usize)) {
        let (ho, wo) = self.out_hw();
        let (cg, og) = (self.c / self.groups, self.o / self.groups);
        for n in 0..self.n {
            for o in 0..self.o {
                let group = o / og;
                for i in 0..ho {
                    for j in 0..wo {
                        for c in 0..cg {
                            for p in 0..self.kh {
                                let (s, d, pad) = (self.stride.0, self.dilation.0, self.padding.0);
                                let Some(ih) = source(i, p, s, d, pad, self.h) else {
                                    continue;
                                };
                                for q in 0..self.kw {
                                    let (s, d, pad) =
                                        (self.stride.1, self.dilation.1, self.padding.1);
                                    let Some(iw) = source(j, q, s, d, pad, self.w) else {
                                        continue;
                                    };
                                    let xc = group * cg + c;
                                    let xi = ((n * self.c + xc) * self.h + ih) * self.w + iw;
                                    let wi = ((o * cg + c) * self.kh + p) * self.kw + q;
                                    let yi = ((n * self.o + o) * ho + i) * wo + j;
                                    f(xi, wi, yi);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The output, bias included when given.
    pub fn forward(&self, x: &[f64], w: &[f64], b: Option<&[f64]>) -> Vec<f64> {
        let (ho, wo) = self.out_hw();
        let mut y = vec![0.0; self.n * self.o * ho * wo];
        if let Some(b) = b {
            for (k, v) in y.iter_mut().enumerate() {
                *v = b[k / (ho * wo) % self.o];
            }
        }
        self.for_each_term(|xi, wi, yi| y[yi] += x[xi] * w[wi]);
        y
    }

    /// (∂⟨g, y⟩/∂x, ∂⟨g, y⟩/∂w) by the same loop.
    pub fn grads(&self, x: &[f64], w: &[f64], g: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let mut dx = vec![0.0; x.len()];
        let mut dw = vec![0.0; w.len()];
        self.for_each_term(|xi, wi, yi| {
            dx[xi] += w[wi] * g[yi];
            dw[wi] += x[xi] * g[yi];
        });
        (dx, dw)
    }
}

/// A transposed convolution's sizes and options: input `[n, c_in, h, w]`,
/// weight `[c_in, c_out/groups, kh, kw]`.
#[derive(Clone, Copy, Debug)]
pub struct TransposeSpec {
    pub n: usize,
    pub c_in: usize,
    pub h: usize,
    pub w: usize,
    pub c_out: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: (usize, usize),
    pub padding: (usize, usize),
    pub output_padding: (usize, usize),
    pub dilation: (usize, usize),
    pub groups: usize,
}

impl TransposeSpec {
    /// `(len − 1)s − 2p + d(k − 1) + op + 1` on each axis.
    pub fn out_hw(&self) -> (usize, usize) {
        let axis = |len: usize, k: usize, s: usize, p: usize, d: usize, op: usize| {
            (len - 1) * s + d * (k - 1) + op + 1 - 2 * p
        };
        (
            axis(
                self.h,
                self.kh,
                self.stride.0,
                self.padding.0,
                self.dilation.0,
                self.output_padding.0,
            ),
            axis(
                self.w,
                self.kw,
                self.stride.1,
                self.padding.1,
                self.dilation.1,
                self.output_padding.1,
            ),
        )
    }
    pub fn x_shape(&self) -> [usize; 4] {
        [self.n, self.c_in, self.h, self.w]
    }
    pub fn w_shape(&self) -> [usize; 4] {
        [self.c_in, self.c_out / self.groups, self.kh, self.kw]
    }
    pub fn y_shape(&self) -> [usize; 4] {
        let (ho, wo) = self.out_hw();
        [self.n, self.c_out, ho, wo]
    }
    pub fn opts(&self) -> ConvTranspose2dOptions {
        ConvTranspose2dOptions {
            stride: self.stride,
            padding: self.padding,
            output_padding: self.output_padding,
            dilation: self.dilation,
            groups: self.groups,
        }
    }

    /// PyTorch's definition: each input element adds `x · w[m, c, p, q]` at
    /// output `(i·s + p·d − pad, j·s + q·d − pad)` of channel `g·C_out/G + c`.
    pub fn forward(&self, x: &[f64], w: &[f64], b: Option<&[f64]>) -> Vec<f64> {
        let (ho, wo) = self.out_hw();
        let (ig, og) = (self.c_in / self.groups, self.c_out / self.groups);
        let mut y = vec![0.0; self.n * self.c_out * ho * wo];
        if let Some(b) = b {
            for (k, v) in y.iter_mut().enumerate() {
                *v = b[k / (ho * wo) % self.c_out];
            }
        }
        for n in 0..self.n {
            for m in 0..self.c_in {
                let group = m / ig;
                for i in 0..self.h {
                    for j in 0..self.w {
                        let xv = x[((n * self.c_in + m) * self.h + i) * self.w + j];
                        for c in 0..og {
                            for p in 0..self.kh {
                                let (s, d, pad) = (self.stride.0, self.dilation.0, self.padding.0);
                                let Some(oh) = source(i, p, s, d, pad, ho) else {
                                    continue;
                                };
                                for q in 0..self.kw {
                                    let (s, d, pad) =
                                        (self.stride.1, self.dilation.1, self.padding.1);
                                    let Some(ow) = source(j, q, s, d, pad, wo) else {
                                        continue;
                                    };
                                    let oc = group * og + c;
                                    let wv = w[((m * og + c) * self.kh + p) * self.kw + q];
                                    y[((n * self.c_out + oc) * ho + oh) * wo + ow] += xv * wv;
                                }
                            }
                        }
                    }
                }
            }
        }
        y
    }
}

/// Asserts `|a − b| ≤ tol·(1 + |b|)` elementwise.
pub fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (k, (a, b)) in got.iter().zip(want).enumerate() {
        assert!(
            (a - b).abs() <= tol * (1.0 + b.abs()),
            "{what}[{k}]: {a} vs {b}"
        );
    }
}
