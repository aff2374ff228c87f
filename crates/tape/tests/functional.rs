//! The functional API against central differences and against each other:
//! the Jacobian and the Hessian by finite differences, vjp/jvp/hvp/vhp as
//! products with them, recorded results differentiated again, and errors.

mod common;

use common::{assert_close, randn};
use tapegrad_tape::functional::{hessian, hvp, jacobian, jvp, vhp, vjp};
use tapegrad_tape::{GradcheckOptions, Result, TapeError, Tensor, Var, gradcheck};

/// f(x, W) = tanh(W x) ⊙ x₀..₂ + sum(x)²: a [3] output of a [4] and a [3, 4] input.
fn f(v: &[Var<f64>]) -> Result<Var<f64>> {
    let (x, w) = (&v[0], &v[1]);
    let wx = w.matmul(&x.reshape(&[4, 1])?)?.reshape(&[3])?;
    let s = x.sum();
    wx.tanh().mul(&x.narrow(0, 0, 3)?)?.add(&s.mul(&s)?)
}

/// A scalar of both inputs with a full, non-diagonal Hessian.
fn scalar_f(v: &[Var<f64>]) -> Result<Var<f64>> {
    Ok(f(v)?.exp().sum())
}

fn point() -> Vec<Tensor<f64>> {
    vec![randn(&[4], 1), randn(&[3, 4], 2)]
}

fn consts(ts: &[Tensor<f64>]) -> Vec<Var<f64>> {
    ts.iter().cloned().map(Var::constant).collect()
}

/// Central differences of `g` (flattened output) along every element of
/// every input: blocks shaped [out, in_i] as flat row-major vectors.
fn numeric_jacobian(
    g: impl Fn(&[Var<f64>]) -> Result<Var<f64>>,
    at: &[Tensor<f64>],
) -> Vec<Vec<f64>> {
    let eval = |ts: &[Tensor<f64>]| g(&consts(ts)).unwrap().value().data().to_vec();
    let out = eval(at).len();
    (0..at.len())
        .map(|i| {
            let n = at[i].numel();
            let mut block = vec![0.0; out * n];
            for e in 0..n {
                let h = 1e-6;
                let (mut plus, mut minus) = (at.to_vec(), at.to_vec());
                plus[i].data_mut()[e] += h;
                minus[i].data_mut()[e] -= h;
                let (a, b) = (eval(&plus), eval(&minus));
                for o in 0..out {
                    block[o * n + e] = (a[o] - b[o]) / (2.0 * h);
                }
            }
            block
        })
        .collect()
}

fn data(v: &Var<f64>) -> Vec<f64> {
    v.value().data().to_vec()
}

#[test]
fn the_jacobian_matches_central_differences() {
    let at = point();
    let j = jacobian(f, &consts(&at), false).unwrap();
    assert_eq!(j[0].shape(), &[3, 4]);
    assert_eq!(j[1].shape(), &[3, 3, 4]);
    for (got, want) in j.iter().zip(numeric_jacobian(f, &at)) {
        assert_close("jacobian", &data(got), &want, 1e-7);
    }
}

#[test]
fn the_hessian_matches_differences_of_the_gradient_and_is_symmetric() {
    let at = point();
    let h = hessian(scalar_f, &consts(&at), false).unwrap();
    assert_eq!(h[0][1].shape(), &[4, 3, 4]);
    assert_eq!(h[1][0].shape(), &[3, 4, 4]);
    // Row i of the Hessian: central differences of ∂f/∂xᵢ.
    for i in 0..2 {
        let grad_i = |v: &[Var<f64>]| -> Result<Var<f64>> {
            let blocks = jacobian(scalar_f, v, false)?;
            Ok(blocks[i].clone())
        };
        for (j, want) in numeric_jacobian(grad_i, &at).into_iter().enumerate() {
            assert_close("hessian", &data(&h[i][j]), &want, 1e-6);
        }
    }
    let (h01, h10) = (data(&h[0][1]), data(&h[1][0]));
    for a in 0..4 {
        for b in 0..12 {
            assert!((h01[a * 12 + b] - h10[b * 4 + a]).abs() < 1e-12);
        }
    }
}

/// `Σ_b block[a, b] v[b]` for a block stored [rows, cols] row-major.
fn times(block: &[f64], v: &[f64]) -> Vec<f64> {
    block
        .chunks(v.len())
        .map(|row| row.iter().zip(v).map(|(a, b)| a * b).sum())
        .collect()
}

#[test]
fn products_agree_with_the_dense_matrices() {
    let at = point();
    let x = consts(&at);
    let j = jacobian(f, &x, false).unwrap();
    let (jx, jw) = (data(&j[0]), data(&j[1]));
    let (vx, vw) = (randn(&[4], 3), randn(&[3, 4], 4));
    let u = randn(&[3], 5);
    // J v = J_x vx + J_W vW.
    let tangents = [Var::constant(vx.clone()), Var::constant(vw.clone())];
    let (y, jv) = jvp(f, &x, &tangents, false).unwrap();
    let want: Vec<f64> = times(&jx, vx.data())
        .iter()
        .zip(times(&jw, vw.data()))
        .map(|(a, b)| a + b)
        .collect();
    assert_close("jvp", &data(&jv), &want, 1e-12);
    assert_close("output", &data(&y), &data(&f(&x).unwrap()), 0.0);
    // uᵀ J, block by block.
    let (_, uj) = vjp(f, &x, &Var::constant(u.clone()), false).unwrap();
    for (block, (got, n)) in [&jx, &jw].into_iter().zip([(&uj[0], 4), (&uj[1], 12)]) {
        let want: Vec<f64> = (0..n)
            .map(|b| (0..3).map(|a| u.data()[a] * block[a * n + b]).sum())
            .collect();
        assert_close("vjp", &data(got), &want, 1e-12);
    }
    // H v and vᵀ H against the dense Hessian.
    let h = hessian(scalar_f, &x, false).unwrap();
    let (_, hv) = hvp(scalar_f, &x, &tangents, false).unwrap();
    let (_, vh) = vhp(scalar_f, &x, &tangents, false).unwrap();
    for i in 0..2 {
        let want: Vec<f64> = times(&data(&h[i][0]), vx.data())
            .iter()
            .zip(times(&data(&h[i][1]), vw.data()))
            .map(|(a, b)| a + b)
            .collect();
        assert_close("hvp", &data(&hv[i]), &want, 1e-10);
        assert_close("vhp", &data(&vh[i]), &want, 1e-10);
    }
}

#[test]
fn recorded_products_differentiate_again() {
    let at = point();
    let v = [
        Var::constant(randn(&[4], 6)),
        Var::constant(randn(&[3, 4], 7)),
    ];
    let opts = GradcheckOptions::default();
    // x ↦ J(x) v and x ↦ H(x) v, each checked by finite differences.
    gradcheck(|x| Ok(jvp(f, x, &v, true)?.1), &at, opts).unwrap();
    gradcheck(|x| Ok(hvp(scalar_f, x, &v, true)?.1[0].clone()), &at, opts).unwrap();
    let u = Var::constant(randn(&[3], 8));
    gradcheck(|x| Ok(vjp(f, x, &u, true)?.1[1].clone()), &at, opts).unwrap();
    // Without create_graph the results are constants.
    let x: Vec<Var<f64>> = at.iter().cloned().map(Var::parameter).collect();
    let (_, jv) = jvp(f, &x, &v, false).unwrap();
    assert!(!jv.requires_grad());
}

#[test]
fn unused_inputs_get_zeros() {
    let x = consts(&[randn(&[2], 9), randn(&[3], 10)]);
    let only_first = |v: &[Var<f64>]| Ok(v[0].mul(&v[0])?.sum());
    let j = jacobian(only_first, &x, false).unwrap();
    assert_eq!(data(&j[1]), vec![0.0; 3]);
    let v = [
        Var::constant(Tensor::ones(&[2])),
        Var::constant(Tensor::ones(&[3])),
    ];
    let (_, hv) = hvp(only_first, &x, &v, false).unwrap();
    assert_eq!(data(&hv[0]), vec![2.0, 2.0]);
    assert_eq!(data(&hv[1]), vec![0.0; 3]);
    let constant = |_: &[Var<f64>]| Ok(Var::constant(Tensor::ones(&[2])));
    let (_, jv) = jvp(constant, &x, &v, false).unwrap();
    assert_eq!(data(&jv), vec![0.0, 0.0]);
}

#[test]
fn bad_vectors_and_non_scalar_functions_are_errors() {
    let x = consts(&point());
    let wrong = [
        Var::constant(Tensor::ones(&[5])),
        Var::constant(Tensor::ones(&[3, 4])),
    ];
    assert!(matches!(
        jvp(f, &x, &wrong, false),
        Err(TapeError::ShapeMismatch { op: "jvp", .. })
    ));
    assert!(matches!(
        jvp(f, &x, &wrong[1..], false),
        Err(TapeError::InvalidArgument {
            op: "jvp",
            name: "v",
            ..
        })
    ));
    assert!(matches!(
        vjp(f, &x, &Var::constant(Tensor::ones(&[4])), false),
        Err(TapeError::ShapeMismatch { op: "vjp", .. })
    ));
    let v = [
        Var::constant(Tensor::ones(&[4])),
        Var::constant(Tensor::ones(&[3, 4])),
    ];
    assert!(matches!(
        hvp(f, &x, &v, false),
        Err(TapeError::NonScalarOutput { .. })
    ));
    assert!(matches!(
        hessian(f, &x, false),
        Err(TapeError::NonScalarOutput { .. })
    ));
}
