//! gradcheck and gradgradcheck of the elementwise ops, with broadcasting, size-1
//! axes and 0-d scalars.

mod common;

use common::{check_both, rand_in, randn};
use tapegrad_tape::{Tensor, Var};

/// Shape pairs that exercise broadcasting, including 0-d and size-1 axes.
fn shape_pairs() -> Vec<(Vec<usize>, Vec<usize>)> {
    vec![
        (vec![3, 4], vec![3, 4]),
        (vec![2, 3, 4], vec![4]),
        (vec![3, 1], vec![1, 5]),
        (vec![], vec![2, 3]),
        (vec![2, 1, 3], vec![4, 1]),
    ]
}

#[test]
fn binary_ops_broadcast() {
    for (k, (sa, sb)) in shape_pairs().into_iter().enumerate() {
        let a = randn(&sa, 10 + k as u64);
        let b = rand_in(&sb, 0.5, 2.0, 20 + k as u64);
        check_both(|v| v[0].add(&v[1]), &[a.clone(), b.clone()]);
        check_both(|v| v[0].sub(&v[1]), &[a.clone(), b.clone()]);
        check_both(|v| v[0].mul(&v[1]), &[a.clone(), b.clone()]);
        check_both(|v| v[0].div(&v[1]), &[a.clone(), b.clone()]);
        check_both(|v| v[0].maximum(&v[1]), &[a.clone(), b.clone()]);
        check_both(|v| v[0].minimum(&v[1]), &[a.clone(), b.clone()]);
    }
}

#[test]
fn unary_ops() {
    let x = randn(&[2, 3], 1);
    let pos = rand_in(&[2, 3], 0.3, 3.0, 2);
    check_both(|v| Ok(v[0].neg()), std::slice::from_ref(&x));
    check_both(|v| Ok(v[0].exp()), std::slice::from_ref(&x));
    check_both(|v| Ok(v[0].log()), std::slice::from_ref(&pos));
    check_both(|v| Ok(v[0].sqrt()), std::slice::from_ref(&pos));
    check_both(|v| Ok(v[0].powf(2.5)), std::slice::from_ref(&pos));
    check_both(|v| Ok(v[0].powf(-1.5)), std::slice::from_ref(&pos));
    check_both(|v| Ok(v[0].sigmoid()), std::slice::from_ref(&x));
    check_both(|v| Ok(v[0].tanh()), std::slice::from_ref(&x));
    check_both(|v| Ok(v[0].add_scalar(2.0)), std::slice::from_ref(&x));
    check_both(|v| Ok(v[0].mul_scalar(-3.0)), std::slice::from_ref(&x));
    check_both(|v| Ok(v[0].rsub_scalar(1.5)), std::slice::from_ref(&x));
    check_both(|v| Ok(v[0].rdiv_scalar(1.5)), std::slice::from_ref(&pos));
    check_both(|v| Ok(&v[0] * 2.0), std::slice::from_ref(&x));
    check_both(|v| Ok(&v[0] / 4.0), std::slice::from_ref(&x));
}

/// Kinks (abs, relu, clamp) are checked away from the kink, where the
/// derivative exists; inputs are kept ≥ 0.05 from it.
#[test]
fn piecewise_ops_away_from_kinks() {
    let x = Tensor::from_vec(vec![-1.3, -0.2, 0.4, 2.1, -0.05, 0.7], &[2, 3]).unwrap();
    check_both(|v| Ok(v[0].abs()), std::slice::from_ref(&x));
    check_both(|v| Ok(v[0].relu()), std::slice::from_ref(&x));
    check_both(
        |v| Ok(v[0].clamp(Some(-0.5), Some(1.0))),
        std::slice::from_ref(&x),
    );
    check_both(
        |v| Ok(v[0].clamp(None, Some(0.0))),
        std::slice::from_ref(&x),
    );
}

#[test]
fn where_routes_gradient() {
    let cond = Tensor::from_vec(vec![1.0, 0.0, 1.0], &[3]).unwrap();
    let a = randn(&[2, 3], 3);
    let b = randn(&[3], 4);
    check_both(|v| v[0].where_cond(&cond, &v[1]), &[a, b]);
}

#[test]
fn composite_expression() {
    let x = randn(&[3, 2], 5);
    let w = randn(&[2], 6);
    check_both(|v| Ok(v[0].mul(&v[1])?.tanh().exp().sum()), &[x, w]);
}

#[test]
fn relu_gradient_at_zero_is_zero_and_ties_split() {
    let x = Var::parameter(Tensor::from_vec(vec![0.0f64, 1.0], &[2]).unwrap());
    x.relu().sum().backward().unwrap();
    assert_eq!(x.grad().unwrap().data(), &[0.0, 1.0]);
    let a = Var::parameter(Tensor::scalar(2.0f64));
    let b = Var::parameter(Tensor::scalar(2.0f64));
    a.maximum(&b).unwrap().backward().unwrap();
    assert_eq!(a.grad().unwrap().item().unwrap(), 0.5);
    assert_eq!(b.grad().unwrap().item().unwrap(), 0.5);
}

#[test]
fn sigmoid_is_finite_for_large_inputs() {
    let x = Var::constant(Tensor::from_vec(vec![-1000.0f64, 1000.0], &[2]).unwrap());
    assert_eq!(x.sigmoid().value().data(), &[0.0, 1.0]);
}
