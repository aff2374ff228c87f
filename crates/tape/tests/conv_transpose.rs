//! conv_transpose2d: values against PyTorch's definition as a direct loop,
//! the adjoint identity with conv2d, first and second derivatives against
//! finite differences, and the errors.

mod common;
mod conv_direct;

use common::{check_both, randn};
use conv_direct::{TransposeSpec, assert_close};
use tapegrad_tape::{ConvTranspose2dOptions, Tensor, Var};

/// Strides, paddings, output paddings (also reaching the stride, under a
/// larger dilation), groups, depthwise, non-square, a batch of one.
fn cases() -> Vec<TransposeSpec> {
    let base = TransposeSpec {
        n: 2,
        c_in: 2,
        h: 4,
        w: 3,
        c_out: 3,
        kh: 3,
        kw: 3,
        stride: (1, 1),
        padding: (0, 0),
        output_padding: (0, 0),
        dilation: (1, 1),
        groups: 1,
    };
    vec![
        base,
        TransposeSpec {
            h: 3,
            w: 4,
            stride: (2, 2),
            padding: (1, 1),
            output_padding: (1, 1),
            ..base
        },
        TransposeSpec {
            kw: 2,
            stride: (2, 3),
            padding: (0, 1),
            output_padding: (1, 2),
            ..base
        },
        TransposeSpec {
            c_in: 4,
            c_out: 6,
            kh: 2,
            kw: 2,
            stride: (2, 2),
            groups: 2,
            ..base
        },
        // Output padding ≥ stride, allowed by the dilation.
        TransposeSpec {
            dilation: (2, 3),
            output_padding: (1, 2),
            padding: (1, 0),
            ..base
        },
        TransposeSpec {
            n: 1,
            c_in: 3,
            c_out: 3,
            h: 3,
            w: 5,
            kh: 2,
            kw: 3,
            stride: (2, 1),
            padding: (1, 1),
            output_padding: (1, 0),
            dilation: (2, 1),
            groups: 3,
        },
    ]
}

#[test]
fn forward_matches_the_definition() {
    let mut all = cases();
    // Large enough for the thread pool.
    all.push(TransposeSpec {
        n: 8,
        c_in: 16,
        h: 10,
        w: 9,
        c_out: 24,
        kh: 3,
        kw: 3,
        stride: (2, 2),
        padding: (1, 1),
        output_padding: (1, 0),
        dilation: (1, 2),
        groups: 4,
    });
    for (k, spec) in all.into_iter().enumerate() {
        let seed = 500 + 10 * k as u64;
        let (x, w, b) = (
            randn(&spec.x_shape(), seed),
            randn(&spec.w_shape(), seed + 1),
            randn(&[spec.c_out], seed + 2),
        );
        let (xv, wv, bv) = (
            Var::constant(x.clone()),
            Var::constant(w.clone()),
            Var::parameter(b.clone()),
        );
        let y = xv.conv_transpose2d(&wv, Some(&bv), spec.opts()).unwrap();
        assert_eq!(y.shape(), spec.y_shape(), "{spec:?}");
        let want = spec.forward(x.data(), w.data(), Some(b.data()));
        assert_close(y.value().data(), &want, 1e-12, &format!("{spec:?}"));
        let unbiased = xv.conv_transpose2d(&wv, None, spec.opts()).unwrap();
        let want = spec.forward(x.data(), w.data(), None);
        assert_close(unbiased.value().data(), &want, 1e-12, "no bias");
        y.sum().backward().unwrap();
        let (ho, wo) = spec.out_hw();
        let count = (spec.n * ho * wo) as f64;
        assert_close(
            bv.grad().unwrap().data(),
            &vec![count; spec.c_out],
            0.0,
            "db",
        );
    }
}

/// ⟨conv_transpose2d(x, w), y⟩ = ⟨x, conv2d(y, w)⟩ with the same stride,
/// padding, dilation and groups (conv2d's extra rows, when the output padding
/// reaches the stride, meet the zeros appended to x and are cut off).
#[test]
fn adjoint_of_conv2d() {
    for (k, spec) in cases().into_iter().enumerate() {
        let seed = 800 + 10 * k as u64;
        let x = Var::constant(randn(&spec.x_shape(), seed));
        let w = Var::constant(randn(&spec.w_shape(), seed + 1));
        let y = Var::constant(randn(&spec.y_shape(), seed + 2));
        let opts = spec.opts();
        let lhs = x.conv_transpose2d(&w, None, opts).unwrap().mul(&y).unwrap();
        let conv = y.conv2d_with(&w, None, opts.conv()).unwrap();
        let conv = conv
            .narrow(2, 0, spec.h)
            .unwrap()
            .narrow(3, 0, spec.w)
            .unwrap();
        let rhs = x.mul(&conv).unwrap();
        let (lhs, rhs) = (lhs.sum().item().unwrap(), rhs.sum().item().unwrap());
        assert!(
            (lhs - rhs).abs() <= 1e-12 * lhs.abs().max(1.0),
            "{spec:?}: {lhs} vs {rhs}"
        );
    }
}

#[test]
fn gradcheck_first_and_second_order() {
    for (k, spec) in cases().into_iter().enumerate() {
        let seed = 20 * k as u64;
        let x = randn(&spec.x_shape(), seed);
        let w = randn(&spec.w_shape(), seed + 1);
        let b = randn(&[spec.c_out], seed + 2);
        let opts = spec.opts();
        check_both(
            |v| v[0].conv_transpose2d(&v[1], Some(&v[2]), opts),
            &[x.clone(), w.clone(), b],
        );
        check_both(|v| v[0].conv_transpose2d(&v[1], None, opts), &[x, w]);
    }
}

/// A nonlinearity after the transposed convolution makes the Hessian depend
/// on the input.
#[test]
fn transposed_then_tanh_second_order() {
    let spec = cases()[4];
    let opts = spec.opts();
    check_both(
        |v| Ok(v[0].conv_transpose2d(&v[1], None, opts)?.tanh()),
        &[randn(&spec.x_shape(), 3), randn(&spec.w_shape(), 4)],
    );
}

fn transpose_err(
    x: &[usize],
    w: &[usize],
    b: Option<&[usize]>,
    opts: ConvTranspose2dOptions,
) -> String {
    let xv = Var::constant(Tensor::<f64>::zeros(x));
    let wv = Var::constant(Tensor::zeros(w));
    let bv = b.map(|b| Var::constant(Tensor::zeros(b)));
    xv.conv_transpose2d(&wv, bv.as_ref(), opts)
        .unwrap_err()
        .to_string()
}

#[test]
fn errors_name_the_problem() {
    let d = ConvTranspose2dOptions::default();
    let (x, w) = ([1, 2, 4, 4], [2, 3, 3, 3]);
    let err = |opts| transpose_err(&x, &w, None, opts);
    assert_eq!(
        err(ConvTranspose2dOptions {
            stride: (2, 2),
            output_padding: (0, 2),
            ..d
        }),
        "conv_transpose2d: invalid argument output_padding = 2: must be smaller than the stride 2 or the dilation 1"
    );
    assert_eq!(
        err(ConvTranspose2dOptions {
            padding: (5, 5),
            ..d
        }),
        "conv_transpose2d: invalid argument padding = (5, 5): leaves an output of -4 × -4 for the 4 × 4 input"
    );
    assert_eq!(
        err(ConvTranspose2dOptions {
            dilation: (0, 1),
            ..d
        }),
        "conv_transpose2d: invalid argument dilation = 0: must be at least 1"
    );
    assert_eq!(
        err(ConvTranspose2dOptions {
            stride: (1, 0),
            ..d
        }),
        "conv_transpose2d: invalid argument stride = 0: must be at least 1"
    );
    assert_eq!(
        err(ConvTranspose2dOptions { groups: 0, ..d }),
        "conv_transpose2d: invalid argument groups = 0: must be at least 1"
    );
    assert_eq!(
        transpose_err(
            &[1, 3, 4, 4],
            &[3, 2, 3, 3],
            None,
            ConvTranspose2dOptions { groups: 2, ..d }
        ),
        "conv_transpose2d: invalid argument groups = 2: does not divide the input's 3 channels"
    );
    assert_eq!(
        transpose_err(&[1, 3, 4, 4], &w, None, d),
        "conv_transpose2d: invalid argument weight = [2, 3, 3, 3]: has 2 input channels, the input [1, 3, 4, 4] has 3"
    );
    assert_eq!(
        transpose_err(&[1, 2, 4], &w, None, d),
        "conv_transpose2d: invalid shape [1, 2, 4]: input must have rank 4, got rank 3"
    );
    assert_eq!(
        transpose_err(&[1, 2, 0, 4], &w, None, d),
        "conv_transpose2d: invalid shape [1, 2, 0, 4]: input must have at least one row and one column"
    );
    // The bias has C_out = groups · weight.shape[1] elements.
    assert_eq!(
        transpose_err(
            &[1, 4, 4, 4],
            &[4, 3, 3, 3],
            Some(&[3]),
            ConvTranspose2dOptions { groups: 2, ..d }
        ),
        "conv_transpose2d: shapes [3] and [6] are not compatible"
    );
}
