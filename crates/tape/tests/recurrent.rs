//! The fused LSTM recurrence: gradcheck and gradgradcheck in f64 (with and
//! without b_hh, one and several steps, a batch of one), third order through
//! the composed rule, and the errors for operands that do not fit.

mod common;

use common::{check_both, randn};
use tapegrad_tape::{GradOptions, TapeError, Tensor, Var, grad};

/// xw `[L, N, 4H]`, W_hh `[4H, H]`, h0, c0 `[N, H]`, b_hh `[4H]`.
fn operands(steps: usize, n: usize, hidden: usize, seed: u64) -> Vec<Tensor<f64>> {
    vec![
        randn(&[steps, n, 4 * hidden], seed),
        randn(&[4 * hidden, hidden], seed + 1).scale(0.5),
        randn(&[n, hidden], seed + 2),
        randn(&[n, hidden], seed + 3),
        randn(&[4 * hidden], seed + 4),
    ]
}

#[test]
fn recurrence_passes_both_checks() {
    for (k, (steps, n, hidden)) in [(1, 1, 1), (3, 2, 2), (4, 1, 3)].into_iter().enumerate() {
        println!("lstm_recurrence L {steps}, N {n}, H {hidden}");
        let ops = operands(steps, n, hidden, 10 * k as u64);
        check_both(
            |v| v[0].lstm_recurrence(&v[1], Some(&v[4]), &v[2], &v[3]),
            &ops,
        );
        check_both(
            |v| v[0].lstm_recurrence(&v[1], None, &v[2], &v[3]),
            &ops[..4],
        );
    }
}

/// ∂ᵏ/∂xwᵏ of Σ s contracted k − 1 times with u: the gradient (k = 1), the
/// Hessian-vector product (k = 2), the third derivative along u twice (k = 3).
fn along(ops: &[Tensor<f64>], u: &Tensor<f64>, xw: &Tensor<f64>, order: usize) -> Tensor<f64> {
    let xw = Var::parameter(xw.clone());
    let rest: Vec<Var<f64>> = ops[1..].iter().cloned().map(Var::constant).collect();
    let s = xw
        .lstm_recurrence(&rest[0], Some(&rest[3]), &rest[1], &rest[2])
        .unwrap();
    let create = GradOptions {
        create_graph: true,
        ..Default::default()
    };
    let mut f = s.sum();
    for k in 1..=order {
        let g = grad(&[f], &[xw.clone()], None, create).unwrap()[0]
            .clone()
            .unwrap();
        if k == order {
            return g.value();
        }
        f = g.mul(&Var::constant(u.clone())).unwrap().sum();
    }
    unreachable!("order ≥ 1")
}

#[test]
fn third_derivatives_match_finite_differences_of_the_second() {
    // d³/dxw³ of Σ s along a direction u twice, against the central
    // difference of the second derivative along u.
    let ops = operands(2, 1, 2, 7);
    let u = randn(&[2, 1, 8], 99);
    let third = along(&ops, &u, &ops[0], 3);
    let hvp_u = |xw: &Tensor<f64>| -> f64 {
        let h = along(&ops, &u, xw, 2);
        h.data().iter().zip(u.data()).map(|(a, b)| a * b).sum()
    };
    let eps = 1e-4;
    for i in 0..ops[0].numel() {
        let shifted = |d: f64| {
            let mut x = ops[0].data().to_vec();
            x[i] += d;
            hvp_u(&Tensor::from_vec(x, ops[0].shape()).unwrap())
        };
        let numeric = (shifted(eps) - shifted(-eps)) / (2.0 * eps);
        let analytic = third.data()[i];
        assert!(
            (numeric - analytic).abs() <= 1e-6 * (1.0 + numeric.abs()),
            "{i}: {numeric} vs {analytic}"
        );
    }
}

#[test]
fn operands_that_do_not_fit_are_refused_by_name() {
    let ops = operands(2, 3, 4, 1);
    let v: Vec<Var<f64>> = ops.into_iter().map(Var::constant).collect();
    let bad = |r: tapegrad_tape::Result<Var<f64>>, rhs: &[usize]| match r {
        Err(TapeError::ShapeMismatch {
            op: "lstm_recurrence",
            rhs: got,
            ..
        }) => {
            assert_eq!(&got[..], rhs)
        }
        other => panic!("expected a mismatch naming {rhs:?}, got {other:?}"),
    };
    let w_wrong = Var::constant(Tensor::zeros(&[16, 3]));
    bad(v[0].lstm_recurrence(&w_wrong, None, &v[2], &v[3]), &[16, 3]);
    let b_wrong = Var::constant(Tensor::zeros(&[4]));
    bad(
        v[0].lstm_recurrence(&v[1], Some(&b_wrong), &v[2], &v[3]),
        &[4],
    );
    let h_wrong = Var::constant(Tensor::zeros(&[2, 4]));
    bad(v[0].lstm_recurrence(&v[1], None, &h_wrong, &v[3]), &[2, 4]);
    bad(v[0].lstm_recurrence(&v[1], None, &v[2], &h_wrong), &[2, 4]);
    let xw_odd = Var::constant(Tensor::zeros(&[2, 3, 15]));
    bad(xw_odd.lstm_recurrence(&v[1], None, &v[2], &v[3]), &[16, 4]);
    let empty = Var::constant(Tensor::zeros(&[0, 3, 16]));
    assert!(matches!(
        empty.lstm_recurrence(&v[1], None, &v[2], &v[3]),
        Err(TapeError::InvalidShape { .. })
    ));
    let flat = Var::constant(Tensor::zeros(&[3, 16]));
    assert!(matches!(
        flat.lstm_recurrence(&v[1], None, &v[2], &v[3]),
        Err(TapeError::InvalidShape { .. })
    ));
}
