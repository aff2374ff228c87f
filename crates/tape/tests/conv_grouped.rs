//! conv2d with dilation and groups, and conv1d on top of it: values against
//! direct loops, first and second derivatives of the three ops of the
//! triangle against finite differences, and the errors.

mod common;
mod conv_direct;

use common::{check_both, randn};
use conv_direct::{Spec, assert_close};
use tapegrad_tape::{Conv1dOptions, Conv2dOptions, TapeError, Tensor, Var};

/// Dilated, grouped, depthwise and pointwise-grouped convolutions, with
/// strides, paddings, non-square images and kernels and a batch of one.
fn cases() -> Vec<Spec> {
    let base = Spec {
        n: 2,
        c: 2,
        h: 7,
        w: 6,
        o: 3,
        kh: 3,
        kw: 3,
        stride: (1, 1),
        padding: (1, 1),
        dilation: (2, 2),
        groups: 1,
    };
    vec![
        base,
        Spec {
            kh: 2,
            stride: (2, 1),
            padding: (2, 0),
            dilation: (2, 1),
            ..base
        },
        Spec {
            c: 4,
            o: 6,
            h: 5,
            w: 5,
            dilation: (1, 1),
            groups: 2,
            ..base
        },
        // Depthwise: one group per channel.
        Spec {
            c: 3,
            o: 3,
            h: 6,
            w: 5,
            stride: (2, 2),
            dilation: (1, 1),
            groups: 3,
            ..base
        },
        // A 1×1 kernel in groups takes the pointwise path, group by group.
        Spec {
            c: 4,
            o: 4,
            h: 3,
            w: 4,
            kh: 1,
            kw: 1,
            padding: (0, 0),
            dilation: (1, 1),
            groups: 2,
            ..base
        },
        Spec {
            n: 1,
            c: 4,
            o: 2,
            h: 9,
            w: 7,
            kh: 3,
            kw: 2,
            stride: (2, 1),
            padding: (1, 2),
            dilation: (2, 3),
            groups: 2,
        },
    ]
}

#[test]
fn forward_and_gradients_match_direct_loops() {
    let mut all = cases();
    // Large enough for the thread pool.
    all.push(Spec {
        n: 8,
        c: 16,
        h: 14,
        w: 13,
        o: 32,
        kh: 3,
        kw: 3,
        stride: (1, 2),
        padding: (2, 2),
        dilation: (2, 2),
        groups: 4,
    });
    for (k, spec) in all.into_iter().enumerate() {
        let seed = 300 + 10 * k as u64;
        let (x, w, b) = (
            randn(&spec.x_shape(), seed),
            randn(&spec.w_shape(), seed + 1),
            randn(&[spec.o], seed + 2),
        );
        let g = randn(&spec.y_shape(), seed + 3);
        let (xv, wv) = (Var::parameter(x.clone()), Var::parameter(w.clone()));
        let bv = Var::constant(b.clone());
        let y = xv.conv2d_with(&wv, Some(&bv), spec.opts()).unwrap();
        assert_eq!(y.shape(), spec.y_shape(), "{spec:?}");
        let want = spec.forward(x.data(), w.data(), Some(b.data()));
        assert_close(y.value().data(), &want, 1e-12, &format!("{spec:?}"));
        y.backward_from(&g, false).unwrap();
        let (dx, dw) = spec.grads(x.data(), w.data(), g.data());
        let (gx, gw) = (xv.grad().unwrap(), wv.grad().unwrap());
        assert_close(gx.data(), &dx, 1e-12, &format!("dx {spec:?}"));
        assert_close(gw.data(), &dw, 1e-12, &format!("dw {spec:?}"));
    }
}

#[test]
fn conv2d_with_gradcheck_first_and_second_order() {
    for (k, spec) in cases().into_iter().enumerate() {
        let seed = 10 * k as u64;
        let x = randn(&spec.x_shape(), seed);
        let w = randn(&spec.w_shape(), seed + 1);
        let b = randn(&[spec.o], seed + 2);
        let opts = spec.opts();
        check_both(
            |v| v[0].conv2d_with(&v[1], Some(&v[2]), opts),
            &[x.clone(), w.clone(), b],
        );
        check_both(|v| v[0].conv2d_with(&v[1], None, opts), &[x, w]);
    }
}

/// Each gradient op's gradients are the other two ops with the same options,
/// so checking both covers the triangle with dilation and groups.
#[test]
fn gradient_ops_gradcheck_first_and_second_order() {
    for (k, spec) in cases().into_iter().enumerate() {
        let seed = 90 + 10 * k as u64;
        let x = randn(&spec.x_shape(), seed);
        let w = randn(&spec.w_shape(), seed + 1);
        let g = randn(&spec.y_shape(), seed + 2);
        let opts = spec.opts();
        let (hw, kernel) = ((spec.h, spec.w), (spec.kh, spec.kw));
        check_both(|v| v[0].conv2d_input_grad(&v[1], hw, opts), &[g.clone(), w]);
        check_both(|v| v[0].conv2d_weight_grad(&v[1], kernel, opts), &[x, g]);
    }
}

/// A nonlinearity after a grouped, dilated convolution makes the Hessian
/// depend on the input.
#[test]
fn grouped_conv_then_tanh_second_order() {
    let spec = cases()[5];
    let opts = spec.opts();
    check_both(
        |v| Ok(v[0].conv2d_with(&v[1], None, opts)?.tanh()),
        &[randn(&spec.x_shape(), 1), randn(&spec.w_shape(), 2)],
    );
}

fn conv_err(x: &[usize], w: &[usize], opts: Conv2dOptions) -> String {
    let xv = Var::constant(Tensor::<f64>::zeros(x));
    let wv = Var::constant(Tensor::zeros(w));
    xv.conv2d_with(&wv, None, opts).unwrap_err().to_string()
}

#[test]
fn errors_name_the_option() {
    let d = Conv2dOptions::default();
    assert_eq!(
        conv_err(
            &[1, 1, 5, 5],
            &[1, 1, 3, 3],
            Conv2dOptions {
                dilation: (1, 0),
                ..d
            }
        ),
        "conv2d: invalid argument dilation = 0: must be at least 1"
    );
    assert_eq!(
        conv_err(
            &[1, 1, 5, 5],
            &[1, 1, 3, 3],
            Conv2dOptions { groups: 0, ..d }
        ),
        "conv2d: invalid argument groups = 0: must be at least 1"
    );
    assert_eq!(
        conv_err(
            &[1, 4, 5, 5],
            &[6, 2, 3, 3],
            Conv2dOptions { groups: 3, ..d }
        ),
        "conv2d: invalid argument weight = [6, 2, 3, 3]: has 2 input channels per group, \
         so 3 groups need 6 input channels, the input [1, 4, 5, 5] has 4"
    );
    assert_eq!(
        conv_err(
            &[1, 4, 5, 5],
            &[3, 2, 3, 3],
            Conv2dOptions { groups: 2, ..d }
        ),
        "conv2d: invalid argument groups = 2: does not divide the weight's 3 output channels ([3, 2, 3, 3])"
    );
    assert_eq!(
        conv_err(
            &[1, 1, 5, 9],
            &[1, 1, 3, 3],
            Conv2dOptions {
                dilation: (3, 1),
                ..d
            }
        ),
        "conv2d: invalid argument kernel = 3: dilated to 7, larger than the padded input extent 5 + 2·0"
    );
    // Padding lets the dilated kernel fit.
    let fits = Conv2dOptions {
        dilation: (3, 1),
        padding: (1, 0),
        ..d
    };
    let x = Var::constant(Tensor::<f64>::ones(&[1, 1, 5, 3]));
    let y = x
        .conv2d_with(&Var::constant(Tensor::ones(&[1, 1, 3, 3])), None, fits)
        .unwrap();
    assert_eq!(y.shape(), &[1, 1, 1, 1]);
    // The taps read rows −1, 2 and 5: only row 2 is in the image.
    assert_eq!(y.value().data(), &[3.0]);
}

#[test]
fn gradient_ops_check_groups_too() {
    let g = Var::constant(Tensor::<f64>::zeros(&[1, 4, 3, 3]));
    let w = Var::constant(Tensor::<f64>::zeros(&[4, 1, 3, 3]));
    let depthwise = Conv2dOptions {
        groups: 4,
        ..Default::default()
    };
    let dx = g.conv2d_input_grad(&w, (5, 5), depthwise).unwrap();
    assert_eq!(dx.shape(), &[1, 4, 5, 5]);
    let e = g
        .conv2d_input_grad(
            &w,
            (5, 5),
            Conv2dOptions {
                groups: 3,
                ..depthwise
            },
        )
        .unwrap_err();
    assert!(
        matches!(e, TapeError::InvalidArgument { name: "groups", .. }),
        "{e}"
    );
    let x = Var::constant(Tensor::<f64>::zeros(&[1, 6, 5, 5]));
    let e = x
        .conv2d_weight_grad(
            &g,
            (3, 3),
            Conv2dOptions {
                groups: 4,
                ..depthwise
            },
        )
        .unwrap_err();
    assert!(
        matches!(e, TapeError::InvalidArgument { name: "weight", .. }),
        "{e}"
    );
    let e = x
        .conv2d_weight_grad(
            &g,
            (3, 3),
            Conv2dOptions {
                groups: 0,
                ..depthwise
            },
        )
        .unwrap_err();
    assert!(
        matches!(e, TapeError::InvalidArgument { name: "groups", .. }),
        "{e}"
    );
}

/// conv1d cases: (spec of the same convolution with a unit height, options).
fn conv1d_cases() -> Vec<(Spec, Conv1dOptions)> {
    let spec = |n, c, l, o, k, stride, padding, dilation, groups| {
        let spec = Spec {
            n,
            c,
            h: 1,
            w: l,
            o,
            kh: 1,
            kw: k,
            stride: (1, stride),
            padding: (0, padding),
            dilation: (1, dilation),
            groups,
        };
        let opts = Conv1dOptions {
            stride,
            padding,
            dilation,
            groups,
        };
        (spec, opts)
    };
    vec![
        spec(2, 3, 9, 2, 3, 1, 0, 1, 1),
        spec(1, 2, 10, 4, 3, 2, 2, 2, 1),
        spec(2, 4, 8, 6, 2, 1, 1, 3, 2),
        spec(1, 3, 7, 3, 3, 2, 1, 1, 3),
    ]
}

fn as_1d(shape: [usize; 4]) -> [usize; 3] {
    [shape[0], shape[1], shape[3]]
}

#[test]
fn conv1d_matches_direct_loops_and_gradchecks() {
    for (k, (spec, opts)) in conv1d_cases().into_iter().enumerate() {
        let seed = 700 + 10 * k as u64;
        let x = randn(&as_1d(spec.x_shape()), seed);
        let w = randn(&as_1d(spec.w_shape()), seed + 1);
        let b = randn(&[spec.o], seed + 2);
        let y = Var::constant(x.clone())
            .conv1d(
                &Var::constant(w.clone()),
                Some(&Var::constant(b.clone())),
                opts,
            )
            .unwrap();
        assert_eq!(y.shape(), as_1d(spec.y_shape()), "{opts:?}");
        let want = spec.forward(x.data(), w.data(), Some(b.data()));
        assert_close(y.value().data(), &want, 1e-12, &format!("{opts:?}"));
        check_both(
            |v| v[0].conv1d(&v[1], Some(&v[2]), opts),
            &[x.clone(), w.clone(), b],
        );
        check_both(|v| v[0].conv1d(&v[1], None, opts), &[x, w]);
    }
}

fn conv1d_err(x: &[usize], w: &[usize], b: Option<&[usize]>, opts: Conv1dOptions) -> String {
    let xv = Var::constant(Tensor::<f64>::zeros(x));
    let wv = Var::constant(Tensor::zeros(w));
    let bv = b.map(|b| Var::constant(Tensor::zeros(b)));
    xv.conv1d(&wv, bv.as_ref(), opts).unwrap_err().to_string()
}

#[test]
fn conv1d_errors_name_conv1d() {
    let d = Conv1dOptions::default();
    assert_eq!(
        conv1d_err(&[1, 2, 5, 5], &[1, 2, 3], None, d),
        "conv1d: invalid shape [1, 2, 5, 5]: input must have rank 3, got rank 4"
    );
    assert_eq!(
        conv1d_err(&[1, 2, 5], &[1, 2, 1, 3], None, d),
        "conv1d: invalid shape [1, 2, 1, 3]: weight must have rank 3, got rank 4"
    );
    assert_eq!(
        conv1d_err(&[1, 2, 5], &[1, 3, 3], None, d),
        "conv1d: invalid argument weight = [1, 3, 3]: has 3 input channels, the input [1, 2, 5] has 2"
    );
    assert_eq!(
        conv1d_err(
            &[1, 2, 5],
            &[1, 2, 3],
            None,
            Conv1dOptions { stride: 0, ..d }
        ),
        "conv1d: invalid argument stride = 0: must be at least 1"
    );
    assert_eq!(
        conv1d_err(
            &[1, 2, 5],
            &[1, 2, 3],
            None,
            Conv1dOptions { dilation: 3, ..d }
        ),
        "conv1d: invalid argument kernel = 3: dilated to 7, larger than the padded input extent 5 + 2·0"
    );
    assert_eq!(
        conv1d_err(
            &[1, 4, 5],
            &[3, 2, 3],
            None,
            Conv1dOptions { groups: 2, ..d }
        ),
        "conv1d: invalid argument groups = 2: does not divide the weight's 3 output channels ([3, 2, 3])"
    );
    assert_eq!(
        conv1d_err(&[1, 2, 5], &[4, 2, 3], Some(&[3]), d),
        "conv1d: shapes [3] and [4] are not compatible"
    );
}
