//! max, min, logsumexp and argmax/argmin: gradients (first and second order) on
//! random inputs of many shapes, hand-computed values, ties, non-finite inputs,
//! and every error a bad argument can produce.

mod common;

use common::{check_both, randn};
use tapegrad_tape::{TapeError, Tensor, Var};

fn param(values: &[f64], shape: &[usize]) -> Var<f64> {
    Var::parameter(Tensor::from_vec(values.to_vec(), shape).unwrap())
}

/// (shape, axes) pairs: non-square, size-1 axes, several axes, negative axes, 0-d.
fn reductions() -> Vec<(Vec<usize>, Vec<isize>)> {
    vec![
        (vec![3, 4], vec![-1]),
        (vec![3, 4], vec![0]),
        (vec![2, 3, 4], vec![0, 2]),
        (vec![2, 3, 4], vec![-2]),
        (vec![1, 5], vec![0]),
        (vec![4, 1], vec![1, 0]),
        (vec![], vec![0]),
        (vec![], vec![]),
    ]
}

#[test]
fn max_min_over_axes_pass_gradcheck_and_gradgradcheck() {
    for (k, (shape, axes)) in reductions().into_iter().enumerate() {
        let x = [randn(&shape, 100 + k as u64)];
        for keepdim in [false, true] {
            check_both(|v| v[0].max_axes(&axes, keepdim), &x);
            check_both(|v| v[0].min_axes(&axes, keepdim), &x);
        }
    }
}

#[test]
fn max_min_over_all_elements_pass_checks() {
    for shape in [vec![3, 4], vec![2, 1, 3], vec![1], vec![]] {
        let x = [randn(&shape, 7)];
        check_both(|v| v[0].max(), &x);
        check_both(|v| v[0].min(), &x);
        // Inside a larger expression, so the second derivative is not trivially 0.
        check_both(|v| v[0].mul(&v[0])?.max()?.mul(&v[0].sum()), &x);
    }
}

#[test]
fn logsumexp_passes_gradcheck_and_gradgradcheck() {
    for (k, (shape, axes)) in reductions().into_iter().enumerate() {
        let x = [randn(&shape, 200 + k as u64)];
        for keepdim in [false, true] {
            check_both(|v| v[0].logsumexp_axes(&axes, keepdim), &x);
        }
        check_both(|v| Ok(v[0].logsumexp()), &x);
    }
}

#[test]
fn max_and_min_values_by_hand() {
    let x = Var::constant(Tensor::from_vec(vec![1.0, -2.0, 7.0, 0.5, 3.0, -4.0], &[2, 3]).unwrap());
    assert_eq!(x.max().unwrap().item().unwrap(), 7.0);
    assert_eq!(x.min().unwrap().item().unwrap(), -4.0);
    assert_eq!(x.max_axes(&[1], false).unwrap().value().data(), &[7.0, 3.0]);
    assert_eq!(
        x.min_axes(&[-1], true).unwrap().value().data(),
        &[-2.0, -4.0]
    );
    assert_eq!(x.min_axes(&[-1], true).unwrap().shape(), &[2, 1]);
    assert_eq!(
        x.max_axes(&[0], false).unwrap().value().data(),
        &[1.0, 3.0, 7.0]
    );
    assert_eq!(x.max_axes(&[0, 1], true).unwrap().shape(), &[1, 1]);
    assert_eq!(x.max().unwrap().shape(), &[] as &[usize]);
}

#[test]
fn max_gradient_goes_to_the_arg_max() {
    let x = param(&[1.0, -2.0, 7.0, 0.5, 3.0, -4.0], &[2, 3]);
    let w = Var::constant(Tensor::from_vec(vec![10.0, 20.0], &[2]).unwrap());
    x.max_axes(&[1], false)
        .unwrap()
        .mul(&w)
        .unwrap()
        .sum()
        .backward()
        .unwrap();
    assert_eq!(x.grad().unwrap().data(), &[0.0, 0.0, 10.0, 0.0, 20.0, 0.0]);
    x.zero_grad();
    x.min_axes(&[0], false).unwrap().sum().backward().unwrap();
    assert_eq!(x.grad().unwrap().data(), &[0.0, 1.0, 0.0, 1.0, 0.0, 1.0]);
}

#[test]
fn ties_split_the_gradient_evenly() {
    // Full reduction: three-way tie for the max, two-way tie for the min.
    let x = param(&[2.0, 5.0, 5.0, -1.0, 5.0, -1.0], &[2, 3]);
    x.max().unwrap().mul_scalar(3.0).backward().unwrap();
    assert_eq!(x.grad().unwrap().data(), &[0.0, 1.0, 1.0, 0.0, 1.0, 0.0]);
    x.zero_grad();
    x.min().unwrap().backward().unwrap();
    assert_eq!(x.grad().unwrap().data(), &[0.0, 0.0, 0.0, 0.5, 0.0, 0.5]);
    // Per axis: row 0 has a tie for the max, row 1 for the min; the other
    // row's gradient goes to its one extremum.
    let y = param(&[4.0, 4.0, 1.0, 0.0, 3.0, 0.0], &[2, 3]);
    y.max_axes(&[-1], true).unwrap().sum().backward().unwrap();
    assert_eq!(y.grad().unwrap().data(), &[0.5, 0.5, 0.0, 0.0, 1.0, 0.0]);
    y.zero_grad();
    y.min_axes(&[-1], false).unwrap().sum().backward().unwrap();
    assert_eq!(y.grad().unwrap().data(), &[0.0, 0.0, 1.0, 0.5, 0.0, 0.5]);
}

#[test]
fn nan_propagates_through_max_and_min() {
    let x = Var::constant(Tensor::from_vec(vec![1.0, f64::NAN, 3.0], &[3]).unwrap());
    assert!(x.max().unwrap().item().unwrap().is_nan());
    assert!(x.min().unwrap().item().unwrap().is_nan());
    let y = Var::constant(Tensor::from_vec(vec![f64::NAN, 1.0], &[2]).unwrap());
    assert!(y.max().unwrap().item().unwrap().is_nan());
}

#[test]
fn logsumexp_values_by_hand() {
    let x = Var::constant(Tensor::from_vec(vec![0.0, 2f64.ln(), 1.0, 1.0], &[2, 2]).unwrap());
    let rows = x.logsumexp_axes(&[1], false).unwrap().value();
    assert!((rows.data()[0] - 3f64.ln()).abs() < 1e-15);
    assert!((rows.data()[1] - (1.0 + 2f64.ln())).abs() < 1e-15);
    let all = x.logsumexp().item().unwrap();
    assert!((all - (3.0 + 2.0 * 1f64.exp()).ln()).abs() < 1e-15);
    let scalar = Var::constant(Tensor::scalar(-3.5f64));
    assert_eq!(scalar.logsumexp().item().unwrap(), -3.5);
    assert_eq!(
        scalar.logsumexp_axes(&[-1], true).unwrap().shape(),
        &[] as &[usize]
    );
}

#[test]
fn logsumexp_is_stable_for_large_and_infinite_inputs() {
    let big = Var::constant(Tensor::from_vec(vec![1000.0, 1000.0, -1000.0], &[3]).unwrap());
    let y = big.logsumexp().item().unwrap();
    assert!((y - (1000.0 + 2f64.ln())).abs() < 1e-12);
    let f32_big = Var::constant(Tensor::from_vec(vec![100.0f32, 100.0], &[2]).unwrap());
    assert!((f32_big.logsumexp().item().unwrap() - (100.0 + 2f32.ln())).abs() < 1e-4);
    let ninf = Var::constant(Tensor::from_vec(vec![f64::NEG_INFINITY; 2], &[2]).unwrap());
    assert_eq!(ninf.logsumexp().item().unwrap(), f64::NEG_INFINITY);
    let pinf = Var::constant(Tensor::from_vec(vec![f64::INFINITY, 0.0], &[2]).unwrap());
    assert_eq!(pinf.logsumexp().item().unwrap(), f64::INFINITY);
    let empty = Var::constant(Tensor::<f64>::zeros(&[0, 2]));
    assert_eq!(
        empty.logsumexp_axes(&[0], false).unwrap().value().data(),
        &[f64::NEG_INFINITY; 2]
    );
}

#[test]
fn logsumexp_gradient_is_the_softmax() {
    let x = param(&[1000.0, 1000.0 + 3f64.ln()], &[2]);
    x.logsumexp().backward().unwrap();
    let g = x.grad().unwrap();
    assert!((g.data()[0] - 0.25).abs() < 1e-12 && (g.data()[1] - 0.75).abs() < 1e-12);
}

#[test]
fn argmax_and_argmin_pick_the_first_extremum() {
    let t = Tensor::from_vec(vec![3.0, 1.0, 3.0, 0.0, 2.0, 0.0, 5.0, -1.0], &[2, 4]).unwrap();
    assert_eq!(t.argmax(1).unwrap(), vec![0, 2]);
    assert_eq!(t.argmin(-1).unwrap(), vec![3, 3]);
    assert_eq!(t.argmax(0).unwrap(), vec![0, 0, 1, 0]);
    assert_eq!(t.argmin(0).unwrap(), vec![1, 1, 0, 1]);
    let cube = Tensor::<f64>::arange(12).reshape(&[2, 3, 2]).unwrap();
    assert_eq!(cube.argmax(1).unwrap(), vec![2, 2, 2, 2]);
    assert_eq!(Tensor::scalar(4.0f64).argmax(-1).unwrap(), vec![0]);
    let nan = Tensor::from_vec(vec![1.0, f64::NAN, 5.0, f64::NAN], &[4]).unwrap();
    assert_eq!(nan.argmax(0).unwrap(), vec![1]);
    assert_eq!(nan.argmin(0).unwrap(), vec![1]);
}

fn message<V: std::fmt::Debug>(r: tapegrad_tape::Result<V>) -> (TapeError, String) {
    let e = r.unwrap_err();
    let m = e.to_string();
    (e, m)
}

#[test]
fn bad_axes_and_empty_reductions_are_errors() {
    let x = Var::constant(Tensor::<f64>::zeros(&[2, 3]));
    let (e, m) = message(x.max_axes(&[2], false));
    assert!(matches!(
        e,
        TapeError::AxisOutOfRange {
            op: "max",
            axis: 2,
            ndim: 2
        }
    ));
    assert_eq!(m, "max: axis 2 is out of range for a tensor of rank 2");
    let (e, m) = message(x.min_axes(&[-3], true));
    assert!(matches!(
        e,
        TapeError::AxisOutOfRange {
            op: "min",
            axis: -3,
            ..
        }
    ));
    assert_eq!(m, "min: axis -3 is out of range for a tensor of rank 2");
    let (e, m) = message(x.max_axes(&[1, -1], false));
    assert!(matches!(
        e,
        TapeError::InvalidArgument {
            op: "max",
            name: "axes",
            ..
        }
    ));
    assert_eq!(
        m,
        "max: invalid argument axes = [1, -1]: an axis is repeated"
    );
    let (_, m) = message(x.logsumexp_axes(&[5], false));
    assert_eq!(
        m,
        "logsumexp: axis 5 is out of range for a tensor of rank 2"
    );
    let (_, m) = message(Var::scalar(1.0f64).max_axes(&[1], false));
    assert_eq!(m, "max: axis 1 is out of range for a tensor of rank 1");

    let empty = Var::constant(Tensor::<f64>::zeros(&[2, 0]));
    let (e, m) = message(empty.max());
    assert!(matches!(e, TapeError::InvalidShape { op: "max", .. }));
    assert_eq!(
        m,
        "max: invalid shape [2, 0]: cannot reduce over axis 1, which has no elements"
    );
    let (_, m) = message(empty.min_axes(&[-1], false));
    assert_eq!(
        m,
        "min: invalid shape [2, 0]: cannot reduce over axis 1, which has no elements"
    );
    // Reducing the non-empty axis of an empty tensor is fine: the result is empty.
    assert_eq!(empty.max_axes(&[0], false).unwrap().shape(), &[0]);

    let t = Tensor::<f64>::zeros(&[2, 0]);
    let (e, m) = message(t.argmax(1));
    assert!(matches!(e, TapeError::InvalidShape { op: "argmax", .. }));
    assert_eq!(
        m,
        "argmax: invalid shape [2, 0]: cannot reduce over axis 1, which has no elements"
    );
    let (e, m) = message(t.argmin(2));
    assert!(matches!(
        e,
        TapeError::AxisOutOfRange {
            op: "argmin",
            axis: 2,
            ndim: 2
        }
    ));
    assert_eq!(m, "argmin: axis 2 is out of range for a tensor of rank 2");
}

/// sum_axes over separated, adjacent and all axes equals a direct loop.
#[test]
fn sum_axes_matches_a_direct_loop_for_every_axis_set() {
    let x = common::randn(&[2, 3, 4, 5], 77);
    let shape = [2usize, 3, 4, 5];
    for mask in 1u32..16 {
        let axes: Vec<isize> = (0..4)
            .filter(|a| mask & (1 << a) != 0)
            .map(|a| a as isize)
            .collect();
        let got = Var::constant(x.clone())
            .sum_axes(&axes, true)
            .unwrap()
            .value();
        let mut expected = vec![0.0; got.numel()];
        for (i, &v) in x.data().iter().enumerate() {
            let mut rem = i;
            let mut idx = [0usize; 4];
            for a in (0..4).rev() {
                idx[a] = rem % shape[a];
                rem /= shape[a];
            }
            let mut o = 0;
            for a in 0..4 {
                let n = if mask & (1 << a) != 0 { 1 } else { shape[a] };
                o = o * n + if mask & (1 << a) != 0 { 0 } else { idx[a] };
            }
            expected[o] += v;
        }
        for (g, e) in got.data().iter().zip(&expected) {
            assert!((g - e).abs() < 1e-12, "axes {axes:?}");
        }
    }
}

/// As PyTorch (`torch.tensor(2.5).sum(dim=0)`), a 0-d tensor is reduced over
/// axis 0 or −1 as the identity, by every reduction; other axes are errors.
#[test]
fn a_0d_input_takes_axis_0_or_minus_1_in_every_reduction() {
    let x = Var::parameter(Tensor::scalar(2.5f64));
    for (name, y) in [
        ("sum", x.sum_axes(&[0], false).unwrap()),
        ("mean", x.mean_axes(&[-1], true).unwrap()),
        ("max", x.max_axes(&[0], false).unwrap()),
        ("logsumexp", x.logsumexp_axes(&[-1], false).unwrap()),
    ] {
        assert_eq!(y.shape(), &[] as &[usize], "{name}");
        assert_eq!(y.item().unwrap(), 2.5, "{name}");
        x.zero_grad();
        y.backward().unwrap();
        assert_eq!(x.grad().unwrap().item().unwrap(), 1.0, "{name}");
    }
    let (_, m) = message(x.sum_axes(&[1], false));
    assert_eq!(m, "sum: axis 1 is out of range for a tensor of rank 1");
    let (_, m) = message(x.mean_axes(&[0, -1], false));
    assert_eq!(
        m,
        "mean: invalid argument axes = [0, -1]: an axis is repeated"
    );
}

/// A reduction with its `keepdim` flag.
type Reduction = fn(&Var<f64>, bool) -> tapegrad_tape::Result<Var<f64>>;

/// No axes means every axis, as PyTorch's `dim=()`
/// (`torch.arange(6.).reshape(2, 3).sum(dim=())` is 15): for every reduction,
/// with `keepdim` keeping all axes at extent 1, and with the gradients of the
/// full reduction.
#[test]
fn an_empty_axes_list_reduces_every_axis() {
    let x = Var::parameter(Tensor::<f64>::arange(6).reshape(&[2, 3]).unwrap());
    let cases: [(&str, Reduction, f64); 5] = [
        ("sum", |x, k| x.sum_axes(&[], k), 15.0),
        ("mean", |x, k| x.mean_axes(&[], k), 2.5),
        ("max", |x, k| x.max_axes(&[], k), 5.0),
        ("min", |x, k| x.min_axes(&[], k), 0.0),
        (
            "logsumexp",
            |x, k| x.logsumexp_axes(&[], k),
            (0..6).map(|i| (i as f64).exp()).sum::<f64>().ln(),
        ),
    ];
    for (name, reduce, expected) in cases {
        let y = reduce(&x, false).unwrap();
        assert_eq!(y.shape(), &[] as &[usize], "{name}");
        assert!((y.item().unwrap() - expected).abs() < 1e-12, "{name}");
        assert_eq!(reduce(&x, true).unwrap().shape(), &[1, 1], "{name}");
    }
    check_both(|v| v[0].sum_axes(&[], true), &[randn(&[2, 3], 11)]);
    check_both(|v| v[0].max_axes(&[], false), &[randn(&[3, 2], 12)]);
    check_both(|v| v[0].logsumexp_axes(&[], false), &[randn(&[2, 2], 13)]);
}
