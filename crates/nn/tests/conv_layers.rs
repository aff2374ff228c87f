//! Conv2d and the pooling layers: values against a direct loop, shapes, and
//! gradient checks (first and second order) through every parameter.

mod common;

use common::{check_both, randn};
use rand::{SeedableRng, rngs::StdRng};
use tapegrad_nn::{AvgPool2d, Conv2d, MaxPool2d, Module};
use tapegrad_tape::{Tensor, Var};

/// y[n, o, i, j] = b[o] + Σ W[o, c, u, v] x[n, c, s_h i + u − p_h, s_w j + v − p_w], by loops.
fn direct_conv(
    x: &Tensor<f64>,
    w: &Tensor<f64>,
    b: &Tensor<f64>,
    s: (usize, usize),
    p: (usize, usize),
) -> Tensor<f64> {
    let (n, c, h, wd) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
    let (o, kh, kw) = (w.shape()[0], w.shape()[2], w.shape()[3]);
    let (oh, ow) = ((h + 2 * p.0 - kh) / s.0 + 1, (wd + 2 * p.1 - kw) / s.1 + 1);
    let mut out = vec![0.0; n * o * oh * ow];
    for (idx, y) in out.iter_mut().enumerate() {
        let (bn, oc, i, j) = (
            idx / (o * oh * ow),
            idx / (oh * ow) % o,
            idx / ow % oh,
            idx % ow,
        );
        *y = b.data()[oc];
        for ch in 0..c {
            for u in 0..kh {
                for v in 0..kw {
                    let (r, q) = (
                        (s.0 * i + u) as isize - p.0 as isize,
                        (s.1 * j + v) as isize - p.1 as isize,
                    );
                    if r >= 0 && q >= 0 && (r as usize) < h && (q as usize) < wd {
                        *y += w.get(&[oc, ch, u, v]).unwrap()
                            * x.get(&[bn, ch, r as usize, q as usize]).unwrap();
                    }
                }
            }
        }
    }
    Tensor::from_vec(out, &[n, o, oh, ow]).unwrap()
}

#[test]
fn conv2d_with_stride_and_padding_matches_a_direct_loop() {
    let conv = Conv2d::<f64>::new(2, 3, (3, 2), &mut StdRng::seed_from_u64(0))
        .stride((2, 1))
        .padding((1, 0));
    let x = randn(&[2, 2, 7, 5], 1);
    let y = conv.forward(&Var::constant(x.clone())).unwrap();
    let expected = direct_conv(
        &x,
        &conv.weight().value(),
        &conv.bias().unwrap().value(),
        (2, 1),
        (1, 0),
    );
    assert_eq!(y.shape(), expected.shape());
    for (a, e) in y.value().data().iter().zip(expected.data()) {
        assert!((a - e).abs() < 1e-12, "{a} vs {e}");
    }
}

#[test]
fn conv2d_gradients_check() {
    let inputs = [
        randn(&[2, 2, 5, 4], 1),
        randn(&[3, 2, 3, 3], 2),
        randn(&[3], 3),
    ];
    check_both(
        "Conv2d stride 2 padding 1",
        |v| {
            Conv2d::from_parameters(v[1].clone(), Some(v[2].clone()))?
                .stride(2)
                .padding(1)
                .forward(&v[0])
        },
        &inputs,
    );
    check_both(
        "Conv2d without bias",
        |v| Conv2d::from_parameters(v[1].clone(), None)?.forward(&v[0]),
        &[randn(&[1, 2, 4, 4], 4), randn(&[2, 2, 2, 3], 5)],
    );
}

#[test]
fn conv2d_rejects_mismatched_channels_and_parameters() {
    let conv = Conv2d::<f64>::new(3, 4, 3, &mut StdRng::seed_from_u64(0));
    assert!(
        conv.forward(&Var::constant(Tensor::zeros(&[1, 2, 8, 8])))
            .is_err()
    );
    let w = Var::parameter(Tensor::<f64>::zeros(&[4, 3, 3, 3]));
    assert!(Conv2d::from_parameters(w.clone(), Some(Var::parameter(Tensor::zeros(&[3])))).is_err());
    assert!(
        Conv2d::from_parameters(Var::parameter(Tensor::<f64>::zeros(&[4, 3, 3])), None).is_err()
    );
    let names: Vec<String> = Conv2d::from_parameters(w, None)
        .unwrap()
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["weight"]);
}

/// Distinct values in a random order, so no max-pool window holds a tie that
/// finite differences would cross.
fn distinct(shape: &[usize], seed: u64) -> Tensor<f64> {
    let n: usize = shape.iter().product();
    let mut order: Vec<usize> = (0..n).collect();
    let keys = randn(&[n], seed);
    order.sort_by(|&a, &b| keys.data()[a].total_cmp(&keys.data()[b]));
    Tensor::from_vec(order.iter().map(|&i| i as f64 * 0.1 - 1.0).collect(), shape).unwrap()
}

#[test]
fn max_pool_values_and_gradients() {
    let x = Var::constant(Tensor::<f64>::arange(25).reshape(&[1, 1, 5, 5]).unwrap());
    let y = MaxPool2d::new(2).forward(&x).unwrap();
    assert_eq!(y.shape(), &[1, 1, 2, 2], "floor of 5/2, as PyTorch");
    assert_eq!(y.value().data(), &[6.0, 8.0, 16.0, 18.0]);
    let overlapping = MaxPool2d::new(3).stride(2).padding(1).forward(&x).unwrap();
    assert_eq!(
        overlapping.value().data(),
        &[6.0, 8.0, 9.0, 16.0, 18.0, 19.0, 21.0, 23.0, 24.0]
    );
    check_both(
        "MaxPool2d",
        |v| MaxPool2d::new(2).forward(&v[0]),
        &[distinct(&[2, 2, 4, 5], 1)],
    );
    check_both(
        "MaxPool2d stride/padding",
        |v| {
            MaxPool2d::new((3, 2))
                .stride(1)
                .padding((1, 0))
                .forward(&v[0])
        },
        &[distinct(&[1, 2, 4, 4], 2)],
    );
}

#[test]
fn avg_pool_values_and_gradients() {
    let x = Var::constant(Tensor::<f64>::arange(16).reshape(&[1, 1, 4, 4]).unwrap());
    assert_eq!(
        AvgPool2d::new(2).forward(&x).unwrap().value().data(),
        &[2.5, 4.5, 10.5, 12.5]
    );
    // Padding zeros count in the average (count_include_pad = True).
    let padded = AvgPool2d::new(2).padding(1).forward(&x).unwrap();
    assert_eq!(padded.shape(), &[1, 1, 3, 3]);
    assert_eq!(padded.value().data()[1], (1.0 + 2.0) / 4.0);
    assert_eq!(padded.value().data()[4], (5.0 + 6.0 + 9.0 + 10.0) / 4.0);
    check_both(
        "AvgPool2d",
        |v| AvgPool2d::new(2).forward(&v[0]),
        &[randn(&[2, 1, 4, 6], 3)],
    );
    check_both(
        "AvgPool2d stride/padding",
        |v| AvgPool2d::new(3).stride(2).padding(1).forward(&v[0]),
        &[randn(&[1, 2, 5, 5], 4)],
    );
}
